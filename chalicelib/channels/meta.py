"""WhatsApp Cloud API, Messenger and Instagram, through the deployment's one Meta app.

Meta calls one webhook for every shop: `GET /webhooks/meta` is the subscription handshake
(`hub.verify_token`), `POST /webhooks/meta` a batch of changes signed with the app secret
(`X-Hub-Signature-256`, an HMAC-SHA256 of the raw body: Meta escapes non-ASCII as `\\uXXXX`
before signing, so only the bytes as received verify). Each entry names the id it is for (a
WhatsApp phone number id, a Page id, an Instagram account id), which one shop claims.

Replies go out through the Graph API (`meta_graph.py`) with the shop's access token; media
is fetched at once, the token sent to Meta's own hosts only.
"""

import hashlib
import hmac
import json
import mimetypes
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from chalicelib.channels.base import (
    DeliveryRefused,
    MediaFile,
    SendReceipt,
    download,
)
from chalicelib.channels.meta_graph import GRAPH_API, GraphApi
from chalicelib.domain.errors import BadRequest, Forbidden, TooLarge
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import DeliveryUpdate, DeliveryWatermark
from chalicelib.domain.messages import (
    DeliveryStatus,
    InboundKind,
    InboundMessage,
    MediaItem,
    OutboundMessage,
)
from chalicelib.domain.shop import Shop, ShopSecrets, meta_address
from chalicelib.domain.vocabulary import Channel

# Meta batches up to about 1,000 updates in one POST; Lambda takes 6 MB.
MAX_WEBHOOK_BYTES = 6 * 1024 * 1024
# Longer than any message Meta relays (WhatsApp 4,096 characters, Messenger 2,000).
MAX_TEXT = 8000
# Provider ids become keys: a long one is replaced by its digest (foreign_ids.fitted).
MAX_ID_BYTES = 256
MAX_NAME = 200
# What marks our own sends, so that their echoes are not shown twice.
OUR_METADATA = "threadline"
# A WhatsApp media item is named by its id until the worker fetches it.
WHATSAPP_MEDIA = "whatsapp-media:"
# Where Meta serves media from: the token goes there and nowhere else.
META_MEDIA_HOSTS = (
    ".fbsbx.com",
    ".fbcdn.net",
    ".facebook.com",
    ".whatsapp.net",
    ".cdninstagram.com",
)
WHATSAPP_MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
# Text a message may carry, by channel: longer replies go in parts.
TEXT_LIMITS = {Channel.WHATSAPP_CLOUD: 4096, Channel.MESSENGER: 2000, Channel.INSTAGRAM: 1000}
CAPTION_LIMIT = 1024
STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}

# What an agent can do about the errors replies most often meet.
ERROR_EXPLANATIONS = {
    "131047": "more than 24 hours passed since the customer's last WhatsApp message: only an "
    "approved template can be sent now",
    "131026": "the customer's WhatsApp cannot receive it (an old app version, or they "
    "blocked the business)",
    "131049": "Meta held back a marketing message to keep engagement healthy; try later",
    "131050": "the customer stopped marketing messages from this business",
    "131051": "WhatsApp does not take this kind of message",
    "131052": "WhatsApp could not download the attached file",
    "131053": "WhatsApp refused the attached file (type or size)",
    "132000": "the template's variables do not match its approved text",
    "132001": "the template does not exist in this language, or is not approved",
    "133010": "the shop's WhatsApp number is not registered with the Cloud API",
    "190": "the shop's Meta access token expired or was revoked: store a new one",
    "10": "the Meta app lacks the permission for this message (app review)",
    "200": "the Meta app lacks the permission for this message (app review)",
    "551": "the customer cannot be reached on Messenger right now",
    "2018278": "more than 24 hours passed since the customer's last message: the HUMAN_AGENT "
    "tag (if enabled) allows a person's reply up to 7 days",
    "2018001": "the customer cannot be messaged (they have not written, or left)",
}


def verify_signature(body: bytes, header: str | None, app_secret: str) -> None:
    """Raises Forbidden unless `header` is `sha256=` and the HMAC of `body` with the app
    secret, compared in constant time."""
    if not app_secret:
        raise Forbidden("META_APP_SECRET is not configured")
    if not header or not header.startswith("sha256="):
        raise Forbidden("missing X-Hub-Signature-256")
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    # Bytes: compare_digest raises TypeError on a str that is not ASCII.
    given = header.removeprefix("sha256=").strip().lower().encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise Forbidden("invalid X-Hub-Signature-256")


def handshake_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """The challenge to echo when Meta subscribes with our verify token; Forbidden else."""
    given = params.get("hub.verify_token", "")
    if (
        not verify_token
        or params.get("hub.mode") != "subscribe"
        or not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8"))
    ):
        raise Forbidden("verify token refused")
    challenge = params.get("hub.challenge", "")
    if not challenge or len(challenge) > 256:
        raise BadRequest("missing or invalid hub.challenge")
    return challenge


# The shop that claimed an address (`meta_address`), or None.
Resolve = Callable[[str], str | None]


@dataclass
class MetaBatch:
    """A webhook's content: the messages and statuses for claimed ids, and what was left."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[DeliveryUpdate] = field(default_factory=list)
    # Entries for ids no shop claims: acknowledged, counted, not retried.
    unrouted: int = 0
    # Events Threadline does not track (a postback, a receipt naming nothing...).
    ignored: int = 0
    # Receipts that name a time rather than messages (Messenger's watermarks).
    watermarks: list[DeliveryWatermark] = field(default_factory=list)


def parse_webhook(body: bytes, resolve: Resolve, received_at: datetime) -> MetaBatch:
    """Raises TooLarge or BadRequest if the body is not a Meta webhook at all; events within
    it that are incomplete are counted as ignored rather than refusing their neighbours."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise TooLarge("body is larger than any Meta webhook")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest("body is not JSON") from error
    if not isinstance(document, dict) or not isinstance(document.get("entry"), list):
        raise BadRequest("not a Meta webhook")
    kind = document.get("object")
    parser = _Parser(resolve, received_at)
    if kind == "whatsapp_business_account":
        for entry in _objects(document["entry"]):
            for change in _objects(entry.get("changes")):
                parser.whatsapp_change(change)
    elif kind in ("page", "instagram"):
        channel = Channel.MESSENGER if kind == "page" else Channel.INSTAGRAM
        for entry in _objects(document["entry"]):
            parser.messaging_entry(channel, entry)
    else:
        raise BadRequest("unknown webhook object")
    return parser.batch


def _objects(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _text(value: object, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _id(value: object) -> str | None:
    """A provider's id as a key may hold it; None when absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return fitted(value.strip(), MAX_ID_BYTES)


def _sent_at(seconds: object, fallback: datetime) -> datetime:
    """Meta's timestamps (seconds as a string on WhatsApp, milliseconds on Messenger) are
    when the customer wrote; our clock stands in when they are unreadable."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fallback
    if value > 1e11:
        value /= 1000
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return fallback


class _Parser:
    def __init__(self, resolve: Resolve, received_at: datetime) -> None:
        self._resolve = resolve
        self._received_at = received_at
        self.batch = MetaBatch()

    def _shop(self, channel: Channel, meta_id: str | None) -> str | None:
        shop_id = self._resolve(meta_address(channel, meta_id)) if meta_id else None
        if shop_id is None:
            self.batch.unrouted += 1
        return shop_id

    # WhatsApp Cloud API -------------------------------------------------------------

    def whatsapp_change(self, change: dict[str, Any]) -> None:
        value = change.get("value")
        if not isinstance(value, dict):
            self.batch.ignored += 1
            return
        metadata = value.get("metadata")
        number_id = _id(metadata.get("phone_number_id")) if isinstance(metadata, dict) else None
        if not (value.get("messages") or value.get("statuses") or value.get("message_echoes")):
            self.batch.ignored += 1
            return
        shop_id = self._shop(Channel.WHATSAPP_CLOUD, number_id)
        if shop_id is None or number_id is None:
            return
        names = {
            str(contact.get("wa_id")): _text(contact.get("profile", {}).get("name"), MAX_NAME)
            for contact in _objects(value.get("contacts"))
            if isinstance(contact.get("profile"), dict)
        }
        for message in _objects(value.get("messages")):
            self._whatsapp_message(shop_id, number_id, message, names, echo=False)
        # Coexistence: what the shop sent from the WhatsApp Business app on its phone.
        for message in _objects(value.get("message_echoes")):
            self._whatsapp_message(shop_id, number_id, message, names, echo=True)
        for status in _objects(value.get("statuses")):
            self._whatsapp_status(shop_id, status)

    def _whatsapp_message(
        self,
        shop_id: str,
        number_id: str,
        message: dict[str, Any],
        names: dict[str, str],
        *,
        echo: bool,
    ) -> None:
        wamid = _id(message.get("id"))
        customer = message.get("to") if echo else message.get("from")
        if wamid is None or not isinstance(customer, str) or not customer.isdigit():
            self.batch.ignored += 1
            return
        text, media, kind = whatsapp_content(message)
        context = message.get("context")
        if isinstance(context, dict) and context.get("id") and kind is InboundKind.MESSAGE:
            text = f"(in reply to an earlier message) {text}".rstrip()
        self.batch.messages.append(
            InboundMessage(
                shop_id=shop_id,
                channel=Channel.WHATSAPP_CLOUD,
                provider="meta",
                provider_message_id=wamid,
                customer_address=f"wa:+{customer[:20]}",
                shop_address=number_id,
                customer_name=None if echo else (names.get(customer) or None),
                text=text,
                media=media,
                received_at=_sent_at(message.get("timestamp"), self._received_at),
                kind=InboundKind.ECHO if echo else kind,
            )
        )

    def _whatsapp_status(self, shop_id: str, status: dict[str, Any]) -> None:
        wamid = _id(status.get("id"))
        state = STATUSES.get(str(status.get("status")))
        if wamid is None or state is None:
            self.batch.ignored += 1
            return
        errors = list(_objects(status.get("errors")))
        code = errors[0].get("code") if errors else None
        self.batch.statuses.append(
            DeliveryUpdate(
                shop_id=shop_id,
                provider_message_id=wamid,
                status=state,
                error_code=str(code)[:20] if code is not None else None,
            )
        )

    # Messenger and Instagram --------------------------------------------------------

    def messaging_entry(self, channel: Channel, entry: dict[str, Any]) -> None:
        account = _id(entry.get("id"))
        events = list(_objects(entry.get("messaging")))
        if not events:
            self.batch.ignored += 1
            return
        shop_id = self._shop(channel, account)
        if shop_id is None or account is None:
            return
        for event in events:
            self._messaging_event(shop_id, channel, account, event)

    def _messaging_event(
        self, shop_id: str, channel: Channel, account: str, event: dict[str, Any]
    ) -> None:
        sender = (
            event.get("sender", {}).get("id") if isinstance(event.get("sender"), dict) else None
        )
        recipient = (
            event.get("recipient", {}).get("id")
            if isinstance(event.get("recipient"), dict)
            else None
        )
        message = event.get("message")
        at = _sent_at(event.get("timestamp"), self._received_at)
        if isinstance(message, dict):
            echo = message.get("is_echo") is True
            customer = _id(recipient if echo else sender)
            mid = _id(message.get("mid"))
            if (
                customer is None
                or mid is None
                or (echo and message.get("metadata") == OUR_METADATA)
            ):
                # Our own sends come back as echoes: they are in the thread already.
                self.batch.ignored += 1
                return
            text, media = messaging_content(message)
            self._append(shop_id, channel, account, customer, mid, text, media, at, echo)
            return
        reaction = event.get("reaction")
        if isinstance(reaction, dict):
            customer = _id(sender)
            mid = _id(reaction.get("mid"))
            if customer is None or mid is None:
                self.batch.ignored += 1
                return
            emoji = _text(reaction.get("emoji"), 16) or _text(reaction.get("reaction"), 32)
            removed = reaction.get("action") == "unreact"
            text = "Took back a reaction" if removed else f"Reacted {emoji}".rstrip()
            key = fitted(f"reaction:{mid}:{reaction.get('action')}:{event.get('timestamp')}", 256)
            self._append(shop_id, channel, account, customer, key, text, (), at, False, True)
            return
        edit = event.get("message_edit")
        if isinstance(edit, dict):
            self._edit(shop_id, channel, account, _id(sender), edit, at)
            return
        self._receipt(shop_id, channel, _id(sender), event)

    def _edit(
        self,
        shop_id: str,
        channel: Channel,
        account: str,
        customer: str | None,
        edit: dict[str, Any],
        at: datetime,
    ) -> None:
        """A customer's edit of an earlier message, shown as a note with the new text; each
        edit once (Meta counts them: `num_edit`)."""
        mid = _id(edit.get("mid"))
        if customer is None or mid is None:
            self.batch.ignored += 1
            return
        text = f"✏️ Edited an earlier message: {_text(edit.get('text'))}".rstrip()
        key = fitted(f"edit:{mid}:{edit.get('num_edit')}", MAX_ID_BYTES)
        self._append(shop_id, channel, account, customer, key, text, (), at, False)

    def _receipt(
        self, shop_id: str, channel: Channel, customer: str | None, event: dict[str, Any]
    ) -> None:
        """Messenger's delivery (with the message ids, or a time) and read (a time), and
        Instagram's seen (with one message id)."""
        delivery = event.get("delivery")
        read = event.get("read")
        found: list[tuple[str, DeliveryStatus]] = []
        watermark: tuple[object, DeliveryStatus] | None = None
        if isinstance(delivery, dict) and isinstance(delivery.get("mids"), list):
            found = [(m, DeliveryStatus.DELIVERED) for m in delivery["mids"] if isinstance(m, str)]
        elif isinstance(delivery, dict):
            watermark = (delivery.get("watermark"), DeliveryStatus.DELIVERED)
        elif isinstance(read, dict) and isinstance(read.get("mid"), str):
            found = [(read["mid"], DeliveryStatus.READ)]
        elif isinstance(read, dict):
            watermark = (read.get("watermark"), DeliveryStatus.READ)
        if watermark is not None and customer is not None:
            self._watermark(shop_id, f"{channel.value}:{customer}", *watermark)
            return
        if not found:
            self.batch.ignored += 1
            return
        for mid, status in found:
            self.batch.statuses.append(
                DeliveryUpdate(
                    shop_id=shop_id,
                    provider_message_id=fitted(mid, MAX_ID_BYTES),
                    status=status,
                )
            )

    def _watermark(
        self, shop_id: str, customer_address: str, milliseconds: object, status: DeliveryStatus
    ) -> None:
        # Unreadable, it would mark replies by our clock: ignored instead.
        at = _sent_at(milliseconds, datetime.min.replace(tzinfo=UTC))
        if at.year < 2000:
            self.batch.ignored += 1
            return
        self.batch.watermarks.append(
            DeliveryWatermark(
                shop_id=shop_id, customer_address=customer_address, status=status, watermark=at
            )
        )

    def _append(
        self,
        shop_id: str,
        channel: Channel,
        account: str,
        customer: str,
        mid: str,
        text: str,
        media: tuple[MediaItem, ...],
        at: datetime,
        echo: bool,
        reaction: bool = False,
    ) -> None:
        kind = InboundKind.ECHO if echo else InboundKind.MESSAGE
        self.batch.messages.append(
            InboundMessage(
                shop_id=shop_id,
                channel=channel,
                provider="meta",
                provider_message_id=mid,
                customer_address=f"{channel.value}:{customer}",
                shop_address=account,
                text=text,
                media=media,
                received_at=at,
                kind=InboundKind.REACTION if reaction else kind,
            )
        )


def whatsapp_content(message: dict[str, Any]) -> tuple[str, tuple[MediaItem, ...], InboundKind]:
    """A WhatsApp message's text and media as Slack shows them; anything Threadline cannot
    show becomes a note saying so rather than silence."""
    kind = message.get("type")
    body = message.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return _text(body.get("body")), (), InboundKind.MESSAGE
    if kind in WHATSAPP_MEDIA_TYPES:
        media_id = _id(body.get("id"))
        if media_id is None:
            return f"(a {kind} that WhatsApp did not pass on)", (), InboundKind.MESSAGE
        content_type = _text(body.get("mime_type"), 100) or None
        item = MediaItem(url=f"{WHATSAPP_MEDIA}{media_id}", content_type=content_type)
        caption = _text(body.get("caption"))
        return caption, (item,), InboundKind.MESSAGE
    if kind == "location":
        return _location(body), (), InboundKind.MESSAGE
    if kind == "contacts":
        return _shared_contacts(message.get("contacts")), (), InboundKind.MESSAGE
    if kind == "interactive":
        chosen = body.get("button_reply") or body.get("list_reply")
        title = _text(chosen.get("title"), 200) if isinstance(chosen, dict) else ""
        return f"Chose: {title}" if title else "(answered a form)", (), InboundKind.MESSAGE
    if kind == "button":
        return _text(body.get("text"), 200) or "(pressed a button)", (), InboundKind.MESSAGE
    if kind == "reaction":
        emoji = _text(body.get("emoji"), 16)
        text = f"Reacted {emoji}" if emoji else "Took back a reaction"
        return text, (), InboundKind.REACTION
    what = _text(kind, 40) or "unknown"
    return f"(a WhatsApp message Threadline cannot show: {what})", (), InboundKind.MESSAGE


def _location(body: dict[str, Any]) -> str:
    latitude, longitude = body.get("latitude"), body.get("longitude")
    place = ", ".join(
        p for p in (_text(body.get("name"), 200), _text(body.get("address"), 300)) if p
    )
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return f"Shared a location: {place}" if place else "(shared a location)"
    where = f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}"
    return f"Shared a location: {place}\n{where}" if place else f"Shared a location: {where}"


def _shared_contacts(contacts: object) -> str:
    lines = []
    for contact in list(_objects(contacts))[:10]:
        name = contact.get("name")
        label = _text(name.get("formatted_name"), MAX_NAME) if isinstance(name, dict) else ""
        phones = [_text(p.get("phone"), 40) for p in _objects(contact.get("phones"))][:3]
        emails = [_text(e.get("email"), 254) for e in _objects(contact.get("emails"))][:3]
        lines.append(", ".join(part for part in (label, *phones, *emails) if part))
    return "Shared contacts:\n" + "\n".join(lines) if lines else "(shared a contact)"


_ATTACHMENT_TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}


def messaging_content(message: dict[str, Any]) -> tuple[str, tuple[MediaItem, ...]]:
    """A Messenger or Instagram message's text and attachments, story replies and mentions
    said in words (their media fetched like any attachment)."""
    parts = []
    media: list[MediaItem] = []
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and isinstance(reply_to.get("story"), dict):
        parts.append("(replied to the shop's story)")
        story_url = reply_to["story"].get("url")
        if isinstance(story_url, str) and story_url.startswith("https://"):
            media.append(MediaItem(url=story_url))
    elif isinstance(reply_to, dict) and reply_to.get("mid"):
        parts.append("(in reply to an earlier message)")
    text = _text(message.get("text"))
    if text:
        parts.append(text)
    for attachment in list(_objects(message.get("attachments")))[:10]:
        kind = _text(attachment.get("type"), 40)
        payload = attachment.get("payload")
        url = payload.get("url") if isinstance(payload, dict) else None
        if kind == "story_mention":
            parts.append("(mentioned the shop in their story)")
        elif kind in ("share", "ig_reel", "reel", "fallback") and isinstance(url, str):
            parts.append(f"Shared: {url[:500]}")
            continue
        if isinstance(url, str) and url.startswith("https://"):
            media.append(MediaItem(url=url, content_type=_ATTACHMENT_TYPES.get(kind)))
        elif kind != "story_mention":
            parts.append(f"(an attachment Threadline cannot show: {kind or 'unknown'})")
    if message.get("is_unsupported") is True and not parts and not media:
        parts.append("(a message Threadline cannot show)")
    return "\n".join(parts), tuple(media)


def _media_host(url: str, graph_url: str) -> bool:
    """Whether `url` is one of Meta's own hosts (or the Graph API we were given)."""
    parts = urlsplit(url)
    graph = urlsplit(graph_url)
    if (parts.scheme, parts.netloc) == (graph.scheme, graph.netloc):
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host.endswith(suffix) for suffix in META_MEDIA_HOSTS)


class MetaChannel:
    """The outbound side and the media of Meta's three channels."""

    name = "meta"

    def __init__(self, graph: GraphApi | None = None, timeout_seconds: float = 10.0) -> None:
        self._graph = graph or GraphApi(GRAPH_API, timeout_seconds)
        self._timeout = timeout_seconds

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        # Meta reports statuses to the app's webhook; `status_callback` is Twilio's idea.
        token = _token(secrets)
        payloads = (
            whatsapp_payloads(message, media_urls)
            if message.channel is Channel.WHATSAPP_CLOUD
            else messaging_payloads(message, media_urls)
        )
        path = (
            f"{message.from_}/messages"
            if message.channel is Channel.WHATSAPP_CLOUD
            else "me/messages"
        )
        first: str | None = None
        for payload in payloads:
            answer = self._graph.post(path, token, payload)
            sent = _sent_id(answer)
            if sent is None:
                raise DeliveryRefused(None, "Meta accepted the message but gave no id")
            first = first or sent
        if first is None:
            raise DeliveryRefused(None, "nothing to send")
        return SendReceipt(
            provider_message_id=fitted(first, MAX_ID_BYTES), status=DeliveryStatus.ACCEPTED
        )

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        # The Graph API lists no sent messages: an interrupted send is sent again.
        return []

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        token = secrets.meta_access_token
        if item.url.startswith(WHATSAPP_MEDIA):
            if token is None:
                return None
            # WhatsApp names media by id; its URL lives about five minutes.
            try:
                found = self._graph.get(
                    item.url.removeprefix(WHATSAPP_MEDIA), token.get_secret_value()
                )
            except DeliveryRefused:
                # Gone (media ids live about 7 days) or not the shop's: nothing to fetch.
                return None
            url = found.get("url")
            if not isinstance(url, str) or not _media_host(url, self._graph.base_url):
                return None
            fetched = download(
                url,
                "Meta",
                self._timeout,
                headers={"Authorization": f"Bearer {token.get_secret_value()}"},
            )
        elif _media_host(item.url, self._graph.base_url):
            # Messenger's and Instagram's attachment URLs are signed: no token goes with them.
            fetched = download(item.url, "Meta", self._timeout)
        else:
            return None
        if fetched is None or fetched.content is None:
            return None
        content_type = item.content_type or fetched.content_type or "application/octet-stream"
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
        name = hashlib.sha256(item.url.encode("utf-8")).hexdigest()[:16]
        return MediaFile(
            filename=f"{name}{extension}", content_type=content_type, content=fetched.content
        )

    def describe_error(self, error_code: str | None) -> str:
        if error_code is None:
            return "Meta gave no reason"
        return ERROR_EXPLANATIONS.get(error_code, f"Meta error {error_code}")


def _token(secrets: ShopSecrets) -> str:
    if secrets.meta_access_token is None:
        raise DeliveryRefused(None, "the shop has no Meta access token")
    return secrets.meta_access_token.get_secret_value()


def _sent_id(answer: dict[str, Any]) -> str | None:
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        found = messages[0].get("id")
        return found if isinstance(found, str) and found else None
    found = answer.get("message_id")
    return found if isinstance(found, str) and found else None


def _parts(text: str, limit: int) -> list[str]:
    """A text in pieces each channel takes, cut at line or word ends where possible."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts + ([rest] if rest else [])


def _media_kind(url: str) -> str:
    guessed = mimetypes.guess_type(urlsplit(url).path)[0] or ""
    for kind in ("image", "video", "audio"):
        if guessed.startswith(kind + "/"):
            return kind
    return "document"


def whatsapp_payloads(
    message: OutboundMessage, media_urls: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The Cloud API messages a reply becomes: its template, or its text (in parts) and
    files by link (the first with the text as caption, when it fits)."""
    to = message.to.removeprefix("wa:+")
    base: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    }
    template = message.cloud_template
    if template is not None:
        parameters = [{"type": "text", "text": value} for value in template.body_parameters]
        components = [{"type": "body", "parameters": parameters}] if parameters else []
        return [
            base
            | {
                "type": "template",
                "template": {
                    "name": template.name,
                    "language": {"code": template.language},
                    "components": components,
                },
            }
        ]
    text = message.text.strip()
    payloads: list[dict[str, Any]] = []
    caption = text if media_urls and len(text) <= CAPTION_LIMIT else ""
    if not caption:
        payloads += [
            base | {"type": "text", "text": {"body": part, "preview_url": False}}
            for part in _parts(text, TEXT_LIMITS[Channel.WHATSAPP_CLOUD])
        ]
    for n, url in enumerate(media_urls):
        kind = _media_kind(url)
        media: dict[str, Any] = {"link": url}
        if n == 0 and caption and kind != "audio":
            media["caption"] = caption
        elif n == 0 and caption:
            payloads.append(
                base | {"type": "text", "text": {"body": caption, "preview_url": False}}
            )
        payloads.append(base | {"type": kind, kind: media})
    return payloads


def messaging_payloads(
    message: OutboundMessage, media_urls: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The Send API calls a Messenger or Instagram reply becomes: inside the 24-hour window a
    response, past it a person's reply tagged HUMAN_AGENT (decided before, see
    domain/meta_windows.py)."""
    base: dict[str, Any] = {
        "recipient": {"id": message.to.split(":", 1)[1]},
        "messaging_type": "MESSAGE_TAG" if message.human_agent_tag else "RESPONSE",
    }
    if message.human_agent_tag:
        base["tag"] = "HUMAN_AGENT"
    payloads = [
        base | {"message": {"text": part, "metadata": OUR_METADATA}}
        for part in _parts(message.text, TEXT_LIMITS[message.channel])
    ]
    for url in media_urls:
        kind = _media_kind(url)
        attachment = {"type": "file" if kind == "document" else kind, "payload": {"url": url}}
        payloads.append(base | {"message": {"attachment": attachment, "metadata": OUR_METADATA}})
    return payloads
