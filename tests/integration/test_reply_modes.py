"""No slips: which thread messages reach the customer (reply mode, safe mode, "Send to
customer"), and the grace period during which a deleted reply is cancelled and an edited one
goes out as edited."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from app import app
from chalicelib.settings import OUTBOUND_QUEUE
from tests.fakes import FakeSlack
from tests.integration.conftest import Clock, stored_item
from tests.signing import CHANNEL_ID, TEAM_ID, shop_document, slack_headers, slack_thread_reply

AGENT_TS = "1764000500.000100"
WRITTEN_AT = datetime.fromtimestamp(1764000500.0001, UTC)
GRACE = 10


@pytest.fixture
def clock() -> Clock:
    # Long after any reply the tests write: no grace period is still running.
    return Clock(WRITTEN_AT + timedelta(days=1))


def replies(**policy: Any) -> dict[str, Any]:
    return shop_document(replies={"grace_seconds": GRACE, **policy})


@pytest.fixture
def thread_with(
    put_shop: Callable[..., Any], open_thread: Callable[..., str]
) -> Callable[..., str]:
    """A conversation thread of a shop with the given reply policy."""

    def open_(**policy: Any) -> str:
        assert put_shop("ana", replies(**policy)).status_code in (200, 201)
        return open_thread()

    return open_


@pytest.fixture
def thread(thread_with: Callable[..., str]) -> str:
    """A conversation thread of a shop in reply mode."""
    return thread_with()


def changed(ts: str, text: str, edited_ts: str) -> bytes:
    message = json.loads(slack_thread_reply("0", ts, text))["event"]
    message["edited"] = {"user": "U0AGENT", "ts": edited_ts}
    return event({"subtype": "message_changed", "ts": edited_ts, "message": message})


def deleted(thread_ts: str, ts: str, deleted_at: str) -> bytes:
    previous = json.loads(slack_thread_reply(thread_ts, ts, "whatever"))["event"]
    return event(
        {
            "subtype": "message_deleted",
            "ts": deleted_at,
            "deleted_ts": ts,
            "previous_message": previous,
        }
    )


def event(fields: dict[str, Any]) -> bytes:
    payload = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event_id": f"Ev{fields['ts'].replace('.', '')}",
        "event": {"type": "message", "hidden": True, "channel": CHANNEL_ID, **fields},
    }
    return json.dumps(payload).encode()


def shortcut(thread_ts: str, ts: str, text: str, action_ts: str) -> bytes:
    payload = {
        "type": "message_action",
        "callback_id": "send_to_customer",
        "action_ts": action_ts,
        "trigger_id": "1.2.3",
        "team": {"id": TEAM_ID},
        "channel": {"id": CHANNEL_ID},
        "user": {"id": "U0LEAD"},
        "message": {
            "type": "message",
            "user": "U0AGENT",
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
        },
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture
def interaction(client: Any) -> Callable[[bytes], Any]:
    def post(body: bytes) -> Any:
        headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
        return client.http.post("/slack/interactions", headers=headers, body=body)

    return post


def reactions(slack: FakeSlack, ts: str = AGENT_TS) -> list[str]:
    return slack.reactions.get((CHANNEL_ID, ts), [])


def outbound_item(ts: str = AGENT_TS) -> dict[str, Any] | None:
    return stored_item(f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{ts}", "MESSAGE")


# Reply mode --------------------------------------------------------------------------------


def test_in_reply_mode_a_note_stays_internal_and_shows_a_lock(
    thread, slack_event, run_workers, slack, twilio
):
    # Given a shop in reply mode and a conversation thread
    # When an agent writes a note with the prefix, in capitals and bold
    slack_event(slack_thread_reply(thread, AGENT_TS, "*NOTE:* she ordered twice, refund one"))
    run_workers()

    # Then nothing reaches the customer, nothing is stored as a reply, and the note shows a lock
    assert twilio.sent == []
    assert outbound_item() is None
    assert reactions(slack) == ["lock"]


# Safe mode ---------------------------------------------------------------------------------


def test_in_safe_mode_only_marked_messages_reach_the_customer(
    thread_with, slack_event, run_workers, slack, twilio
):
    thread = thread_with(mode="safe")
    # Given a shop in safe mode
    # When an agent discusses in the thread, then answers with the send prefix
    slack_event(slack_thread_reply(thread, "1764000500.000100", "Should we refund her?"))
    slack_event(slack_thread_reply(thread, "1764000510.000100", "Send: Your refund is on its way"))
    run_workers()

    # Then only the marked message went out, without its prefix, signed by the agent
    assert [sent.text for sent in twilio.sent] == ["Your refund is on its way\n— Bia"]
    # And the discussion carries no mark: in safe mode internal is the normal case
    assert reactions(slack, "1764000500.000100") == []


def test_send_to_customer_sends_a_message_once_however_often_it_is_chosen(
    thread_with, slack_event, interaction, run_workers, twilio
):
    thread = thread_with(mode="safe")
    # Given an internal message in a safe-mode thread
    slack_event(slack_thread_reply(thread, AGENT_TS, "Your parcel is at the depot 📦"))
    run_workers()
    assert twilio.sent == []

    # When a lead chooses "Send to customer" on it twice
    for action_ts in ("1764000600.000001", "1764000601.000001"):
        response = interaction(
            shortcut(thread, AGENT_TS, "Your parcel is at the depot 📦", action_ts)
        )
        assert response.status_code == 200
    run_workers()

    # Then it went out once, signed by its author, and is recorded under the message
    assert [sent.text for sent in twilio.sent] == ["Your parcel is at the depot 📦\n— Bia"]
    stored = outbound_item()
    assert stored is not None
    assert (stored["agent_user_id"], stored["agent_name"]) == ("U0AGENT", "Bia")


def test_an_agent_without_a_slack_name_signs_with_the_shops_name(
    thread_with, slack_event, run_workers, slack, twilio
):
    thread = thread_with(signature="{agent} · {shop}")
    # Given an agent Slack gives no name for
    slack.names.clear()

    # When they reply
    slack_event(slack_thread_reply(thread, AGENT_TS, "Obrigado!"))
    run_workers()

    # Then the reply is signed with the shop's name, never "Bot"
    assert [sent.text for sent in twilio.sent] == ["Obrigado!\nLoja da Ana · Loja da Ana"]


# Grace period ------------------------------------------------------------------------------


def test_a_reply_waits_its_grace_period_then_goes_out_as_last_edited(
    thread, slack_event, run_workers, run_workers_once, slack, twilio, clock
):
    # Given a reply written 2 seconds ago
    clock.now = WRITTEN_AT + timedelta(seconds=2)
    slack_event(slack_thread_reply(thread, AGENT_TS, "Chega amanha"))

    # When the workers run within the grace period
    run_workers_once()

    # Then nothing is sent yet, and the reply shows it is waiting
    assert twilio.sent == []
    assert reactions(slack) == ["hourglass_flowing_sand"]

    # When the agent fixes a typo, twice, and Slack delivers the edits out of order
    assert (
        slack_event(changed(AGENT_TS, "Chega amanhã!! 🚚", "1764000506.000000")).status_code == 200
    )
    assert slack_event(changed(AGENT_TS, "Chega amanhã", "1764000504.000000")).status_code == 200
    # And the grace period ends
    clock.now = WRITTEN_AT + timedelta(seconds=GRACE)
    run_workers()

    # Then the last edit went out, once, and the reply shows it was sent
    assert [sent.text for sent in twilio.sent] == ["Chega amanhã!! 🚚\n— Bia"]
    assert reactions(slack) == ["outbox_tray"]


def test_a_reply_deleted_in_its_grace_period_is_not_sent_and_the_thread_says_so(
    thread, slack_event, run_workers, run_workers_once, slack, twilio, clock
):
    # Given a reply waiting in its grace period
    clock.now = WRITTEN_AT + timedelta(seconds=1)
    slack_event(slack_thread_reply(thread, AGENT_TS, "Reembolso aprovado"))
    run_workers_once()

    # When the agent deletes it, then the grace period ends
    assert slack_event(deleted(thread, AGENT_TS, "1764000505.000000")).status_code == 200
    clock.now = WRITTEN_AT + timedelta(minutes=1)
    run_workers()

    # Then nothing reached the customer, nothing is stored as a reply, and the thread says so
    assert twilio.sent == []
    assert outbound_item() is None
    note = slack.thread(thread)[-1]
    assert note.message.text == (
        ":wastebasket: <@U0AGENT> deleted a reply before it was sent: the customer did not get it."
    )


def test_an_edit_that_turns_a_reply_into_a_note_keeps_it_internal(
    thread, slack_event, run_workers, run_workers_once, slack, twilio, clock
):
    # Given a reply waiting in its grace period
    clock.now = WRITTEN_AT + timedelta(seconds=1)
    slack_event(slack_thread_reply(thread, AGENT_TS, "She is a regular, refund her"))
    run_workers_once()

    # When the agent realises and adds the note prefix before the grace period ends
    slack_event(changed(AGENT_TS, "note: She is a regular, refund her", "1764000503.000000"))
    clock.now = WRITTEN_AT + timedelta(seconds=GRACE + 1)
    run_workers()

    # Then it stays internal, and shows the lock instead of the hourglass
    assert twilio.sent == []
    assert reactions(slack) == ["lock"]


def test_a_card_button_does_not_wait_behind_a_reply_in_its_grace_period(
    thread, slack_event, interaction, run_workers, run_workers_once, slack, twilio, clock, container
):
    # Given a reply waiting in its grace period
    clock.now = WRITTEN_AT + timedelta(seconds=1)
    slack_event(slack_thread_reply(thread, AGENT_TS, "Um momento"))
    run_workers_once()

    # When an agent presses Resolve on the card meanwhile
    conversation = container.store.conversations.find_conversation_by_thread(
        TEAM_ID, CHANNEL_ID, thread
    )
    press = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": thread},
        "actions": [
            {
                "action_id": "resolve",
                "value": f"ana:{conversation.conversation_id}",
                "action_ts": "1764000502.000001",
            }
        ],
    }
    interaction(urlencode({"payload": json.dumps(press)}).encode())
    run_workers()

    # Then the conversation is resolved at once, while the reply still waits
    resolved = container.store.conversations.find_conversation_by_thread(
        TEAM_ID, CHANNEL_ID, thread
    )
    assert resolved.status.value == "resolved"
    assert twilio.sent == []


def test_a_batch_that_only_waits_is_handed_back_without_an_error(
    thread, slack_event, clock, container
):
    # Given a reply in its grace period, received by the outbound worker
    clock.now = WRITTEN_AT + timedelta(seconds=1)
    slack_event(slack_thread_reply(thread, AGENT_TS, "Um momento"))
    sqs = container.queues._client
    url = sqs.get_queue_url(QueueName=OUTBOUND_QUEUE)["QueueUrl"]
    [message] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{OUTBOUND_QUEUE}",
        "awsRegion": "us-east-1",
    }

    # When the handler runs it
    result = app.handler_map["process_outbound"]({"Records": [record]}, None)

    # Then it reports the record back to the queue instead of failing the invocation
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
