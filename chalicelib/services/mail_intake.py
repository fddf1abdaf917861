"""Email's ack path: SES received a message (stored in S3, announced on SNS), or has news of
one we sent.

A received message is checked (SES's spam and virus verdicts), read, matched to the shop
whose address it was sent to (plus-addressing included), stripped of quoted history, its
attachments kept, then stored and queued like any customer message: the same Message-ID
delivered twice is stored once. Delivery reports and mail for no shop are dropped.
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
from chalicelib.queues import Queues
from chalicelib.services.ports import Clock
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# A mail longer than this is cut for Slack and the queue; the whole stays in S3.
TEXT_LIMIT = 20_000


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
        reason = received.quarantine_reason
        if reason is not None:
            # Kept in S3 by SES for an operator to look at; never shown to agents.
            logger.warning("mail quarantined", shop_id=shop_id, reason=reason)
            self._store.count(shop_id, f"quarantined_{reason}")
            return
        action = received.receipt.action
        if not action.bucket_name or not action.object_key:
            logger.warning("receipt without a stored message", shop_id=shop_id)
            return
        shop = self._store.get_shop(shop_id)
        retention_days = shop.retention_days if shop else None
        if retention_days is not None:
            self._media.expire_after(action.bucket_name, action.object_key, retention_days)
        parsed = parse_email(self._media.read(action.bucket_name, action.object_key))
        if parsed.is_report:
            # Delivery reports of our own mail arrive as SES events, not here.
            self._store.count(shop_id, "delivery_reports")
            return
        message_id = parsed.message_id or f"{received.mail.message_id}@ses"
        message_key = f"email:{message_id}"
        media = []
        for n, attachment in enumerate(parsed.attachments):
            key = f"{shop_id}/inbound/{message_key}/{n}-{attachment.filename}"
            self._media.keep(key, attachment, retention_days=retention_days)
            media.append(MediaItem(url=self._media.url(key), content_type=attachment.content_type))
        text = parsed.text
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT] + "\n…"
        message = InboundMessage(
            shop_id=shop_id,
            channel=Channel.EMAIL,
            provider="email",
            provider_message_id=message_id,
            customer_address=parsed.sender or split_address(received.mail.source)[0],
            shop_address=shop_address,
            customer_name=parsed.sender_name,
            text=text,
            media=tuple(media),
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
        )
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


def _address_of(source: str) -> str:
    """`"Bia (Loja)" <support@shop.example>` → `support@shop.example`."""
    from email.utils import parseaddr

    return parseaddr(source)[1] or source
