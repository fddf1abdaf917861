"""The Telegram Bot API imitated: the calls Threadline makes (getMe, setWebhook,
getWebhookInfo, sendMessage, sendPhoto, sendDocument, getFile) and file downloads, for the
bots given to `add_bot`.

As strict as Telegram where Threadline could go wrong: the bot token in the path must be a
known bot's (401 otherwise), every answer has Telegram's shape (`{"ok": false, "error_code",
"description"}` on errors, `parameters.retry_after` on 429), texts and captions are held to
Telegram's limits in UTF-16 code units, a customer who blocked the bot refuses with
Telegram's own words, and a webhook's secret token must be 1-256 of A-Za-z0-9_-. One
deviation: a webhook on a loopback host may be plain http, so the local stack can set one.

A customer writing to a bot is played with `customer_writes` (or, from another process such
as the demo, `POST /_customers/bot{token}` with `chat_id`, `first_name` and `text`): the
update goes to the bot's webhook with its secret token, as Telegram delivers it; a delivery
the webhook does not answer with 2xx is the `last_error_message` getWebhookInfo shows, in
Telegram's words.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import threading
import urllib.parse
import uuid
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn, decode_params

_METHOD_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_CUSTOMER_PATH = re.compile(r"^/_customers/bot(?P<token>[^/]+)$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
DOCUMENT_LIMIT_BYTES = 50 * 1024 * 1024
WEBHOOK_UPDATES = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "callback_query"}
)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class TelegramStandIn(StandIn):
    """Imitates the Bot API for the bots given to `add_bot`; a customer's files the bot may
    download are given with `add_file`, a customer who blocked a bot with `block`."""

    service = "telegram"

    def __init__(self, outbox: Outbox, *, retry_after_seconds: int = 1) -> None:
        super().__init__(outbox)
        self.retry_after_seconds = retry_after_seconds
        self._lock = threading.Lock()
        # token -> (bot id, username)
        self._bots: dict[str, tuple[int, str]] = {}
        # file_id -> (bot id, path, content type, bytes)
        self._files: dict[str, tuple[int, str, str, bytes]] = {}
        self._blocked: set[tuple[int, int]] = set()
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._message_ids = itertools.count(1000)
        self._update_ids = itertools.count(500000)

    def add_bot(self, token: str, username: str) -> None:
        bot_id = int(token.split(":", 1)[0])
        with self._lock:
            self._bots[token] = (bot_id, username)

    def add_file(self, token: str, content: bytes, name: str) -> str:
        """A file a customer sent the bot; returns its file_id."""
        bot_id = self._bots[token][0]
        file_id = "BQAC" + uuid.uuid4().hex
        with self._lock:
            self._files[file_id] = (bot_id, f"documents/{name}", "", content)
        return file_id

    def block(self, token: str, chat_id: int) -> None:
        with self._lock:
            self._blocked.add((self._bots[token][0], chat_id))

    def customer_writes(self, token: str, chat_id: int, first_name: str, text: str) -> int:
        """Delivers a customer's message to the bot's webhook as Telegram does; returns the
        webhook's HTTP status."""
        import time

        import requests

        bot_id = self._bots[token][0]
        webhook = self.webhooks.get(bot_id)
        if webhook is None:
            raise _Refused(409, "Conflict: the bot has no webhook set")
        update_id = next(self._update_ids)
        update = {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
                "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                "date": int(time.time()),
                "text": text,
            },
        }
        headers = {"Content-Type": "application/json"}
        if webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(webhook["secret_token"])
        response = requests.post(
            webhook["url"], data=json.dumps(update).encode(), headers=headers, timeout=10
        )
        status = response.status_code
        with self._lock:
            if 200 <= status < 300:
                webhook.pop("last_error_message", None)
                webhook.pop("last_error_date", None)
            else:
                webhook["last_error_message"] = (
                    f"Wrong response from the webhook: {status} {response.reason}"
                )
                webhook["last_error_date"] = int(time.time())
        self._record("webhook", {"update_id": update_id, "status": status})
        return status

    def _error_body(self, status: int, message: str) -> Any:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": message}
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            body["description"] = f"Too Many Requests: retry after {self.retry_after_seconds}"
            body["parameters"] = {"retry_after": self.retry_after_seconds}
        return body

    def _api_method(self, request: Request) -> str:
        found = _METHOD_PATH.match(request.path)
        return found.group("method") if found else "file"

    def _handle_api(self, request: Request) -> Reply:
        found_file = _FILE_PATH.match(request.path)
        if request.verb == "GET" and found_file:
            return self._download(found_file.group("token"), found_file.group("path"))
        customer = _CUSTOMER_PATH.match(request.path)
        if request.verb == "POST" and customer:
            return self._customer_message(customer.group("token"), request)
        found = _METHOD_PATH.match(request.path)
        if found is None:
            return Reply(HTTPStatus.NOT_FOUND, self._error_body(404, "Not Found"))
        bot = self._bots.get(found.group("token"))
        if bot is None:
            return Reply(HTTPStatus.UNAUTHORIZED, self._error_body(401, "Unauthorized"))
        method = found.group("method")
        handler = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
        }.get(method)
        if handler is None:
            return Reply(HTTPStatus.NOT_FOUND, self._error_body(404, "Not Found: method not found"))
        try:
            params = _params(request)
            result = handler(bot, params)
        except _Refused as refused:
            body = self._error_body(refused.status, refused.description)
            self._record(method, {"response": body})
            return Reply(refused.status, body)
        return Reply(HTTPStatus.OK, {"ok": True, "result": result})

    def _customer_message(self, token: str, request: Request) -> Reply:
        if token not in self._bots:
            return Reply(HTTPStatus.UNAUTHORIZED, self._error_body(401, "Unauthorized"))
        params = decode_params(request)
        try:
            chat_id = int(str(params.get("chat_id")))
        except ValueError:
            raise BadRequest("chat_id must be a number") from None
        first_name, text = str(params.get("first_name") or ""), str(params.get("text") or "")
        try:
            status = self.customer_writes(token, chat_id, first_name, text)
        except _Refused as refused:
            return Reply(refused.status, self._error_body(refused.status, refused.description))
        return Reply(HTTPStatus.OK, {"ok": True, "result": {"webhook_status": status}})

    def _get_me(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        bot_id, username = bot
        return {"id": bot_id, "is_bot": True, "first_name": username, "username": username}

    def _set_webhook(self, bot: tuple[int, str], params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        split = urllib.parse.urlsplit(url)
        if split.scheme != "https" and not (split.scheme == "http" and _loopback(split.hostname)):
            raise _Refused(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise _Refused(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates", [])
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        if not isinstance(allowed, list) or not set(allowed) <= WEBHOOK_UPDATES:
            raise _Refused(400, "Bad Request: can't parse allowed updates")
        webhook = {"url": url, "secret_token": secret, "allowed_updates": allowed}
        with self._lock:
            self.webhooks[bot[0]] = webhook
        self._record("setWebhook", {"url": url, "allowed_updates": allowed})
        return True

    def _get_webhook_info(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        # As Telegram answers: no `url` but an empty one when none is set, `allowed_updates`
        # only when some were chosen, the last error only while it is the last delivery's.
        with self._lock:
            webhook = dict(self.webhooks.get(bot[0]) or {})
        info: dict[str, Any] = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if not webhook:
            return info
        info["max_connections"] = 40
        if webhook.get("allowed_updates"):
            info["allowed_updates"] = list(webhook["allowed_updates"])
        for key in ("last_error_date", "last_error_message"):
            if key in webhook:
                info[key] = webhook[key]
        return info

    def _chat(self, bot: tuple[int, str], params: dict[str, Any]) -> int:
        try:
            chat_id = int(str(params.get("chat_id")))
        except ValueError:
            raise _Refused(400, "Bad Request: chat not found") from None
        if (bot[0], chat_id) in self._blocked:
            raise _Refused(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _sent(self, chat_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "chat": {"id": chat_id, "type": "private"},
            "date": 0,
            **content,
        }

    def _send_message(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(bot, params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise _Refused(400, "Bad Request: message text is empty")
        if _utf16_length(text) > MESSAGE_LIMIT:
            raise _Refused(400, "Bad Request: message is too long")
        sent = self._sent(chat_id, text=text)
        self._record(
            "sendMessage", {"chat_id": chat_id, "text": text, "message_id": sent["message_id"]}
        )
        return sent

    def _send_file(
        self, bot: tuple[int, str], params: dict[str, Any], field: str, limit: int
    ) -> dict[str, Any]:
        chat_id = self._chat(bot, params)
        caption = str(params.get("caption") or "")
        if _utf16_length(caption) > CAPTION_LIMIT:
            raise _Refused(400, "Bad Request: message caption is too long")
        upload = params.get(field)
        if not isinstance(upload, tuple):
            raise _Refused(400, f"Bad Request: there is no {field} in the request")
        name, content_type, content = upload
        if len(content) > limit:
            raise _Refused(400, "Bad Request: file is too big")
        sent = self._sent(chat_id, caption=caption)
        self._record(
            "sendPhoto" if field == "photo" else "sendDocument",
            {
                "chat_id": chat_id,
                "caption": caption,
                "filename": name,
                "content_type": content_type,
                "bytes": len(content),
                "message_id": sent["message_id"],
            },
        )
        return sent

    def _send_photo(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(bot, params, "photo", PHOTO_LIMIT_BYTES)

    def _send_document(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(bot, params, "document", DOCUMENT_LIMIT_BYTES)

    def _get_file(self, bot: tuple[int, str], params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        found = self._files.get(file_id)
        if found is None or found[0] != bot[0]:
            raise _Refused(400, "Bad Request: invalid file_id")
        _, path, _, content = found
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-8:],
            "file_size": len(content),
            "file_path": path,
        }

    def _download(self, token: str, path: str) -> Reply:
        bot = self._bots.get(token)
        wanted = urllib.parse.unquote(path)
        for bot_id, file_path, _, content in self._files.values():
            if bot is not None and bot_id == bot[0] and file_path == wanted:
                return Reply(HTTPStatus.OK, content, content_type="application/octet-stream")
        return Reply(HTTPStatus.NOT_FOUND, self._error_body(404, "Not Found"))


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _params(request: Request) -> dict[str, Any]:
    """A call's parameters: query, JSON, form, or multipart (a file's field as a tuple of
    name, content type and bytes)."""
    content_type = request.headers.get_content_type() if request.headers.get("Content-Type") else ""
    if content_type != "multipart/form-data":
        return decode_params(request)
    head = f"Content-Type: {request.headers.get('Content-Type')}\r\n\r\n".encode()
    parsed: Message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not parsed.is_multipart():
        raise BadRequest("invalid multipart body")
    params: dict[str, Any] = dict(request.query)
    for part in parsed.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            params[str(name)] = (filename, part.get_content_type(), payload)
        else:
            params[str(name)] = payload.decode("utf-8")
    return params
