"""What becomes of a mail SES received: decided here, carried out by the mail intake.

In the order the intake learns what it needs: the receipt (which shops it was sent to, SES's
verdicts, whether the mail was stored), the mail once read (a delivery report, its sender),
then for each shop what the store already held under the mail's key.
"""

from dataclasses import dataclass

from chalicelib.domain.messages import InboundMessage, InboundStatus

# A mail longer than this is cut for Slack and the queue, shorter still when its escaped
# JSON would not fit in the queue; the whole stays in S3.
TEXT_LIMIT = 20_000
CUT = "\n…"
# What agents see of a mail that could not be read in full: where the whole of it is.
UNREADABLE = "[This mail could not be read in full; the original is kept (SES message {ses_id}).]"


@dataclass(frozen=True)
class NoShop:
    """Sent to no address of any shop: dropped."""


@dataclass(frozen=True)
class Quarantine:
    """Kept for an operator, counted under `reason` for each shop, never shown to agents."""

    reason: str


@dataclass(frozen=True)
class NotStored:
    """SES announced a mail it did not store: there is nothing to read."""


@dataclass(frozen=True)
class Read:
    """A mail for the shops, to be read."""


@dataclass(frozen=True)
class DeliveryReport:
    """A report on mail we sent: those arrive as SES's events, not here; counted, dropped."""


@dataclass(frozen=True)
class Take:
    """A customer's mail, to be stored and queued for each shop."""


@dataclass(frozen=True)
class Finish:
    """This delivery's copy of the mail is the stored one: its attachments kept, `message`
    queued (the one a retry of the delivery finds stored, or the one just stored)."""

    message: InboundMessage


@dataclass(frozen=True)
class Duplicate:
    """Another delivery of the same sender's Message-ID was stored first and stands, with
    its own attachments; `kept`: the raw mail its copy names."""

    kept: tuple[str, str] | None


@dataclass(frozen=True)
class Done:
    """This very delivery was stored and queued before: nothing left to do."""

    kept: tuple[str, str] | None


def on_receipt(
    *, shops: int, quarantine_reason: str | None, stored: bool
) -> NoShop | Quarantine | NotStored | Read:
    """What a receipt for mail sent to `shops` shops calls for, before the mail is read.
    `quarantine_reason`: SES's verdicts (spam, a virus, DMARC) found it suspect."""
    if shops == 0:
        return NoShop()
    if quarantine_reason is not None:
        return Quarantine(quarantine_reason)
    if not stored:
        return NotStored()
    return Read()


def on_reading(*, is_report: bool, sender: str) -> DeliveryReport | Quarantine | Take:
    """What the mail, once read, calls for."""
    if is_report:
        return DeliveryReport()
    if not sender:
        # No one address in the one From field (undisclosed-recipients:;, several, a
        # malformed one): DMARC vouched for no sender, and the envelope's is not
        # protected, so the mail speaks for nobody and joins no conversation.
        return Quarantine("no_sender")
    return Take()


def agents_text(text: str, *, complete: bool, ses_id: str) -> str:
    """The mail's text as agents read it: said to be partial where it could not be read in
    full, and cut past `TEXT_LIMIT`."""
    if not complete:
        note = UNREADABLE.format(ses_id=ses_id)
        text = f"{note}\n\n{text}" if text else note
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + CUT
    return text


def on_stored(
    message: InboundMessage,
    earlier: tuple[InboundMessage, InboundStatus] | None,
    raw: tuple[str, str] | None,
) -> Finish | Duplicate | Done:
    """What storing `message`, which names the raw mail `raw`, calls for, given what the
    store held under its key already (`earlier`: the stored copy and its status)."""
    if earlier is None:
        return Finish(message)
    stored, status = earlier
    stored_raw = stored.email.raw_location if stored.email else None
    if stored_raw is None or raw is None or raw_object_name(stored_raw) != raw_object_name(raw):
        # Another delivery of the same sender's Message-ID (or one stored before raw mail
        # was noted).
        return Duplicate(stored_raw)
    if status is not InboundStatus.RECEIVED:
        return Done(stored_raw)
    # A retry of this very delivery (SES's object or a copy of it, whichever this shop's
    # is): it finds its own copy, and finishes it.
    return Finish(stored)


def raw_object_name(raw: tuple[str, str]) -> str:
    """The name SES gave a received mail's object (its id), which the shops' copies keep."""
    return raw[1].rpartition("/")[2]
