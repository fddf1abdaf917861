"""Stored but never processed customer messages are queued again by the minute schedule."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app import app
from chalicelib.local.pump import scheduled_event
from chalicelib.services.recovery import MAX_REQUEUES
from chalicelib.settings import TABLE_NAME
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

    def failing_once(message: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        send(message)

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
    # Then the message reached its thread, once
    [root] = slack.roots()
    assert [p.message.text for p in slack.thread(root.ts)] == ["Ninguém me responde"]
    assert stored(params["MessageSid"])["status"] == "processed"


def test_processed_and_recent_messages_are_left_alone(
    client, shop, container, run_workers, slack: FakeSlack
):
    # Given one message processed, and one just stored and still on its way
    assert deliver(client, twilio_message(1, Body="Primeira")) == 200
    run_workers()
    assert deliver(client, twilio_message(2, Body="Segunda")) == 200
    # When the schedule runs now
    requeued = container.redelivery.requeue_unprocessed()
    # Then nothing is queued again
    assert requeued == 0


def test_a_message_that_keeps_failing_is_stranded_for_operators_not_retried_forever(
    client, shop, container
):
    # Given a message that stays unprocessed (its worker keeps failing)
    params = twilio_message(1)
    assert deliver(client, params) == 200
    minutes_later(container, 10)
    # When the schedule has queued it again as often as it may, and runs once more
    counts = [container.redelivery.requeue_unprocessed() for _ in range(MAX_REQUEUES + 1)]
    # Then it was requeued that many times, then set aside as stranded
    assert counts == [1] * MAX_REQUEUES + [0]
    item = stored(params["MessageSid"])
    assert item["status"] == "received"
    assert item["GSI1PK"].startswith("STRANDED#")
    assert container.redelivery.requeue_unprocessed() == 0
