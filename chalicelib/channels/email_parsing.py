"""Inbound email, from raw MIME to what a customer wrote this time.

MIME is read with the standard library (`policy.default`); HTML-only mail is turned into
text with html2text; the quoted history and signatures are cut with mail-parser-reply, after
our own markers for the languages it does not know (Portuguese, Hungarian, Indonesian,
Arabic, Hindi and, for Outlook's header blocks, Spanish too).
"""

import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from chalicelib.channels.base import MEDIA_LIMIT_BYTES, MediaFile

# Gmail's and Apple Mail's "On <date>, <someone> wrote:" line (which clients wrap onto a
# second line when long), in the languages the reply parser does not know. Each names the
# writer's address, which keeps a customer's own sentence from matching.
_LINE = r"[^\n]*(?:\n[^\n]*)?"
_WROTE_HEADERS = [
    rf"^Em {_LINE}@{_LINE} escreveu:?\s*$",  # Portuguese
    rf"^El {_LINE}@{_LINE} escribió:?\s*$",  # Spanish
    rf"^Pada {_LINE}@{_LINE} menulis:?\s*$",  # Indonesian
    rf"^{_LINE}@{_LINE} (?:ezt )?írta{_LINE}:\s*$",  # Hungarian
    rf"^في {_LINE}كتب{_LINE}@{_LINE}:\s*$",  # Arabic ("في <date> كتب <someone>:")
    rf"^{_LINE}@{_LINE} ने लिखा:?\s*$",  # Hindi ("<date> को <someone> ने लिखा:")
]
# The first words of Outlook's quoted header block (From / Sent), per language.
_OUTLOOK_FROM = ["From", "De", "Von", "Feladó", "Dari", "من", "प्रेषक"]
_OUTLOOK_SENT = [
    "Sent",
    "Date",
    "Enviado",
    "Enviada em",
    "Enviado el",
    "Gesendet",
    "Elküldve",
    "Dikirim",
    "تاريخ الإرسال",
    "भेजा गया",
]
# Phones' "Sent from my …" lines.
_SENT_FROM = [
    r"Sent from my .+",
    r"Enviado do meu .+",
    r"Enviado desde mi .+",
    r"Dikirim dari .+",
    r".+-r[óo]l küldve",
    r"أرسلت من .+",
    r"मेरे .+ से भेजा गया",
]
_WROTE = re.compile("|".join(_WROTE_HEADERS), re.MULTILINE)
_OUTLOOK = re.compile(
    rf"^[*\s]*(?:{'|'.join(_OUTLOOK_FROM)})\s*:.*\n[*\s]*(?:{'|'.join(_OUTLOOK_SENT)})\s*:",
    re.MULTILINE,
)
_ORIGINAL = re.compile(r"^-{2,}\s*(?:Original Message|Mensagem original|Mensaje original)", re.M)
# RFC 3676's signature separator, "-- " (often sent without its space).
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_SENT_FROM_LINE = re.compile(rf"^\s*(?:{'|'.join(_SENT_FROM)})\s*$", re.MULTILINE)
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
# Senders that are machines, by their mailbox name.
_MACHINE_SENDERS = re.compile(
    r"^(?:mailer-daemon|postmaster|bounces?|no-?reply|do-?not-?reply)(?:[+\-_.].*)?$"
)
# Languages mail-parser-reply knows, to find the rest of the quoted history.
REPLY_PARSER_LANGUAGES = ["en", "de", "es", "fr", "it", "nl", "pl", "sv", "da", "cs"]


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    sender: str
    sender_name: str | None
    recipients: tuple[str, ...]
    subject: str
    text: str
    attachments: tuple[MediaFile, ...] = field(default_factory=tuple)
    # Sent by a program: an auto-reply (Auto-Submitted other than "no"), a list or bulk
    # mail (Precedence), or a mailbox that is no person (mailer-daemon, no-reply, ...).
    automated: bool = False
    # A delivery report (bounce) rather than a message.
    is_report: bool = False


def _message_ids(value: object) -> tuple[str, ...]:
    return tuple(re.findall(r"<([^<>\s]+)>", str(value or "")))


def _address(message: EmailMessage, name: str) -> tuple[str, str | None]:
    header = message.get(name)
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    if not addresses:
        return "", None
    first: Address = addresses[0]
    return first.addr_spec.lower(), (first.display_name or None)


def html_to_text(html: str) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    text = converter.handle(html)
    # Markdown links and hard breaks read badly in Slack and in a reply: plain text instead.
    text = _MARKDOWN_LINK.sub(
        lambda m: m.group(2) if m.group(1) in ("", m.group(2)) else f"{m.group(1)} ({m.group(2)})",
        text,
    )
    text = _AUTOLINK.sub(r"\1", text)
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def latest_reply(text: str) -> str:
    """What a customer wrote this time: the quoted history and signature cut off."""
    from mailparser_reply import EmailReplyParser

    text = text.replace("\r\n", "\n")
    markers = (_WROTE, _OUTLOOK, _ORIGINAL, _SIGNATURE)
    cuts = [m.start() for pattern in markers if (m := pattern.search(text))]
    if cuts:
        text = text[: min(cuts)]
    text = _SENT_FROM_LINE.sub("", text)
    reply = EmailReplyParser(languages=REPLY_PARSER_LANGUAGES).parse_reply(text=text)
    # Trailing quoted lines the markers did not catch ("> ...").
    lines = (reply if reply is not None else text).rstrip().split("\n")
    while lines and lines[-1].lstrip().startswith(">"):
        lines.pop()
    return "\n".join(lines).strip()


def _is_automated(message: EmailMessage, sender: str) -> bool:
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    mailbox = sender.split("@", 1)[0]
    return (
        auto_submitted != "no"
        or precedence in ("bulk", "list", "junk", "auto_reply")
        or "X-Autoreply" in message
        or "X-Autorespond" in message
        or "List-Id" in message
        or bool(_MACHINE_SENDERS.match(mailbox))
    )


def parse_email(raw: bytes) -> ParsedEmail:
    """A raw RFC 5322 message, read leniently: a header or part that cannot be decoded is
    taken as it comes rather than refused."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    sender, sender_name = _address(message, "From")
    recipients = tuple(
        address.lower()
        for _, address in getaddresses(
            [str(message.get(name, "")) for name in ("To", "Cc", "Delivered-To")]
        )
        if address
    )
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):
            # An unknown charset: the bytes as Latin-1 beat losing the message.
            payload = body.get_payload(decode=True)
            content = payload.decode("latin-1") if isinstance(payload, bytes) else ""
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    attachments: list[MediaFile] = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or len(data) > MEDIA_LIMIT_BYTES:
            continue
        name = part.get_filename() or f"attachment-{len(attachments) + 1}"
        attachments.append(MediaFile(name, part.get_content_type(), data))
    message_ids = _message_ids(message.get("Message-ID"))
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=next(iter(_message_ids(message.get("In-Reply-To"))), None),
        references=_message_ids(message.get("References")),
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        subject=str(message.get("Subject", "")).strip(),
        text=latest_reply(text),
        attachments=tuple(attachments),
        automated=_is_automated(message, sender),
        is_report=message.get_content_type() == "multipart/report",
    )
