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
from chalicelib.channels.email import delivery_id
from chalicelib.queues import Replayed, replay_failed_notifications
from chalicelib.settings import FAILED_MAIL_QUEUE, TABLE_NAME
from local_stack.pump import sns_event, sns_pumps_for
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, MEDIA_BUCKET, stored_item
from tests.signing import BOT_TOKEN, TEAM_ID, shop_document, slack_headers, slack_thread_reply

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


def received(
    raw: bytes,
    *,
    spam: str = "PASS",
    virus: str = "PASS",
    to: str = SHOP_ADDRESS,
    dmarc: tuple[str, str | None] = ("PASS", None),
    source: str = CUSTOMER,
    also_to: tuple[str, ...] = (),
) -> dict[str, Any]:
    """As SES receives a mail: the raw mail into S3; returns the SNS event it starts the
    handler with (Lambda retries a failed handler with the same event)."""
    ses_id = uuid.uuid4().hex
    key = f"inbound-mail/{ses_id}"
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=raw)
    notification = {
        "notificationType": "Received",
        "mail": {"messageId": ses_id, "source": source, "destination": [to, *also_to]},
        "receipt": {
            "recipients": [to, *also_to],
            "spamVerdict": {"status": spam},
            "virusVerdict": {"status": virus},
            "dmarcVerdict": {"status": dmarc[0]},
            **({"dmarcPolicy": dmarc[1]} if dmarc[1] else {}),
            "action": {"type": "S3", "bucketName": MEDIA_BUCKET, "objectKey": key},
        },
    }
    return sns_event(json.dumps(notification), TOPIC)


def deliver(raw: bytes, **receipt: Any) -> None:
    """As SES does: the raw mail into S3, then the notification on SNS to the handler."""
    app.handler_map["receive_mail"](received(raw, **receipt), None)


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
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
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
    sent = container.store.replies.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)

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
    assert container.store.counters.counters("ana") == {counter: 1}


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
    assert container.store.counters.counters("ana") == expected


def test_an_auto_reply_to_nothing_of_ours_opens_nothing(mail_shop, run_workers, slack, container):
    deliver(mime("Estou de férias.", extra={"Auto-Submitted": "auto-replied"}))
    run_workers()
    assert slack.posts == []
    assert container.store.counters.counters("ana") == {"automated_mail": 1}


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
    assert (
        container.store.conversations.find_open_conversation("ana", CUSTOMER).status.value
        == "pending"
    )


def test_a_bounce_marks_the_reply_undelivered_and_says_why_in_the_thread(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    deliver(mime("Pergunta"))
    run_workers()
    [root] = slack.roots()
    agent_replies(client, root.ts, "Resposta")
    run_workers()
    sent = container.store.replies.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")

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
    stored = container.store.replies.get_outbound("ana", "slack:C0SUPPORT:1764000500.000100")
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
    assert container.store.counters.counters("ana") == {"delivery_reports": 1}


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


# Mail as mailers really send it ----------------------------------------------------------


def raw_mail(headers: str, body: str = "Oi, meu pedido ainda não chegou.") -> bytes:
    """A mail as its bytes came, headers unencoded where a mailer left them so."""
    return (
        f"{headers}\r\nTo: {SHOP_ADDRESS}\r\nMessage-ID: <{uuid.uuid4().hex}@mail.example>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "name", "subject"),
    [
        # An 8-bit UTF-8 display name, sent unencoded
        (f"From: José Souza <{CUSTOMER}>\r\nSubject: Pedido", "José Souza", "Pedido"),
        # ... with its comma unquoted
        (f"From: Souza, José <{CUSTOMER}>\r\nSubject: Pedido", "Souza, José", "Pedido"),
        # An encoded CR LF in the From display name
        (f"From: =?utf-8?q?Ana=0D=0ABcc:_x?= <{CUSTOMER}>\r\nSubject: Pedido", "Ana Bcc: x", None),
        # ... in a To display name (next to the shop's own address)
        (
            f"From: Ana <{CUSTOMER}>\r\nCc: =?utf-8?q?Loja=0D=0ABcc:_x?= <loja@example.com>\r\n"
            "Subject: Pedido",
            "Ana",
            "Pedido",
        ),
        # ... and in the subject
        (
            f"From: Ana <{CUSTOMER}>\r\nSubject: =?utf-8?q?Pedido=0D=0ABcc:_x?=",
            "Ana",
            "Pedido Bcc: x",
        ),
    ],
    ids=["8bit-from", "8bit-from-unquoted-comma", "crlf-from", "crlf-cc", "crlf-subject"],
)
def test_mail_as_mailers_send_it_reaches_its_thread(
    mail_shop, run_workers, slack: FakeSlack, container, headers, name, subject
):
    # When such a mail arrives
    deliver(raw_mail(headers))
    run_workers()

    # Then it is a thread with the customer's text, their name and subject on one line
    [root] = slack.roots()
    assert [p.message.text for p in slack.thread(root.ts)] == ["Oi, meu pedido ainda não chegou."]
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.customer_name == name
    card = json.dumps(root.message.blocks, ensure_ascii=False)
    assert "\\r" not in card
    if subject:
        assert conversation.subject == subject
        assert f"*Subject:* {subject}" in card


def test_a_mail_that_cannot_be_read_is_stored_queued_and_shown_as_such(
    mail_shop, run_workers, slack: FakeSlack, container
):
    # Given a mail whose MIME nests deeper than the standard parser can follow
    depth = 2000
    body = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    raw = f"From: Ana <{CUSTOMER}>\r\nSubject: Nota\r\n".encode() + body + b"\r\nOi\r\n"

    # When it arrives
    deliver(raw)
    run_workers()

    # Then agents see it, from its sender, saying it could not be read and where it is
    [root] = slack.roots()
    [post] = slack.thread(root.ts)
    assert post.message.text.startswith("[This mail could not be read in full")
    assert (
        container.store.conversations.find_open_conversation("ana", CUSTOMER).customer_name == "Ana"
    )


def test_the_raw_mail_is_tagged_for_retention_before_it_is_read(
    put_shop, container, monkeypatch: pytest.MonkeyPatch
):
    # Given a shop that keeps its data 90 days, and a mail that cannot even be fetched
    document = shop_document(email={"address": SHOP_ADDRESS}, retention_days=90)
    assert put_shop("ana", document).status_code == 201

    monkeypatch.setattr(container.media, "read", unreachable)

    # When it arrives, and its handler fails (Lambda retries it, then gives up)
    with pytest.raises(ConnectionError):
        deliver(mime("Oi"))

    # Then its raw object expires with the shop's data all the same
    [key] = raw_keys()
    assert raw_tags(key) == {"threadline-retention-days": "90"}


@pytest.mark.parametrize(
    ("to", "spam", "days"),
    [(SHOP_ADDRESS, "FAIL", "90"), ("nobody@elsewhere.example", "PASS", "30")],
    ids=["quarantined", "for-no-shop"],
)
def test_quarantined_mail_and_mail_for_no_shop_expire_too(put_shop, container, to, spam, days):
    document = shop_document(email={"address": SHOP_ADDRESS}, retention_days=90)
    assert put_shop("ana", document).status_code == 201
    deliver(mime("Oi", to=to), to=to, spam=spam)
    [key] = raw_keys()
    # Kept for an operator, for the shop's period (the shortest when no shop is named)
    assert raw_tags(key) == {"threadline-retention-days": days}


def raw_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix="inbound-mail/")
    return [item["Key"] for item in listed.get("Contents", [])]


def raw_tags(key: str) -> dict[str, str]:
    tagging = boto3.client("s3").get_object_tagging(Bucket=MEDIA_BUCKET, Key=key)
    return {tag["Key"]: tag["Value"] for tag in tagging["TagSet"]}


# Subjects and names that would break a reply's headers -------------------------------------


def test_a_conversation_whose_subject_holds_a_line_break_still_gets_its_replies_sent(
    client, mail_shop, run_workers, slack: FakeSlack, container
):
    # Given a conversation stored with a line break in its subject (as before subjects were
    # cleaned when read)
    deliver(mime("Pergunta", message_id="first@mail.gmail.com"))
    run_workers()
    [root] = slack.roots()
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    boto3.client("dynamodb").update_item(
        TableName=TABLE_NAME,
        Key={
            "PK": {"S": f"SHOP#ana#CONV#{conversation.conversation_id}"},
            "SK": {"S": "CONVERSATION"},
        },
        UpdateExpression="SET subject = :subject",
        ExpressionAttributeValues={":subject": {"S": "Pedido\r\nBcc: x@attacker.example"}},
    )

    # When an agent answers, twice
    agent_replies(client, root.ts, "Resposta")
    agent_replies(client, root.ts, "Mais uma", ts="1764000600.000100")
    run_workers()

    # Then both go out, their subject on one line and no header added
    sent = sent_mail()
    assert [m["Subject"] for m in sent] == ["Re: Pedido Bcc: x@attacker.example"] * 2
    assert all(m["Bcc"] is None for m in sent)
    for ts in ("1764000500.000100", "1764000600.000100"):
        assert (
            container.store.replies.get_outbound("ana", f"slack:C0SUPPORT:{ts}").status.value
            == "sent"
        )


def test_a_shop_name_or_a_message_subject_with_a_line_break_is_refused(client, put_shop, mail_shop):
    # A shop's name is the display name of its mail
    document = shop_document(email={"address": SHOP_ADDRESS}, name="Loja\r\nBcc: x@y.example")
    refused = put_shop("ana", document)
    assert refused.status_code == 400
    assert [e["field"] for e in json.loads(refused.body)["errors"]] == ["name"]
    # A message's subject is its mail's subject
    body = json.dumps(
        {"channel": "email", "to": CUSTOMER, "text": "Oi", "subject": "Pedido\nBcc: x@y.example"}
    )
    answer = client.http.post("/admin/shops/ana/messages", headers=ADMIN, body=body)
    assert answer.status_code == 400
    assert [e["field"] for e in json.loads(answer.body)["errors"]] == ["subject"]
    shown = client.http.get("/admin/shops/ana", headers=ADMIN)
    assert json.loads(shown.body)["name"] == "Loja da Ana"


# A Message-ID is the sender's choice ------------------------------------------------------


def test_two_senders_with_one_message_id_are_both_posted_each_with_its_own_attachment(
    mail_shop, run_workers, slack: FakeSlack, container
):
    # Given a customer's mail with an invoice, and another sender's mail reusing its
    # Message-ID with a file of the same name, both arriving before either is processed
    deliver(
        mime(
            "Segue a nota",
            message_id="same@mail.example",
            attachment=("nota.pdf", "application/pdf", b"%PDF ana"),
        )
    )
    eva = "eva@elsewhere.example"
    deliver(
        mime(
            "Outra nota",
            message_id="same@mail.example",
            sender=f"Eva <{eva}>",
            attachment=("nota.pdf", "application/pdf", b"%PDF eva"),
        ),
        source=eva,
    )

    # When they are processed
    run_workers()

    # Then each is its own conversation, with its own file, and neither replaced the other
    assert len(slack.roots()) == 2
    uploaded = {
        slack.thread(thread_ts)[0].message.text.split("\n")[0]: [f.content for f in files]
        for _, thread_ts, files in slack.uploads
        if thread_ts is not None
    }
    assert uploaded == {"Segue a nota": [b"%PDF ana"], "Outra nota": [b"%PDF eva"]}
    assert container.store.conversations.find_open_conversation("ana", eva) is not None


def test_a_retry_of_a_delivery_finishes_it_and_another_delivery_writes_nothing(
    mail_shop, run_workers, slack: FakeSlack, container, monkeypatch: pytest.MonkeyPatch
):
    raw = mime(
        "Segue a foto",
        message_id="once@mail.example",
        attachment=("foto.png", "image/png", b"\x89PNG once"),
    )
    # Given a delivery whose attachments could not be written once its message was stored
    event = received(raw)
    with monkeypatch.context() as patched:
        patched.setattr(container.media, "keep", unreachable)
        with pytest.raises(ConnectionError):
            app.handler_map["receive_mail"](event, None)

    # When Lambda retries it
    app.handler_map["receive_mail"](event, None)
    run_workers()

    # Then it is posted, with its file
    [root] = slack.roots()
    [post] = slack.thread(root.ts)
    assert post.message.text.startswith("Segue a foto")
    [(_, _, [photo])] = slack.uploads
    assert photo.content == b"\x89PNG once"

    # When the same mail arrives again (SES received it anew: another SES id)
    files = attachment_keys()
    deliver(raw)
    run_workers()

    # Then it is a duplicate: nothing posted, no file written, and its raw copy deleted,
    # while the retried delivery's, which its message names, stays
    assert len(slack.posts) == 2
    assert attachment_keys() == files
    action = json.loads(event["Records"][0]["Sns"]["Message"])["receipt"]["action"]
    assert raw_keys() == [action["objectKey"]]


def unreachable(*args: Any, **kwargs: Any) -> None:
    raise ConnectionError("S3 unreachable")


def attachment_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix="ana/inbound/")
    return [item["Key"] for item in listed.get("Contents", [])]


# A mail delivered twice, a mail sent to two shops ------------------------------------------

BIA_ADDRESS = "contato@lojadabia.com.br"


def erase(client: Any, shop_id: str, customer: str = CUSTOMER) -> dict[str, Any]:
    response = client.http.delete(f"/admin/shops/{shop_id}/customers/{customer}", headers=ADMIN)
    assert response.status_code == 200, response.body
    receipt: dict[str, Any] = json.loads(response.body)
    return receipt


def raw_location(shop_id: str, message_id: str) -> list[str]:
    """The raw mail the shop's stored copy of the customer's mail names."""
    key = f"SHOP#{shop_id}#MSG#email:{delivery_id(CUSTOMER, message_id)}"
    item = stored_item(key, "MESSAGE")
    assert item is not None
    return list(item["email"]["raw_location"])


def test_a_mail_delivered_twice_leaves_one_raw_copy_which_the_customers_erasure_takes(
    client, mail_shop, run_workers, slack: FakeSlack
):
    # Given a customer's mail that SES delivered twice (their server retried after a
    # timeout), to a shop that keeps its data until it is erased (no retention tag expires it)
    raw = mime("Meu CPF é 123.456.789-00", message_id="twice@mail.gmail.com")
    deliver(raw)
    [first] = raw_keys()
    deliver(raw)
    run_workers()

    # Then the second copy is deleted: the first, which the stored message names, stands for it
    assert len(slack.roots()) == 1
    assert raw_keys() == [first]
    assert raw_location("ana", "twice@mail.gmail.com") == [MEDIA_BUCKET, first]

    # When the customer is erased, then no copy of their mail is left
    erase(client, "ana")
    assert raw_keys() == []


def test_a_duplicate_of_a_mail_stored_without_its_raw_location_deletes_no_raw_copy(
    mail_shop, run_workers
):
    # Given a mail stored before messages named their raw mail
    raw = mime("Oi", message_id="older@mail.gmail.com")
    deliver(raw)
    run_workers()
    key = f"SHOP#ana#MSG#email:{delivery_id(CUSTOMER, 'older@mail.gmail.com')}"
    boto3.client("dynamodb").update_item(
        TableName=TABLE_NAME,
        Key={"PK": {"S": key}, "SK": {"S": "MESSAGE"}},
        UpdateExpression="REMOVE #email.raw_location",
        ExpressionAttributeNames={"#email": "email"},
    )
    # When it is delivered again
    deliver(raw)
    # Then both raw copies stay: nothing tells which one is the stored message's
    assert len(raw_keys()) == 2


@pytest.fixture
def two_shops(put_shop, container) -> None:
    """Two shops of one deployment, each with its support address: ana keeps data until it
    is erased, bia 90 days."""
    assert put_shop("ana", shop_document(email={"address": SHOP_ADDRESS})).status_code == 201
    bia = shop_document(
        name="Loja da Bia",
        twilio=None,
        slack={"team_id": TEAM_ID, "channel_id": "C0BIA", "bot_token": BOT_TOKEN},
        email={"address": BIA_ADDRESS},
        retention_days=90,
    )
    assert put_shop("bia", bia).status_code == 201
    for domain in ("lojadaana.com.br", "lojadabia.com.br"):
        boto3.client("sesv2").create_email_identity(EmailIdentity=domain)


def to_both(body: str, message_id: str) -> tuple[bytes, dict[str, Any]]:
    raw = mime(body, message_id=message_id, to=f"{SHOP_ADDRESS}, {BIA_ADDRESS}")
    return raw, {"to": SHOP_ADDRESS, "also_to": (BIA_ADDRESS,)}


def test_a_mail_sent_to_two_shops_reaches_each_as_its_own_message_with_its_own_raw_copy(
    two_shops, run_workers, slack: FakeSlack, container
):
    # When a customer writes to both shops in one mail (SES: one delivery, both recipients)
    raw, envelope = to_both("Qual de vocês tem o pedido 1042?", "both@mail.gmail.com")
    deliver(raw, **envelope)
    run_workers()

    # Then each shop has the customer's conversation, in its own channel
    assert sorted(root.channel for root in slack.roots()) == ["C0BIA", "C0SUPPORT"]
    for shop_id in ("ana", "bia"):
        conversation = container.store.conversations.find_open_conversation(shop_id, CUSTOMER)
        assert conversation is not None
        assert conversation.shop_id == shop_id
    # ... each its own message, naming its own raw copy, expiring with its own data
    [ses_copy] = [key for key in raw_keys() if key.count("/") == 1]
    bia_copy = ses_copy.replace("inbound-mail/", "inbound-mail/bia/")
    assert sorted(raw_keys()) == sorted([ses_copy, bia_copy])
    assert raw_location("ana", "both@mail.gmail.com") == [MEDIA_BUCKET, ses_copy]
    assert raw_location("bia", "both@mail.gmail.com") == [MEDIA_BUCKET, bia_copy]
    assert raw_tags(ses_copy) == {}
    assert raw_tags(bia_copy) == {"threadline-retention-days": "90"}
    body = boto3.client("s3").get_object(Bucket=MEDIA_BUCKET, Key=bia_copy)["Body"].read()
    assert body == raw


def test_one_shops_erasure_leaves_the_other_shops_copy_of_a_mail_sent_to_both(
    client, two_shops, run_workers, slack: FakeSlack
):
    # Given a customer's mail to both shops, delivered twice
    raw, envelope = to_both("Qual de vocês tem o pedido 1042?", "both@mail.gmail.com")
    deliver(raw, **envelope)
    kept = sorted(raw_keys())
    deliver(raw, **envelope)
    run_workers()
    # Then each shop has it once, and no raw copy of the second delivery is left
    assert sorted(root.channel for root in slack.roots()) == ["C0BIA", "C0SUPPORT"]
    assert sorted(raw_keys()) == kept

    # When ana erases the customer
    receipt = erase(client, "ana")

    # Then bia's message and raw copy are untouched, until bia erases the customer too
    assert receipt["messages"] == 1
    assert raw_keys() == [raw_location("bia", "both@mail.gmail.com")[1]]
    exported = client.http.get(f"/admin/shops/bia/customers/{CUSTOMER}", headers=ADMIN)
    assert exported.status_code == 200
    erase(client, "bia")
    assert raw_keys() == []


@pytest.mark.parametrize(
    "recipients",
    [[BIA_ADDRESS, SHOP_ADDRESS], [BIA_ADDRESS], [SHOP_ADDRESS]],
    ids=["in-another-order", "to-the-second-only", "to-the-first-only"],
)
def test_a_mail_to_two_shops_delivered_again_by_hand_leaves_each_shop_its_raw_copy(
    two_shops, run_workers, slack: FakeSlack, recipients
):
    # Given a mail to both shops, handled
    raw, envelope = to_both("Qual de vocês tem o pedido 1042?", "both@mail.gmail.com")
    event = received(raw, **envelope)
    app.handler_map["receive_mail"](event, None)
    run_workers()
    named = [raw_location(shop_id, "both@mail.gmail.com")[1] for shop_id in ("ana", "bia")]

    # When an operator delivers SES's object again, naming its recipients otherwise
    notification = json.loads(event["Records"][0]["Sns"]["Message"])
    notification["receipt"]["recipients"] = recipients
    app.handler_map["receive_mail"](sns_event(json.dumps(notification), TOPIC), None)
    run_workers()

    # Then it is the same delivery to each shop: posted once, each message's raw copy where
    # it names it, and no other copy left behind
    assert len(slack.roots()) == 2
    assert [raw_location(shop_id, "both@mail.gmail.com")[1] for shop_id in ("ana", "bia")] == named
    assert sorted(raw_keys()) == sorted(named)


def test_a_resent_mail_delivered_again_by_hand_keeps_the_raw_copy_another_shop_names(
    two_shops, run_workers, slack: FakeSlack
):
    # Given a mail to ana, then sent again (the same mail) to bia and ana: bia, first among
    # its recipients, keeps SES's object of the second delivery, and ana the first's
    raw, _ = to_both("Qual de vocês tem o pedido 1042?", "both@mail.gmail.com")
    deliver(raw)
    again = received(raw, to=BIA_ADDRESS, also_to=(SHOP_ADDRESS,))
    app.handler_map["receive_mail"](again, None)
    run_workers()
    named = [raw_location(shop_id, "both@mail.gmail.com")[1] for shop_id in ("ana", "bia")]
    assert sorted(raw_keys()) == sorted(named)

    # When an operator delivers the second one again, ana first
    notification = json.loads(again["Records"][0]["Sns"]["Message"])
    notification["receipt"]["recipients"] = [SHOP_ADDRESS, BIA_ADDRESS]
    app.handler_map["receive_mail"](sns_event(json.dumps(notification), TOPIC), None)
    run_workers()

    # Then SES's object, which bia's message names, stays; nothing else is left behind
    assert len(slack.roots()) == 2
    assert sorted(raw_keys()) == sorted(named)


def test_spam_sent_to_two_shops_is_quarantined_in_each_with_its_own_raw_copy(
    two_shops, run_workers, slack: FakeSlack, container
):
    raw, envelope = to_both("Ganhe dinheiro fácil", "spam@mail.example")
    deliver(raw, spam="FAIL", **envelope)
    run_workers()
    assert slack.posts == []
    assert container.store.counters.counters("ana") == {"quarantined_spam": 1}
    assert container.store.counters.counters("bia") == {"quarantined_spam": 1}
    tags = sorted(raw_tags(key).get("threadline-retention-days", "") for key in raw_keys())
    assert tags == ["", "90"]


# A mail must name its sender -------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    ["undisclosed-recipients:;", f"Ana <{CUSTOMER}>, Eva <eva@elsewhere.example>", None],
    ids=["group-without-addresses", "two-addresses", "no-from"],
)
def test_mail_without_one_usable_sender_is_quarantined_and_joins_no_conversation(
    client, mail_shop, run_workers, slack: FakeSlack, container, sender
):
    # Given a customer's open conversation, answered from it
    deliver(mime("Pergunta"))
    run_workers()
    [root] = slack.roots()
    agent_replies(client, root.ts, "Resposta")
    run_workers()
    [reply] = sent_mail()
    before = [p.message.text for p in slack.thread(root.ts)]
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    plus_address = f"support+c{conversation.conversation_id.lower()}@lojadaana.com.br"

    # When a mail names no one sender, in every way it could claim that conversation: its
    # envelope is the customer's, it answers the reply, it goes to the conversation address
    headers = f"From: {sender}\r\n" if sender else ""
    raw = (
        f"{headers}To: {plus_address}\r\nSubject: Re: Pedido\r\n"
        f"In-Reply-To: {reply['Message-ID']}\r\n\r\nMande o reembolso para esta conta\r\n"
    ).encode()
    deliver(raw, to=plus_address, source=CUSTOMER)
    run_workers()

    # Then the conversation gains nothing, the mail is counted and kept in S3
    assert [p.message.text for p in slack.thread(root.ts)] == before
    assert len(slack.roots()) == 1
    assert container.store.counters.counters("ana") == {"quarantined_no_sender": 1}
    assert len(raw_keys()) == 2


# A mail the ingester gave up on -----------------------------------------------------------


def invocation_record(event: dict[str, Any]) -> dict[str, Any]:
    """Lambda's record of an asynchronous invocation that failed every attempt, as it puts
    it on the function's on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:receive_mail:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "S3 unreachable", "errorType": "ConnectionError"},
    }


def test_a_mail_the_ingester_gave_up_on_is_published_again_and_reaches_its_thread(
    mail_shop, run_workers, slack: FakeSlack, container, monkeypatch: pytest.MonkeyPatch
):
    # Given a mail whose every attempt failed, and Lambda's record of it on the on-failure
    # queue, next to a record that holds no notification
    event = received(mime("Oi, ainda espero o pedido"))
    with monkeypatch.context() as patched:
        patched.setattr(container.media, "read", unreachable)
        for _ in range(3):
            with pytest.raises(ConnectionError):
                app.handler_map["receive_mail"](event, None)
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    failed = sqs.get_queue_url(QueueName=FAILED_MAIL_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(invocation_record(event)))
    sqs.send_message(QueueUrl=failed, MessageBody=json.dumps({"requestPayload": {}}))
    assert slack.posts == []

    # When an operator redrives it (`threadline dlq redrive mail`), and SNS hands the
    # notification to the ingester
    topic = sns_pumps_for(app, sns, sqs)
    replayed = replay_failed_notifications(sqs, sns, FAILED_MAIL_QUEUE)
    for pump in topic:
        pump.pump_once()
    run_workers()

    # Then the mail reaches its thread; the record without a notification stays
    assert replayed == Replayed(published=1, kept=1)
    [root] = slack.roots()
    assert [p.message.text for p in slack.thread(root.ts)] == ["Oi, ainda espero o pedido"]
    waiting = sqs.get_queue_attributes(
        QueueUrl=failed, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert waiting["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
