"""Agents' thread replies go to the customer through Twilio; delivery news comes back to Slack."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from app import app
from chalicelib.channels.base import DeliveryRefused
from chalicelib.domain.errors import Retryable
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus
from chalicelib.services.jobs import run_job
from chalicelib.settings import OUTBOUND_QUEUE
from tests.fakes import FakeSlack, RecordingTwilio, SlackPost
from tests.integration.conftest import PUBLIC_URL, stored_item
from tests.signing import (
    ACCOUNT_SID,
    CHANNEL_ID,
    SMS_NUMBER,
    TEAM_ID,
    WHATSAPP_NUMBER,
    form,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
AGENT_TS = "1764000500.000100"
STATUS_PATH = "/webhooks/twilio/ana/status"
STATUS_CALLBACK = PUBLIC_URL + STATUS_PATH
OPTED_OUT = "the customer has opted out (replied STOP); they must text START first"

SMS = {"From": CUSTOMER, "To": SMS_NUMBER}
WHATSAPP = {"From": f"whatsapp:{CUSTOMER}", "To": f"whatsapp:{WHATSAPP_NUMBER}"}


def outbound_item(ts: str = AGENT_TS) -> dict[str, Any] | None:
    return stored_item(f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{ts}", "MESSAGE")


def reactions(slack: FakeSlack, ts: str = AGENT_TS) -> list[str]:
    return slack.reactions.get((CHANNEL_ID, ts), [])


def notes(slack: FakeSlack, thread_ts: str) -> list[SlackPost]:
    """What the bot said in a conversation's thread after mirroring the customer's message."""
    return slack.thread(thread_ts)[1:]


def reply_event(
    thread_ts: str | None,
    *,
    ts: str = AGENT_TS,
    text: str = "Seu pedido chega amanhã!",
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    **event: Any,
) -> bytes:
    """An Events API delivery of a Slack message; fields given as None are left out."""
    payload = json.loads(slack_thread_reply(thread_ts or "", ts, text, event_id=event_id, **event))
    payload["team_id"] = team_id
    if thread_ts is None:
        del payload["event"]["thread_ts"]
    payload["event"] = {
        name: value for name, value in payload["event"].items() if value is not None
    }
    return json.dumps(payload).encode("utf-8")


def sqs_record(record_id: str, job: DeliveryUpdate) -> dict[str, Any]:
    group = f"{job.shop_id}:{job.provider_message_id}"
    return {
        "messageId": record_id,
        "receiptHandle": f"handle-{record_id}",
        "body": job.model_dump_json(),
        "attributes": {
            "MessageGroupId": group,
            "MessageDeduplicationId": f"{group}:{job.status.value}",
            "ApproximateReceiveCount": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{OUTBOUND_QUEUE}",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def report_status(client: Any) -> Callable[..., None]:
    """Posts a status callback for a sent message, signed as Twilio signs it."""

    def report(sid: str, status: str, error_code: str | None = None) -> None:
        params = {
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "MessageStatus": status,
            "SmsStatus": status,
            "From": SMS_NUMBER,
            "To": CUSTOMER,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        response = client.http.post(
            STATUS_PATH, headers=twilio_headers(STATUS_CALLBACK, params), body=form(params)
        )
        assert response.status_code == 200, response.body
        assert response.headers["Content-Type"] == "text/xml"

    return report


@pytest.fixture
def sent_reply(open_thread, slack_event, run_workers, twilio: RecordingTwilio) -> tuple[str, str]:
    """An agent's reply, sent and queued at Twilio; returns its thread ts and Twilio sid."""
    thread_ts = open_thread()
    assert slack_event(reply_event(thread_ts)).status_code == 200
    run_workers()
    [sent] = twilio.sent
    return thread_ts, sent.sid


# Sending -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "customer", "shop_number"),
    [
        (SMS, CUSTOMER, SMS_NUMBER),
        (WHATSAPP, f"whatsapp:{CUSTOMER}", f"whatsapp:{WHATSAPP_NUMBER}"),
    ],
    ids=["sms", "whatsapp"],
)
def test_an_agent_reply_goes_once_to_the_customer_from_the_address_they_wrote_to(
    open_thread, slack_event, run_workers, slack, twilio, fields, customer, shop_number
):
    # Given a customer's conversation thread
    thread_ts = open_thread(**fields)

    # When an agent replies in it and the workers run
    response = slack_event(reply_event(thread_ts, text="Seu pedido chega amanhã! 📦"))
    run_workers()

    # Then the reply goes out once, to the customer, from the shop's address, same channel
    assert response.status_code == 200
    [sent] = twilio.sent
    assert (sent.to, sent.from_, sent.text) == (
        customer,
        shop_number,
        "Seu pedido chega amanhã! 📦\n— Bia",
    )
    assert sent.status_callback == STATUS_CALLBACK
    # And it is stored under its Slack message, queued at Twilio
    stored = outbound_item()
    assert stored is not None
    assert stored["PK"] == f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{AGENT_TS}"
    assert (stored["status"], stored["provider_message_id"]) == ("queued", sent.sid)
    # And the agent's message shows it is on its way
    assert reactions(slack) == ["outbox_tray"]


def test_slack_delivering_the_same_message_again_sends_it_once(
    open_thread, slack_event, run_workers, twilio
):
    # Given an agent's reply in a conversation thread
    thread_ts = open_thread()
    body = reply_event(thread_ts, event_id="Ev0REPLY1")

    # When Slack delivers it, then retries it after a timeout
    first = slack_event(body)
    retry = slack_event(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    run_workers()

    # Then both are acknowledged and the customer gets the reply once
    assert (first.status_code, retry.status_code) == (200, 200)
    assert len(twilio.sent) == 1

    # When the same Slack message arrives again under another event id
    again = slack_event(reply_event(thread_ts, event_id="Ev0REPLY2"))
    run_workers()

    # Then it is acknowledged and not sent again
    assert again.status_code == 200
    assert len(twilio.sent) == 1


# Each case: its name, its Slack ts, the event, and how many jobs reach the worker (the ack
# path drops what is obviously not a reply; the worker drops replies outside a conversation).
IGNORED: list[tuple[str, str, Callable[[str, str], bytes], int]] = [
    (
        "bot message",
        "1764000501.000001",
        lambda root, ts: reply_event(root, ts=ts, bot_id="B0BOT"),
        0,
    ),
    (
        "message_changed",
        "1764000502.000001",
        lambda root, ts: reply_event(root, ts=ts, subtype="message_changed"),
        0,
    ),
    (
        "top-level channel message",
        "1764000503.000001",
        lambda root, ts: reply_event(None, ts=ts),
        0,
    ),
    (
        "thread that is not a conversation",
        "1764000504.000001",
        lambda root, ts: reply_event("1764000999.000001", ts=ts),
        1,
    ),
    (
        "same channel and thread in another workspace",
        "1764000505.000001",
        lambda root, ts: reply_event(root, ts=ts, team_id="T0OTHER", team="T0OTHER"),
        1,
    ),
]


def test_messages_that_are_not_agent_replies_in_a_conversation_send_nothing(
    open_thread, slack_event, run_workers, slack, twilio, subtests
):
    # Given a conversation thread
    thread_ts = open_thread()

    for case, ts, event, jobs in IGNORED:
        with subtests.test(case):
            # When Slack delivers a message that is not an agent's reply in it
            response = slack_event(event(thread_ts, ts))
            handled = run_workers()

            # Then it is acknowledged, and nothing is sent, stored or shown
            assert response.status_code == 200
            assert handled == jobs
            assert twilio.sent == []
            assert outbound_item(ts) is None
            assert slack.reactions == {}
            assert notes(slack, thread_ts) == []


# Sending failures ---------------------------------------------------------------------------


def test_a_refused_reply_is_marked_failed_with_an_x_and_a_note_explaining_why(
    open_thread, slack_event, run_workers, slack, twilio
):
    # Given a conversation thread, and Twilio refusing the next message for good
    thread_ts = open_thread()
    twilio.failures.append(DeliveryRefused("21610", OPTED_OUT))

    # When an agent replies and the workers run
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then nothing went out, the reply is failed with Twilio's code
    assert twilio.sent == []
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], stored["error_code"]) == ("failed", "21610")
    # And the agent sees an x, and a note in the thread with the reason
    assert reactions(slack) == ["x"]
    [note] = notes(slack, thread_ts)
    assert OPTED_OUT in note.message.text
    assert "21610" in note.message.text


def test_a_refusal_without_an_error_code_still_tells_the_agent_its_reason(
    open_thread, slack_event, run_workers, slack, twilio
):
    # Given Twilio refusing the next message for a reason that has no error code
    thread_ts = open_thread()
    twilio.failures.append(DeliveryRefused(None, "this shop has no Twilio account"))

    # When an agent replies and the workers run
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then the note in the thread gives that reason
    [note] = notes(slack, thread_ts)
    assert "this shop has no Twilio account" in note.message.text


def test_a_temporary_twilio_failure_is_retried_and_the_reply_sent_once(
    open_thread, slack_event, run_workers, slack, twilio
):
    # Given a conversation thread, and Twilio failing the next send temporarily
    thread_ts = open_thread()
    twilio.failures.append(Retryable("Twilio answered 503"))

    # When an agent replies and the workers run (and retry)
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then the failure was met, and the reply went out exactly once, queued at Twilio
    assert twilio.failures == []
    [sent] = twilio.sent
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], stored["provider_message_id"]) == ("queued", sent.sid)
    assert reactions(slack) == ["outbox_tray"]
    assert notes(slack, thread_ts) == []


def test_a_send_whose_answer_was_lost_is_found_at_twilio_and_not_sent_again(
    open_thread, slack_event, run_workers, slack, twilio
):
    # Given a conversation thread, and Twilio accepting the next send but its answer lost
    thread_ts = open_thread()
    twilio.lost_answers = 1

    # When an agent replies and the workers run (and retry after the timeout)
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then the retry found the message at Twilio: one send, its sid recorded
    [sent] = twilio.sent
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], stored["provider_message_id"]) == ("queued", sent.sid)
    assert reactions(slack) == ["outbox_tray"]


def test_a_reply_survives_the_shops_secrets_being_briefly_unavailable(
    container, open_thread, slack_event, run_workers, twilio, monkeypatch
):
    # Given a conversation thread, and Secrets Manager failing the next read
    thread_ts = open_thread()
    read_secrets = container.vault.get
    outages = [GetParameterError("Secrets Manager throttled the request")]

    def flaky_get(shop_id: str, **options: Any) -> Any:
        if outages:
            raise outages.pop()
        return read_secrets(shop_id, **options)

    monkeypatch.setattr(container.vault, "get", flaky_get)

    # When an agent replies and the workers run (and retry)
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then the reply went out once
    assert outages == []
    assert len(twilio.sent) == 1
    stored = outbound_item()
    assert stored is not None
    assert stored["status"] == "queued"


# What the customer receives -------------------------------------------------------------------


def test_the_customer_receives_what_the_agent_typed_not_slack_markup(
    open_thread, slack_event, run_workers, twilio
):
    # Given a conversation thread
    thread_ts = open_thread()

    # When an agent's replies arrive as Slack encodes them, and are sent
    for n, text in enumerate(
        [
            "Frete grátis acima de R$ 100 &amp; entrega em &lt; 2 dias",
            "Acompanhe aqui: <https://loja.example/rastreio>",
        ]
    ):
        slack_event(reply_event(thread_ts, ts=f"1764000600.00000{n}", text=text))
    run_workers()

    # Then the customer reads what the agent typed
    assert [sent.text for sent in twilio.sent] == [
        "Frete grátis acima de R$ 100 & entrega em < 2 dias\n— Bia",
        "Acompanhe aqui: https://loja.example/rastreio\n— Bia",
    ]


def test_a_reply_also_sent_to_the_channel_still_reaches_the_customer(
    open_thread, slack_event, run_workers, twilio
):
    # Given a conversation thread
    thread_ts = open_thread()

    # When an agent replies with "Also send to channel" ticked
    body = reply_event(
        thread_ts,
        subtype="thread_broadcast",
        root={"type": "message", "ts": thread_ts, "thread_ts": thread_ts, "bot_id": "B0BOT"},
    )
    slack_event(body)
    run_workers()

    # Then the customer gets the reply
    [sent] = twilio.sent
    assert sent.text == "Seu pedido chega amanhã!\n— Bia"


# Status callbacks ----------------------------------------------------------------------------


def test_delivery_callbacks_move_the_status_and_its_reaction_forward_only(
    sent_reply, report_status, run_workers, slack
):
    # Given a reply queued at Twilio
    _, sid = sent_reply

    # When Twilio reports it delivered
    report_status(sid, "delivered")
    run_workers()

    # Then it is delivered, and the agent's message shows a check mark instead of the tray
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], reactions(slack)) == ("delivered", ["white_check_mark"])

    # When Twilio reports it read
    report_status(sid, "read")
    run_workers()

    # Then it is read, with eyes
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], reactions(slack)) == ("read", ["eyes"])

    # When a late "sent" callback arrives
    report_status(sid, "sent")
    run_workers()

    # Then the reply stays read, with eyes
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], reactions(slack)) == ("read", ["eyes"])


def test_status_for_a_message_the_shop_sent_elsewhere_is_dropped_counted_not_dead_lettered(
    shop, container, clock, report_status, run_workers_once, run_workers
):
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_dead_letters import depth

    # Given a callback, signed by the shop's Twilio account, for a message another of the
    # shop's systems sent from its number
    clock.now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    report_status("SM" + "f" * 32, "delivered")

    # When the worker meets it while a send could still be recording its id
    clock.now += timedelta(minutes=9)
    run_workers_once()

    # Then it waits for that record, and nothing is counted yet
    assert depth("threadline-outbound.fifo") == 1
    assert container.store.counters.counters("ana").get("unknown_delivery_statuses") is None

    # When no record has come ten minutes after the callback
    clock.now += timedelta(minutes=2)
    run_workers()

    # Then it is dropped and counted, rather than retried into the dead-letter queue
    assert depth("threadline-outbound.fifo") == 0
    assert depth("threadline-outbound-dlq.fifo") == 0
    assert container.store.counters.counters("ana")["unknown_delivery_statuses"] == 1


def test_an_undelivered_callback_shows_an_x_and_explains_the_error_once(
    container, sent_reply, report_status, run_workers, slack
):
    # Given a reply queued at Twilio
    thread_ts, sid = sent_reply

    # When Twilio reports it undelivered, twice
    report_status(sid, "undelivered", error_code="30003")
    run_workers()
    report_status(sid, "undelivered", error_code="30003")
    run_workers()

    # Then it is undelivered with the code, marked x, with one note explaining the error
    stored = outbound_item()
    assert stored is not None
    assert (stored["status"], stored["error_code"]) == ("undelivered", "30003")
    assert reactions(slack) == ["x"]
    [note] = notes(slack, thread_ts)
    assert "switched off or unreachable" in note.message.text
    assert "30003" in note.message.text

    # When the update reaches the worker once more (past the queue's deduplication window)
    run_job(
        DeliveryUpdate(
            shop_id="ana",
            provider_message_id=sid,
            status=DeliveryStatus.UNDELIVERED,
            error_code="30003",
        ),
        container,
    )

    # Then there is still one note and one reaction
    assert len(notes(slack, thread_ts)) == 1
    assert reactions(slack) == ["x"]


def test_a_callback_for_a_message_never_sent_fails_alone_in_its_batch(sent_reply, slack):
    # Given a batch with a callback for a message we never sent, and one for our reply
    _, sid = sent_reply
    unknown = DeliveryUpdate(
        shop_id="ana", provider_message_id="SM" + "f" * 32, status=DeliveryStatus.DELIVERED
    )
    known = DeliveryUpdate(shop_id="ana", provider_message_id=sid, status=DeliveryStatus.DELIVERED)
    event = {"Records": [sqs_record("unknown", unknown), sqs_record("known", known)]}

    # When the outbound worker handles the batch
    result = app.handler_map["process_outbound"](event, None)

    # Then only the unknown one is reported failed (to be retried); the other is recorded
    assert result == {"batchItemFailures": [{"itemIdentifier": "unknown"}]}
    stored = outbound_item()
    assert stored is not None
    assert stored["status"] == "delivered"
    assert reactions(slack) == ["white_check_mark"]


def test_a_lone_callback_for_a_message_never_sent_fails_its_whole_batch(container, shop):
    # Given a batch holding only a callback for a message we never sent
    unknown = DeliveryUpdate(
        shop_id="ana", provider_message_id="SM" + "f" * 32, status=DeliveryStatus.DELIVERED
    )
    event = {"Records": [sqs_record("unknown", unknown)]}

    # When the outbound worker handles it
    # Then the whole batch fails, so it comes back whether or not the event source reports
    # batch item failures (a plain `chalice deploy` does not)
    with pytest.raises(BatchProcessingError):
        app.handler_map["process_outbound"](event, None)


def test_an_interrupted_reply_identical_to_an_earlier_one_is_sent_not_taken_for_it(
    open_thread, slack_event, run_workers, slack, twilio, report_status
):
    # Given a conversation where the agent already said "Obrigado!" and it was delivered
    thread_ts = open_thread()
    slack_event(reply_event(thread_ts, ts="1764000600.000100", text="Obrigado!"))
    run_workers()
    [first] = twilio.sent

    # When the agent says "Obrigado!" again and that send fails before Twilio takes it
    twilio.failures.append(Retryable("Twilio answered 503"))
    slack_event(reply_event(thread_ts, ts="1764000700.000100", text="Obrigado!"))
    run_workers()

    # Then the second reply is really sent, under its own sid, and the first keeps its own
    assert [s.text for s in twilio.sent] == ["Obrigado!\n— Bia", "Obrigado!\n— Bia"]
    second_item = outbound_item("1764000700.000100")
    first_item = outbound_item("1764000600.000100")
    assert second_item is not None
    assert first_item is not None
    assert first_item["provider_message_id"] == first.sid
    assert second_item["provider_message_id"] == twilio.sent[1].sid


def test_slack_failing_while_a_failure_is_shown_shows_it_once_slack_is_back(
    sent_reply, report_status, run_workers, slack
):
    # Given a reply queued at Twilio, and Slack rate-limiting the next post
    thread_ts, sid = sent_reply
    slack.failures.append(Retryable("Slack answered 429 to chat.postMessage"))

    # When Twilio reports it undelivered and the worker retries after Slack's refusal
    report_status(sid, "undelivered", error_code="30003")
    run_workers()

    # Then the agent still learns it: one x, one note, and the display is recorded as shown
    assert slack.failures == []
    assert reactions(slack) == ["x"]
    [note] = notes(slack, thread_ts)
    assert "30003" in note.message.text
    stored = outbound_item()
    assert stored is not None
    assert stored["shown_status"] == "undelivered"


def test_an_answered_conversation_waits_for_the_customer_until_they_write(
    client, open_thread, slack_event, run_workers, slack, container
):
    # Given an open conversation
    thread_ts = open_thread()

    # When an agent's reply goes out
    slack_event(reply_event(thread_ts))
    run_workers()

    # Then it is pending, on the card too
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation is not None
    assert conversation.status.value == "pending"
    assert "Pending (waiting for the customer)" in json.dumps(slack.updates[-1].message.blocks)

    # When the customer answers
    params = twilio_message(2, Body="Obrigado!")
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()

    # Then it is open again, without a "reopened" note (it was never closed)
    assert "Open" in json.dumps(slack.updates[-1].message.blocks)
    assert not any("open again" in post.message.text for post in slack.thread(thread_ts))
