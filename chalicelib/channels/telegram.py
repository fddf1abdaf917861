"""Telegram through the Bot API: a bot per shop.

Telegram signs nothing: the webhook carries, in `X-Telegram-Bot-Api-Secret-Token`, the
secret Threadline generated and set with `setWebhook`, compared in constant time. An update
is one message (or an edit of one) from a private chat with the bot; everything else the
bot may hear (groups, other bots, update kinds the webhook does not ask for) is acknowledged
and kept nowhere. Replies go out with `sendMessage`, `sendPhoto` and `sendDocument` through a
thin client over `requests` (docs/adr/0006-telegram-thin-client.md); the bot token goes to
`TELEGRAM_API_URL` (Telegram's own host) and nowhere else. Bots get no delivery receipts.
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from chalicelib.channels.base import (
    DeliveryRefused,
    MediaFile,
    SendReceipt,
    WebhookRequest,
    download,
)
from chalicelib.domain.declared_language import declared_tag
from chalicelib.domain.errors import BadRequest, Conflict, Forbidden, Retryable
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus, InboundMessage, MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.vocabulary import Channel

TELEGRAM_API: Final = "https://api.telegram.org"
SECRET_HEADER: Final = "x-telegram-bot-api-secret-token"
# What the webhook asks Telegram for: customers' messages and their edits.
ALLOWED_UPDATES: Final = ("message", "edited_message")
# Far above any update Telegram sends (a message is at most 4,096 characters, and the one
# it replies to as much again): anything larger is refused before it is parsed.
MAX_UPDATE_BYTES: Final = 1024 * 1024
# Telegram's own limits: a message's text and a file's caption, in UTF-16 code units; what
# a bot may download (getFile) and upload as a photo.
MESSAGE_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
DOWNLOAD_LIMIT_BYTES: Final = 20 * 1024 * 1024
PHOTO_UPLOAD_LIMIT_BYTES: Final = 10 * 1024 * 1024
PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
# What a message quoted in a reply shows of it; what a name or a field may hold.
QUOTE_PREVIEW: Final = 200
MAX_NAME: Final = 256
MAX_FIELD: Final = 512
MAX_REASON: Final = 160
# A provider message id within the shop: bot, then the update or the chat and message.
PROVIDER_ID_BYTES: Final = 128
FILE_PREFIX: Final = "telegram-file:"
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FILE_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_CUSTOMER = re.compile(r"^telegram:([1-9][0-9]{0,19})$")
# Telegram's update_id and chat ids fit in 52 bits.
_LARGEST_ID = 2**53

# Message fields that describe a message rather than being its content.
_ABOUT_THE_MESSAGE = frozenset(
    {
        "message_id",
        "message_thread_id",
        "from",
        "sender_chat",
        "sender_boost_count",
        "sender_business_bot",
        "date",
        "business_connection_id",
        "chat",
        "forward_origin",
        "is_topic_message",
        "is_automatic_forward",
        "reply_to_message",
        "external_reply",
        "quote",
        "reply_to_story",
        "via_bot",
        "edit_date",
        "has_protected_content",
        "is_from_offline",
        "media_group_id",
        "author_signature",
        "entities",
        "caption_entities",
        "link_preview_options",
        "show_caption_above_media",
        "has_media_spoiler",
        "effect_id",
        "reply_markup",
        "text",
        "caption",
    }
)
# Media kinds and the content type their files have when Telegram names none.
_MEDIA_KINDS = {
    "document": "application/octet-stream",
    "audio": "audio/mpeg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "video_note": "video/mp4",
    "animation": "video/mp4",
    "sticker": "image/webp",
}
_PHOTO_TYPE: Final = "image/jpeg"

# What an agent can do about Telegram's refusals, by their description.
REFUSALS = (
    ("bot was blocked by the user", "the customer blocked the shop's Telegram bot"),
    ("user is deactivated", "the customer's Telegram account was deleted"),
    ("chat not found", "Telegram does not know this chat (the customer never wrote to the bot)"),
    ("bot can't initiate conversation", "the customer must write to the bot first"),
    ("message is too long", "the reply is longer than Telegram takes"),
    ("file is too big", "the file is larger than Telegram takes"),
)
ERROR_EXPLANATIONS = {
    "400": "Telegram refused the message as invalid",
    "401": "Telegram refused the shop's bot token (revoked or replaced in BotFather)",
    "403": "Telegram refused the message: the bot may not write to this customer",
    "404": "Telegram does not know the shop's bot token",
}


# The update, read leniently ----------------------------------------------------------------


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = MESSAGE_LIMIT * 2) -> str:
    """A string field as text, at most `limit` characters (Telegram never sends more)."""
    if not isinstance(value, str):
        return ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _identifier(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _LARGEST_ID:
        return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _update(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_UPDATE_BYTES:
        raise BadRequest("body is larger than any Telegram update")
    try:
        update = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest("body is not JSON") from error
    if not isinstance(update, dict):
        raise BadRequest("body is not a Telegram update")
    return update


def display_name(user: dict[str, Any]) -> str | None:
    """A Telegram user's name as they set it (first and last), else their @username."""
    name = " ".join(
        part for part in (_text(user.get("first_name")), _text(user.get("last_name"))) if part
    ).strip()
    if not name and _text(user.get("username")):
        name = "@" + _text(user.get("username"))
    return name[:MAX_NAME] or None


def _file(kind: str, item: dict[str, Any]) -> MediaItem | None:
    file_id = item.get("file_id")
    if not isinstance(file_id, str) or not _FILE_ID.match(file_id):
        return None
    size = _identifier(item.get("file_size"))
    if size is not None and size > DOWNLOAD_LIMIT_BYTES:
        # Bots cannot download it; the text says a file came.
        return None
    mime = _text(item.get("mime_type"), 100)
    content_type = mime if re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime) else None
    if kind == "sticker" and content_type is None:
        if item.get("is_video") is True:
            content_type = "video/webm"
        elif item.get("is_animated") is True:
            content_type = "application/x-tgsticker"
    return MediaItem(
        url=FILE_PREFIX + file_id, content_type=content_type or _MEDIA_KINDS.get(kind, _PHOTO_TYPE)
    )


def _largest_photo(sizes: Any) -> MediaItem | None:
    """The largest size of a photo a bot may download (Telegram lists them smallest first)."""
    if not isinstance(sizes, list):
        return None
    for size in reversed(sizes[:20]):
        item = _file("photo", _object(size)) if isinstance(size, dict) else None
        if item is not None:
            return item
    return None


def _location(location: dict[str, Any]) -> str | None:
    latitude, longitude = _number(location.get("latitude")), _number(location.get("longitude"))
    if latitude is None or longitude is None:
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return (
        f"{latitude:.6f}, {longitude:.6f} "
        f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
    )


def _contact(contact: dict[str, Any]) -> str:
    name = display_name(contact) or "someone"
    phone = _text(contact.get("phone_number"), 32)
    return f"👤 Contact: {name}" + (f", {phone}" if phone else "")


@dataclass(frozen=True)
class _Content:
    text: str
    media: tuple[MediaItem, ...]


def _content(message: dict[str, Any]) -> _Content:
    """What a message says and carries, in words an agent reads: its text or caption, its
    files, a location or contact written out, and a note for anything else."""
    lines: list[str] = []
    media: list[MediaItem] = []
    photo = _largest_photo(message.get("photo"))
    if photo is not None:
        media.append(photo)
    elif "photo" in message:
        lines.append("(a photo too large for a bot to download)")
    for kind in _MEDIA_KINDS:
        if kind not in message:
            continue
        item = _object(message[kind])
        found = _file(kind, item)
        if kind == "sticker":
            lines.append(f"(sticker {_text(item.get('emoji'), 16)})".replace(" )", ")"))
        if found is not None:
            media.append(found)
        else:
            lines.append(f"(a {kind.replace('_', ' ')} too large for a bot to download)")
    venue = _object(message.get("venue"))
    if venue:
        title, address = (
            _text(venue.get("title"), MAX_FIELD),
            _text(venue.get("address"), MAX_FIELD),
        )
        place = _location(_object(venue.get("location")))
        lines.append("📍 " + ", ".join(part for part in (title, address, place) if part))
    elif "location" in message:
        place = _location(_object(message.get("location")))
        lines.append(f"📍 Location: {place}" if place else "(a location that could not be read)")
    if "contact" in message:
        lines.append(_contact(_object(message.get("contact"))))
    text = _text(message.get("text")) or _text(message.get("caption"))
    if text:
        lines.append(text)
    if not lines and not media:
        lines.append(_unsupported_note(message))
    return _Content("\n".join(lines), tuple(media[:10]))


def _unsupported_note(message: dict[str, Any]) -> str:
    kinds = sorted(
        key
        for key in list(message)[:100]
        if key not in _ABOUT_THE_MESSAGE and re.fullmatch(r"[a-z_]{1,40}", key)
    )
    kind = kinds[0].replace("_", " ") if kinds else "message"
    return f"(a Telegram {kind} Threadline cannot show: ask the customer to write it out)"


def _quoted(message: dict[str, Any]) -> str | None:
    """The message this one answers, in one short line."""
    quote_text = _text(_object(message.get("quote")).get("text"))
    replied = _object(message.get("reply_to_message")) or _object(message.get("external_reply"))
    if not quote_text and not replied:
        return None
    shown = quote_text or _text(replied.get("text")) or _text(replied.get("caption"))
    if not shown:
        shown = "a file" if any(kind in replied for kind in (*_MEDIA_KINDS, "photo")) else "…"
    line = " ".join(shown.split())
    if len(line) > QUOTE_PREVIEW:
        line = line[: QUOTE_PREVIEW - 1] + "…"
    return f"↩️ In reply to: “{line}”"


@dataclass(frozen=True)
class TelegramMessage:
    """An update that is a customer's message (or an edit of one), as read from it."""

    update_id: int
    chat_id: int
    customer_name: str | None
    text: str
    media: tuple[MediaItem, ...]
    # The language of the customer's app (`from.language_code`), when it says.
    language: str | None = None


def read_update(body: bytes) -> TelegramMessage | None:
    """The customer's message an update carries; None for an update that is none (another
    kind, a group chat, a bot, a service message). Raises BadRequest for a body that is not
    a Telegram update at all."""
    update = _update(body)
    update_id = _identifier(update.get("update_id"))
    if update_id is None:
        raise BadRequest("missing or invalid update_id")
    edited = "message" not in update and "edited_message" in update
    message = _object(update.get("edited_message" if edited else "message"))
    chat = _object(message.get("chat"))
    sender = _object(message.get("from"))
    chat_id = _identifier(chat.get("id"))
    # One-to-one conversations only: a bot added to a group hears its members, who are
    # not one customer; another bot's messages are no customer's.
    if chat_id is None or chat_id == 0 or chat.get("type") != "private" or sender.get("is_bot"):
        return None
    content = _content(message)
    lines = [
        "✏️ Edited:" if edited else "",
        "(forwarded)" if "forward_origin" in message else "",
        _quoted(message) or "",
        content.text,
    ]
    return TelegramMessage(
        update_id=update_id,
        chat_id=chat_id,
        customer_name=display_name(sender) or display_name(chat),
        text="\n".join(line for line in lines if line),
        media=content.media,
        language=declared_tag(sender.get("language_code")),
    )


# Sending --------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Text length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def message_parts(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` in as few messages as Telegram takes, each cut at a line break or a space
    where one is near the limit."""
    parts: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        cut = 0
        units = 0
        for index, character in enumerate(rest):
            units += 2 if ord(character) > 0xFFFF else 1
            if units > limit:
                break
            cut = index + 1
        window = rest[:cut]
        gap = max(window.rfind("\n"), window.rfind(" "))
        if gap > cut // 2:
            cut = gap + 1
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        parts.append(rest)
    return parts


def chat_of(address: str) -> int | None:
    """The chat id of a customer's address (`telegram:<id>`)."""
    found = _CUSTOMER.match(address)
    return int(found.group(1)) if found else None


class TelegramRefusal(Exception):
    """Telegram answered `ok: false` (or not JSON): its code, description and, for 429,
    how long to wait."""

    def __init__(self, error_code: int, description: str, retry_after: float | None = None):
        super().__init__(f"Telegram error {error_code}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


class BotApi:
    """The few Bot API methods Threadline calls, for one bot. The token travels only in the
    path of requests to `api_url`; errors never repeat the URL."""

    def __init__(self, api_url: str, token: str, timeout: float) -> None:
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def call(
        self,
        method: str,
        fields: dict[str, Any],
        file: tuple[str, MediaFile] | None = None,
    ) -> Any:
        """The method's `result`; raises TelegramRefusal when Telegram refuses, Retryable
        when it cannot be reached."""
        import requests

        url = f"{self._api_url}/bot{self._token}/{method}"
        try:
            if file is None:
                response = requests.post(url, json=fields, timeout=self._timeout)
            else:
                field, media = file
                form = {
                    name: value if isinstance(value, str) else json.dumps(value)
                    for name, value in fields.items()
                }
                upload = {field: (media.filename, media.content, media.content_type)}
                response = requests.post(url, data=form, files=upload, timeout=self._timeout)
        except requests.RequestException as error:
            # Not chained: requests' message names the URL, and the token is in its path.
            raise Retryable(f"Telegram unreachable: {type(error).__name__}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TelegramRefusal(response.status_code, "Telegram's answer was not JSON")
        if answer.get("ok") is True:
            return answer.get("result")
        code = _identifier(answer.get("error_code")) or response.status_code
        retry_after = _number(_object(answer.get("parameters")).get("retry_after"))
        description = _text(answer.get("description"), MAX_REASON)
        raise TelegramRefusal(code, description, retry_after)

    def file_url(self, file_path: str) -> str:
        return f"{self._api_url}/file/bot{self._token}/{quote(file_path)}"


def _refused(refusal: TelegramRefusal) -> Exception:
    """A send's refusal as our errors: worth another try (throttled, Telegram's trouble),
    or a refusal for good, told in the words an agent can act on."""
    if refusal.error_code == 429 or refusal.error_code >= 500:
        return Retryable(f"Telegram answered {refusal.error_code}", refusal.retry_after)
    description = refusal.description.lower()
    reason = next((told for known, told in REFUSALS if known in description), None)
    code = str(refusal.error_code)
    if reason is None:
        general = ERROR_EXPLANATIONS.get(code, "Telegram refused the message")
        reason = f"{general}: {refusal.description}" if refusal.description else general
    return DeliveryRefused(code, reason)


def _bot_of(shop: Shop, secrets: ShopSecrets) -> tuple[str, str] | None:
    """The shop's bot id and token, when both are configured and belong together."""
    token = secrets.telegram_bot_token
    if shop.telegram is None or token is None:
        return None
    value = token.get_secret_value()
    if value.split(":", 1)[0] != shop.telegram.bot_id:
        return None
    return shop.telegram.bot_id, value


class TelegramChannel:
    name = "telegram"

    def __init__(self, api_url: str = TELEGRAM_API, timeout_seconds: float = 10.0) -> None:
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout_seconds

    def _api(self, token: str) -> BotApi:
        return BotApi(self._api_url, token, self._timeout)

    def verify(self, request: WebhookRequest, shop: Shop, secrets: ShopSecrets) -> None:
        import hmac

        given = request.headers.get(SECRET_HEADER)
        expected = secrets.telegram_webhook_secret
        if not given:
            raise Forbidden("missing X-Telegram-Bot-Api-Secret-Token")
        if shop.telegram is None or expected is None:
            raise Forbidden("this shop has no connected Telegram bot")
        if not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), expected.get_secret_value().encode("utf-8")
        ):
            raise Forbidden("invalid X-Telegram-Bot-Api-Secret-Token")

    def parse_update(
        self, request: WebhookRequest, shop: Shop, *, received_at: datetime
    ) -> InboundMessage | None:
        """The customer's message an update carries, or None when it carries none."""
        if shop.telegram is None:
            raise Forbidden("this shop has no Telegram bot")
        read = read_update(request.body)
        if read is None:
            return None
        bot_id = shop.telegram.bot_id
        return InboundMessage(
            shop_id=shop.shop_id,
            channel=Channel.TELEGRAM,
            provider="telegram",
            # update_id counts per bot: the bot is part of the id.
            provider_message_id=fitted(f"{bot_id}:{read.update_id}", PROVIDER_ID_BYTES),
            customer_address=f"telegram:{read.chat_id}",
            shop_address=shop.telegram.address,
            customer_name=read.customer_name,
            text=read.text,
            media=read.media,
            received_at=received_at,
            customer_language=read.language,
        )

    def parse(
        self, request: WebhookRequest, shop: Shop, *, received_at: datetime
    ) -> InboundMessage:
        message = self.parse_update(request, shop, received_at=received_at)
        if message is None:
            raise BadRequest("the update carries no customer message")
        return message

    def parse_status(self, request: WebhookRequest, shop: Shop) -> DeliveryUpdate | None:
        raise BadRequest("Telegram sends bots no delivery statuses")

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        """The reply as one message (a file with the text as its caption, or text alone);
        a text too long for one goes in several, after the file. Telegram has no receipts:
        a reply it took is `sent`."""
        bot = _bot_of(shop, secrets)
        if bot is None:
            raise DeliveryRefused(None, "this shop has no Telegram bot token")
        chat_id = chat_of(message.to)
        if chat_id is None:
            raise DeliveryRefused(None, "the customer's address is not a Telegram chat")
        bot_id, token = bot
        api = self._api(token)
        parts = message_parts(message.text)
        sent: Any = None
        try:
            if media_urls:
                file = self._shared_file(media_urls[0])
                caption = (
                    parts[0]
                    if len(parts) == 1 and utf16_length(parts[0]) <= CAPTION_LIMIT
                    else None
                )
                sent = self._send_file(api, chat_id, file, caption)
                if caption is not None:
                    parts = []
            for part in parts:
                sent = api.call("sendMessage", {"chat_id": chat_id, "text": part})
        except TelegramRefusal as refusal:
            raise _refused(refusal) from refusal
        message_id = _identifier(_object(sent).get("message_id"))
        if message_id is None:
            raise Retryable("Telegram's answer named no message")
        return SendReceipt(
            provider_message_id=fitted(f"{bot_id}:{chat_id}:{message_id}", PROVIDER_ID_BYTES),
            status=DeliveryStatus.SENT,
        )

    def _shared_file(self, url: str) -> MediaFile:
        """An agent's file, read back from the media bucket's link to it (never Telegram's
        host: no token goes with it)."""
        fetched = download(url, "The media bucket", self._timeout)
        if fetched is None or fetched.content is None:
            raise DeliveryRefused(None, "the attached file could not be read back for Telegram")
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "file"
        content_type = fetched.content_type.split(";")[0].strip() or "application/octet-stream"
        return MediaFile(filename=name, content_type=content_type, content=fetched.content)

    @staticmethod
    def _send_file(api: BotApi, chat_id: int, file: MediaFile, caption: str | None) -> Any:
        """A photo as a photo (within Telegram's photo limits), anything else as a document."""
        fields: dict[str, Any] = {"chat_id": str(chat_id)}
        if caption:
            fields["caption"] = caption
        photo = file.content_type in PHOTO_TYPES and len(file.content) <= PHOTO_UPLOAD_LIMIT_BYTES
        if photo:
            return api.call("sendPhoto", fields, ("photo", file))
        return api.call("sendDocument", fields, ("document", file))

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        # The Bot API cannot list what a bot sent: an interrupted send goes out again.
        return []

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        import mimetypes

        file_id = item.url.removeprefix(FILE_PREFIX)
        bot = _bot_of(shop, secrets)
        if not item.url.startswith(FILE_PREFIX) or not _FILE_ID.match(file_id) or bot is None:
            return None
        api = self._api(bot[1])
        try:
            found = _object(api.call("getFile", {"file_id": file_id}))
        except TelegramRefusal as refusal:
            if refusal.error_code == 429 or refusal.error_code >= 500:
                raise Retryable(
                    f"Telegram answered {refusal.error_code}", refusal.retry_after
                ) from refusal
            return None
        path = found.get("file_path")
        if not isinstance(path, str) or not _FILE_PATH.match(path) or ".." in path.split("/"):
            return None
        size = _identifier(found.get("file_size"))
        if size is not None and size > DOWNLOAD_LIMIT_BYTES:
            return None
        try:
            fetched = download(api.file_url(path), "Telegram", self._timeout)
        except Retryable as error:
            # Not chained: the cause names the file's URL, which holds the token.
            raise Retryable(str(error), error.retry_after) from None
        if fetched is None or fetched.content is None:
            return None
        content_type = item.content_type or "application/octet-stream"
        filename = path.rsplit("/", 1)[-1]
        if "." not in filename:
            filename += mimetypes.guess_extension(content_type) or ""
        return MediaFile(filename=filename, content_type=content_type, content=fetched.content)

    def describe_error(self, error_code: str | None) -> str:
        if error_code is None:
            return "Telegram gave no reason"
        return ERROR_EXPLANATIONS.get(error_code, f"Telegram error {error_code}")


@dataclass(frozen=True)
class WebhookSet:
    """What `setWebhook` was asked to set, as Telegram took it."""

    url: str
    allowed_updates: tuple[str, ...]
    bot_username: str | None


class TelegramWebhooks:
    """Points a shop's bot at this deployment (`setWebhook`), with its token from the
    secret store: the token never leaves the deployment."""

    def __init__(self, api_url: str = TELEGRAM_API, timeout_seconds: float = 10.0) -> None:
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout_seconds

    def set_webhook(
        self, shop: Shop, secrets: ShopSecrets, url: str, secret_token: str
    ) -> WebhookSet:
        """Raises Conflict when Telegram refuses the token or the webhook, Retryable when it
        cannot be reached or is throttling."""
        bot = _bot_of(shop, secrets)
        if bot is None:
            raise Conflict("the shop has no Telegram bot token")
        api = BotApi(self._api_url, bot[1], self._timeout)
        try:
            me = _object(api.call("getMe", {}))
            api.call(
                "setWebhook",
                {
                    "url": url,
                    "secret_token": secret_token,
                    "allowed_updates": list(ALLOWED_UPDATES),
                },
            )
        except TelegramRefusal as refusal:
            if refusal.error_code == 429 or refusal.error_code >= 500:
                raise Retryable(
                    f"Telegram answered {refusal.error_code}", refusal.retry_after
                ) from refusal
            if refusal.error_code in (401, 404):
                raise Conflict("Telegram refused the shop's bot token") from refusal
            raise Conflict(f"Telegram refused the webhook: {refusal.description}") from refusal
        username = me.get("username")
        return WebhookSet(
            url=url,
            allowed_updates=ALLOWED_UPDATES,
            bot_username=username if isinstance(username, str) else None,
        )
