"""Inbound email, from raw MIME to what a customer wrote this time.

MIME is read with the standard library (`policy.default`); HTML-only mail is turned into
text with html2text; the quoted history is found with mail-parser-reply's header patterns,
after our own markers for the languages it does not know (Portuguese, Hungarian, Indonesian,
Arabic, Hindi and, for Outlook's header blocks, Spanish too).

Mail is outside input, read so that no sender can sink it or make it expensive:

- Bounded before any parser runs: each header field to HEADER_LIMIT bytes (HEADER_FIELDS
  of them and HEADERS_LIMIT bytes in all at most), HTML to HTML_LIMIT characters and what
  html2text writes to BODY_LIMIT, the text to BODY_LIMIT before the quoted history is looked
  for (comfortably above the 20,000 characters a mail is cut to for Slack), the lines the
  history markers look at to PROBE_LINE characters each (HEADER_LINE for mail-parser-reply's,
  whose cost grows with the cube of a line), attachments to ATTACHMENT_LIMIT.
  Every pattern is anchored to a line or cannot restart where it failed, so the work is
  linear in what is read.
- Each header is read on its own: one the standard parser refuses is read leniently, and
  every string taken from a header is cleaned (bytes of unencoded 8-bit UTF-8 decoded where
  they are, control characters and line breaks collapsed into a space). A body or an
  attachment that cannot be read leaves the mail `complete=False` instead of failing it.
- The sender is the one address of the one From field, well formed; otherwise there is
  none (`sender == ""`), and the mail must not speak for anyone.
"""

import hashlib
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import getaddresses
from functools import cache
from typing import TYPE_CHECKING, cast

from chalicelib.channels.base import MEDIA_LIMIT_BYTES, MediaFile
from chalicelib.domain.single_line import single_line

if TYPE_CHECKING:
    from html2text import HTML2Text
    from html2text._typing import OutCallback

HEADER_LIMIT = 8_000
HEADER_FIELDS = 500
HEADERS_LIMIT = 64_000
BODY_LIMIT = 32_000
HTML_LIMIT = 400_000
PROBE_LINE = 500
# mail-parser-reply's "On … wrote:" patterns ("Am … schrieb …:", "Den … skrev …:", …) cost
# the cube of a line's length where they fail (a line of 500 characters: 60 ms), so they
# see each line's first 160 characters, room for any client's header line with a long name
# and address (about 130), at 2 ms at most.
HEADER_LINE = 160
# Message-IDs become keys and queue ids: a longer one is replaced by its hash.
MESSAGE_ID_LIMIT = 250
# Threading needs the nearest messages a mail answers, not a long thread's whole chain.
REFERENCES_LIMIT = 20
NAME_LIMIT = 200
SUBJECT_LIMIT = 1_000
ATTACHMENT_LIMIT = 100
FILENAME_LIMIT = 120


@dataclass(frozen=True)
class _WroteLine:
    """Gmail's and Apple Mail's "On <date>, <someone> wrote:" line, in a language the reply
    parser does not know: how it starts and ends, and what it holds in between, in order.
    Each names the writer's address, which keeps a customer's own sentence from matching."""

    starts: str
    holds: tuple[str, ...]
    ends: str
    colon_required: bool = False

    def matches(self, line: str) -> bool:
        ending = line.removesuffix(":")
        if self.colon_required and ending == line:
            return False
        if not (line.startswith(self.starts) and ending.endswith(self.ends)):
            return False
        position, end = len(self.starts), len(ending) - len(self.ends)
        for part in self.holds:
            found = line.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True


_WROTE_LINES = (
    _WroteLine("Em ", ("@",), " escreveu"),  # Portuguese
    _WroteLine("El ", ("@",), " escribió"),  # Spanish
    _WroteLine("Pada ", ("@",), " menulis"),  # Indonesian
    _WroteLine("", ("@", " írta"), "", colon_required=True),  # Hungarian ("… ezt írta:")
    _WroteLine("في ", ("كتب", "@"), "", colon_required=True),  # Arabic ("في <date> كتب <someone>:")
    _WroteLine("", ("@",), " ने लिखा"),  # Hindi ("<date> को <someone> ने लिखा:")
)
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
# Markers are looked for line by line (`[ \t]`, never `\s`, which would run on across lines).
_OUTLOOK = re.compile(
    rf"^[* \t]*(?:{'|'.join(_OUTLOOK_FROM)})[ \t]*:[^\n]*\n(?:[* \t]*\n)?"
    rf"[* \t]*(?:{'|'.join(_OUTLOOK_SENT)})[ \t]*:",
    re.MULTILINE,
)
_ORIGINAL = re.compile(
    r"^-{2,}[ \t]*(?:Original Message|Mensagem original|Mensaje original)", re.MULTILINE
)
# RFC 3676's signature separator, "-- " (often sent without its space).
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_SENT_FROM_LINE = re.compile(rf"(?:{'|'.join(_SENT_FROM)})")
# A link's text excludes "[" and its target "(": a failed match never restarts inside them.
_OUTLOOK_RULE = re.compile(r"[_-]{32,}")
_MARKDOWN_LINK = re.compile(r"\[([^\[\]]*)\]\(([^()\s]+)\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
# Senders that are machines, by their mailbox name.
_MACHINE_SENDERS = re.compile(
    r"^(?:mailer-daemon|postmaster|bounces?|no-?reply|do-?not-?reply)(?:[+\-_.].*)?$"
)
# An address Threadline can answer: one "@", a dotted domain, nothing that ends an address.
_MAILBOX = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\.]+")
# Read where the standard parser refuses a field. Neither alternative can restart inside what
# it already scanned: a bracketed one splits at its first "@", a bare one starts only where
# a run of address characters does (else each start rescans the run: quadratic).
_BARE_ADDRESS = re.compile(
    r"<([^<>\s@]+@[^<>\s]+)>|(?<![^<>\s,;:\"()])([^<>\s,;:\"()]+@[^<>\s,;:\"()]+)"
)
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_FIELD_START = re.compile(rb"[\x21-\x39\x3b-\x7e]*:")
_NOT_BYTE_ESCAPE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_FILENAME_UNSAFE = re.compile(r"[/\\]")
# Languages mail-parser-reply knows, to find the rest of the quoted history.
REPLY_PARSER_LANGUAGES = ["en", "de", "es", "fr", "it", "nl", "pl", "sv", "da", "cs"]


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    # The one address of the one From field, well formed; "" when there is none.
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
    # False when part of it (its text, an attachment) could not be read; S3 keeps it whole.
    complete: bool = True


def repaired(text: str) -> str:
    """A string the parser decoded with lone surrogates for bytes it could not decode
    (unencoded 8-bit headers): those bytes decoded as UTF-8 where they are, else replaced."""
    if text.isascii() or not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    escaped = _NOT_BYTE_ESCAPE.sub("\ufffd", text)
    return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _clean(text: str, limit: int | None = None) -> str:
    cleaned = single_line(repaired(text))
    return cleaned if limit is None else cleaned[:limit]


def _decoded_words(raw: str) -> str:
    """RFC 2047 encoded words decoded, read leniently: as they come if they cannot be."""
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # any malformed word: the raw text beats losing the header
        return raw


def _quoted_words(raw: str) -> str:
    """An address header with each encoded word decoded, cleaned and made a quoted string,
    so that what it decodes to (a ":", a "," or a line break) cannot split the list."""

    def quoted(word: re.Match[str]) -> str:
        text = _clean(_decoded_words(word.group(0)))
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _ENCODED_WORD.sub(quoted, raw)


def _fields(head: bytes) -> list[tuple[str, str]]:
    """A header block's fields as (lower-case name, unfolded value)."""
    fields = []
    for raw in head.split(b"\r\n"):
        name, _, value = raw.partition(b":")
        text = value.decode("utf-8", "surrogateescape")
        fields.append((name.decode("ascii", "replace").strip().lower(), text))
    return fields


def _bounded(raw: bytes) -> tuple[bytes, bytes]:
    """The mail's header block and its body, the header block bounded before any parser
    reads it: each field cut to HEADER_LIMIT bytes and unfolded onto one line, the fields
    past HEADER_FIELDS of them or HEADERS_LIMIT bytes in all left out. The body starts where
    the standard parser starts it: after the first empty line, or at the first line that is
    no header."""
    fields: list[bytearray] = []
    total = 0
    keeping = False  # whether the field being read is kept (its continuation lines too)
    position, length = 0, len(raw)
    if raw.startswith(b"From "):  # an mbox "From " line: the parser sets it aside too
        position = _line_end(raw, 0)
    while position < length:
        end = _line_end(raw, position)
        # At most a field's worth of the line is looked at. A lone CR ends a line for the
        # standard parser but not here: a space for both.
        line = raw[position : min(end, position + HEADER_LIMIT + 2)]
        line = line.rstrip(b"\r\n").replace(b"\r", b" ")
        if not line:
            return b"\r\n".join(fields), raw[end:]
        if line[:1] in (b" ", b"\t"):
            if keeping and len(fields[-1]) < HEADER_LIMIT:
                kept = line[: min(HEADER_LIMIT - len(fields[-1]), HEADERS_LIMIT - total)]
                fields[-1] += kept
                total += len(kept)
        elif _FIELD_START.match(line):
            kept = line[: min(HEADER_LIMIT, HEADERS_LIMIT - total)]
            keeping = len(fields) < HEADER_FIELDS and bool(kept)
            if keeping:
                fields.append(bytearray(kept))
                total += len(kept)
        else:
            return b"\r\n".join(fields), raw[position:]
        position = end
    return b"\r\n".join(fields), b""


def _line_end(raw: bytes, position: int) -> int:
    end = raw.find(b"\n", position)
    return len(raw) if end < 0 else end + 1


class _Headers:
    """A mail's header fields, each read on its own and never raising: through the standard
    parser where it can, else leniently from the bounded raw field."""

    def __init__(self, message: EmailMessage | None, fields: list[tuple[str, str]]) -> None:
        self._message = message
        self._fields = fields

    def raw(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field_name, value in self._fields if field_name == wanted]

    def count(self, name: str) -> int:
        return len(self.raw(name))

    def text(self, name: str, limit: int | None = None) -> str:
        """The first field's value, decoded, on one line; "" when there is none."""
        try:
            if self._message is None:
                raise LookupError(name)
            value = self._message.get(name)
            text = "" if value is None else str(value)
        except Exception:  # the parser refused this header: read it as it comes
            found = self.raw(name)
            text = _decoded_words(_clean(found[0])) if found else ""
        return _clean(text, limit)

    def mailboxes(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) of every address in every field of that name."""
        return [(display, address.lower()) for display, address in self.written_mailboxes(name)]

    def written_mailboxes(self, name: str) -> list[tuple[str, str]]:
        """The same, each address as written (a word the parser took for an address may be
        part of a name)."""
        try:
            if self._message is None:
                raise LookupError(name)
            found = [
                (address.display_name, address.addr_spec)
                for header in self._message.get_all(name) or []
                for address in header.addresses
            ]
        except Exception:  # the parser refused it: the older, laxer reader
            found = self._lenient_mailboxes(name)
        cleaned = [(_clean(display, NAME_LIMIT), _clean(address)) for display, address in found]
        return [(display, address) for display, address in cleaned if address]

    def _lenient_mailboxes(self, name: str) -> list[tuple[str, str]]:
        values = [_quoted_words(_clean(value)) for value in self.raw(name)]
        try:
            pairs = getaddresses(values)
        except Exception:  # nested comments beyond the recursion limit, say
            pairs = [
                ("", bracketed or bare)
                for value in values
                for bracketed, bare in _BARE_ADDRESS.findall(value)
            ]
        return [(_decoded_words(display), address) for display, address in pairs]

    def message_ids(self, name: str) -> tuple[str, ...]:
        return tuple(_bounded_id(found) for found in _MESSAGE_ID.findall(self.text(name)))

    def automated(self, sender: str) -> bool:
        auto_submitted = self.text("Auto-Submitted").lower() or "no"
        precedence = self.text("Precedence").lower()
        mailbox = sender.split("@", 1)[0]
        return (
            auto_submitted != "no"
            or precedence in ("bulk", "list", "junk", "auto_reply")
            or any(self.count(name) for name in ("X-Autoreply", "X-Autorespond", "List-Id"))
            or bool(_MACHINE_SENDERS.match(mailbox))
        )


def _bounded_id(message_id: str) -> str:
    """A Message-ID as keys hold it: hashed when longer than they can carry."""
    if len(message_id.encode("utf-8")) <= MESSAGE_ID_LIMIT:
        return message_id
    return f"sha256.{hashlib.sha256(message_id.encode('utf-8')).hexdigest()}"


def _sender(headers: _Headers) -> tuple[str, str | None]:
    """The one address of the one From field, if it is one Threadline can answer. Mail with
    none ("undisclosed-recipients:;"), several, or several From fields names nobody that
    DMARC vouched for, so it names nobody here either. Words without "@" beside the address
    are no senders: they are its name, split at a comma a careless mailer left unquoted
    ("Souza, José <jose@…>" reads as "souza" and "José <jose@…>"), and are joined back."""
    mailboxes = headers.written_mailboxes("From")
    addresses = [address for _, address in mailboxes if "@" in address]
    if headers.count("From") != 1 or len(addresses) != 1:
        return "", None
    address = addresses[0].lower()
    if len(address) > 254 or not _MAILBOX.fullmatch(address):
        return "", None
    name = ", ".join(
        part for display, written in mailboxes if (part := display if "@" in written else written)
    )
    return address, name[:NAME_LIMIT] or None


def html_to_text(html: str) -> str:
    """HTML as plain text: tamed first (see `_tamed`), and html2text stopped once it has
    written BODY_LIMIT characters (nested lists and quotes make its output grow faster than
    its input)."""
    import html2text

    written: list[str] = []
    size = 0

    def write(text: str) -> None:
        nonlocal size
        converter.outtextf(text)
        written.append(text)
        size += len(text)
        if size > BODY_LIMIT:
            raise _Enough

    # html2text types its callback as a class of its own; any callable does.
    converter = html2text.HTML2Text(out=cast("OutCallback", write))
    _configure(converter)
    try:
        text = converter.handle(_tamed(html[:HTML_LIMIT]))
    except _Enough:
        # What `handle` would have finished with: its placeholder for &nbsp; made a space.
        text = "".join(written).replace("&nbsp_place_holder;", " ")
    text = text[:BODY_LIMIT]
    # Markdown links and hard breaks read badly in Slack and in a reply: plain text instead.
    text = _MARKDOWN_LINK.sub(
        lambda m: m.group(2) if m.group(1) in ("", m.group(2)) else f"{m.group(1)} ({m.group(2)})",
        text,
    )
    text = _AUTOLINK.sub(r"\1", text)
    return "\n".join(line.rstrip(" \t") for line in text.split("\n")).strip()


class _Enough(Exception):
    """html2text has written all of the text that will be read."""


def _configure(converter: "HTML2Text") -> None:
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True


# Dropped with what they hold: the text of a mail is never in them.
_DROPPED_BLOCKS = (("<!--", "-->"), ("<script", "</script"), ("<style", "</style"))
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _tamed(html: str) -> str:
    """HTML whose markup the standard HTML parser reads in linear time. That parser looks
    again from each `<` for the end of an unfinished construct (quadratic: 50,000 `<a` took
    3 s), so comments, scripts and styles are dropped (to the end when unclosed), and so are
    declarations and processing instructions; a `<` whose tag does not close before the
    next `<` becomes text (`&lt;`). One pass: every search starts where the last ended."""
    lowered = html.translate(_ASCII_LOWER)
    parts: list[str] = []
    position, length = 0, len(html)
    close = -1  # the first ">" after the current "<"; `length` when there is none
    while (start := html.find("<", position)) >= 0:
        parts.append(html[position:start])
        block = next((b for b in _DROPPED_BLOCKS if lowered.startswith(b[0], start)), None)
        if block is not None:
            position = _after_block(lowered, block[1], start + len(block[0]))
            continue
        if close < start:
            found = html.find(">", start)
            close = length if found < 0 else found
        if close == length or html.find("<", start + 1, close) >= 0:
            parts.append("&lt;")
            position = start + 1
            continue
        if html[start + 1 : start + 2] not in ("!", "?"):
            parts.append(html[start : close + 1])
        position = close + 1
    parts.append(html[position:])
    return "".join(parts)


def _after_block(lowered: str, closing: str, start: int) -> int:
    """Where a dropped block ends: after its closing (a closing tag's `>` included), or at
    the end of the HTML when it is never closed."""
    end = lowered.find(closing, start)
    if end < 0:
        return len(lowered)
    end += len(closing)
    if not closing.startswith("</"):
        return end
    tag_end = lowered.find(">", end)
    return len(lowered) if tag_end < 0 else tag_end + 1


@cache
def _quoted_header() -> "re.Pattern[str]":
    """mail-parser-reply's pattern for the headers that start quoted history ("On … wrote:",
    Outlook's From/Sent block, "-----Original Message-----"), in our languages. Only the
    pattern: its parser also runs signature and disclaimer patterns that backtrack
    quadratically on long runs of blank lines (16,000 took 39 s), and cuts nothing with them."""
    from mailparser_reply.parser import EmailMessage as ReplyParserMessage

    message = ReplyParserMessage(text="", languages=list(REPLY_PARSER_LANGUAGES))
    return cast("re.Pattern[str]", message.HEADER_REGEX)


def _first_wrote_line(probe_lines: list[str]) -> int | None:
    for n, line in enumerate(probe_lines):
        wrapped = f"{line}\n{probe_lines[n + 1]}" if n + 1 < len(probe_lines) else line
        if any(marker.matches(line) or marker.matches(wrapped) for marker in _WROTE_LINES):
            return n
    return None


def _line_of(probe: str, position: int) -> int:
    """The line a match at `position` starts on (a match may start at the line break before)."""
    if probe[position : position + 1] == "\n":
        position += 1
    return probe.count("\n", 0, position)


def _history_line(lines: list[str]) -> int | None:
    """The first line of the quoted history, if any: our markers, then mail-parser-reply's
    headers before them, as its parser reads them (a header with nothing but blank lines
    before it starts the reply rather than ending it)."""
    probe_lines = [line[:PROBE_LINE] for line in lines]
    probe = "\n".join(probe_lines)
    found = [
        _line_of(probe, match.start())
        for pattern in (_OUTLOOK, _ORIGINAL, _SIGNATURE)
        if (match := pattern.search(probe))
    ]
    wrote = _first_wrote_line(probe_lines)
    ours = min([*found, *([] if wrote is None else [wrote])], default=len(lines))
    before_ours = "\n".join(line[:HEADER_LINE] for line in probe_lines[:ours])
    for match in _quoted_header().finditer(before_ours):
        if before_ours[: match.start()].strip():
            return _line_of(before_ours, match.start())
    return ours if ours < len(lines) else None


def _without_separators(lines: list[str]) -> list[str]:
    """Outlook's rule above the quoted block (32 or more `_` or `-` after a blank line) taken
    out with the blank lines before it, as mail-parser-reply reads mail."""
    kept: list[str] = []
    text_before = False
    for line in lines:
        rule = _OUTLOOK_RULE.match(line)
        if rule is None or not text_before or kept[-1]:
            kept.append(line)
            text_before = text_before or bool(line)
            continue
        while not kept[-1]:
            kept.pop()
        kept.append(line[rule.end() :])
    return kept


def latest_reply(text: str) -> str:
    """What a customer wrote this time: the quoted history and signature cut off. Reads
    BODY_LIMIT characters at most."""
    text = text[:BODY_LIMIT].replace("\r\n", "\n")
    lines = [
        "" if len(line) <= PROBE_LINE and _SENT_FROM_LINE.fullmatch(line) else line
        for line in (line.strip() for line in text.split("\n"))
    ]
    cut = _history_line(lines)
    lines = _without_separators(lines if cut is None else lines[:cut])
    while lines and not lines[-1]:
        lines.pop()
    # Trailing quoted lines the markers did not catch ("> ...").
    while lines and lines[-1].startswith(">"):
        lines.pop()
    return "\n".join(lines).strip()


def _safe_filename(name: str | None, n: int) -> str:
    """An attachment's name as an S3 key part and a Slack file name: one line, no path
    separators, at most FILENAME_LIMIT characters with its extension kept."""
    cleaned = _FILENAME_UNSAFE.sub("_", _clean(name or "")).strip(". ")
    if not cleaned:
        return f"attachment-{n}"
    if len(cleaned) <= FILENAME_LIMIT:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        return cleaned[:FILENAME_LIMIT]
    return f"{stem[: FILENAME_LIMIT - len(extension) - 1]}.{extension}"


def _undeclared_utf8(body: MIMEPart) -> str | None:
    """A body sent as 8-bit UTF-8 without saying so (no charset, or US-ASCII), as many
    mailers do: read as UTF-8 rather than as ASCII with every accent replaced."""
    if body.get_content_charset() not in (None, "us-ascii", "ascii"):
        return None
    payload = body.get_payload(decode=True)
    if not isinstance(payload, bytes) or payload.isascii():
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = _undeclared_utf8(body)
    if content is None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):
            # An unknown charset: the bytes as Latin-1 beat losing the message.
            payload = body.get_payload(decode=True)
            content = payload.decode("latin-1") if isinstance(payload, bytes) else ""
    if body.get_content_type() == "text/html":
        return html_to_text(repaired(content[:HTML_LIMIT]))
    return repaired(content[:BODY_LIMIT])


def _attachments(message: EmailMessage) -> Iterator[MediaFile | None]:
    """Each attachment, or None for one that cannot be read (or that is too large)."""
    for n, part in enumerate(message.iter_attachments(), start=1):
        if n > ATTACHMENT_LIMIT:
            yield None
            return
        try:
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes) or len(data) > MEDIA_LIMIT_BYTES:
                yield None
                continue
            name = _safe_filename(part.get_filename(), n)
            yield MediaFile(name, _clean(part.get_content_type()), data)
        except Exception:  # one broken part: the others still come
            yield None


def _parsed_message(head: bytes, body: bytes) -> tuple[EmailMessage | None, bool]:
    """The message as the standard parser reads it, and whether its body could be read;
    its headers alone when the body cannot be (MIME nested past the recursion limit)."""
    parser = BytesParser(policy=policy.default)
    try:
        message = parser.parsebytes(head + b"\r\n\r\n" + body)
        assert isinstance(message, EmailMessage)
        return message, True
    except Exception:  # the body is beyond the parser: the headers still name the sender
        try:
            headers_only = parser.parsebytes(head + b"\r\n\r\n", headersonly=True)
            assert isinstance(headers_only, EmailMessage)
            return headers_only, False
        except Exception:  # nothing the standard parser can read: the raw fields remain
            return None, False


def parse_email(raw: bytes) -> ParsedEmail:
    """A raw RFC 5322 message, read leniently: a header or part that cannot be decoded is
    taken as it comes rather than refused, and nothing in it raises."""
    head, body = _bounded(raw)
    message, complete = _parsed_message(head, body)
    headers = _Headers(message, _fields(head))
    sender, sender_name = _sender(headers)
    recipients = tuple(
        address for name in ("To", "Cc", "Delivered-To") for _, address in headers.mailboxes(name)
    )
    text, attachments = "", []
    if message is not None and complete:
        try:
            text = latest_reply(_body_text(message))
        except Exception:  # a body beyond the parser: stored, and shown as unread
            complete = False
        try:
            for attachment in _attachments(message):
                if attachment is None:
                    complete = False
                else:
                    attachments.append(attachment)
        except Exception:  # the attachments beyond the parser
            complete = False
    try:
        is_report = message is not None and message.get_content_type() == "multipart/report"
    except Exception:
        is_report = False
    message_ids = headers.message_ids("Message-ID")
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=next(iter(headers.message_ids("In-Reply-To")), None),
        references=headers.message_ids("References")[-REFERENCES_LIMIT:],
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        subject=headers.text("Subject", SUBJECT_LIMIT),
        text=text,
        attachments=tuple(attachments),
        automated=headers.automated(sender),
        is_report=is_report,
        complete=complete,
    )
