"""Twilio's webhooks, `POST /webhooks/twilio/{shop_id}` and `.../status`, against moto with the
real table, queues and chalice routes: what the ack path answers, stores and queues."""

import functools
import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError, EndpointConnectionError
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus, InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.queues import parse_outbound
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

TABLE = "threadline"
INBOUND = "threadline-inbound.fifo"
OUTBOUND = "threadline-outbound.fifo"
FORM = "application/x-www-form-urlencoded"
CUSTOMER = "+5511987654321"
ANA = "/webhooks/twilio/ana"
BOB = "/webhooks/twilio/bob"

PutShop = Callable[..., Any]
Deliver = Callable[..., Any]
Request = tuple[str, dict[str, str], bytes]


# State, read straight from moto -------------------------------------------------------------


@functools.cache
def aws_client(service: str) -> Any:
    """One client per service for the whole module: moto intercepts every client once it is
    imported, and each test's `aws` starts from the provisioned state."""
    return boto3.client(service)  # type: ignore[call-overload]


def message_items() -> list[dict[str, Any]]:
    """Every stored message item (`SHOP#{shop}#MSG#{key}` / `MESSAGE`), of any shop."""
    deserializer = TypeDeserializer()
    pages = aws_client("dynamodb").get_paginator("scan").paginate(TableName=TABLE)
    items = [
        {name: deserializer.deserialize(value) for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]
    return [item for item in items if item["SK"] == "MESSAGE"]


def stored_message(sid: str, shop_id: str = "ana") -> dict[str, Any]:
    [item] = [i for i in message_items() if i["PK"] == f"SHOP#{shop_id}#MSG#twilio:{sid}"]
    return item


def queue_url(name: str) -> str:
    return str(aws_client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def queue_depth(name: str) -> int:
    """Messages on the queue, visible or in flight."""
    attributes = aws_client("sqs").get_queue_attributes(
        QueueUrl=queue_url(name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(count) for count in attributes.values())


def received(name: str) -> list[dict[str, Any]]:
    """Receives what the queue holds, with its system attributes (group and dedup ids)."""
    response = aws_client("sqs").receive_message(
        QueueUrl=queue_url(name),
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    return list(response.get("Messages", []))


def assert_empty_twiml(response: Any) -> None:
    """Twilio's "no reply": an empty <Response/>, as XML."""
    assert response.headers["Content-Type"] == "text/xml"
    root = ElementTree.fromstring(response.body)
    assert (root.tag, len(root)) == ("Response", 0), response.body


def json_reason(response: Any) -> str:
    """The short reason of a refusal: ours ({"error"}) or chalice's ({"Message"})."""
    answer = json.loads(response.body)
    reason = answer["error"] if "error" in answer else answer["Message"]
    assert isinstance(reason, str)
    assert 0 < len(reason) < 100
    return reason


def sid(n: int) -> str:
    return str(twilio_message(n)["MessageSid"])


def signed(
    params: dict[str, str],
    path: str = ANA,
    *,
    token: str = AUTH_TOKEN,
    signed_for: str | None = None,
) -> Request:
    """`params` posted to `path`, signed as Twilio signs them for `signed_for`'s public URL."""
    headers = twilio_headers(PUBLIC_URL + (signed_for or path), params, token)
    return path, headers, form(params)


def changed(
    request: Request, *, headers: dict[str, str] | None = None, body: bytes | None = None
) -> Request:
    path, original_headers, original_body = request
    return path, {**original_headers, **(headers or {})}, original_body if body is None else body


@pytest.fixture
def deliver(client: Client) -> Deliver:
    """Posts a signed webhook, as Twilio does."""

    def post(params: dict[str, str], path: str = ANA) -> Any:
        path, headers, body = signed(params, path)
        return client.http.post(path, headers=headers, body=body)

    return post


@pytest.fixture
def bob(put_shop: PutShop, shop: str) -> str:
    """A second shop with its own numbers, on ana's Twilio account (same auth token)."""
    document = shop_document(name="Bob's Bikes")
    document["twilio"] = {
        **document["twilio"],
        "sms_numbers": ["+14155550199"],
        "whatsapp_numbers": [],
    }
    response = put_shop("bob", document)
    assert response.status_code == 201, response.body
    return "bob"


# Accepted messages --------------------------------------------------------------------------


def test_a_signed_sms_is_acknowledged_stored_and_queued_once(deliver: Deliver, shop: str) -> None:
    # Given a customer's SMS, signed by ana's Twilio account
    params = twilio_message(1)
    # When Twilio delivers it
    response = deliver(params)
    # Then it is acknowledged with empty TwiML
    assert response.status_code == 200, response.body
    assert_empty_twiml(response)
    # And one message is stored, waiting for the worker
    [item] = message_items()
    assert item["PK"] == f"SHOP#ana#MSG#twilio:{sid(1)}"
    assert item["status"] == "received"
    assert item["channel"] == "sms"
    assert (item["customer_address"], item["shop_address"]) == (CUSTOMER, SMS_NUMBER)
    assert item["text"] == params["Body"]
    # And exactly one job is queued, grouped by customer and deduplicated by the MessageSid
    [queued] = received(INBOUND)
    message = InboundMessage.model_validate_json(queued["Body"])
    assert message.shop_id == "ana"
    assert message.provider_message_id == sid(1)
    assert message.channel is Channel.SMS
    assert message.text == params["Body"]
    assert queued["Attributes"]["MessageGroupId"] == f"ana:{CUSTOMER}"
    assert sid(1) in queued["Attributes"]["MessageDeduplicationId"]


def test_a_signed_whatsapp_message_is_stored_and_queued_as_whatsapp(
    deliver: Deliver, shop: str
) -> None:
    # Given a WhatsApp message with the customer's profile name
    params = twilio_message(
        2,
        From=f"whatsapp:{CUSTOMER}",
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        ProfileName="فاطمة الزهراء",
        WaId=CUSTOMER.removeprefix("+"),
    )
    # When Twilio delivers it
    response = deliver(params)
    # Then it is acknowledged, stored and queued as a WhatsApp message from that customer
    assert response.status_code == 200, response.body
    item = stored_message(sid(2))
    assert item["channel"] == "whatsapp"
    assert item["customer_address"] == f"whatsapp:{CUSTOMER}"
    assert item["shop_address"] == f"whatsapp:{WHATSAPP_NUMBER}"
    assert item["customer_name"] == "فاطمة الزهراء"
    [queued] = received(INBOUND)
    assert InboundMessage.model_validate_json(queued["Body"]).channel is Channel.WHATSAPP
    assert queued["Attributes"]["MessageGroupId"] == f"ana:whatsapp:{CUSTOMER}"


def test_unicode_message_bodies_are_stored_and_queued_intact(deliver: Deliver, shop: str) -> None:
    # Given messages in Arabic, in Hindi, and with emoji (skin tone, ZWJ sequence, flag)
    bodies = {
        11: "مرحبا، أين طلبي رقم ١٢٣؟",
        12: "नमस्ते! मेरा ऑर्डर कहाँ है?",
        13: "📦 chegou? 👍🏽 👩‍👩‍👧 🇧🇷",
        # Noncharacters SQS refuses in message bodies; a customer's phone can still send them.
        14: "odd \ufffe\uffff end",
    }
    # When Twilio delivers them
    statuses = [deliver(twilio_message(n, Body=body)).status_code for n, body in bodies.items()]
    # Then each is stored and queued with its text unchanged
    assert statuses == [200, 200, 200, 200]
    assert {n: stored_message(sid(n))["text"] for n in bodies} == bodies
    raw_bodies = [m["Body"] for m in received(INBOUND)]
    assert all(body.isascii() for body in raw_bodies)
    queued = [InboundMessage.model_validate_json(body) for body in raw_bodies]
    assert {m.provider_message_id: m.text for m in queued} == {sid(n): b for n, b in bodies.items()}


# Refused requests ---------------------------------------------------------------------------


def _without(name: str) -> dict[str, str]:
    params = twilio_message(1)
    del params[name]
    return params


MESSAGE = twilio_message(1)
OTHER_ACCOUNT = twilio_message(1, AccountSid="AC" + "2" * 32)
SIGNATURE = "X-Twilio-Signature"

REFUSALS: dict[str, tuple[Request, int]] = {
    "unknown-shop": (signed(MESSAGE, "/webhooks/twilio/zoe"), 404),
    "missing-signature": ((ANA, {"Content-Type": FORM}, form(MESSAGE)), 403),
    "bad-signature": (changed(signed(MESSAGE), headers={SIGNATURE: "bm90IGEgc2lnbmF0dXJl"}), 403),
    "signed-with-another-token": (signed(MESSAGE, token="someone-elses-auth-token"), 403),
    "signed-for-another-shops-url": (signed(MESSAGE, BOB, signed_for=ANA), 403),
    # Same account and token as bob, but To is ana's number: it answers only for ana.
    "to-another-shops-number": (signed(MESSAGE, BOB), 403),
    "another-account": (signed(OTHER_ACCOUNT), 403),
    "missing-account": (signed(_without("AccountSid")), 403),
    "missing-message-sid": (signed(_without("MessageSid")), 400),
    "missing-from": (signed(_without("From")), 400),
    "invalid-utf8": (
        changed(signed(MESSAGE), body=form(MESSAGE).replace(b"Body=", b"Body=\xff\xfe")),
        400,
    ),
    "percent-encoded-invalid-utf8": (
        changed(signed(MESSAGE), body=form(MESSAGE).replace(b"Body=", b"Body=%FF%FE")),
        400,
    ),
    "json-content-type": (
        changed(signed(MESSAGE), headers={"Content-Type": "application/json"}),
        415,
    ),
}


@pytest.mark.parametrize(("webhook", "status"), REFUSALS.values(), ids=REFUSALS)
def test_a_refused_webhook_writes_nothing(
    client: Client, shop: str, request: pytest.FixtureRequest, webhook: Request, status: int
) -> None:
    # Given ana, and for requests to bob's path bob: another shop on ana's Twilio account
    path, headers, body = webhook
    if path == BOB:
        request.getfixturevalue("bob")
    # When a webhook that must not be accepted arrives
    response = client.http.post(path, headers=headers, body=body)
    # Then it is refused with a short JSON reason
    assert response.status_code == status, response.body
    json_reason(response)
    # And nothing was stored or queued, for any shop
    assert message_items() == []
    assert queue_depth(INBOUND) == 0


# Retries and failures -----------------------------------------------------------------------


def test_a_message_delivered_twice_before_processing_is_stored_queued_and_posted_once(
    deliver: Deliver, shop: str, slack: FakeSlack, run_workers: Callable[[], int]
) -> None:
    # Given a customer's SMS
    params = twilio_message(1)
    # When Twilio delivers it twice before the worker runs
    statuses = [deliver(params).status_code, deliver(params).status_code]
    # Then both deliveries are acknowledged, one copy is stored and one job queued
    assert statuses == [200, 200]
    assert len(message_items()) == 1
    assert queue_depth(INBOUND) == 1
    # And the worker posts it once
    assert run_workers() == 1
    [root] = slack.roots()
    [mirrored] = slack.thread(root.ts)
    assert "Onde está meu pedido?" in mirrored.message.text
    assert stored_message(sid(1))["status"] == "processed"


def test_a_delivery_after_processing_is_acknowledged_and_not_posted_again(
    deliver: Deliver, shop: str, slack: FakeSlack, run_workers: Callable[[], int]
) -> None:
    # Given a customer's SMS that was delivered and processed
    params = twilio_message(1)
    assert deliver(params).status_code == 200
    run_workers()
    posts = len(slack.posts)
    assert posts == 2  # the thread's root card and the message in it
    # When Twilio delivers it again
    response = deliver(params)
    # Then it is acknowledged, and nothing is queued, stored or posted again
    assert response.status_code == 200, response.body
    assert_empty_twiml(response)
    assert queue_depth(INBOUND) == 0
    assert run_workers() == 0
    assert len(slack.posts) == posts
    [item] = message_items()
    assert item["status"] == "processed"


def test_a_message_stored_but_not_queued_is_refused_then_queued_on_the_retry(
    deliver: Deliver,
    shop: str,
    container: bootstrap.Container,
    slack: FakeSlack,
    run_workers: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refuses the next send, once
    send = container.queues.send_inbound
    failures = [ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")]

    def failing_then_real(message: InboundMessage, body: str | None = None) -> None:
        if failures:
            raise failures.pop()
        send(message, body)

    monkeypatch.setattr(container.queues, "send_inbound", failing_then_real)
    params = twilio_message(1)
    # When Twilio delivers a message
    first = deliver(params)
    # Then it answers 503 so Twilio retries, with the message stored but not queued
    assert first.status_code == 503, first.body
    assert json_reason(first)
    assert stored_message(sid(1))["status"] == "received"
    assert queue_depth(INBOUND) == 0
    # When Twilio retries the same message
    retry = deliver(params)
    # Then it is acknowledged and queued, still stored once
    assert retry.status_code == 200, retry.body
    assert queue_depth(INBOUND) == 1
    assert len(message_items()) == 1
    # And the worker posts it exactly once
    run_workers()
    [root] = slack.roots()
    assert len(slack.thread(root.ts)) == 1
    assert stored_message(sid(1))["status"] == "processed"


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=["throttled", "unreachable"],
)
def test_a_message_that_cannot_be_stored_is_refused_and_not_queued(
    deliver: Deliver,
    shop: str,
    container: bootstrap.Container,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    # Given DynamoDB fails
    def failing(message: InboundMessage) -> None:
        raise error

    monkeypatch.setattr(container.store.inbound, "save_inbound", failing)
    # When Twilio delivers a message
    response = deliver(twilio_message(1))
    # Then it answers 503 so Twilio retries, and nothing is queued
    assert response.status_code == 503, response.body
    assert json_reason(response)
    assert queue_depth(INBOUND) == 0
    assert message_items() == []


def test_a_warm_ack_makes_exactly_one_dynamodb_write_and_one_sqs_send(
    deliver: Deliver, shop: str, container: bootstrap.Container
) -> None:
    # Given every AWS call of the container's clients is recorded
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    clients = (container.store.client, container.queues._client, container.vault._client)
    for events in {id(c.meta.events): c.meta.events for c in clients}.values():
        events.register("before-call", record)
    # And a first message has warmed the caches (shop config, secrets, queue URL)
    assert deliver(twilio_message(1)).status_code == 200
    assert {"GetItem", "GetSecretValue", "GetQueueUrl"} <= set(calls)
    calls.clear()
    # When a second message arrives
    response = deliver(twilio_message(2))
    # Then it costs one DynamoDB write and one SQS send, nothing else
    assert response.status_code == 200, response.body
    assert calls == ["PutItem", "SendMessage"]
    assert len(message_items()) == 2


# Status callbacks ---------------------------------------------------------------------------

STATUS = f"{ANA}/status"


def status_callback(**fields: str) -> dict[str, str]:
    """A status callback for a reply ana sent."""
    params = {
        "MessageSid": "SM" + "ab" * 16,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "From": SMS_NUMBER,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
    }
    params.update(fields)
    return params


def test_a_signed_status_callback_queues_a_delivery_update(deliver: Deliver, shop: str) -> None:
    # Given Twilio reports that a reply could not be delivered
    params = status_callback()
    # When it calls the status webhook
    response = deliver(params, STATUS)
    # Then it is acknowledged with empty TwiML
    assert response.status_code == 200, response.body
    assert_empty_twiml(response)
    # And one delivery update is queued for the outbound worker, and nothing stored
    [queued] = received(OUTBOUND)
    update = parse_outbound(queued["Body"])
    assert isinstance(update, DeliveryUpdate)
    assert update.received_at is not None
    assert update.model_copy(update={"received_at": None}) == DeliveryUpdate(
        shop_id="ana",
        provider_message_id=params["MessageSid"],
        status=DeliveryStatus.UNDELIVERED,
        error_code="30003",
    )
    assert queued["Attributes"]["MessageGroupId"] == f"ana:{params['MessageSid']}"
    assert message_items() == []


def test_a_status_callback_that_cannot_be_queued_is_refused(
    deliver: Deliver,
    shop: str,
    container: bootstrap.Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refuses sends
    def failing(job: DeliveryUpdate) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    monkeypatch.setattr(container.queues, "send_outbound", failing)
    # When Twilio reports a delivery
    response = deliver(status_callback(MessageStatus="delivered", ErrorCode=""), STATUS)
    # Then it answers 503 so Twilio retries, and nothing is queued
    assert response.status_code == 503, response.body
    assert json_reason(response)
    assert queue_depth(OUTBOUND) == 0


STATUS_REFUSALS: dict[str, tuple[Request, int]] = {
    "unsigned": ((STATUS, {"Content-Type": FORM}, form(status_callback())), 403),
    "bad-signature": (
        changed(signed(status_callback(), STATUS), headers={SIGNATURE: "bm90IGEgc2lnbmF0dXJl"}),
        403,
    ),
    "signed-with-another-token": (
        signed(status_callback(), STATUS, token="someone-elses-auth-token"),
        403,
    ),
    "another-account": (signed(status_callback(AccountSid="AC" + "2" * 32), STATUS), 403),
    "missing-message-sid": (signed({**status_callback(), "MessageSid": ""}, STATUS), 400),
    "unknown-shop": (signed(status_callback(), "/webhooks/twilio/zoe/status"), 404),
}


def test_a_status_twilio_added_that_we_do_not_track_is_acknowledged_and_ignored(
    deliver: Deliver, shop: str
) -> None:
    # Given a callback with a status we do not track
    params = status_callback(MessageStatus="partially_delivered")
    # When it arrives
    response = deliver(params, STATUS)
    # Then Twilio gets its 200 and nothing is queued
    assert response.status_code == 200
    assert queue_depth(OUTBOUND) == 0


@pytest.mark.parametrize(("webhook", "status"), STATUS_REFUSALS.values(), ids=STATUS_REFUSALS)
def test_a_refused_status_callback_queues_nothing(
    client: Client, shop: str, webhook: Request, status: int
) -> None:
    # Given a status callback that must not be accepted
    path, headers, body = webhook
    # When it arrives
    response = client.http.post(path, headers=headers, body=body)
    # Then it is refused with a short JSON reason, and nothing is queued
    assert response.status_code == status, response.body
    json_reason(response)
    assert queue_depth(OUTBOUND) == 0
