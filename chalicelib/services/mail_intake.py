"""Email's ack path: SES received a message (stored in S3, announced on SNS), or has news of
one we sent.

A received message is matched to every shop whose address it was sent to (plus-addressing
included), each given its own raw object at once, tagged for its retention (SES's for the
first shop, a copy for each other one: one shop's erasure or retention never removes what
another's message needs); then checked (SES's spam, virus and DMARC verdicts, and a sender
it names), read once, stripped of quoted history, and for each shop stored and queued like
any customer message of that shop, its attachments kept once it is stored.

It is stored under its sender and Message-ID together (hashed: `delivery_id`), so the same
mail delivered twice is stored once while another sender reusing the Message-ID is stored
apart; attachments go under SES's id for the delivery, written only by the delivery whose
copy was stored (a Lambda retry of it writes them again, a duplicate writes nothing). A
duplicate's raw object is deleted, once every shop has the mail: the stored copy's raw mail
stands for it, and is the one a customer's erasure finds.

Delivery reports and mail for no shop are dropped; mail without a usable sender is
quarantined, and so is spam, a virus, or a sender that failed its domain's DMARC policy; a
mail whose headers and attachment list alone are more than the inbound queue carries is
dropped and counted. Each stays in S3 for an operator. A mail that cannot be read in full
is still stored and queued, marked as such for the agents.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger

from chalicelib.channels.email import (
    ReceivedMail,
    delivery_id,
    delivery_update,
    parse_delivery_event,
    parse_received,
    ses_notice,
    split_address,
)
from chalicelib.channels.email_parsing import ParsedEmail, parse_email
from chalicelib.domain.email_threading import EmailHeaders
from chalicelib.domain.mail_decision import (
    CUT,
    DeliveryReport,
    Done,
    Duplicate,
    NoShop,
    Quarantine,
    Read,
    agents_text,
    on_reading,
    on_receipt,
    on_stored,
    raw_object_name,
)
from chalicelib.domain.messages import InboundMessage, MediaItem
from chalicelib.domain.shop import RETENTION_DAYS, Shop
from chalicelib.domain.vocabulary import Channel
from chalicelib.media import MediaStore
from chalicelib.queues import Queues, fits_in_queue
from chalicelib.services.ports import Clock, CounterRecords, InboundRecords, ShopRecords

logger = Logger(service="threadline", child=True)

_SES_ID = re.compile(r"[A-Za-z0-9-]{1,100}")


@dataclass(frozen=True)
class _Delivery:
    """A received mail for one shop it was sent to."""

    shop_id: str
    shop: Shop | None
    shop_address: str
    # The plus tag of the address it was sent to (a conversation's own address).
    token: str | None
    # The shop's own copy of the raw mail, the one its stored message names.
    raw: tuple[str, str] | None


class MailIntake:
    def __init__(
        self,
        shops: ShopRecords,
        inbound: InboundRecords,
        counters: CounterRecords,
        queues: Queues,
        media: MediaStore,
        clock: Clock,
    ) -> None:
        self._shops = shops
        self._inbound = inbound
        self._counters = counters
        self._queues = queues
        self._media = media
        self._clock = clock

    def received(self, notification: str) -> None:
        notice = ses_notice(notification)
        if notice is None or notice.notification_type != "Received":
            # SES's test notification, or something else on the topic: no mail to read, and
            # no retry would make one.
            kind = notice.notification_type or notice.event_type if notice else None
            logger.warning("notification that is not a mail dropped", notification_type=kind)
            return
        received = parse_received(notification)
        action = received.receipt.action
        stored_at = action.bucket_name, action.object_key
        raw = (stored_at[0], stored_at[1]) if stored_at[0] and stored_at[1] else None
        addressed = self._addressed_shops(received)
        verdict = on_receipt(
            shops=len(addressed),
            quarantine_reason=received.quarantine_reason,
            stored=raw is not None,
        )
        if isinstance(verdict, NoShop):
            logger.warning("mail for no shop dropped", ses_message_id=received.mail.message_id)
            self._tag_raw(raw, RETENTION_DAYS[0])
            return
        # Each shop's raw copy made and tagged before anything that can fail (reading,
        # parsing), so that a mail whose handling keeps failing is not kept forever.
        deliveries = [self._delivery(shop, raw, first=n == 0) for n, shop in enumerate(addressed)]
        if isinstance(verdict, Quarantine):
            self._quarantine(deliveries, verdict.reason)
        elif isinstance(verdict, Read) and raw is not None:
            self._read(raw, deliveries, received)
        else:
            logger.warning("receipt without a stored message", shop_id=deliveries[0].shop_id)

    def _read(
        self, raw: tuple[str, str], deliveries: list[_Delivery], received: ReceivedMail
    ) -> None:
        """Reads the mail once, and hands it to each shop it was sent to."""
        parsed = parse_email(self._media.read(*raw))
        verdict = on_reading(is_report=parsed.is_report, sender=parsed.sender)
        if isinstance(verdict, DeliveryReport):
            for delivery in deliveries:
                self._counters.count(delivery.shop_id, "delivery_reports")
            return
        if isinstance(verdict, Quarantine):
            self._quarantine(deliveries, verdict.reason)
            return
        named = [self._take(delivery, parsed, received) for delivery in deliveries]
        # A raw copy no stored message names would outlive the customer's erasure, which
        # finds the ones their messages name. Deleted once every shop has the mail (a retry
        # until then reads it again), SES's own object last.
        for bucket, key in reversed(_superfluous(deliveries, named)):
            self._media.erase(bucket, [key])

    def _delivery(
        self, addressed: tuple[str, str, str | None], raw: tuple[str, str] | None, *, first: bool
    ) -> _Delivery:
        """The mail as one shop it was sent to receives it, with the shop's own raw copy made
        and tagged for the shop's retention: SES's object for the first shop, a copy for each
        other, so that no shop's erasure or retention removes what another's message needs."""
        shop_id, shop_address, token = addressed
        shop = self._shops.get_shop(shop_id)
        retention_days = shop.retention_days if shop else None
        own = raw
        if raw is not None and not first:
            own = raw[0], _copy_key(raw[1], shop_id)
            self._media.copy(*raw, own[1], retention_days=retention_days)
        else:
            self._tag_raw(raw, retention_days)
        return _Delivery(shop_id, shop, shop_address, token, own)

    def _take(
        self, delivery: _Delivery, parsed: ParsedEmail, received: ReceivedMail
    ) -> tuple[str, str] | None:
        """Stores and queues the mail for one shop it was sent to; returns the raw mail the
        shop's stored copy of it names (None when none is stored, or it names none)."""
        shop_id, shop = delivery.shop_id, delivery.shop
        ses_id = received.mail.message_id
        message_key = f"email:{delivery_id(parsed.sender, parsed.message_id or f'{ses_id}@ses')}"
        # Under SES's id for this delivery: no other mail, whatever it claims, writes there.
        folder = f"{shop_id}/inbound/{message_key}/{_key_part(ses_id)}"
        attachments = {
            f"{folder}/{n}-{attachment.filename}": attachment
            for n, attachment in enumerate(parsed.attachments)
        }
        media = tuple(
            MediaItem(url=self._media.url(key), content_type=attachment.content_type)
            for key, attachment in attachments.items()
        )
        received_at = received.mail.timestamp or self._clock()
        message = _cut_to_fit(_inbound(delivery, parsed, ses_id, message_key, media, received_at))
        if message is None:
            # Kept in S3 by SES for an operator to look at, like quarantined mail.
            logger.warning("mail too large to queue", shop_id=shop_id, message_key=message_key)
            self._counters.count(shop_id, "too_large")
            return None
        earlier = self._inbound.save_inbound(
            message, expires_at=shop.expiry(message.received_at) if shop else None
        )
        outcome = on_stored(message, earlier, delivery.raw)
        if isinstance(outcome, Duplicate):
            logger.info("duplicate mail", shop_id=shop_id, message_key=message_key)
            return outcome.kept
        if isinstance(outcome, Done):
            return outcome.kept
        # Written once the message is ours: a duplicate never gets here.
        for key, attachment in attachments.items():
            self._media.keep(key, attachment, retention_days=shop.retention_days if shop else None)
        self._queues.send_inbound(outcome.message)
        email = outcome.message.email
        return email.raw_location if email else None

    def _addressed_shops(self, received: ReceivedMail) -> list[tuple[str, str, str | None]]:
        """Every shop the mail was sent to, once each, in the order of the envelope's
        recipients: the shop, the address it used, and its plus tag."""
        found: dict[str, tuple[str, str, str | None]] = {}
        for recipient in received.receipt.recipients:
            shop_address, token = split_address(recipient)
            shop_id = self._shops.shop_for_address(shop_address)
            if shop_id and shop_id not in found:
                found[shop_id] = (shop_id, shop_address, token)
        return list(found.values())

    def _tag_raw(self, raw: tuple[str, str] | None, retention_days: int | None) -> None:
        if raw is not None and retention_days is not None:
            self._media.expire_after(raw[0], raw[1], retention_days)

    def _quarantine(self, deliveries: list[_Delivery], reason: str) -> None:
        # Kept in S3 by SES for an operator to look at; never shown to agents.
        for delivery in deliveries:
            logger.warning("mail quarantined", shop_id=delivery.shop_id, reason=reason)
            self._counters.count(delivery.shop_id, f"quarantined_{reason}")

    def delivery_event(self, notification: str) -> None:
        """SES's news of a mail we sent: delivered, bounced, complained about, rejected."""
        notice = ses_notice(notification)
        if notice is None or notice.event_type is None:
            # SES's test notification when the topic was set up, or something else: nothing
            # to apply, and no retry would make it something.
            kind = notice.notification_type if notice else None
            logger.warning("notification that is not a mail event dropped", notification_type=kind)
            return
        event = parse_delivery_event(notification)
        if event is None:
            return
        shop_id = self._shops.shop_for_address(split_address(_address_of(event.mail.source))[0])
        if shop_id is None:
            logger.warning("event for mail of no shop", ses_message_id=event.mail.message_id)
            return
        self._queues.send_outbound(delivery_update(event, shop_id))


def _superfluous(
    deliveries: list[_Delivery], named: list[tuple[str, str] | None]
) -> list[tuple[str, str]]:
    """The raw objects of this delivery that no stored message needs: each shop's whose
    stored copy of the mail names another (it came with another delivery of the mail: the
    sender's server sent it twice). A shop's own copy is only ever named by that shop's
    message; SES's object may be named by another shop's (the one first among the
    recipients when the mail was handled before), so it goes only when no shop's message
    names it and the first shop's came with another delivery altogether."""
    found = []
    for n, (delivery, kept) in enumerate(zip(deliveries, named, strict=True)):
        if delivery.raw is None or kept is None or kept == delivery.raw:
            continue
        if n > 0 or (
            delivery.raw not in named and raw_object_name(kept) != raw_object_name(delivery.raw)
        ):
            found.append(delivery.raw)
    return found


def _inbound(
    delivery: _Delivery,
    parsed: ParsedEmail,
    ses_id: str,
    message_key: str,
    media: tuple[MediaItem, ...],
    received_at: datetime,
) -> InboundMessage:
    """The mail as the shop's customer message, before it is cut to fit the queue."""
    return InboundMessage(
        shop_id=delivery.shop_id,
        channel=Channel.EMAIL,
        provider="email",
        provider_message_id=message_key.removeprefix("email:"),
        customer_address=parsed.sender,
        shop_address=delivery.shop_address,
        customer_name=parsed.sender_name,
        text=agents_text(parsed.text, complete=parsed.complete, ses_id=ses_id),
        media=media,
        received_at=received_at,
        email=EmailHeaders(
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            subject=parsed.subject,
            reply_token=delivery.token,
            automated=parsed.automated,
            raw_location=delivery.raw,
        ),
        shop_incarnation=delivery.shop.incarnation if delivery.shop else None,
    )


def _copy_key(key: str, shop_id: str) -> str:
    """Where a shop's copy of SES's raw mail goes: beside it, in a folder named after the
    shop (`inbound-mail/<id>` → `inbound-mail/<shop>/<id>`), where SES never writes since
    its ids hold no "/", and where the bucket's raw-mail expiry applies as to SES's."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/{shop_id}/{name}" if folder else f"{shop_id}/{name}"


def _cut_to_fit(message: InboundMessage) -> InboundMessage | None:
    """The message, its text cut as short as the inbound queue needs (JSON escapes a
    character into up to 12 bytes); None when even without its text it does not fit."""
    if fits_in_queue(message):
        return message
    text = message.text

    def cut(length: int) -> InboundMessage:
        return message.model_copy(update={"text": text[:length] + CUT})

    if not fits_in_queue(cut(0)):
        return None
    # The longest cut that fits: text[:fitting] fits, text[:too_long] does not.
    fitting, too_long = 0, len(text)
    while too_long - fitting > 1:
        middle = (fitting + too_long) // 2
        fitting, too_long = (middle, too_long) if fits_in_queue(cut(middle)) else (fitting, middle)
    return cut(fitting)


def _key_part(ses_id: str) -> str:
    """SES's message id as a key part (its own characters), hashed if it has others."""
    if _SES_ID.fullmatch(ses_id):
        return ses_id
    return hashlib.sha256(ses_id.encode("utf-8")).hexdigest()


def _address_of(source: str) -> str:
    """`"Bia (Loja)" <support@shop.example>` → `support@shop.example`."""
    from email.utils import parseaddr

    return parseaddr(source)[1] or source
