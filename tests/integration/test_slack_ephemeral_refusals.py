"""The Slack adapter's ephemeral against the Slack stand-in: a refusal no retry changes (the
user or the bot is not in the channel) answers False; any other refusal still raises."""

from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from chalicelib.channels.slack import SlackWorkspace
from chalicelib.presentation.slack_blocks import SlackMessage
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn

DRAFT = SlackMessage("draft", [])


@pytest.fixture
def stand_in() -> Iterator[SlackStandIn]:
    slack = SlackStandIn(Outbox())
    slack.start()
    yield slack
    slack.stop()


def test_an_ephemeral_to_a_member_is_shown(stand_in: SlackStandIn) -> None:
    workspace = SlackWorkspace("xoxb-test", stand_in.base_url)

    assert workspace.post_ephemeral("C0SUPPORT", "U0AGENT2", DRAFT) is True


def test_an_ephemeral_to_a_user_who_left_the_channel_is_refused_for_good(
    stand_in: SlackStandIn,
) -> None:
    workspace = SlackWorkspace("xoxb-test", stand_in.base_url)
    stand_in.remove_user("C0SUPPORT", "U0AGENT2")

    assert workspace.post_ephemeral("C0SUPPORT", "U0AGENT2", DRAFT) is False
    assert workspace.post_ephemeral("C0SUPPORT", "U0AGENT3", DRAFT) is True


def test_an_ephemeral_where_the_bot_was_removed_is_refused_for_good(
    stand_in: SlackStandIn,
) -> None:
    workspace = SlackWorkspace("xoxb-test", stand_in.base_url)
    stand_in.remove_bot("C0SUPPORT")
    stand_in.remove_bot("G0PRIVATE")

    assert workspace.post_ephemeral("C0SUPPORT", "U0AGENT2", DRAFT) is False
    assert workspace.post_ephemeral("G0PRIVATE", "U0AGENT2", DRAFT) is False


def test_an_ephemeral_refused_for_another_reason_still_raises(stand_in: SlackStandIn) -> None:
    workspace = SlackWorkspace("xoxb-test", stand_in.base_url)

    with pytest.raises(SlackApiError) as refused:
        workspace.post_ephemeral("C0SUPPORT", "U0AGENT2", SlackMessage("", []))
    assert refused.value.response["error"] == "no_text"
