"""Email on the local stack, over real SMTP and HTTP: a mail to the shop's address becomes a
Slack thread, the agent's reply goes out through SES threaded, and the customer's answer
lands in the same thread with its quoted history removed."""

import json
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from local_stack.constants import LOCAL_SIGNING_SECRET
from tests.e2e.conftest import RunningStack, http
from tests.signing import shop_document, slack_headers, slack_thread_reply

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SHOP_ADDRESS = "ajuda@lojaemail.example"
CUSTOMER = "carla@example.net"


def send_mail(stack: RunningStack, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as smtp:
        smtp.send_message(mail)


def until(found: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not seen in time")


def test_mail_in_thread_reply_out_and_the_answer_back_in_the_same_thread(stack: RunningStack):
    # Given a shop that receives mail
    document = shop_document(email={"address": SHOP_ADDRESS})
    document["twilio"]["sms_numbers"] = ["+14155550190"]
    document["twilio"]["whatsapp_numbers"] = []
    document["replies"] = {"grace_seconds": 1}
    assert stack.admin("PUT", "/admin/shops/mail-shop", document).status in (200, 201)

    # When a customer mails it through the local mail server
    first = EmailMessage()
    first["From"] = f"Carla Dias <{CUSTOMER}>"
    first["To"] = SHOP_ADDRESS
    first["Subject"] = "Troca de tamanho 👕"
    first["Message-ID"] = "<first.e2e@example.net>"
    first.set_content("Olá! Posso trocar a camiseta por um tamanho maior?")
    send_mail(stack, first)

    # Then the thread opens in Slack, the card showing the subject, the text in the thread
    card = until(
        lambda: next(
            (
                e
                for e in stack.outbox.entries("slack", "chat.postMessage")
                if "Troca de tamanho" in json.dumps(e.payload.get("blocks"), ensure_ascii=False)
            ),
            None,
        )
    )
    thread_ts = card.payload["response"]["ts"]
    until(
        lambda: any(
            e.payload.get("thread_ts") == thread_ts and "tamanho maior" in e.payload.get("text", "")
            for e in stack.outbox.entries("slack", "chat.postMessage")
        )
    )

    # When an agent answers in the thread
    reply_ts = f"{time.time():.6f}"
    body = slack_thread_reply(thread_ts, reply_ts, "Claro, Carla! Enviamos a etiqueta.")
    headers = slack_headers(body, LOCAL_SIGNING_SECRET)
    assert http("POST", stack.api + "/slack/events", body, headers).status == 200

    # Then SES sends it (after its grace period), threaded on the customer's mail
    [sent] = until(lambda: [m for m in stack.sent_mail() if m["To"] == CUSTOMER], timeout=30)
    assert sent["Subject"] == "Re: Troca de tamanho 👕"
    assert sent["In-Reply-To"] == "<first.e2e@example.net>"
    assert sent["Reply-To"].startswith("ajuda+c")
    assert "Claro, Carla! Enviamos a etiqueta." in sent["Body"]

    # When the customer answers from Gmail, quoting the reply
    answer = EmailMessage()
    answer["From"] = f"Carla Dias <{CUSTOMER}>"
    answer["To"] = sent["Reply-To"]
    answer["Subject"] = "Re: Troca de tamanho 👕"
    answer["Message-ID"] = "<answer.e2e@example.net>"
    answer["In-Reply-To"] = sent["Message-ID"]
    answer["References"] = f"<first.e2e@example.net> {sent['Message-ID']}"
    answer.set_content(
        "Recebi, obrigada!\n\n"
        f"Em seg., 23 de nov. de 2026 às 10:00, Loja <{SHOP_ADDRESS}> escreveu:\n"
        "> Claro, Carla! Enviamos a etiqueta.\n"
    )
    send_mail(stack, answer)

    # Then it lands in the same thread, without the quoted history
    until(
        lambda: any(
            e.payload.get("thread_ts") == thread_ts and e.payload.get("text") == "Recebi, obrigada!"
            for e in stack.outbox.entries("slack", "chat.postMessage")
        )
    )
    cards = [
        e
        for e in stack.outbox.entries("slack", "chat.postMessage")
        if "Troca de tamanho" in json.dumps(e.payload.get("blocks"), ensure_ascii=False)
        and not e.payload.get("thread_ts")
    ]
    assert len(cards) == 1


def test_the_mail_server_refuses_mail_for_no_shop(stack: RunningStack):
    refused = EmailMessage()
    refused["From"] = CUSTOMER
    refused["To"] = "nobody@nowhere.example"
    refused["Subject"] = "?"
    refused.set_content("?")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_mail(stack, refused)
