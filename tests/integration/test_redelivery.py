"""Stored but never processed customer messages are queued again by the minute schedule."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app import app
from chalicelib.settings import TABLE_NAME
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL
from tests.signing import form, twilio_headers, twilio_message

PATH = "/webhooks/twilio/ana"


def deliver(client: Any, params: dict[str, str]) -> int:
    headers = twilio_headers(PUBLIC_URL + PATH, params)
    return int(client.http.post(PATH, headers=headers, body=form(params)).status_code)


def minutes_later(container: Any, minutes: int) -> None:
    container.clock = lambda: datetime.now(UTC) + timedelta(minutes=minutes)


def run_schedule() -> None:
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)


def stored(sid: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE_NAME,
        Key={"PK": {"S": f"SHOP#ana#MSG#twilio:{sid}"}, "SK": {"S": "MESSAGE"}},
        ConsistentRead=True,
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


@pytest.fixture
def queue_down_once(container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQS refuses the next inbound send (after the message was stored)."""
    send = container.queues.send_inbound
    calls: list[int] = []

    def failing_once(message: Any, body: str | None = None) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        send(message, body)

    monkeypatch.setattr(container.queues, "send_inbound", failing_once)


def test_a_message_stored_but_never_queued_is_posted_even_if_twilio_never_retries(
    client, shop, container, queue_down_once, run_workers, slack: FakeSlack
):
    # Given a message stored while SQS was down: Twilio got a 503 and gave up
    params = twilio_message(1, Body="Ninguém me responde")
    assert deliver(client, params) == 503
    run_workers()
    assert slack.posts == []
    # When the schedule runs a few minutes later, and then the workers
    minutes_later(container, 4)
    run_schedule()
    run_workers()
    # Then the message reached its thread, once, saying it was written minutes before
    [root] = slack.roots()
    [post] = slack.thread(root.ts)
    assert post.message.text == "Ninguém me responde"
    assert "posted late" in json.dumps(post.message.blocks[-1])
    assert stored(params["MessageSid"])["status"] == "processed"


def queued_texts() -> list[str]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="threadline-inbound.fifo")["QueueUrl"]
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["text"] for m in answer.get("Messages", [])]


def stored_while_sqs_refused(
    client: Any, container: Any, monkeypatch: pytest.MonkeyPatch, count: int
) -> list[str]:
    """One customer's messages, stored while SQS refused every send (Twilio got 503s and
    gave up); their texts, in the order written."""

    def refused(message: Any, body: str | None = None) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    texts = [f"Mensagem {n}" for n in range(count)]
    with monkeypatch.context() as down:
        down.setattr(container.queues, "send_inbound", refused)
        for n, text in enumerate(texts):
            assert deliver(client, twilio_message(n, Body=text)) == 503
    return texts


def test_a_customers_unqueued_messages_are_queued_again_in_the_order_they_arrived(
    client, shop, container, monkeypatch
):
    # Given eight unqueued messages of one customer (their keys fall in different shards of
    # the requeue index)
    texts = stored_while_sqs_refused(client, container, monkeypatch, 8)
    # When the schedule runs four minutes later
    minutes_later(container, 4)
    assert container.redelivery.requeue_unprocessed() == 8
    # Then they wait in the customer's FIFO group in the order the customer wrote them
    assert queued_texts() == texts


def test_a_run_that_cannot_take_every_due_message_takes_the_most_overdue_first(
    client, shop, container, monkeypatch
):
    texts = stored_while_sqs_refused(client, container, monkeypatch, 12)
    later = datetime.now(UTC) + timedelta(minutes=4)

    # One a shard (12 messages in 8 shards): a shard holding more leaves out what is due
    # after its first
    due = [message.text for message in container.store.inbound.due_for_requeue(later, limit=1)]

    assert 1 <= len(due) < len(texts)
    assert due == texts[: len(due)]


def test_only_unprocessed_messages_that_are_due_are_queued_again(
    client, shop, container, run_workers
):
    # Given one message processed, and one stored and queued but never processed
    assert deliver(client, twilio_message(1, Body="Primeira")) == 200
    run_workers()
    assert deliver(client, twilio_message(2, Body="Segunda")) == 200
    assert queued_texts() == ["Segunda"]  # (taken off the queue here, as if lost)
    # When the schedule runs at once, and again four minutes later
    now_count = container.redelivery.requeue_unprocessed()
    minutes_later(container, 4)
    del container.__dict__["redelivery"]
    later_count = container.redelivery.requeue_unprocessed()
    # Then nothing was due at first; later exactly the unprocessed one is queued again
    assert (now_count, later_count) == (0, 1)
    assert stored(twilio_message(1)["MessageSid"])["GSI1PK"].startswith("CONV#")


def test_a_message_is_queued_again_every_25_minutes_then_stranded_after_a_day(
    client, shop, container
):
    # Given a message that stays unprocessed (its worker keeps failing)
    params = twilio_message(1)
    assert deliver(client, params) == 200

    def run_at(minutes: int) -> int:
        minutes_later(container, minutes)
        container.__dict__.pop("redelivery", None)
        return int(container.redelivery.requeue_unprocessed())

    # When the schedule runs at these minutes after it arrived
    counts = {m: run_at(m) for m in (4, 5, 20, 30, 31, 25 * 60)}
    # Then it was queued again at 4 and 30 minutes only, and after a day set aside
    assert counts == {4: 1, 5: 0, 20: 0, 30: 1, 31: 0, 1500: 0}
    item = stored(params["MessageSid"])
    assert item["status"] == "received"
    assert item["requeue_count"] == "2"
    assert item["GSI1PK"].startswith("STRANDED#")
