"""Email through Amazon SES: receipt notifications in, SESv2 raw MIME out, delivery events.

SES stores each received message in S3 and says so on an SNS topic; the notification is read
leniently here (its keys vary), the MIME by `email_parsing`. Replies are built as proper MIME
(text and simple HTML, the shop's address with a display name, Reply-To the conversation's
own address, In-Reply-To and References) and sent raw, so every mail client threads them.
"""

import hashlib
import html
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.channels.base import (
    MEDIA_LIMIT_BYTES,
    DeliveryRefused,
    MediaFile,
    SendReceipt,
)
from chalicelib.domain.errors import BadRequest, Retryable
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus, MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.single_line import single_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client
else:
    S3Client = Any
    SESV2Client = Any

CONFIGURATION_SET = "threadline"
_PLUS = re.compile(r"^(?P<local>[^+@]+)(?:\+(?P<tag>[^@]*))?@(?P<domain>.+)$")


class _Lenient(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)


class Verdict(_Lenient):
    status: str = "GRAY"


class ReceiptAction(_Lenient):
    type: str = ""
    bucket_name: str | None = Field(default=None, alias="bucketName")
    object_key: str | None = Field(default=None, alias="objectKey")


class Receipt(_Lenient):
    recipients: list[str] = Field(default_factory=list)
    spam_verdict: Verdict = Field(default_factory=Verdict, alias="spamVerdict")
    virus_verdict: Verdict = Field(default_factory=Verdict, alias="virusVerdict")
    dmarc_verdict: Verdict = Field(default_factory=Verdict, alias="dmarcVerdict")
    # Only present when DMARC failed: what the sender's domain asks receivers to do then.
    dmarc_policy: str | None = Field(default=None, alias="dmarcPolicy")
    action: ReceiptAction = Field(default_factory=ReceiptAction)


class Mail(_Lenient):
    message_id: str = Field(alias="messageId")
    source: str = ""
    timestamp: datetime | None = None


class ReceivedMail(_Lenient):
    """SES's notification that it received (and stored) a message."""

    notification_type: str = Field(alias="notificationType")
    mail: Mail
    receipt: Receipt

    @property
    def quarantine_reason(self) -> str | None:
        if self.receipt.virus_verdict.status == "FAIL":
            return "virus"
        if self.receipt.spam_verdict.status == "FAIL":
            return "spam"
        # A forged sender: its domain failed DMARC and asks that such mail be refused or
        # quarantined; it must not write into a customer's conversation as them.
        forged = self.receipt.dmarc_verdict.status == "FAIL"
        if forged and self.receipt.dmarc_policy in ("quarantine", "reject"):
            return "dmarc"
        return None


class SesNotice(_Lenient):
    """What a message SES put on a topic announces: a `notificationType` (`Received`, or
    SES's test notification when a topic is set up) or an `eventType` (a configuration
    set's event about a mail we sent)."""

    notification_type: str | None = Field(default=None, alias="notificationType")
    event_type: str | None = Field(default=None, alias="eventType")


def ses_notice(message: str) -> SesNotice | None:
    """None for anything that is not SES's JSON object."""
    try:
        return SesNotice.model_validate_json(message)
    except ValidationError:
        return None


def parse_received(message: str) -> ReceivedMail:
    try:
        received = ReceivedMail.model_validate_json(message)
    except ValidationError as error:
        raise BadRequest("not an SES receipt notification") from error
    if received.notification_type != "Received":
        raise BadRequest(f"not a receipt: {received.notification_type}")
    return received


def delivery_id(sender: str, message_id: str) -> str:
    """The id a received mail is stored and deduplicated under: its sender and the
    Message-ID it gave, hashed together. The Message-ID alone is the sender's choice, so
    another sender reusing it must not meet the first one's mail; the hash also fits every
    key and queue id, however long the Message-ID."""
    digest = hashlib.sha256(f"{sender}\n{message_id}".encode()).hexdigest()
    return digest[:32]


def split_address(address: str) -> tuple[str, str | None]:
    """`support+c01abc@shop.example` → (`support@shop.example`, `c01abc`), lower-cased."""
    match = _PLUS.match(address.strip().lower())
    if match is None:
        return address.strip().lower(), None
    return f"{match['local']}@{match['domain']}", match["tag"] or None


class DeliveryEvent(_Lenient):
    """SES's event about a message we sent (configuration set → SNS)."""

    event_type: str = Field(alias="eventType")
    mail: Mail
    bounce: dict[str, Any] | None = None
    complaint: dict[str, Any] | None = None


EVENT_STATUSES = {
    "Delivery": DeliveryStatus.DELIVERED,
    "Bounce": DeliveryStatus.UNDELIVERED,
    "Complaint": DeliveryStatus.FAILED,
    "Reject": DeliveryStatus.FAILED,
}


def parse_delivery_event(message: str) -> DeliveryEvent | None:
    """A delivery event we track; None for the others (sends, opens, delays)."""
    try:
        event = DeliveryEvent.model_validate_json(message)
    except ValidationError as error:
        raise BadRequest("not an SES event") from error
    return event if event.event_type in EVENT_STATUSES else None


def delivery_update(event: DeliveryEvent, shop_id: str) -> DeliveryUpdate:
    code: str | None = None
    if event.bounce is not None:
        code = f"bounce:{event.bounce.get('bounceType', 'Undetermined')}"
        if event.bounce.get("bounceType") == "Transient":
            # A mailbox full or a server down: SES has given up on it for now.
            code = "bounce:Transient"
    elif event.complaint is not None:
        code = "complaint"
    elif event.event_type == "Reject":
        code = "reject"
    return DeliveryUpdate(
        shop_id=shop_id,
        provider_message_id=event.mail.message_id,
        status=EVENT_STATUSES[event.event_type],
        error_code=code,
    )


EMAIL_ERRORS = {
    "bounce:Permanent": "the address does not exist or refuses mail; check it with the customer",
    "bounce:Transient": "the customer's mailbox is full or their server is down; try later",
    "bounce:Undetermined": "the customer's mail server refused it",
    "complaint": "the customer marked it as spam; do not write again unless they do",
    "reject": "SES refused it (it looked like it carried a virus)",
    "MessageRejected": "SES refused it",
    "MailFromDomainNotVerifiedException": "the shop's email domain is not verified in SES",
    "AccountSuspendedException": "the SES account is suspended",
    "SendingPausedException": "sending is paused for this SES account",
}


def _message_id(message: OutboundMessage, domain: str) -> str:
    """Our Message-ID for a reply, the same for every attempt at it."""
    digest = hashlib.sha256(message.message_key.encode()).hexdigest()[:24]
    return f"<tl.{digest}@{domain}>"


def _ids(message_ids: list[str]) -> str:
    """Message-IDs as a threading header holds them; one with a space or a line break in it
    (never ours) is left out rather than break the header."""
    return " ".join(f"<{i}>" for i in message_ids if i and single_line(i) == i and " " not in i)


def _html(text: str) -> str:
    paragraphs = "".join(
        "<p>" + html.escape(block).replace("\n", "<br>") + "</p>"
        for block in text.split("\n\n")
        if block.strip()
    )
    return f'<!doctype html><html><body dir="auto">{paragraphs}</body></html>'


class EmailChannel:
    """The email adapter: sends replies through SESv2 and reads attachments the ingester
    kept in S3. What arrives is read by `parse_received` and `email_parsing`."""

    def __init__(self, ses: SESV2Client, s3: S3Client, media_bucket: str) -> None:
        self._ses = ses
        self._s3 = s3
        self._media_bucket = media_bucket

    def build(
        self, message: OutboundMessage, shop: Shop, attachments: list[MediaFile]
    ) -> EmailMessage:
        """The reply as MIME. Every header value is made one line first: a line break
        (from a subject a customer's mail carried, say) would make the standard library
        refuse the header, and every retry of the reply with it."""
        if shop.email is None or message.email is None:
            raise DeliveryRefused(None, "this shop has no email address")
        envelope = message.email
        mail = EmailMessage()
        shop_name = single_line(shop.name)
        sender = (
            f"{single_line(message.agent_name)} ({shop_name})" if message.agent_name else shop_name
        )
        mail["From"] = formataddr((sender, shop.email.address))
        mail["To"] = single_line(message.to)
        mail["Reply-To"] = shop.email.reply_address(message.conversation_id)
        mail["Subject"] = single_line(envelope.subject)
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = _message_id(message, shop.email.domain)
        if message.automatic:
            # RFC 3834: other programs must not answer it.
            mail["Auto-Submitted"] = "auto-replied"
        answered = _ids([envelope.in_reply_to or ""])
        if answered:
            mail["In-Reply-To"] = answered
        references = _ids(list(envelope.references))
        if references:
            mail["References"] = references
        # Quoted-printable: 7-bit clean for every server on the way, any script inside.
        mail.set_content(message.text, cte="quoted-printable")
        mail.add_alternative(_html(message.text), subtype="html", cte="quoted-printable")
        for file in attachments:
            maintype, _, subtype = single_line(file.content_type).partition("/")
            mail.add_attachment(
                file.content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=single_line(file.filename) or "attachment",
            )
        return mail

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        from botocore.exceptions import BotoCoreError, ClientError

        # Mail carries the files themselves, straight from the media bucket.
        attachments = [self._stored(self._media_bucket, key) for key in message.media_keys]
        mail = self.build(message, shop, [a for a in attachments if a is not None])
        try:
            sent = self._ses.send_email(
                FromEmailAddress=str(mail["From"]),
                Destination={"ToAddresses": [message.to]},
                Content={"Raw": {"Data": mail.as_bytes()}},
                ConfigurationSetName=CONFIGURATION_SET,
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            if code in ("TooManyRequestsException", "Throttling") or status >= 500:
                raise Retryable(f"SES answered {code}") from error
            raise DeliveryRefused(code, self.describe_error(code)) from error
        except BotoCoreError as error:
            raise Retryable(f"SES unreachable: {type(error).__name__}") from error
        ses_id = str(sent["MessageId"])
        ours = str(mail["Message-ID"]).strip("<>")
        return SendReceipt(
            provider_message_id=ses_id,
            status=DeliveryStatus.SENT,
            thread_ids=(ours, f"{ses_id}@email.amazonses.com"),
        )

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        # SES cannot be asked what it sent: an interrupted send is sent again. The
        # Message-ID is the same each time, so mail clients show one copy.
        return []

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        """An attachment the ingester kept (`s3://bucket/key`)."""
        bucket, _, key = item.url.removeprefix("s3://").partition("/")
        if not item.url.startswith("s3://") or not key.startswith(f"{shop.shop_id}/"):
            return None
        stored = self._stored(bucket, key)
        if stored is None:
            return None
        return MediaFile(
            stored.filename.split("-", 1)[-1],
            item.content_type or stored.content_type,
            stored.content,
        )

    def _stored(self, bucket: str, key: str) -> MediaFile | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            stored = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise Retryable("attachment unavailable") from error
        except BotoCoreError as error:
            raise Retryable("attachment unavailable") from error
        content = stored["Body"].read(MEDIA_LIMIT_BYTES + 1)
        if len(content) > MEDIA_LIMIT_BYTES:
            return None
        content_type = stored.get("ContentType") or "application/octet-stream"
        return MediaFile(key.rsplit("/", 1)[-1], content_type, content)

    def describe_error(self, error_code: str | None) -> str:
        return EMAIL_ERRORS.get(error_code or "", "the mail could not be delivered")
