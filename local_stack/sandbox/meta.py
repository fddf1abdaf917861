"""A stand-in for Meta's Graph API, as strict as the real one where Threadline relies on it.

It answers the WhatsApp Cloud API's `POST /vNN.0/{phone_number_id}/messages`, the Send API's
`POST /vNN.0/me/messages` (Messenger, Instagram), the media look-up `GET /vNN.0/{media_id}`
with its download, and the reads `threadline doctor` makes: `GET /vNN.0/me` (who the token
is) and `GET /vNN.0/{id}` of a number, Page or Instagram account the token may use; each
only with a provisioned access token, any other id refused, and errors in Graph's shape
(`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`).
Sends are recorded in the outbox; with a webhook URL and the app secret, each WhatsApp send is
followed by the `sent`, `delivered` and `read` statuses, each Messenger send by its
delivery and then a read receipt that names a time (`read.watermark`, as Messenger's do),
and each Instagram send by its seen event alone (Instagram has no delivery event:
`messaging_seen` is its only receipt), posted to the webhook signed as Meta signs them
(`X-Hub-Signature-256`); `customer_edits` posts a customer's edit of a message
(`message_edit`) the same way. A Send API recipient is an Instagram user when provisioned as one
of the account's `instagram_users` (scoped ids look alike on both), else a Messenger user.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn

_VERSIONED = re.compile(r"^/v\d+\.\d+/(?P<rest>.+)$")
_DIGITS = re.compile(r"^[0-9]{1,32}$")
WHATSAPP_TYPES = frozenset({"text", "image", "audio", "video", "document", "sticker", "template"})
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
TEXT_LIMITS = {"whatsapp": 4096, "messenger": 2000}
STATUS_DELAY_SECONDS = 0.3
# The customer opens the chat a moment after the delivery.
READ_DELAY_SECONDS = 0.8
# Who every provisioned token is (`GET /me`): a business's system user.
SYSTEM_USER_ID = "61550000000001"
SYSTEM_USER_NAME = "Threadline system user"


@dataclass
class _Account:
    """What one access token may use: WhatsApp numbers, and the Page (and its Instagram
    account) that `me` stands for."""

    whatsapp_numbers: set[str] = field(default_factory=set)
    page_id: str | None = None
    instagram_id: str | None = None
    # Instagram-scoped ids of the customers who wrote to the Instagram account.
    instagram_users: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Media:
    content: bytes
    mime_type: str


class MetaStandIn(StandIn):
    service = "meta"

    def __init__(
        self,
        outbox: Outbox,
        app_secret: str = "",
        webhook_url: str | None = None,
    ) -> None:
        super().__init__(outbox)
        self._app_secret = app_secret
        self.webhook_url = webhook_url
        self._accounts: dict[str, _Account] = {}
        self._media: dict[str, _Media] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def provision(
        self,
        token: str,
        *,
        whatsapp_numbers: tuple[str, ...] = (),
        page_id: str | None = None,
        instagram_id: str | None = None,
        instagram_users: tuple[str, ...] = (),
    ) -> None:
        self._accounts[token] = _Account(
            set(whatsapp_numbers), page_id, instagram_id, set(instagram_users)
        )

    def add_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        """A customer's file, as WhatsApp holds it for a webhook's media id."""
        self._media[media_id] = _Media(content, mime_type)

    def sent(self) -> list[dict[str, Any]]:
        return [entry.payload for entry in self._own if entry.method == "send"]

    # The API ------------------------------------------------------------------------

    def _handle_api(self, request: Request) -> Reply:
        if request.verb == "GET" and request.path.startswith("/_media/"):
            return self._download(request, request.path.removeprefix("/_media/"))
        matched = _VERSIONED.match(request.path)
        if matched is None:
            return self._unsupported(request)
        account = self._accounts.get(_bearer(request))
        if account is None:
            return _error(HTTPStatus.UNAUTHORIZED, 190, "Invalid OAuth access token.")
        rest = matched["rest"]
        if request.verb == "POST" and rest == "me/messages":
            return self._send_api(account, _json_body(request))
        if request.verb == "POST" and rest.endswith("/messages"):
            return self._whatsapp_send(account, rest.removesuffix("/messages"), _json_body(request))
        if request.verb == "GET" and rest == "me":
            return Reply(HTTPStatus.OK, {"id": SYSTEM_USER_ID, "name": SYSTEM_USER_NAME})
        if request.verb == "GET" and _DIGITS.match(rest):
            found = _readable(account, rest)
            return Reply(HTTPStatus.OK, found) if found else self._media_url(request, rest)
        return self._unsupported(request)

    def _whatsapp_send(self, account: _Account, number_id: str, body: dict[str, Any]) -> Reply:
        if number_id not in account.whatsapp_numbers:
            return _error(
                HTTPStatus.BAD_REQUEST,
                100,
                f"Unsupported post request. Object with ID '{number_id}' does not exist",
                subcode=33,
            )
        if body.get("messaging_product") != "whatsapp":
            return _error(
                HTTPStatus.BAD_REQUEST, 100, "The parameter messaging_product is required."
            )
        to = body.get("to")
        kind = body.get("type", "text")
        if not isinstance(to, str) or not _DIGITS.match(to.lstrip("+")):
            return _error(HTTPStatus.BAD_REQUEST, 100, "Invalid parameter: to")
        if kind not in WHATSAPP_TYPES or not isinstance(body.get(kind), dict):
            return _error(HTTPStatus.BAD_REQUEST, 100, f"Invalid parameter: {kind}")
        text = body["text"].get("body") if kind == "text" else None
        if kind == "text" and (not isinstance(text, str) or not text.strip()):
            return _error(HTTPStatus.BAD_REQUEST, 100, "Param text['body'] is required")
        if isinstance(text, str) and len(text) > TEXT_LIMITS["whatsapp"]:
            return _error(HTTPStatus.BAD_REQUEST, 100, "Param text['body'] is too long")
        if kind == "template" and not body["template"].get("name"):
            return _error(HTTPStatus.BAD_REQUEST, 132001, "Template name does not exist")
        wamid = f"wamid.SANDBOX{next(self._ids):06d}"
        self._record("send", {"channel": "whatsapp_cloud", "from": number_id, "id": wamid, **body})
        self._emit_statuses(number_id, wamid, to)
        return Reply(
            HTTPStatus.OK,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": wamid}],
            },
        )

    def _send_api(self, account: _Account, body: dict[str, Any]) -> Reply:
        if account.page_id is None:
            return _error(HTTPStatus.BAD_REQUEST, 100, "The token is not a Page access token.")
        recipient = body.get("recipient")
        message = body.get("message")
        messaging_type = body.get("messaging_type")
        if not isinstance(recipient, dict) or not isinstance(recipient.get("id"), str):
            return _error(HTTPStatus.BAD_REQUEST, 100, "param recipient must be non-empty.")
        if not isinstance(message, dict):
            return _error(HTTPStatus.BAD_REQUEST, 100, "param message must be non-empty.")
        if messaging_type not in MESSAGING_TYPES:
            return _error(HTTPStatus.BAD_REQUEST, 100, "param messaging_type is invalid.")
        if (messaging_type == "MESSAGE_TAG") != ("tag" in body):
            return _error(HTTPStatus.BAD_REQUEST, 100, "a tag goes with MESSAGE_TAG only.")
        text = message.get("text")
        if text is None and not isinstance(message.get("attachment"), dict):
            return _error(HTTPStatus.BAD_REQUEST, 100, "message must have text or attachment.")
        if isinstance(text, str) and len(text) > TEXT_LIMITS["messenger"]:
            return _error(
                HTTPStatus.BAD_REQUEST,
                100,
                "param message[text] must be UTF-8 and 2000 characters or fewer.",
            )
        mid = f"m_SANDBOX{next(self._ids):06d}"
        if account.instagram_id is not None and recipient["id"] in account.instagram_users:
            self._record("send", {"channel": "instagram", "id": mid, **body})
            self._emit_seen(account.instagram_id, recipient["id"], mid)
        else:
            self._record("send", {"channel": "messenger", "id": mid, **body})
            self._emit_delivery(account.page_id, recipient["id"], mid)
            self._emit_read(account.page_id, recipient["id"])
        return Reply(HTTPStatus.OK, {"recipient_id": recipient["id"], "message_id": mid})

    def _media_url(self, request: Request, media_id: str) -> Reply:
        media = self._media.get(media_id)
        if media is None:
            return _error(
                HTTPStatus.BAD_REQUEST,
                100,
                f"Object with ID '{media_id}' does not exist",
                subcode=33,
            )
        return Reply(
            HTTPStatus.OK,
            {
                "messaging_product": "whatsapp",
                "url": f"{self._root_url()}/_media/{media_id}",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.content).hexdigest(),
                "file_size": len(media.content),
                "id": media_id,
            },
        )

    def _download(self, request: Request, media_id: str) -> Reply:
        # As on lookaside.fbsbx.com, the file needs the token too.
        if _bearer(request) not in self._accounts:
            return _error(HTTPStatus.UNAUTHORIZED, 190, "Invalid OAuth access token.")
        media = self._media.get(media_id)
        if media is None:
            return _error(HTTPStatus.NOT_FOUND, 100, "no such media")
        return Reply(HTTPStatus.OK, media.content, content_type=media.mime_type)

    def _error_body(self, status: int, message: str) -> Any:
        return _error_document(status, 1 if status >= 500 else 100, message)

    # Webhooks -----------------------------------------------------------------------

    def _emit_statuses(self, number_id: str, wamid: str, to: str) -> None:
        statuses = [
            {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": to}
            for status in ("sent", "delivered", "read")
        ]
        change = {
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": number_id},
                "statuses": statuses,
            },
        }
        self._post_later(
            {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [change]}]}
        )

    def _emit_delivery(self, page_id: str, recipient: str, mid: str) -> None:
        now = int(time.time() * 1000)
        event = {
            "sender": {"id": recipient},
            "recipient": {"id": page_id},
            "timestamp": now,
            "delivery": {"mids": [mid], "watermark": now},
        }
        self._post_later(
            {"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [event]}]}
        )

    def _emit_read(self, page_id: str, recipient: str) -> None:
        # Messenger's read receipt names no message: everything sent up to its watermark.
        now = int(time.time() * 1000)
        event = {
            "sender": {"id": recipient},
            "recipient": {"id": page_id},
            "timestamp": now,
            "read": {"watermark": now},
        }
        self._post_later(
            {"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [event]}]},
            delay=READ_DELAY_SECONDS,
        )

    def customer_edits(
        self, account_id: str, customer: str, mid: str, text: str, num_edit: int = 1
    ) -> None:
        """A customer's edit of their message `mid`, posted signed to the webhook now;
        `account_id` is the Page's or the Instagram account's."""
        if not 1 <= num_edit <= 5:
            raise ValueError("Messenger allows a message five edits")
        now = int(time.time() * 1000)
        event = {
            "sender": {"id": customer},
            "recipient": {"id": account_id},
            "timestamp": now,
            "message_edit": {"mid": mid, "text": text, "num_edit": num_edit},
        }
        instagram = any(a.instagram_id == account_id for a in self._accounts.values())
        document = {
            "object": "instagram" if instagram else "page",
            "entry": [{"id": account_id, "time": now, "messaging": [event]}],
        }
        self._post_later(document, delay=0)

    def _emit_seen(self, instagram_id: str, recipient: str, mid: str) -> None:
        # Instagram's `messaging_seen`: the message read, named by its id.
        now = int(time.time() * 1000)
        event = {
            "sender": {"id": recipient},
            "recipient": {"id": instagram_id},
            "timestamp": now,
            "read": {"mid": mid},
        }
        entry = {"id": instagram_id, "time": now, "messaging": [event]}
        self._post_later({"object": "instagram", "entry": [entry]})

    def _post_later(self, document: dict[str, Any], delay: float = STATUS_DELAY_SECONDS) -> None:
        if not self.webhook_url or not self._app_secret:
            return
        url = self.webhook_url
        body = json.dumps(document, ensure_ascii=True).encode()
        signature = hmac.new(self._app_secret.encode(), body, hashlib.sha256).hexdigest()

        def post() -> None:
            import requests

            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={signature}",
            }
            try:
                status = requests.post(url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = 0
            self._record("webhook", {"status": status, "object": document["object"]})

        threading.Timer(delay, post).start()


def _readable(account: _Account, object_id: str) -> dict[str, Any] | None:
    """An object the token may read, with Graph's default fields of its kind."""
    if object_id in account.whatsapp_numbers:
        return {
            "verified_name": "Sandbox shop",
            "display_phone_number": f"+1 555-{object_id[-7:-4]}-{object_id[-4:]}",
            "quality_rating": "GREEN",
            "id": object_id,
        }
    if object_id == account.page_id:
        return {"name": "Sandbox Page", "id": object_id}
    if object_id == account.instagram_id:
        return {"id": object_id}
    return None


def _bearer(request: Request) -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def _json_body(request: Request) -> dict[str, Any]:
    try:
        decoded = json.loads(request.body or b"{}")
    except ValueError as error:
        raise BadRequest("body is not JSON") from error
    if not isinstance(decoded, dict):
        raise BadRequest("body must be a JSON object")
    return decoded


def _error_document(
    status: int, code: int, message: str, subcode: int | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "ASandboxTrace",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _error(status: int, code: int, message: str, subcode: int | None = None) -> Reply:
    return Reply(status, _error_document(status, code, message, subcode))
