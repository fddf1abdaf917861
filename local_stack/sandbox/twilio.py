"""The Twilio Messages API imitated (create, fetch, list, customers' media), and the signed
status callbacks Twilio sends afterwards (`sent`, `delivered`, and `read` for WhatsApp)."""

from __future__ import annotations

import copy
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.fields import as_str
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import (
    STOP_JOIN_SECONDS,
    BadRequest,
    Reply,
    Request,
    decode_params,
    group_params,
)
from local_stack.sandbox.twilio_accounts import API_VERSION, TwilioAccounts, twilio_page

_CALLBACK_TIMEOUT_SECONDS = 5.0
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>MM[^/]+)/Media/ME[^/]+$"
)
_MESSAGE_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)
_TWILIO_REPEATABLE = frozenset({"MediaUrl"})


def _rfc2822_now() -> str:
    return format_datetime(datetime.now(UTC))


class TwilioStandIn(TwilioAccounts):
    """Imitates the Twilio Messages API and the status callbacks Twilio sends afterwards, and
    the numbers of accounts given to `provision` (their webhooks, as Threadline sets them).

    A provisioned account's calls need its auth token; any other account's, any token."""

    def __init__(self, outbox: Outbox, *, callback_delay: float = 0.2) -> None:
        super().__init__(outbox)
        self._callback_delay = callback_delay
        self._messages: dict[str, dict[str, Any]] = {}
        self._callbacks: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Customers' attachments, by path: (content type, bytes).
        self._media: dict[str, tuple[str, bytes]] = {}

    def add_media(self, account_sid: str, content: bytes, content_type: str) -> str:
        """An attachment as if a customer had sent it: the MediaUrl Twilio's webhook names."""
        path = (
            f"/{API_VERSION}/Accounts/{account_sid}/Messages/MM{uuid.uuid4().hex}"
            f"/Media/ME{uuid.uuid4().hex}"
        )
        with self._lock:
            self._media[path] = (content_type, content)
        return self._root_url() + path

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping.clear()
        return super().start(host, port)

    def stop(self) -> None:
        # Wakes callback threads still waiting out their delay, so they give up at once.
        self._stopping.set()
        super().stop()
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        with self._lock:
            pending = list(self._callbacks)
            self._callbacks.clear()
        for thread in pending:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _api_method(self, request: Request) -> str:
        if _MESSAGES_PATH.match(request.path):
            return "messages.create" if request.verb == "POST" else "messages.list"
        return super()._api_method(request)

    def _handle_api(self, request: Request) -> Reply:
        match = _MESSAGES_PATH.match(request.path)
        if match and request.verb == "POST":
            return self._create(match["account"], request)
        if match and request.verb == "GET":
            return self._list(match["account"], request)
        match = _MESSAGE_PATH.match(request.path)
        if match and request.verb == "GET":
            return self._fetch(match["account"], match["sid"], request)
        match = _MEDIA_PATH.match(request.path)
        if match and request.verb == "GET":
            return self._fetch_media(match["account"], request)
        return self._handle_accounts(request) or self._unsupported(request)

    def _fetch_media(self, account_sid: str, request: Request) -> Reply:
        """A customer's attachment, as Twilio serves a MediaUrl to the account."""
        if self._authenticate(account_sid, request) is None:
            return self._reject("media.fetch", {"path": request.path}, 401, 20003, "Authenticate")
        media = self._media.get(request.path)
        if media is None:
            return Reply(HTTPStatus.NOT_FOUND, self._error_body(404, request.path))
        self._record("media.fetch", {"path": request.path, "bytes": len(media[1])})
        return Reply(HTTPStatus.OK, media[1], media[0])

    def _create(self, account_sid: str, request: Request) -> Reply:
        try:
            params = decode_params(request, _TWILIO_REPEATABLE)
        except BadRequest as exc:
            return self._reject("messages.create", {}, 400, 20001, str(exc))
        credentials = self._authenticate(account_sid, request)
        if credentials is None:
            return self._reject("messages.create", params, 401, 20003, "Authenticate")
        to = as_str(params.get("To"))
        sender = as_str(params.get("From"))
        service_sid = as_str(params.get("MessagingServiceSid"))
        body = as_str(params.get("Body"))
        media = params.get("MediaUrl") or []
        if not to:
            return self._reject(
                "messages.create", params, 400, 21604, "A 'To' phone number is required."
            )
        if not sender and not service_sid:
            return self._reject(
                "messages.create", params, 400, 21603, "A 'From' phone number is required."
            )
        if not body and not media and not params.get("ContentSid"):
            return self._reject("messages.create", params, 400, 21602, "Message body is required.")

        sid = "SM" + uuid.uuid4().hex
        now = _rfc2822_now()
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "to": to,
            "from": sender or None,
            "messaging_service_sid": service_sid or None,
            "body": body,
            "status": "queued",
            "num_media": str(len(media)),
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": uri,
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        }
        with self._lock:
            self._messages[sid] = resource
            snapshot = copy.deepcopy(resource)
        self._record("messages.create", {**params, "response": snapshot})
        self._schedule_progress(sid, credentials[1], as_str(params.get("StatusCallback")))
        return Reply(HTTPStatus.CREATED, snapshot)

    def _fetch(self, account_sid: str, sid: str, request: Request) -> Reply:
        if self._authenticate(account_sid, request) is None:
            return self._reject("messages.fetch", {"MessageSid": sid}, 401, 20003, "Authenticate")
        with self._lock:
            stored = self._messages.get(sid)
            snapshot = copy.deepcopy(stored) if stored else None
        if snapshot is None or snapshot["account_sid"] != account_sid:
            message = f"The requested resource {request.path} was not found"
            return self._reject("messages.fetch", {"MessageSid": sid}, 404, 20404, message)
        self._record("messages.fetch", {"MessageSid": sid, "response": snapshot})
        return Reply(HTTPStatus.OK, snapshot)

    def _list(self, account_sid: str, request: Request) -> Reply:
        """Messages of the account, newest first, filtered by To / From like Twilio's list."""
        params = group_params(request.query, frozenset())
        if self._authenticate(account_sid, request) is None:
            return self._reject("messages.list", params, 401, 20003, "Authenticate")
        try:
            page_size = max(1, min(int(as_str(params.get("PageSize")) or 50), 1000))
        except ValueError:
            return self._reject("messages.list", params, 400, 20001, "invalid PageSize")
        wanted = {
            field: as_str(params[name])
            for name, field in (("To", "to"), ("From", "from"))
            if params.get(name)
        }
        with self._lock:
            found = [
                copy.deepcopy(m)
                for m in reversed(self._messages.values())
                if m["account_sid"] == account_sid
                and all(m.get(field) == value for field, value in wanted.items())
            ][:page_size]
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json?PageSize={page_size}"
        page = twilio_page("messages", found, uri, page_size)
        self._record("messages.list", {**params, "response": {"count": len(found)}})
        return Reply(HTTPStatus.OK, page)

    def _schedule_progress(self, sid: str, auth_token: str, callback_url: str) -> None:
        thread = threading.Thread(
            target=self._progress,
            args=(sid, auth_token, callback_url),
            name=f"sandbox-twilio-status-{sid}",
            daemon=True,
        )
        with self._lock:
            self._callbacks = [t for t in self._callbacks if t.is_alive()]
            self._callbacks.append(thread)
        thread.start()

    def _progress(self, sid: str, auth_token: str, callback_url: str) -> None:
        """Walk a message through Twilio's delivery states, calling back after each one."""
        if self._stopping.wait(self._callback_delay):
            return
        with self._lock:
            to = as_str(self._messages[sid]["to"])
        statuses = ["sent", "delivered"] + (["read"] if to.startswith("whatsapp:") else [])
        for status in statuses:
            if self._stopping.is_set():
                return
            with self._lock:
                resource = self._messages[sid]
                resource["status"] = status
                resource["date_updated"] = _rfc2822_now()
                if status == "sent":
                    resource["date_sent"] = resource["date_updated"]
                params = {
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "AccountSid": as_str(resource["account_sid"]),
                    "From": as_str(resource["from"]),
                    "To": to,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "ApiVersion": API_VERSION,
                }
                if resource["messaging_service_sid"]:
                    params["MessagingServiceSid"] = as_str(resource["messaging_service_sid"])
            if callback_url:
                outcome = _post_signed(callback_url, params, auth_token)
                self._record("status_callback", {**params, "url": callback_url, **outcome})


def _post_signed(url: str, params: dict[str, str], auth_token: str) -> dict[str, Any]:
    """POST a status callback the way Twilio signs it; report the outcome, never raise."""
    try:
        from twilio.request_validator import RequestValidator

        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url!r}")
        signature = RequestValidator(auth_token).compute_signature(url, params)
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=urllib.parse.urlencode(params).encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1 (Threadline sandbox)",
            },
            method="POST",
        )
        # No proxies: the callback target is the local stack, whatever http_proxy says.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=_CALLBACK_TIMEOUT_SECONDS) as answer:
            return {"response": {"status": answer.status}}
    except urllib.error.HTTPError as exc:
        return {"response": {"status": exc.code, "error": f"HTTP {exc.code}"}}
    except Exception as exc:  # connection refused, timeout, bad URL: report, never crash
        reason = getattr(exc, "reason", None) or exc
        return {"response": {"error": str(reason)}}
