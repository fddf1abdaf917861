"""Email's ack path: SES received a message (stored in S3, announced on SNS), or has news of
one we sent.

A received message is checked (SES's spam and virus verdicts), read, matched to the shop
whose address it was sent to (plus-addressing included), stripped of quoted history, its
attachments kept, then stored and queued like any customer message: the same Message-ID
delivered twice is stored once. Delivery reports and mail for no shop are dropped, and so is
a mail whose headers and attachment list alone are more than the inbound queue carries.
"""

from aws_lambda_powertools import Logger

from chalicelib.channels.email import (
    delivery_update,
    parse_delivery_event,
    parse_received,
    split_address,
)
from chalicelib.channels.email_parsing import parse_email
from chalicelib.domain.conversation import (
    Channel,
    EmailHeaders,
    InboundMessage,
    InboundStatus,
    MediaItem,
)
from chalicelib.media import MediaStore
from chalicelib.queues import Queues, fits_in_queue
from chalicelib.services.ports import Clock
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# A mail longer than this is cut for Slack and the queue, shorter still when its escaped
# JSON would not fit in the queue; the whole stays in S3.
TEXT_LIMIT = 20_000
CUT = "\n…"


class MailIntake:
    def __init__(self, store: Store, queues: Queues, media: MediaStore, clock: Clock) -> None:
        self._store = store
        self._queues = queues
        self._media = media
        self._clock = clock

    def received(self, notification: str) -> None:
        received = parse_received(notification)
        shop_id, shop_address, token = None, "", None
        for recipient in received.receipt.recipients:
            shop_address, token = split_address(recipient)
            shop_id = self._store.shop_for_address(shop_address)
            if shop_id:
                break
        if shop_id is None:
            logger.warning("mail for no shop dropped", ses_message_id=received.mail.message_id)
            return
        action = received.receipt.action
        shop = self._store.get_shop(shop_id)
        retention_days = shop.retention_days if shop else None
        if retention_days is not None and action.bucket_name and action.object_key:
            # Quarantined mail too: a false positive is a customer's mail like any other.
            self._media.expire_after(action.bucket_name, action.object_key, retention_days)
        reason = received.quarantine_reason
        if reason is not None:
            # Kept in S3 by SES for an operator to look at; never shown to agents.
            logger.warning("mail quarantined", shop_id=shop_id, reason=reason)
            self._store.count(shop_id, f"quarantined_{reason}")
            return
        if not action.bucket_name or not action.object_key:
            logger.warning("receipt without a stored message", shop_id=shop_id)
            return
        parsed = parse_email(self._media.read(action.bucket_name, action.object_key))
        if parsed.is_report:
            # Delivery reports of our own mail arrive as SES events, not here.
            self._store.count(shop_id, "delivery_reports")
            return
        message_id = parsed.message_id or f"{received.mail.message_id}@ses"
        message_key = f"email:{message_id}"
        attachments = {
            f"{shop_id}/inbound/{message_key}/{n}-{attachment.filename}": attachment
            for n, attachment in enumerate(parsed.attachments)
        }
        media = tuple(
            MediaItem(url=self._media.url(key), content_type=attachment.content_type)
            for key, attachment in attachments.items()
        )
        text = parsed.text
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT] + CUT
        message = InboundMessage(
            shop_id=shop_id,
            channel=Channel.EMAIL,
            provider="email",
            provider_message_id=message_id,
            customer_address=parsed.sender or split_address(received.mail.source)[0],
            shop_address=shop_address,
            customer_name=parsed.sender_name,
            text=text,
            media=media,
            received_at=received.mail.timestamp or self._clock(),
            email=EmailHeaders(
                message_id=parsed.message_id,
                in_reply_to=parsed.in_reply_to,
                references=parsed.references,
                subject=parsed.subject,
                reply_token=token,
                automated=parsed.automated,
                raw_location=(action.bucket_name, action.object_key),
            ),
            shop_incarnation=shop.incarnation if shop else None,
        )
        fitting = _cut_to_fit(message)
        if fitting is None:
            # Kept in S3 by SES for an operator to look at, like quarantined mail.
            logger.warning("mail too large to queue", shop_id=shop_id, message_key=message_key)
            self._store.count(shop_id, "too_large")
            return
        message = fitting
        for key, attachment in attachments.items():
            self._media.keep(key, attachment, retention_days=retention_days)
        stored = self._store.save_inbound(
            message, expires_at=shop.expiry(message.received_at) if shop else None
        )
        if stored is not None:
            message, status = stored
            if status is not InboundStatus.RECEIVED:
                logger.info("duplicate mail", message_key=message.message_key)
                return
        self._queues.send_inbound(message)

    def delivery_event(self, notification: str) -> None:
        """SES's news of a mail we sent: delivered, bounced, complained about, rejected."""
        event = parse_delivery_event(notification)
        if event is None:
            return
        shop_id = self._store.shop_for_address(split_address(_address_of(event.mail.source))[0])
        if shop_id is None:
            logger.warning("event for mail of no shop", ses_message_id=event.mail.message_id)
            return
        self._queues.send_outbound(delivery_update(event, shop_id))


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


def _address_of(source: str) -> str:
    """`"Bia (Loja)" <support@shop.example>` → `support@shop.example`."""
    from email.utils import parseaddr

    return parseaddr(source)[1] or source
