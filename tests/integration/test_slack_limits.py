"""Customers' messages reach Slack whatever they hold: Slack refuses a message past Block
Kit's limits (here FakeSlack refuses it as Slack does), and a refused post would hold the
customer's later messages behind it until the dead-letter queue."""

import json
import uuid
from email.message import EmailMessage

import boto3
import pytest

from local_stack.slack_limits import message_refusal
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL
from tests.integration.test_email import SHOP_ADDRESS, deliver
from tests.signing import form, shop_document, twilio_headers, twilio_message

CUSTOMER = "ana.souza@gmail.com"


@pytest.fixture
def mail_shop(put_shop, container) -> str:
    assert put_shop("ana", shop_document(email={"address": SHOP_ADDRESS})).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    return "ana"


def mail_with_attachments(count: int, body: str = "Seguem as fotos do pedido") -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Ana Souza <{CUSTOMER}>"
    mail["To"] = SHOP_ADDRESS
    mail["Subject"] = "Fotos do pedido #1042"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@mail.gmail.com>"
    mail.set_content(body)
    for n in range(count):
        mail.add_attachment(
            b"\x89PNG\r\n\x1a\n" + bytes([n]) * 16,
            maintype="image",
            subtype="png",
            filename=f"foto-{n:02d}.png",
        )
    return mail.as_bytes()


def test_a_mail_with_60_attachments_is_posted_with_its_files_and_what_follows_too(
    mail_shop, run_workers, slack: FakeSlack
):
    # Given a customer's mail with 60 attachments (61 blocks, one a file, before the fix)
    deliver(mail_with_attachments(60))

    # When the workers run
    run_workers()

    # Then the card and the message are posted, within Slack's limits
    [root] = slack.roots()
    [message] = slack.thread(root.ts)
    assert message_refusal({"text": message.message.text, "blocks": message.message.blocks}) is None
    shown = json.dumps(message.message.blocks, ensure_ascii=False)
    assert "Seguem as fotos do pedido" in shown
    assert "more files" in shown
    # And every file is shared in the thread
    uploaded = [file.filename for _, _, files in slack.uploads for file in files]
    assert sorted(uploaded) == [f"foto-{n:02d}.png" for n in range(60)]

    # When the customer writes again
    deliver(mail_with_attachments(0, "Conseguiram ver?"))
    run_workers()

    # Then the next message is not held behind the first
    assert [post.message.text for post in slack.thread(root.ts)][-1] == "Conseguiram ver?"


def test_a_whatsapp_message_in_a_name_of_thousands_of_characters_is_posted(
    client, put_shop, run_workers, slack: FakeSlack
):
    # Given a WhatsApp customer whose profile name is huge and full of Slack's markup
    assert put_shop("ana", shop_document()).status_code == 201
    name = ("<!channel> Ana &amp; \u202e" + "\u0301" * 50) * 200
    params = twilio_message(
        1, From="whatsapp:+5511987654321", To="whatsapp:+14155550101", ProfileName=name
    )
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200

    # When the workers run
    run_workers()

    # Then the card is posted, the number shown and nothing of the name live
    [root] = slack.roots()
    card = json.dumps(root.message.blocks, ensure_ascii=False)
    assert "+5511987654321" in card
    assert "<!channel>" not in card
    assert [post.message.text for post in slack.thread(root.ts)] != []
