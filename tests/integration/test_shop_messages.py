"""Messages a shop sends first (POST /admin/shops/{id}/messages): the conversation opens (or
goes on) in Slack, the message is posted there marked and sent on the chosen channel —
WhatsApp outside its window as an approved template — once per id, and the customer's answer
lands in the same thread."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock
from tests.integration.test_card_actions import press
from tests.integration.test_data_rights import table_items
from tests.integration.test_email import sent_mail
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    SMS_NUMBER,
    TEAM_ID,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

PHONE = "+5511987654321"
TEMPLATE = "HX" + "a" * 32


def send(client: Any, body: dict[str, Any], shop: str = "ana") -> tuple[int, Any]:
    response = client.http.post(
        f"/admin/shops/{shop}/messages",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps(body, ensure_ascii=False),
    )
    return response.status_code, json.loads(response.body)


def customer_writes(client: Any, n: int, **fields: str) -> None:
    params = twilio_message(n, **fields)
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200


def test_an_order_update_on_whatsapp_opens_a_conversation_and_the_answer_lands_in_its_thread(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # When the shop's system announces a shipment to a customer who never wrote
    status, answer = send(
        client,
        {
            "channel": "whatsapp",
            "to": PHONE,
            "name": "Ana Souza",
            "id": "order-1042-shipped",
            "text": "Olá Ana! Seu pedido #1042 foi enviado.",
            "template": {"content_sid": TEMPLATE, "variables": {"1": "Ana", "2": "#1042"}},
        },
    )
    assert status == 202, answer
    assert answer == {
        "message_id": "order-1042-shipped",
        "channel": "whatsapp",
        "to": f"whatsapp:{PHONE}",
    }
    run_workers()

    # Then a conversation waits for the customer, its card says the shop wrote first
    conversation = container.store.conversations.find_open_conversation("ana", f"whatsapp:{PHONE}")
    assert conversation.status.value == "pending"
    assert conversation.started_by_shop
    [root] = slack.roots()
    card = json.dumps(root.message.blocks, ensure_ascii=False)
    assert ":outbox_tray: The shop wrote first:" in card
    assert "*Reply window:* closed until the customer writes" in card
    # And the message is posted in the thread, marked, and sent as the chosen template
    [post] = slack.thread(root.ts)
    assert post.message.text == "Olá Ana! Seu pedido #1042 foi enviado."
    assert "Sent by the shop's system" in json.dumps(post.message.blocks)
    [sent] = twilio.sent
    assert (sent.to, sent.from_) == (f"whatsapp:{PHONE}", f"whatsapp:{WHATSAPP_NUMBER}")
    assert (sent.content_sid, sent.content_variables) == (TEMPLATE, {"1": "Ana", "2": "#1042"})

    # When the same request comes again (a retry), nothing is posted or sent again
    retry = {
        "channel": "whatsapp",
        "to": PHONE,
        "name": "Ana Souza",
        "id": "order-1042-shipped",
        "text": "Olá Ana! Seu pedido #1042 foi enviado.",
        "template": {"content_sid": TEMPLATE, "variables": {"1": "Ana", "2": "#1042"}},
    }
    assert send(client, retry) == (202, answer)
    run_workers()
    assert len(twilio.sent) == 1
    assert len(slack.thread(root.ts)) == 1

    # When the customer answers, it lands in the same thread and the conversation opens
    customer_writes(
        client, 1, From=f"whatsapp:{PHONE}", To=f"whatsapp:{WHATSAPP_NUMBER}", Body="Obrigada!"
    )
    run_workers()
    assert [p.message.text for p in slack.thread(root.ts)][-1].endswith("Obrigada!")
    answered = container.store.conversations.find_open_conversation("ana", f"whatsapp:{PHONE}")
    assert answered.conversation_id == conversation.conversation_id
    assert (answered.status.value, answered.message_count) == ("open", 1)


def test_an_sms_to_a_customer_with_an_open_conversation_goes_on_in_its_thread(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    customer_writes(client, 1, From=PHONE, Body="Cadê meu pedido?")
    run_workers()
    [root] = slack.roots()

    status, _ = send(client, {"channel": "sms", "to": PHONE, "text": "Atrasou um dia, desculpe!"})
    assert status == 202
    run_workers()

    assert len(slack.roots()) == 1
    assert slack.thread(root.ts)[-1].message.text == "Atrasou um dia, desculpe!"
    assert [(s.to, s.from_, s.text) for s in twilio.sent] == [
        (PHONE, SMS_NUMBER, "Atrasou um dia, desculpe!")
    ]
    stored = container.store.conversations.find_open_conversation("ana", PHONE)
    assert stored.status.value == "open"


def test_a_mail_the_shop_writes_first_has_its_own_subject(
    client, put_shop, run_workers, slack: FakeSlack
):
    document = shop_document(email={"address": "support@lojadaana.com.br"})
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")

    status, _ = send(
        client,
        {
            "channel": "email",
            "to": "Ana@Example.com",
            "subject": "Seu pedido #1042 foi enviado",
            "text": "Chega amanhã.",
        },
    )
    assert status == 202
    run_workers()

    [mail] = sent_mail()
    assert mail["Subject"] == "Seu pedido #1042 foi enviado"
    assert mail["To"] == "ana@example.com"
    assert mail["In-Reply-To"] is None


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"channel": "sms", "to": "12345", "text": "Oi"}, 400, "to must be a phone number"),
        ({"channel": "email", "to": PHONE, "text": "Oi"}, 400, "to is no email address"),
        ({"channel": "fax", "to": PHONE, "text": "Oi"}, 400, "invalid message"),
        ({"channel": "sms", "to": PHONE, "text": ""}, 400, "invalid message"),
        ({"channel": "sms", "to": PHONE, "text": "Oi", "from": "+14155559999"}, 400, "from must"),
        ({"channel": "email", "to": "a@b.co", "text": "Oi"}, 409, "no email number or address"),
        ({"channel": "whatsapp", "to": PHONE, "text": "Oi"}, 409, "approved template"),
    ],
)
def test_a_message_that_could_not_go_out_is_refused_with_its_reason_and_nothing_queued(
    client, shop, body, status, reason
):
    before = table_items()
    answered, answer = send(client, body)
    assert answered == status
    assert reason in answer["error"]
    assert table_items() == before
    queue = boto3.client("sqs").get_queue_url(QueueName="threadline-inbound.fifo")["QueueUrl"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_shop_messages_need_the_token_and_a_shop(client, shop):
    body = json.dumps({"channel": "sms", "to": PHONE, "text": "Oi"})
    headers = {"Content-Type": "application/json"}
    assert (
        client.http.post("/admin/shops/ana/messages", headers=headers, body=body).status_code == 401
    )
    assert send(client, {"channel": "sms", "to": PHONE, "text": "Oi"}, shop="nope")[0] == 404


def test_a_message_after_a_resolved_conversation_starts_a_new_one_linked_to_it(
    client, shop, container, run_workers, slack: FakeSlack
):
    customer_writes(client, 1, From=PHONE, Body="Cadê meu pedido?")
    run_workers()
    first = container.store.conversations.find_open_conversation("ana", PHONE)
    assert press(client, "resolve", first.slack_thread_ts, f"ana:{first.conversation_id}") == 200
    run_workers()

    assert (
        send(client, {"channel": "sms", "to": PHONE, "text": "Novo pedido #2000 enviado."})[0]
        == 202
    )
    run_workers()

    second = container.store.conversations.find_open_conversation("ana", PHONE)
    assert second.conversation_id != first.conversation_id
    assert second.previous_conversation_id == first.conversation_id
    assert second.status.value == "pending"
    assert len(slack.roots()) == 2
    assert slack.thread(first.slack_thread_ts)[-1].message.text.startswith(
        ":arrow_right: The shop wrote to the customer again: <"
    )


# Bia's shop shares Ana's Slack workspace, as two brands of one company would.
BIA_NUMBER = "+14155550177"
BIA_CUSTOMER = "+5521999990000"
BIA_CHANNEL = "C0BIASUPPORT"


def bias_shop(put_shop: Any) -> None:
    document = shop_document(
        name="Loja da Bia",
        slack={"team_id": TEAM_ID, "channel_id": BIA_CHANNEL, "bot_token": BOT_TOKEN},
        twilio={
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "sms_numbers": [BIA_NUMBER],
            "whatsapp_numbers": [],
        },
    )
    assert put_shop("bia", document).status_code == 201


def sqs_forgets_deduplication_ids() -> None:
    """What five minutes do to SQS's deduplication: every id may be sent again."""
    from moto.sqs.models import sqs_backends

    for backend in sqs_backends["123456789012"].values():
        for queue in backend.queues.values():
            queue.__dict__.pop("_threadline_sent_ids", None)


@pytest.mark.parametrize("apart", ["within 5 minutes", "more than 5 minutes apart"])
def test_two_shops_of_one_workspace_using_the_same_id_each_reach_their_own_customer(
    client, shop, put_shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, apart
):
    # Given two shops in one workspace, both naming an order update the natural way
    bias_shop(put_shop)
    ana = {"channel": "sms", "to": PHONE, "id": "order-1042-shipped", "text": "Ana: Rua A, 1"}
    bia = {"channel": "sms", "to": BIA_CUSTOMER, "id": "order-1042-shipped", "text": "Bia: ok"}

    # When each sends its message
    assert send(client, ana)[0] == 202
    run_workers()
    if apart != "within 5 minutes":
        sqs_forgets_deduplication_ids()
    assert send(client, bia, shop="bia")[0] == 202
    run_workers()

    # Then each customer gets their own shop's text, from their own shop's number, once
    assert sorted((s.to, s.from_, s.text) for s in twilio.sent) == [
        (PHONE, SMS_NUMBER, "Ana: Rua A, 1"),
        (BIA_CUSTOMER, BIA_NUMBER, "Bia: ok"),
    ]
    # And each shop's channel shows its own message only
    posted = {(p.channel, p.message.text) for p in slack.posts if p.thread_ts}
    assert ("C0SUPPORT", "Ana: Rua A, 1") in posted
    assert (BIA_CHANNEL, "Bia: ok") in posted
    assert (BIA_CHANNEL, "Ana: Rua A, 1") not in posted


@pytest.mark.parametrize("apart", ["within 5 minutes", "more than 5 minutes apart"])
def test_an_id_given_again_for_another_message_is_refused_and_the_same_one_sent_once(
    client, shop, run_workers, twilio: RecordingTwilio, apart
):
    first = {"channel": "sms", "to": PHONE, "id": "delay-7", "text": "Atrasou um dia."}
    assert send(client, first)[0] == 202
    run_workers()
    if apart != "within 5 minutes":
        sqs_forgets_deduplication_ids()

    # When the shop gives the same id to another customer, another text or another channel
    for changed in (
        {"to": "+5511900000001"},
        {"text": "Chegou!"},
        {"channel": "whatsapp", "template": {"content_sid": TEMPLATE}},
    ):
        status, answer = send(client, {**first, **changed})
        # Then it is refused, saying why, rather than silently not sent
        assert status == 409, changed
        assert "delay-7" in answer["error"]

    # When the same request comes again, it is accepted and still sent once
    assert send(client, first) == (
        202,
        {"message_id": "delay-7", "channel": "sms", "to": PHONE},
    )
    run_workers()
    assert [(s.to, s.text) for s in twilio.sent] == [(PHONE, "Atrasou um dia.")]


def order_update(text: str) -> dict[str, Any]:
    return {"channel": "sms", "to": PHONE, "id": "order-1042", "text": text}


def test_an_id_given_again_after_its_seven_days_is_a_new_message(
    client, shop, run_workers, twilio: RecordingTwilio, clock: Clock
):
    # Given a shop message sent with an id
    clock.now = datetime.now(UTC)
    assert send(client, order_update("Seu pedido 1042 foi enviado."))[0] == 202
    run_workers()

    # When, eight days later (past the 7 days an id is remembered, before DynamoDB's TTL,
    # which takes days, has deleted its record), the shop gives the id to another message
    clock.now += timedelta(days=8)
    status, answer = send(client, order_update("Seu pedido 1042 foi entregue."))
    run_workers()

    # Then it is a new message, accepted and sent
    assert status == 202, answer
    assert [m.text for m in twilio.sent] == [
        "Seu pedido 1042 foi enviado.",
        "Seu pedido 1042 foi entregue.",
    ]


def test_a_deleted_shops_ids_bind_nothing_of_the_shop_created_again_with_its_id(
    client, shop, put_shop, run_workers, twilio: RecordingTwilio, clock: Clock
):
    # Given a shop that sent a message under an id, then had its customer erased and was
    # deleted
    clock.now = datetime.now(UTC)
    assert send(client, order_update("Seu pedido 1042 foi enviado."))[0] == 202
    run_workers()
    erased = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert erased.status_code == 200
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200

    # When another shop takes its id (once it is free) and writes to the same number under
    # the same natural id, with the same text and with another
    clock.now += timedelta(minutes=11)
    assert put_shop("ana").status_code == 201
    same = send(client, order_update("Seu pedido 1042 foi enviado."))
    other = send(client, {**order_update("Chegou!"), "id": "order-1042-b"})
    run_workers()

    # Then the new shop's message is its own: accepted and sent, not taken for a retry of
    # the deleted shop's
    assert same[0] == other[0] == 202
    assert [m.text for m in twilio.sent][1:] == ["Seu pedido 1042 foi enviado.", "Chegou!"]
