"""Automatic replies end to end: posted in the thread marked as automatic, sent unsigned on
the customer's channel, once; the conversation still waits for a person; mail carries
Auto-Submitted and programs get nothing."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.integration.test_email import deliver, mime, sent_mail
from tests.signing import (
    BOT_TOKEN,
    CHANNEL_ID,
    TEAM_ID,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
# Monday 23 November 2026, 10:00 in São Paulo
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
SHOP = {
    "sla": {"targets": {"normal": {"first_response": 60}}},
    "auto_replies": {
        "default_language": "pt",
        "faq": [
            {
                "name": "returns",
                "phrases": ["devolver", "devolução"],
                "answers": {"pt": "Devoluções: até 30 dias, em qualquer agência dos Correios."},
            }
        ],
    },
}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def customer_writes(client: Any, n: int, body: str) -> None:
    params = twilio_message(n, Body=body, ProfileName="Ana Souza")
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200


def test_an_acknowledgement_and_a_faq_answer_go_out_once_and_the_customer_still_waits(
    client, put_shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, container
):
    assert put_shop("ana", shop_document(**SHOP)).status_code == 201

    # When a customer asks, in Portuguese, to return something
    customer_writes(client, 1, "Oi! Quero devolver a camiseta, como faço?")
    run_workers()

    # Then the thread shows both automatic replies, marked, and the customer gets them
    # unsigned, in Portuguese, with the promised time in the shop's time zone
    [root] = slack.roots()
    ack, faq = slack.thread(root.ts)[1:]
    assert ack.message.text == "Olá Ana, recebemos sua mensagem! Responderemos até hoje às 11:00."
    assert ":robot_face: Automatic reply (acknowledgement, pt)" in json.dumps(
        ack.message.blocks, ensure_ascii=False
    )
    assert "FAQ returns" in json.dumps(faq.message.blocks)
    assert [s.text for s in twilio.sent] == [
        "Olá Ana, recebemos sua mensagem! Responderemos até hoje às 11:00.",
        "Devoluções: até 30 dias, em qualquer agência dos Correios.",
    ]
    assert slack.reactions[(root.channel, ack.ts)] == ["outbox_tray"]
    # And the conversation still waits for a person: open, its target running
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.status.value == "open"
    assert conversation.response_clock is not None

    # When the customer writes again, asking the same
    customer_writes(client, 2, "E a devolução?")
    run_workers()

    # Then nothing automatic goes out again
    assert len(twilio.sent) == 2


def test_mail_gets_an_auto_submitted_reply_and_programs_get_none(
    put_shop, run_workers, slack: FakeSlack, container
):
    document = shop_document(email={"address": "support@lojadaana.com.br"}, **SHOP)
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")

    deliver(mime("Estou de férias", extra={"Auto-Submitted": "auto-replied"}))
    run_workers()
    assert sent_mail() == []

    deliver(mime("Olá, quando chega meu pedido?"))
    run_workers()
    [ack] = sent_mail()
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["From"] == "Loja da Ana <support@lojadaana.com.br>"
    text = ack.get_body(("plain",))
    assert text is not None
    assert "Responderemos até hoje às 11:00." in text.get_content()


def test_one_mail_to_two_shops_of_a_workspace_gets_each_shops_own_acknowledgement(
    put_shop, run_workers, slack: FakeSlack
):
    # Given two shops in one Slack workspace, each answering mail automatically
    ana = shop_document(email={"address": "support@lojadaana.com.br"}, **SHOP)
    bia = shop_document(
        name="Tienda de Bia",
        email={"address": "ayuda@tiendadebia.es"},
        slack={"team_id": TEAM_ID, "channel_id": "C0BIASUPPORT", "bot_token": BOT_TOKEN},
        twilio=None,
        **{**SHOP, "auto_replies": {"default_language": "es"}},
    )
    assert put_shop("ana", ana).status_code == 201
    assert put_shop("bia", bia).status_code == 201
    for domain in ("lojadaana.com.br", "tiendadebia.es"):
        boto3.client("sesv2").create_email_identity(EmailIdentity=domain)

    # When one mail, its Message-ID chosen by its sender, reaches both shops
    raw = mime("Olá, quando chega meu pedido?", message_id="pedido-1042@mail.example")
    deliver(raw, to="support@lojadaana.com.br")
    deliver(raw, to="ayuda@tiendadebia.es")
    run_workers()

    # Then each shop acknowledges it once, from its own address, in the customer's language
    senders = sorted(str(mail["From"]) for mail in sent_mail())
    assert senders == [
        "Loja da Ana <support@lojadaana.com.br>",
        "Tienda de Bia <ayuda@tiendadebia.es>",
    ]
    # And each shop's thread shows an acknowledgement of its own, posted there
    by_channel = {root.channel: slack.thread(root.ts)[1:] for root in slack.roots()}
    [ana_ack] = by_channel[CHANNEL_ID]
    [bia_ack] = by_channel["C0BIASUPPORT"]
    assert ana_ack.ts != bia_ack.ts
    assert bia_ack.message.text.startswith("Olá Ana, recebemos sua mensagem!")
