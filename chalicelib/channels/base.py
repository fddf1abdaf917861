"""The shape every customer channel adapter has.

An adapter sends replies and reads customers' attachments (`OutboundChannel`); one whose
provider calls a webhook also verifies and parses it (`ChannelAdapter`). Adding a channel
(Telegram, Messenger, ...) means one new module of this shape.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.errors import Retryable
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus, InboundMessage, MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request as it reached us: `url` is the public URL the provider
    called (what it signed), `headers` keys are lower-case, `body` is the raw body."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaFile:
    """A file's bytes, fetched from a provider or from Slack."""

    filename: str
    content_type: str
    content: bytes


# What one attachment may weigh: WhatsApp's own limit for documents.
MEDIA_LIMIT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Download:
    content_type: str
    # None when the file is larger than MEDIA_LIMIT_BYTES.
    content: bytes | None


def download(url: str, source: str, timeout: float, **credentials: Any) -> Download | None:
    """GETs a file with `credentials` (requests' `auth` or `headers`), reading at most
    MEDIA_LIMIT_BYTES of it; None when `source` (a provider's name, for errors) does not
    serve it. Raises Retryable when trying again may help."""
    import requests

    try:
        response = requests.get(url, timeout=timeout, stream=True, **credentials)
    except requests.RequestException as error:
        raise Retryable(f"{source} file unreachable: {type(error).__name__}") from error
    with response:
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"{source} answered {response.status_code} for a file")
        if response.status_code != 200:
            return None
        content = response.raw.read(MEDIA_LIMIT_BYTES + 1, decode_content=True)
        content_type = response.headers.get("Content-Type", "")
    return Download(content_type, content if len(content) <= MEDIA_LIMIT_BYTES else None)


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str
    status: DeliveryStatus
    # Email: the Message-IDs the customer's reply will quote (ours, and the one SES gave).
    thread_ids: tuple[str, ...] = ()


class OutboundChannel(Protocol):
    """What the workers need of a channel: send replies, read customers' attachments."""

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        """Raises Retryable when trying again may succeed, DeliveryRefused when it cannot.
        `media_urls` are public URLs the provider fetches the attachments from."""

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        """After an interrupted send: messages the provider holds that may be its send (same
        text and addresses since the reply was written), oldest first."""

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        """A customer's attachment, with the account's credentials, from the provider only;
        None when it is gone or too large. Raises Retryable when trying again may help."""

    def describe_error(self, error_code: str | None) -> str:
        """A short explanation of a provider error code that an agent can act on."""


class ChannelAdapter(OutboundChannel, Protocol):
    """A channel whose provider calls a webhook (Twilio): verified and parsed on the ack
    path. Email arrives through SES notifications instead (channels/email.py)."""

    def verify(self, request: WebhookRequest, shop: Shop, secrets: ShopSecrets) -> None:
        """Raises Forbidden unless the request is signed by the shop's provider account."""

    def parse(
        self, request: WebhookRequest, shop: Shop, *, received_at: datetime
    ) -> InboundMessage:
        """Raises BadRequest if the request is not a customer message."""

    def parse_status(self, request: WebhookRequest, shop: Shop) -> DeliveryUpdate | None:
        """Raises BadRequest if the request is not a delivery status callback; None for a
        status we do not track."""


class UpdateChannel(ChannelAdapter, Protocol):
    """A channel whose webhook also carries what is no customer message (Telegram's
    updates): acknowledged, and nothing kept."""

    def parse_update(
        self, request: WebhookRequest, shop: Shop, *, received_at: datetime
    ) -> InboundMessage | None:
        """The customer's message the request carries, None when it carries none; raises
        BadRequest if the request is no update at all."""


class DeliveryRefused(Exception):
    """The provider refused the message for good (bad number, opted out, ...)."""

    def __init__(self, error_code: str | None, reason: str) -> None:
        super().__init__(reason)
        self.error_code = error_code
        self.reason = reason
