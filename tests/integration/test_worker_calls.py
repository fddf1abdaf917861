"""What a worker job costs in AWS calls, warm container (issue 20's figures): a customer's
follow-up, a message that opens a conversation, a delivery status callback. Counted as
`make bench` counts them, from botocore's `before-call` event on the container's clients;
the queue pumps (Lambda's event source mapping here) are not the app and are left out."""

from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL
from tests.integration.test_agent_replies import reactions, reply_event
from tests.signing import ACCOUNT_SID, SMS_NUMBER, form, twilio_headers

CUSTOMER = "+5511987654321"
STATUS_PATH = "/webhooks/twilio/ana/status"


@pytest.fixture
def aws_calls(container: bootstrap.Container) -> list[str]:
    """Every AWS call the container's clients make from now on, as `service:Operation`."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    schedules = container.schedules
    clients = (
        container.store.client,
        container.queues._client,
        container.secrets_client,
        schedules._client,
        schedules._sqs,
    )
    for events in {id(c.meta.events): c.meta.events for c in clients}.values():
        events.register("before-call", record)
    return calls


def _report_status(client: Client, sid: str, status: str) -> None:
    params = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": SMS_NUMBER,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
    }
    headers = twilio_headers(PUBLIC_URL + STATUS_PATH, params)
    response = client.http.post(STATUS_PATH, headers=headers, body=form(params))
    assert response.status_code == 200, response.body


def test_a_status_callback_costs_its_worker_one_read_and_one_write(
    client: Client,
    open_thread: Callable[..., str],
    slack_event: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    aws_calls: list[str],
) -> None:
    # Given an agent's reply sent to Twilio, in a warm container
    thread_ts = open_thread()
    assert slack_event(reply_event(thread_ts)).status_code == 200
    run_workers()
    [sent] = twilio.sent
    _report_status(client, sent.sid, "sent")
    run_workers()

    # When Twilio reports it delivered and the worker takes the update
    _report_status(client, sent.sid, "delivered")
    aws_calls.clear()
    run_workers()

    # Then the job read the provider id's pointer and wrote the reply once (status and
    # display together), and the agent sees it delivered
    assert aws_calls == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert reactions(slack) == ["white_check_mark"]
