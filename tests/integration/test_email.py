"""Email end to end in moto: SES receipt (S3 + SNS) → thread → agent reply through SESv2 with
threading headers → the customer's reply lands in the same thread; and the rest of the mail
world: duplicates, spam, auto-replies, bounces, subjects, attachments."""

import email
import json
import uuid
from email import policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from app import app
from chalicelib.local.pump import sns_event
from tests.fakes import FakeSlack
from tests.integration.conftest import MEDIA_BUCKET
from tests.signing import shop_document, slack_headers, slack_thread_reply

SHOP_ADDRESS = "support@lojadaana.com.br"
CUSTOMER = "ana.souza@gmail.com"
TOPIC = "arn:aws:sns:us-east-1:123456789012:threadline-inbound-mail"


def mime(
    body: str,
    *,
    subject: str = "Pedido #1042 atrasado",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    to: str = SHOP_ADDRESS,
    sender: str = f"Ana Souza <{CUSTOMER}>",
    extra: dict[str, str] | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id or uuid.uuid4().hex + '@mail.gmail.com'}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
        mail["References"] = f"<{in_reply_to}>"
    for name, value in (extra or {}).items():
        mail[name] = value
    mail.set_content(body)
    if attachment:
        name, content_type, data = attachment
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


def deliver(
    raw: bytes,
    *,
    spam: str = "PASS",
    virus: str = "PASS",
    to: str = SHOP_ADDRESS,
    dmarc: tuple[str, str | None] = ("PASS", None),
) -> None:
    """As SES does: the raw mail into S3, then the notification on SNS to the handler."""
    ses_id = uuid.uuid4().hex
    key = f"inbound-mail/{ses_id}"
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=raw)
    notification = {
        "notificationType": "Received",
        "mail": {"messageId": ses_id, "source": CUSTOMER, "destination": [to]},
        "receipt": {
            "recipients": [to],
            "spamVerdict": {"status": spam},
            "virusVerdict": {"status": virus},
            "dmarcVerdict": {"status": dmarc[0]},
            **({"dmarcPolicy": dmarc[1]} if dmarc[1] else {}),
            "action": {"type": "S3", "bucketName": MEDIA_BUCKET, "objectKey": key},
        },
    }
    app.handler_map["receive_mail"](sns_event(json.dumps(notification), TOPIC), None)


def sent_mail() -> list[EmailMessage]:
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"]["us-east-1"]
    return [
        email.message_from_string(m.raw_data, policy=policy.default)  # type: ignore[misc]
        for m in backend.sent_messages
    ]


@pytest.fixture
def mail_shop(put_shop, container) -> str:
    document = shop_document(email={"address": SHOP_ADDRESS})
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    return "ana"


def agent_replies(client: Any, thread_ts: str, text: str, ts: str = "1764000500.000100") -> None:
    body = slack_thread_reply(thread_ts, ts, text)
    assert (
        client.http.post("/slack/events", headers=slack_headers(body), body=body).status_code == 200
    )


def test_a_mail_becomes_a_thread_the_reply_threads_and_the_answer_lands_in_it(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    # Given a customer's first mail
    deliver(mime("Oi, meu pedido não chegou.", message_id="first@mail.gmail.com"))
    run_workers()

    # Then it is a thread whose card shows the subject, with the customer's text in it
    [root] = slack.roots()
    assert "*Subject:* Pedido #1042 atrasado" in json.dumps(root.message.blocks, ensure_ascii=False)
    assert slack.thread(root.ts)[0].message.text == "Oi, meu pedido não chegou."

    # When an agent replies in the thread
    agent_replies(client, root.ts, "Olá Ana! Seu pedido sai hoje.")
    run_workers()

    # Then SES sent a proper reply: from the shop with the agent's name, answering the
    # customer's mail, Reply-To the conversation's own address, text and HTML
    [reply] = sent_mail()
    conversation = container.store.find_open_conversation("ana", CUSTOMER)
    assert reply["From"] == f'"Bia (Loja da Ana)" <{SHOP_ADDRESS}>'
    assert reply["To"] == CUSTOMER
    assert reply["Subject"] == "Re: Pedido #1042 atrasado"
    assert reply["In-Reply-To"] == "<first@mail.gmail.com>"
    assert reply["References"] == "<first@mail.gmail.com>"
    assert reply["Reply-To"] == (
        f"support+c{conversation.conversation_id.lower()}@lojadaana.com.br"
    )
    assert reply["Message-ID"].startswith("<tl.")
    text, markup = reply.get_body(("plain",)), reply.get_body(("html",))
    assert text is not None
    assert markup is not None
    assert text.get_content().strip() == "Olá Ana! Seu pedido sai hoje.\n— Bia"
    assert "<p>Olá Ana! Seu pedido sai hoje.<br>— Bia</p>" in markup.get_content()

    # When the customer answers that reply, quoting it, from Gmail
    answer = mime(
        "Obrigada!\n\nEm seg., 23 de nov. de 2026 às 10:00, Loja <support@lojadaana.com.br> "
        "escreveu:\n> Olá Ana!",
        subject="Re: Pedido #1042 atrasado",
        in_reply_to=reply["Message-ID"].strip("<>"),
    )
    deliver(answer)
    run_workers()

    # Then it lands in the same thread, its quoted history removed
    assert len(slack.roots()) == 1
    assert slack.thread(root.ts)[-1].message.text == "Obrigada!"


def test_a_reply_quoting_the_id_ses_gave_or_sent_to_the_conversation_address_threads(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    deliver(mime("Primeira mensagem"))
    run_workers()
    [root] = slack.roots()
    agent_replies(client, root.ts, "Resposta")
    run_workers()
    sent = container.store.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")
    conversation = container.store.find_open_conversation("ana", CUSTOMER)

    # A client that quotes SES's own id (its domain varies by region)
    deliver(
        mime(
            "Pela referência da SES",
            in_reply_to=f"{sent.provider_message_id}@eu-west-1.amazonses.com",
            subject="outro assunto",
        )
    )
    # A client that drops the headers but writes to the conversation's address
    reply_address = f"support+c{conversation.conversation_id.lower()}@lojadaana.com.br"
    deliver(
        mime("Pelo endereço da conversa", to=reply_address, subject="sem assunto"), to=reply_address
    )
    run_workers()

    assert len(slack.roots()) == 1
    texts = [post.message.text for post in slack.thread(root.ts)]
    assert "Pela referência da SES" in texts
    assert "Pelo endereço da conversa" in texts


def test_the_same_mail_delivered_twice_is_posted_once(mail_shop, run_workers, slack: FakeSlack):
    raw = mime("Olá", message_id="twice@mail.gmail.com")
    deliver(raw)
    deliver(raw)
    run_workers()
    [root] = slack.roots()
    assert [p.message.text for p in slack.thread(root.ts)] == ["Olá"]


@pytest.mark.parametrize(
    ("spam", "virus", "counter"),
    [("FAIL", "PASS", "quarantined_spam"), ("PASS", "FAIL", "quarantined_virus")],
)
def test_spam_and_viruses_are_quarantined_not_posted_and_counted(
    mail_shop, run_workers, slack: FakeSlack, container, spam, virus, counter
):
    deliver(mime("Ganhe dinheiro fácil"), spam=spam, virus=virus)
    run_workers()
    assert slack.posts == []
    assert container.store.counters("ana") == {counter: 1}


@pytest.mark.parametrize(
    ("dmarc", "posted"),
    [
        (("FAIL", "reject"), False),
        (("FAIL", "quarantine"), False),
        (("FAIL", "none"), True),
        (("GRAY", None), True),
    ],
)
def test_a_sender_that_fails_its_domains_dmarc_policy_is_quarantined(
    mail_shop, run_workers, slack: FakeSlack, container, dmarc, posted
):
    deliver(mime("Sou a Ana, mande o reembolso para esta conta"), dmarc=dmarc)
    run_workers()
    assert bool(slack.posts) is posted
    expected = {} if posted else {"quarantined_dmarc": 1}
    assert container.store.counters("ana") == expected


def test_an_auto_reply_to_nothing_of_ours_opens_nothing(mail_shop, run_workers, slack, container):
    deliver(mime("Estou de férias.", extra={"Auto-Submitted": "auto-replied"}))
    run_workers()
    assert slack.posts == []
    assert container.store.counters("ana") == {"automated_mail": 1}


def test_an_auto_reply_to_our_mail_is_shown_but_changes_nothing(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    # Given an answered conversation, waiting for the customer
    deliver(mime("Pergunta"))
    run_workers()
    [root] = slack.roots()
    agent_replies(client, root.ts, "Resposta")
    run_workers()
    [reply] = sent_mail()

    # When the customer's mailbox answers by itself
    out_of_office = mime(
        "Estou de férias até sexta.",
        in_reply_to=reply["Message-ID"].strip("<>"),
        extra={"Auto-Submitted": "auto-replied"},
    )
    deliver(out_of_office)
    run_workers()

    # Then the thread shows it, marked as automatic, and the conversation still waits
    last = slack.thread(root.ts)[-1]
    assert last.message.text == "Estou de férias até sexta."
    assert "Sent automatically" in json.dumps(last.message.blocks)
    assert container.store.find_open_conversation("ana", CUSTOMER).status.value == "pending"


def test_a_bounce_marks_the_reply_undelivered_and_says_why_in_the_thread(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    deliver(mime("Pergunta"))
    run_workers()
    [root] = slack.roots()
    agent_replies(client, root.ts, "Resposta")
    run_workers()
    sent = container.store.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")

    # When SES reports a permanent bounce for it
    event = {
        "eventType": "Bounce",
        "mail": {
            "messageId": sent.provider_message_id,
            "source": f"Bia (Loja da Ana) <{SHOP_ADDRESS}>",
        },
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": CUSTOMER}]},
    }
    app.handler_map["email_events"](sns_event(json.dumps(event), TOPIC), None)
    run_workers()

    # Then the reply is undelivered, with an x and a note an agent can act on
    stored = container.store.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")
    assert stored.status.value == "undelivered"
    assert "x" in slack.reactions[("C0SUPPORT", "1764000500.000100")]
    assert "the address does not exist" in slack.thread(root.ts)[-1].message.text


def test_a_new_subject_starts_a_new_conversation_where_the_shop_wants_it(
    put_shop, container, run_workers, slack: FakeSlack
):
    document = shop_document(email={"address": SHOP_ADDRESS, "new_subject": "new_conversation"})
    assert put_shop("ana", document).status_code == 201
    deliver(mime("Sobre o pedido", subject="Pedido #1042"))
    deliver(mime("Mais uma coisa sobre o pedido", subject="RE: Pedido #1042"))
    deliver(mime("Outra dúvida", subject="Troca de tamanho"))
    run_workers()
    first, second = slack.roots()
    texts = [post.message.text for post in slack.thread(first.ts)]
    assert texts[:2] == ["Sobre o pedido", "Mais uma coisa sobre o pedido"]
    assert "new conversation" in texts[2]
    assert "Troca de tamanho" in json.dumps(second.message.blocks, ensure_ascii=False)
    assert [post.message.text for post in slack.thread(second.ts)] == ["Outra dúvida"]


def test_a_customers_attachment_is_shared_in_the_thread(mail_shop, run_workers, slack: FakeSlack):
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    deliver(mime("Chegou quebrado", attachment=("foto.png", "image/png", photo)))
    run_workers()
    [(_, _, [uploaded])] = slack.uploads
    assert (uploaded.filename, uploaded.content) == ("foto.png", photo)


def test_mail_for_no_shop_and_delivery_reports_are_dropped(
    mail_shop, run_workers, slack, container
):
    deliver(mime("Para ninguém", to="nobody@elsewhere.example"), to="nobody@elsewhere.example")
    report = mime("Undeliverable", sender="MAILER-DAEMON <mailer-daemon@x.example>")
    report_type = b'multipart/report; report-type=delivery-status; boundary="b"'
    report = report.replace(b"text/plain", report_type, 1)
    deliver(report)
    run_workers()
    assert slack.posts == []
    assert container.store.counters("ana") == {"delivery_reports": 1}


def test_a_file_an_agent_attaches_goes_as_a_mail_attachment(
    client, mail_shop, run_workers, slack: FakeSlack
):
    deliver(mime("Pode mandar a nota fiscal?"))
    run_workers()
    [root] = slack.roots()
    url = "https://files.slack.com/files-pri/T0-F0NF/download/nota.pdf"
    slack.files[url] = b"%PDF-1.7 nota"
    file = {"id": "F0NF", "name": "nota.pdf", "mimetype": "application/pdf", "size": 13}
    body = slack_thread_reply(
        root.ts, "1764000500.000100", "Segue a nota.", files=[{**file, "url_private_download": url}]
    )
    client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    [reply] = sent_mail()
    [attached] = list(reply.iter_attachments())
    assert attached.get_filename() == "nota.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == b"%PDF-1.7 nota"
