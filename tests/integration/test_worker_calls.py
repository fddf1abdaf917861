"""What a worker job costs in AWS calls, warm container (issue 20's figures): a customer's
follow-up, a message that opens a conversation, a delivery status callback. Counted as
`make bench` counts them, from botocore's `before-call` event on the container's clients;
the queue pumps (Lambda's event source mapping here) are not the app and are left out."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.integration.test_agent_replies import reactions, reply_event
from tests.signing import ACCOUNT_SID, SMS_NUMBER, form, twilio_headers, twilio_message

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


def _customer_writes(client: Client, number: int) -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(number, From=CUSTOMER, Body=f"Onde está meu pedido {number}?")
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200, response.body


def test_a_message_opening_a_conversation_and_a_follow_up_cost_their_worker_so_many_calls(
    client: Client,
    shop: str,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    aws_calls: list[str],
) -> None:
    # Given a warm container: the shop's config and secrets are cached by the first webhook
    _customer_writes(client, 1)
    aws_calls.clear()

    # When its worker opens the conversation, then a follow-up arrives and is handled
    run_workers()
    opening = sorted(aws_calls)
    _customer_writes(client, 2)
    aws_calls.clear()
    run_workers()
    follow_up = sorted(aws_calls)

    # Then the opening read the customer's pointer, their twin address's and the pointer to
    # a profile the shop linked them into in one batch; the follow-up reads neither its
    # pointer nor its conversation
    # (remembered). Neither reads the shop or its secrets again, nor counts its attempt (each
    # is its copy's first receive, moments after it arrived), and both messages are in the
    # thread
    assert opening == sorted(
        [
            # the customer's open-conversation pointer, their number's twin's and their
            # profile's (none of them)
            "dynamodb:BatchGetItem",
            "dynamodb:TransactWriteItems",  # the conversation created
            "dynamodb:TransactWriteItems",  # its thread attached
            "dynamodb:UpdateItem",  # the post noted
            "dynamodb:TransactWriteItems",  # the message counted, processed
            "dynamodb:GetItem",  # the card's state after drawing it
        ]
    )
    assert follow_up == sorted(
        [
            # the post noted, while the conversation the container remembers from the
            # opening is still at its version and the customer's open one
            "dynamodb:TransactWriteItems",
            "dynamodb:TransactWriteItems",  # the message counted, processed
            "dynamodb:GetItem",  # the card's state after drawing it
        ]
    )
    [root] = slack.roots()
    assert len(slack.thread(root.ts)) == 2


def test_a_linked_customer_opening_a_conversation_reads_the_profile_the_first_read_names(
    client: Client,
    shop: str,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    aws_calls: list[str],
) -> None:
    # Given the shop linked the customer's number to their email address, in a warm container
    path = f"/admin/shops/{shop}/customers/{quote(CUSTOMER)}/links"
    body = json.dumps({"address": "ana@example.com.br"})
    linked = client.http.post(
        path, headers={**ADMIN, "Content-Type": "application/json"}, body=body
    )
    assert linked.status_code == 200, linked.body
    _customer_writes(client, 1)
    aws_calls.clear()

    # When its worker opens the customer's conversation
    run_workers()

    # Then the first read named the profile (its pointer read with the open pointers), so the
    # profile is read, and the open pointer of the address it links (none), before the
    # conversation is opened as for any customer
    assert sorted(aws_calls) == sorted(
        [
            "dynamodb:BatchGetItem",  # open pointers of the number and its twin, profile's
            "dynamodb:GetItem",  # the profile
            "dynamodb:BatchGetItem",  # the email address's open pointer (none)
            "dynamodb:TransactWriteItems",  # the conversation created
            "dynamodb:TransactWriteItems",  # its thread attached
            "dynamodb:UpdateItem",  # the post noted
            "dynamodb:TransactWriteItems",  # the message counted, processed
            "dynamodb:GetItem",  # the card's state after drawing it
        ]
    )
    [root] = slack.roots()
    assert len(slack.thread(root.ts)) == 1
