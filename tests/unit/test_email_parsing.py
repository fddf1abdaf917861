"""Inbound email as customers' clients send it: what they wrote this time, who they are,
what the message answers, what it carries, and whether a program sent it."""

from pathlib import Path

import pytest

from chalicelib.channels.email_parsing import ParsedEmail, html_to_text, latest_reply, parse_email

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parent / "emails"


def corpus(name: str) -> ParsedEmail:
    return parse_email((CORPUS / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # Gmail, Portuguese, its "Em …, … escreveu:" header wrapped onto two lines
        ("gmail_reply_pt.eml", "Oi, ainda não recebi o reembolso.\n\nAna"),
        # Outlook, Spanish, ISO-8859-1, its "De: / Enviado:" block under a rule
        (
            "outlook_reply_es.eml",
            "Hola, ya envié el paquete. ¿Cuándo llega el reembolso?\n\nSaludos,\nJosé",
        ),
        # Apple Mail on an iPhone, Hungarian: "… írta:" and "iPhone-ról küldve"
        ("apple_mail_hu.eml", "Köszönöm, holnap átveszem a csomagot."),
        # Gmail, Arabic, base64
        ("gmail_reply_ar.eml", "شكراً لكم، لكن الطلب لم يصل بعد.\nهل يمكنكم إرسال رقم التتبع؟"),
        # Gmail, Hindi, quoted-printable
        (
            "gmail_reply_hi.eml",
            "मेरा ऑर्डर अभी तक नहीं आया है। कृपया जल्दी भेजें।\n\nधन्यवाद,\nराहुल",
        ),
        # Yahoo, Indonesian, HTML only, with a link
        (
            "html_only_id.eml",
            "Halo, pesanan #88120 saya belum sampai.\n\n"
            "Bisa cek di halaman lacak (https://tokobatik.id/lacak/88120)?\n\n"
            "Terima kasih,\nBudi",
        ),
        # A signature after "--"
        ("attachments_en.eml", "Hi, the tin arrived dented. Photo and invoice attached."),
        # ISO-8859-2, 8bit
        ("latin2_hu.eml", "Jó napot! A rendelésem még nem érkezett meg. Üdvözlettel, Éva"),
    ],
)
def test_only_what_the_customer_wrote_this_time_remains(name: str, text: str) -> None:
    assert corpus(name).text == text


def test_the_sender_subject_and_threading_headers_are_read_in_any_script() -> None:
    reply = corpus("gmail_reply_pt.eml")
    assert (reply.sender, reply.sender_name) == ("ana.souza@gmail.com", "Ana Souza")
    assert reply.subject == "Re: Pedido #1042 atrasado"
    assert reply.message_id == "CAF3x9Lk2p7Qv=Ym1Zr8Tq5Wb4Nc6Hd@mail.gmail.com"
    assert reply.in_reply_to == (
        "0100019a6f3e7c2d-11aa22bb-33cc-44dd-55ee-66ff77889900-000000@email.amazonses.com"
    )
    assert reply.references[-1] == "tl.01KAQ7W3Y5@lojadaana.com.br"
    assert reply.recipients == ("support+c01kaq7w3y5@lojadaana.com.br",)
    arabic = corpus("gmail_reply_ar.eml")
    assert (arabic.sender_name, arabic.subject) == ("فاطمة العلي", "Re: طلب رقم 774")
    assert corpus("gmail_reply_hi.eml").sender_name == "राहुल शर्मा"
    assert corpus("outlook_reply_es.eml").sender_name == "José Martínez"


def test_attachments_come_whole_with_their_names_and_types() -> None:
    photo, invoice = corpus("attachments_en.eml").attachments
    assert (photo.filename, photo.content_type) == ("dent.jpg", "image/jpeg")
    assert photo.content.startswith(b"\xff\xd8\xff")
    assert (invoice.filename, invoice.content_type) == ("invoice-1042.pdf", "application/pdf")
    assert invoice.content.startswith(b"%PDF-1.4")


@pytest.mark.parametrize(
    ("name", "automated", "report"),
    [
        ("auto_reply_en.eml", True, False),
        ("bounce.eml", True, True),
        ("gmail_reply_pt.eml", False, False),
        ("attachments_en.eml", False, False),
    ],
)
def test_mail_from_programs_is_recognised(name: str, automated: bool, report: bool) -> None:
    parsed = corpus(name)
    assert (parsed.automated, parsed.is_report) == (automated, report)


@pytest.mark.parametrize(
    "headers",
    [
        "Precedence: bulk\r\n",
        "Precedence: list\r\n",
        "Precedence: junk\r\n",
        "List-Id: <news.shop.example>\r\n",
        "Auto-Submitted: auto-generated\r\n",
    ],
)
def test_bulk_list_and_generated_mail_is_automated(headers: str) -> None:
    raw = (
        "From: News <news@shop.example>\r\nTo: help@teashop.example\r\nSubject: Hi\r\n"
        f"{headers}\r\nHello\r\n"
    ).encode()
    assert parse_email(raw).automated


@pytest.mark.parametrize(
    "sender", ["no-reply@shop.example", "noreply@x.example", "bounces+123@lists.example"]
)
def test_mailboxes_that_are_no_person_are_automated(sender: str) -> None:
    raw = f"From: {sender}\r\nTo: help@teashop.example\r\nSubject: Hi\r\n\r\nHello\r\n".encode()
    assert parse_email(raw).automated


def test_a_customer_sentence_that_looks_like_a_header_is_kept() -> None:
    # "Em casa escreveu:" names no address: it is the customer's own sentence.
    text = "Minha filha em casa escreveu:\nque ama o chá!"
    assert latest_reply(text) == text


def test_html_becomes_plain_text_with_links_written_out() -> None:
    html = '<p>See <a href="https://x.example/t">tracking</a> or <a href="https://y.example">https://y.example</a></p>'
    assert html_to_text(html) == "See tracking (https://x.example/t) or https://y.example"


def test_mail_with_broken_parts_is_read_not_refused() -> None:
    raw = (
        b"From: =?x-unknown?Q?broken?= <a@b.example>\r\nSubject: =?utf-8?B?!!!?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\nOl\xe1\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.sender == "a@b.example"
    assert parsed.text == "Olá"
