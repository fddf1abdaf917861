"""Workers that act on one conversation at the same instant: card presses, timers, replies
and customers' first messages. Each race is played deterministically: the other worker's
whole job runs once, right before the store call under test, so both read the same state
before either writes."""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.bootstrap import Container
from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.jobs import CardAction, ConversationAction, SlaAlarm
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel, Priority, SlaStage
from chalicelib.settings import TABLE_NAME
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.signing import (
    CHANNEL_ID,
    SMS_NUMBER,
    TEAM_ID,
    form,
    shop_document,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
PATH = "/webhooks/twilio/ana"
SLA = {
    "business_hours_only": False,
    "targets": {"normal": {"first_response": 60, "next_response": 30}},
}


def before_next(
    monkeypatch: pytest.MonkeyPatch, store: object, method: str, other: Callable[[], object]
) -> list[Callable[[], object]]:
    """Runs `other` once, just before the store's next `method` call; returns what is still
    to run (empty once it ran)."""
    original = getattr(store, method)
    pending = [other]

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        while pending:
            pending.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(store, method, interleaved)
    return pending


def stored(container: Container, root_ts: str) -> Conversation:
    found = container.store.conversations.find_conversation_by_thread(TEAM_ID, CHANNEL_ID, root_ts)
    assert found is not None
    return found


def pressed(
    container: Container, action: CardAction, user: str, root_ts: str
) -> ConversationAction:
    return ConversationAction(
        action=action,
        conversation_ref=conversation_ref(stored(container, root_ts)),
        team_id=TEAM_ID,
        channel_id=CHANNEL_ID,
        message_ts=root_ts,
        user_id=user,
        action_ts="1764001000.000100",
    )


def card(slack: FakeSlack) -> str:
    """The card as last drawn."""
    return json.dumps(slack.updates[-1].message.blocks)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (CardAction.ASSIGN_TO_ME, CardAction.RESOLVE),
        (CardAction.RESOLVE, CardAction.ASSIGN_TO_ME),
    ],
)
def test_assign_and_resolve_pressed_at_once_both_stay_on_the_conversation_and_its_card(
    open_thread, container, monkeypatch, slack: FakeSlack, first, second
):
    # Given a conversation, and two agents pressing different buttons on its card at once
    root_ts = open_thread()
    read = stored(container, root_ts)
    presses = {first: "U0AGENT1", second: "U0AGENT2"}
    one, two = (pressed(container, action, user, root_ts) for action, user in presses.items())
    concurrent = before_next(
        monkeypatch,
        container.store.conversations,
        "save_state",
        lambda: container.card_actions.act(two),
    )

    # When the first press is stored only after the second one
    container.card_actions.act(one)

    # Then the conversation is both assigned and resolved, two writes later
    assert concurrent == []
    conversation = stored(container, root_ts)
    assignee = presses[CardAction.ASSIGN_TO_ME]
    assert (conversation.status.value, conversation.assignee_user_id) == ("resolved", assignee)
    assert conversation.version == read.version + 2
    # And the card as last drawn shows both
    assert ":white_check_mark: Resolved" in card(slack)
    assert f"*Assignee:* <@{assignee}>" in card(slack)
    # And the thread notes each press once (and summarises the conversation for its new
    # assignee once)
    texts = [p.message.text for p in slack.thread(root_ts)[1:]]
    summaries = [text for text in texts if text.startswith("Summary:")]
    assert len(summaries) == 1
    notes = sorted(text for text in texts if text not in summaries)
    assert notes == sorted(
        [
            f":bust_in_silhouette: <@{assignee}> took this conversation.",
            f":white_check_mark: <@{presses[CardAction.RESOLVE]}> resolved this conversation.",
        ]
    )


def test_the_same_button_pressed_twice_at_once_is_applied_and_noted_once(
    open_thread, container, monkeypatch, slack: FakeSlack
):
    # Given two agents pressing Resolve at the same instant
    root_ts = open_thread()
    read = stored(container, root_ts)
    one = pressed(container, CardAction.RESOLVE, "U0AGENT1", root_ts)
    two = pressed(container, CardAction.RESOLVE, "U0AGENT2", root_ts)
    before_next(
        monkeypatch,
        container.store.conversations,
        "save_state",
        lambda: container.card_actions.act(two),
    )

    # When both are applied
    container.card_actions.act(one)

    # Then the conversation is resolved by the one stored first, once
    assert stored(container, root_ts).version == read.version + 1
    notes = [p.message.text for p in slack.thread(root_ts)[1:]]
    assert notes == [":white_check_mark: <@U0AGENT2> resolved this conversation."]


def test_a_reply_going_out_while_an_agent_resolves_leaves_the_conversation_resolved(
    open_thread, container, monkeypatch, slack_event, run_workers, slack, twilio: RecordingTwilio
):
    # Given a conversation an agent answers, and another agent resolving it as the reply
    # goes out (after the reply read the conversation, before it stored "pending" with the
    # reply's delivery)
    root_ts = open_thread()
    resolve = pressed(container, CardAction.RESOLVE, "U0AGENT2", root_ts)
    concurrent = before_next(
        monkeypatch,
        container.store.replies,
        "record_sent",
        lambda: container.card_actions.act(resolve),
    )

    # When the reply is sent
    reply = slack_thread_reply(root_ts, "1764000500.000100", "Seu pedido chega amanhã!")
    assert slack_event(reply).status_code == 200
    run_workers()

    # Then it went out, is counted as the first response, and the conversation stays resolved
    assert concurrent == []
    assert len(twilio.sent) == 1
    conversation = stored(container, root_ts)
    assert conversation.status.value == "resolved"
    assert conversation.first_response_at is not None
    # And so does the card
    assert ":white_check_mark: Resolved" in card(slack)
    assert "Pending" not in card(slack)


def test_an_sla_warning_while_an_agent_takes_the_conversation_keeps_both(
    client, put_shop, container, monkeypatch, run_workers, slack: FakeSlack
):
    # Given a conversation waiting for its first response, and its warning alarm firing as
    # an agent takes it
    assert put_shop("ana", shop_document(sla=SLA)).status_code == 201
    params = twilio_message(1, Body="Cadê meu pedido?")
    headers = twilio_headers(PUBLIC_URL + PATH, params)
    assert client.http.post(PATH, headers=headers, body=form(params)).status_code == 200
    run_workers()
    [root] = slack.roots()
    root_ts = root.ts
    waiting = stored(container, root_ts)
    clock = waiting.response_clock
    assert clock is not None
    alarm = SlaAlarm(
        shop_id=waiting.shop_id,
        conversation_id=waiting.conversation_id,
        target=clock.target,
        started_at=clock.started_at,
        stage=SlaStage.WARNING,
        due_at=clock.due_at,
    )
    take = pressed(container, CardAction.ASSIGN_TO_ME, "U0AGENT1", root_ts)
    concurrent = before_next(
        monkeypatch,
        container.store.conversations,
        "save_state",
        lambda: container.card_actions.act(take),
    )

    # When the alarm is stored only after the assignment
    container.card_actions.escalate(alarm)

    # Then the conversation is assigned and at the warning stage, which its record keeps
    assert concurrent == []
    conversation = stored(container, root_ts)
    assert conversation.assignee_user_id == "U0AGENT1"
    assert conversation.response_clock is not None
    assert conversation.response_clock.stage is SlaStage.WARNING
    assert [event.stage for event in conversation.sla_history] == ["warning"]
    # And the card as last drawn shows both
    assert "*Assignee:* <@U0AGENT1>" in card(slack)
    assert ":warning: *First response due:*" in card(slack)


# First messages of a new customer ------------------------------------------------------------


def first_message(container: Any, clock: Clock, number: int, text: str) -> InboundMessage:
    """A new customer's message, stored as the ack path stores it."""
    message = InboundMessage(
        shop_id="ana",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id=f"SM{number:032x}",
        customer_address=CUSTOMER,
        shop_address=SMS_NUMBER,
        text=text,
        received_at=clock(),
    )
    container.store.inbound.save_inbound(message)
    return message


@pytest.mark.parametrize(
    "step",
    ["create_conversation", "attach_slack_thread"],
    ids=["before-the-conversation-is-created", "before-its-thread-is-attached"],
)
def test_two_first_messages_at_once_open_one_conversation_under_one_card(
    shop, container, monkeypatch, slack: FakeSlack, clock: Clock, step
):
    # Given a new customer's two first messages, processed at the same instant: the second
    # runs entirely while the first is at `step`
    hello = first_message(container, clock, 1, "Olá!")
    question = first_message(container, clock, 2, "Onde está meu pedido?")
    concurrent = before_next(
        monkeypatch,
        container.store.conversations,
        step,
        lambda: container.inbound.process(question),
    )

    # When the first one goes on
    container.inbound.process(hello)

    # Then the customer has one conversation, counting both messages
    assert concurrent == []
    [conversation] = container.store.listings.recent_conversations("ana", 10)
    assert conversation.message_count == 2
    # And one card is left in Slack: the conversation's thread, holding both messages
    kept = [root for root in slack.roots() if (root.channel, root.ts) not in slack.deleted]
    [root] = kept
    assert conversation.slack_thread == (CHANNEL_ID, root.ts)
    thread = [post.message.text for post in slack.thread(root.ts)]
    assert sorted(thread) == sorted(["Olá!", "Onde está meu pedido?"])
    # A card posted by the worker that lost the thread is deleted, with nothing under it
    for lost in slack.roots():
        if lost is not root:
            assert (lost.channel, lost.ts) in slack.deleted
            assert slack.thread(lost.ts) == []
    # And the card as last drawn counts both messages
    assert slack.updates[-1].ts == root.ts
    assert "2 messages" in card(slack)


# The store's side ---------------------------------------------------------------------------


def test_a_change_made_from_a_stale_read_is_refused_and_nothing_of_it_stored(
    open_thread, container
):
    # Given a conversation two workers read at the same version, and the first one's change
    root_ts = open_thread()
    read = stored(container, root_ts)
    first = container.store.conversations.save_state(
        read.model_copy(update={"assignee_user_id": "U0AGENT1"})
    )
    assert first is not None
    assert first.version == read.version + 1

    # When the second stores its change made from the same read
    second = container.store.conversations.save_state(
        read.model_copy(update={"priority": Priority.URGENT})
    )

    # Then it is refused, and the first change stands alone
    assert second is None
    conversation = stored(container, root_ts)
    assert (conversation.assignee_user_id, conversation.priority.value) == ("U0AGENT1", "normal")
    assert conversation.version == first.version


def test_a_conversation_stored_before_versions_existed_takes_its_first_change(
    open_thread, container, slack: FakeSlack
):
    # Given a conversation item without a version, as stored before versions existed
    root_ts = open_thread()
    conversation = stored(container, root_ts)
    boto3.client("dynamodb").update_item(
        TableName=TABLE_NAME,
        Key={
            "PK": {"S": f"SHOP#ana#CONV#{conversation.conversation_id}"},
            "SK": {"S": "CONVERSATION"},
        },
        UpdateExpression="REMOVE version",
    )
    assert stored(container, root_ts).version == 0

    # When an agent takes it
    container.card_actions.act(pressed(container, CardAction.ASSIGN_TO_ME, "U0AGENT1", root_ts))

    # Then the change is stored, as its first version
    taken = stored(container, root_ts)
    assert (taken.assignee_user_id, taken.version) == ("U0AGENT1", 1)
    assert "*Assignee:* <@U0AGENT1>" in card(slack)
