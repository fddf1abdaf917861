"""A draft Slack refuses to show for good (the agent left the channel) is a press done and
counted, not a job retried until the dead-letter queue."""

import pytest

from chalicelib.domain.jobs import CardAction, ConversationAction
from chalicelib.services.drafts import ReplyDrafts
from chalicelib.services.ports import Metric
from tests.unit.test_drafts import POLICY, RecordingDrafter
from tests.unit.use_cases import CUSTOMER, SHOP, TEAM, World, acme

pytestmark = pytest.mark.unit


def test_a_draft_for_an_agent_who_left_the_channel_is_done_and_counted() -> None:
    # Given a conversation whose agent pressed Draft, then left the channel
    world = World()
    world.records.shops.put_shop(acme(triage=POLICY.model_dump(mode="json")), None)
    world.inbound().process(world.arrives(text="Where is my order?"))
    conversation = world.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None
    assert conversation.slack_thread is not None
    channel, ts = conversation.slack_thread
    world.slack.left_channel.add((channel, "U0AGENT2"))
    drafts = ReplyDrafts(
        world.records.shops,
        world.conversations,
        world.records.listings,
        world.workspaces,
        RecordingDrafter(),
        world.metrics,
    )

    # When the press is carried out: it returns (the job is done, not retried)
    drafts.draft(
        ConversationAction(
            action=CardAction.DRAFT_REPLY,
            conversation_ref=f"{SHOP}:{conversation.conversation_id}",
            team_id=TEAM,
            channel_id=channel,
            message_ts=ts,
            user_id="U0AGENT2",
            action_ts="1.5",
        )
    )

    # Then nothing is shown, and the refusal is counted
    assert world.slack.ephemerals == []
    assert world.metrics.counts(Metric.DRAFT_NOT_SHOWN) == 1
