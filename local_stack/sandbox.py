"""Sandbox stand-ins for Slack and Twilio, so the local stack runs without any accounts.

Two tiny HTTP servers imitate the parts of the Slack Web API and the Twilio Messages API
(and, for connecting a shop's numbers, IncomingPhoneNumbers and the WhatsApp Senders API)
that the official clients call (``slack_sdk.WebClient(base_url=...)`` and
``twilio.rest.Client`` with a URL-rewriting http client). Every call is recorded in an
:class:`Outbox` and printed readably to a stream: that printout is what a newcomer watches
in the terminal to see what would have gone to Slack and to customers.

The Twilio stand-in also plays Twilio's part afterwards: it sends signed status callbacks
(``sent``, ``delivered``, and ``read`` for WhatsApp) to the ``StatusCallback`` URL.

Both servers answer ``GET /_outbox`` with the JSON list of their own recorded entries, so
an end-to-end test or a demo script in another process can read what was sent.

Only the standard library is used, plus ``twilio.request_validator`` for signing. What Slack
refuses in a message or a modal (Block Kit's limits) is refused here too, in Slack's words
(`slack_limits`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import html
import json
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO, cast

from local_stack.slack_limits import message_refusal, view_refusal

__all__ = ["Fault", "Faults", "Outbox", "OutboxEntry", "SlackStandIn", "TwilioStandIn"]

# Anything bigger than this is not a chat message; refuse it rather than buffer it.
_MAX_BODY_BYTES = 5 * 1024 * 1024
_CONTINUATION = "    "
_TWILIO_API_VERSION = "2010-04-01"


def _twilio_page(name: str, found: list[dict[str, Any]], uri: str, size: int) -> dict[str, Any]:
    """One page of a Twilio list answer, holding everything found."""
    return {
        name: found,
        "page": 0,
        "page_size": size,
        "start": 0,
        "end": max(len(found) - 1, 0),
        "uri": uri,
        "first_page_uri": uri,
        "next_page_uri": None,
        "previous_page_uri": None,
    }


_CALLBACK_TIMEOUT_SECONDS = 5.0
_STOP_JOIN_SECONDS = 2.0


@dataclass(frozen=True)
class OutboxEntry:
    """One call that reached a stand-in (or one status callback the Twilio stand-in sent)."""

    service: str
    method: str
    payload: dict[str, Any]


class Outbox:
    """Thread-safe record of calls + readable printer."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._entries: list[OutboxEntry] = []
        # One condition guards the list and the stream, so printed order equals recorded
        # order. Its lock is re-entrant, so a wait_for predicate may call entries().
        self._changed = threading.Condition()

    def record(self, entry: OutboxEntry) -> None:
        with self._changed:
            self._entries.append(entry)
            self._write(_describe(entry))
            self._changed.notify_all()

    def entries(self, service: str | None = None, method: str | None = None) -> list[OutboxEntry]:
        with self._changed:
            return [
                entry
                for entry in self._entries
                if (service is None or entry.service == service)
                and (method is None or entry.method == method)
            ]

    def wait_for(
        self, predicate: Callable[[OutboxEntry], bool], timeout: float = 10.0
    ) -> OutboxEntry:
        """Return the first entry, already recorded or still to come, matching `predicate`."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                for entry in self._entries[checked:]:
                    if predicate(entry):
                        return entry
                checked = len(self._entries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching outbox entry within {timeout:g}s "
                        f"({len(self._entries)} entries recorded)"
                    )
                self._changed.wait(remaining)

    def _note(self, line: str) -> None:
        """Print a line that is not a call (e.g. a stand-in's own trouble); nothing is recorded."""
        with self._changed:
            self._write(_printable(line))

    def _write(self, text: str) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except UnicodeEncodeError:
            # A terminal that cannot show a script still gets every character, escaped.
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            safe = (text + "\n").encode(encoding, "backslashreplace").decode(encoding)
            try:
                self._stream.write(safe)
                self._stream.flush()
            except (OSError, ValueError):
                pass
        except (OSError, ValueError):
            # A closed terminal or pipe must never break the stand-in that is printing.
            pass


# ---------------------------------------------------------------------------------------
# Readable printing
# ---------------------------------------------------------------------------------------


def _printable(text: str) -> str:
    # Customer text could carry terminal escape sequences; show control characters instead of
    # obeying them. Everything else (any script, bidi marks, emoji) is left exactly as sent.
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else f"\\x{ord(ch):02x}"
        for ch in text
    )


def _with_body(head: str, body: str) -> str:
    """`head: body`, continuing a multi-line body on indented lines."""
    if not body:
        return _printable(head)
    lines = body.split("\n")
    text = f"{head}: {lines[0]}"
    for line in lines[1:]:
        text += "\n" + _CONTINUATION + line
    return _printable(text)


def _describe_ses(entry: OutboxEntry) -> str:
    payload = entry.payload
    if "From" not in payload:
        return _printable(f"[ses] {entry.method} ✗ {payload.get('response')}")
    head = (
        f"[ses] mail {_as_str(payload.get('From'))} → {_as_str(payload.get('To'))}: "
        f"{_as_str(payload.get('Subject'))} (In-Reply-To {_as_str(payload.get('In-Reply-To'))})"
    )
    attachments = payload.get("Attachments") or []
    body = _as_str(payload.get("Body")).strip()
    if attachments:
        body += "\nattachments: " + ", ".join(_as_str(a) for a in attachments)
    return _with_body(head, body)


def _describe(entry: OutboxEntry) -> str:
    if entry.service == "slack":
        return _describe_slack(entry)
    if entry.service == "twilio":
        return _describe_twilio(entry)
    if entry.service == "ses":
        return _describe_ses(entry)
    return _printable(f"[{entry.service}] {entry.method}")


def _as_str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _as_blocks(value: Any) -> list[Any]:
    # Form posts carry blocks as a JSON string, JSON posts as a real list.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def _as_object(value: Any) -> dict[str, Any] | None:
    # Form posts carry an object (message metadata) as a JSON string, JSON posts as itself.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _slack_message_text(payload: dict[str, Any]) -> str:
    text = _as_str(payload.get("text"))
    if text:
        return text
    blocks = _as_blocks(payload.get("blocks"))
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "section":
            inner = block.get("text")
            if isinstance(inner, dict) and _as_str(inner.get("text")):
                return _as_str(inner.get("text"))
    if blocks:
        return f"({len(blocks)} blocks, no section text)"
    if payload.get("attachments"):
        return "(attachments only)"
    return ""


def _describe_slack(entry: OutboxEntry) -> str:
    payload = entry.payload
    response = payload.get("response")
    response = response if isinstance(response, dict) else {}
    method = entry.method
    channel = _as_str(payload.get("channel"))
    prefix = f"[slack] {method}"
    if not response.get("ok"):
        error = _as_str(response.get("error")) or "failed"
        detail = _as_str(response.get("detail"))
        return _printable(f"{prefix} ✗ {error}" + (f" ({detail})" if detail else ""))
    if method == "chat.postMessage":
        thread_ts = _as_str(payload.get("thread_ts"))
        where = f"thread {thread_ts}" if thread_ts else f"new thread {response.get('ts')}"
        # As asked: a post to a user lands in a channel of its own (their direct messages).
        head = f"{prefix} #{channel} ({where})"
        return _with_body(head, _slack_message_text(payload))
    if method == "chat.update":
        head = f"{prefix} #{channel} (message {_as_str(payload.get('ts'))})"
        return _with_body(head, _slack_message_text(payload))
    if method == "chat.postEphemeral":
        head = f"{prefix} #{channel} (only for {_as_str(payload.get('user'))})"
        return _with_body(head, _slack_message_text(payload))
    if method in ("reactions.add", "reactions.remove"):
        return _printable(
            f"{prefix} :{_as_str(payload.get('name'))}: on "
            f"{channel}/{_as_str(payload.get('timestamp'))}"
        )
    if method == "files.delete":
        return _printable(f"{prefix} {_as_str(payload.get('file'))}")
    if method in ("chat.getPermalink", "chat.delete"):
        ts = _as_str(payload.get("message_ts") or payload.get("ts"))
        return _printable(f"{prefix} {channel}/{ts}")
    if method == "auth.test":
        return _printable(f"{prefix} → {response.get('user_id')} in {response.get('team_id')}")
    if method == "files.completeUploadExternal":
        names = ", ".join(_as_str(f.get("name")) for f in response.get("files", []))
        thread_ts = _as_str(payload.get("thread_ts"))
        where = f"#{_as_str(payload.get('channel_id'))}" + (
            f" (thread {thread_ts})" if thread_ts else ""
        )
        return _printable(f"{prefix} {where}: {names}")
    return _printable(prefix)


def _channel_name(to: str, has_media: bool) -> str:
    if to.lower().startswith("whatsapp:"):
        return "WhatsApp"
    return "MMS" if has_media else "SMS"


def _describe_twilio(entry: OutboxEntry) -> str:
    payload = entry.payload
    response = payload.get("response")
    response = response if isinstance(response, dict) else {}
    if entry.method == "status_callback":
        head = (
            f"[twilio] status {_as_str(payload.get('MessageSid'))} → "
            f"{_as_str(payload.get('MessageStatus'))} ({_as_str(payload.get('To'))})"
        )
        if "error" in response:
            head += f" ✗ callback to {_as_str(payload.get('url'))} failed: {response['error']}"
        return _printable(head)
    if "code" in response:  # Twilio's error resources carry a numeric code, messages don't
        return _printable(
            f"[twilio] {entry.method} ✗ {response.get('status')} "
            f"(code {response.get('code')}): {_as_str(response.get('message'))}"
        )
    if entry.method == "messages.create":
        media = payload.get("MediaUrl") or []
        to = _as_str(payload.get("To"))
        sender = _as_str(payload.get("From")) or _as_str(payload.get("MessagingServiceSid"))
        head = f"[twilio] {_channel_name(to, bool(media))} {sender} → {to}"
        body = _as_str(payload.get("Body"))
        extra = [f"media: {url}" for url in media]
        if payload.get("ContentSid"):
            variables = _as_str(payload.get("ContentVariables"))
            extra.append(f"template {_as_str(payload.get('ContentSid'))} {variables}".rstrip())
        lines = ([body] if body else []) + extra
        return _with_body(head, "\n".join(lines))
    if entry.method == "messages.list":
        return _printable(
            f"[twilio] messages.list to {_as_str(payload.get('To'))} from "
            f"{_as_str(payload.get('From'))} → {response.get('count')} found"
        )
    if entry.method == "incoming_phone_numbers.update":
        return _printable(
            f"[twilio] number {_as_str(payload.get('PhoneNumber'))}: messages → "
            f"{_as_str(payload.get('SmsMethod'))} {_as_str(payload.get('SmsUrl'))}"
        )
    if entry.method == "senders.update":
        webhook = payload.get("webhook")
        webhook = webhook if isinstance(webhook, dict) else {}
        return _printable(
            f"[twilio] WhatsApp sender {_as_str(payload.get('sender_id'))}: messages → "
            f"{_as_str(webhook.get('callback_url'))}, statuses → "
            f"{_as_str(webhook.get('status_callback_url'))}"
        )
    if entry.method in ("incoming_phone_numbers.list", "senders.list"):
        wanted = _as_str(payload.get("PhoneNumber") or payload.get("Channel"))
        return _printable(f"[twilio] {entry.method} {wanted} → {response.get('count')} found")
    if entry.method == "messages.fetch":
        return _printable(
            f"[twilio] messages.fetch {_as_str(payload.get('MessageSid'))} → "
            f"{_as_str(response.get('status'))}"
        )
    return _printable(f"[twilio] {entry.method}")


# ---------------------------------------------------------------------------------------
# HTTP plumbing shared by both stand-ins
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """How a stand-in misbehaves on a call: it answers `status` (with `headers`, such as
    Slack's Retry-After) without doing anything; or, with `delay_seconds`, it does the work
    and holds its answer back that long, as a provider whose answer times out."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0


@dataclass
class _FaultRule:
    method: str
    fault: Fault
    rate: float
    limit: int | None
    struck: int = 0


class Faults:
    """Failures to inject into a stand-in's API calls, for reliability runs: each rule
    strikes a method's calls at `rate` (0 to 1), at most `limit` times. Random but
    reproducible (`seed`); every strike is counted in `injected`, by method."""

    def __init__(self, seed: int = 0) -> None:
        import random

        self._random = random.Random(seed)  # noqa: S311 (fault injection, not secrets)
        self._rules: list[_FaultRule] = []
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def add(
        self, method: str, fault: Fault, *, rate: float = 1.0, limit: int | None = None
    ) -> None:
        with self._lock:
            self._rules.append(_FaultRule(method, fault, rate, limit))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.injected.clear()

    def strike(self, method: str) -> Fault | None:
        """The fault to inflict on this call of `method`, if any."""
        with self._lock:
            for rule in self._rules:
                spent = rule.limit is not None and rule.struck >= rule.limit
                if rule.method != method or spent or self._random.random() >= rule.rate:
                    continue
                rule.struck += 1
                self.injected[method] = self.injected.get(method, 0) + 1
                return rule.fault
        return None


class _BadRequest(Exception):
    """The request could not be decoded; answered with HTTP 400 in the service's own shape."""


@dataclass(frozen=True)
class _Request:
    verb: str
    path: str
    query: list[tuple[str, str]]
    headers: Message[str, str]
    body: bytes


@dataclass(frozen=True)
class _Reply:
    status: int
    # JSON, or raw bytes (a file) served with `content_type`.
    body: Any
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _group(pairs: list[tuple[str, str]], repeatable: frozenset[str]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {
        key: values if key in repeatable or len(values) > 1 else values[0]
        for key, values in grouped.items()
    }


def _decode_params(request: _Request, repeatable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Query parameters merged with the JSON or form body (the body wins on a clash)."""
    params = _group(request.query, repeatable)
    raw_type = request.headers.get("Content-Type")
    content_type = request.headers.get_content_type() if raw_type else ""
    if not request.body.strip():
        # slack_sdk sends parameterless calls (auth.test) as an empty "JSON" body.
        return params
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRequest("body is not UTF-8") from exc
    if content_type == "application/json":
        try:
            decoded = json.loads(text)
        except ValueError as exc:
            raise _BadRequest(f"invalid JSON body: {exc}") from exc
        if not isinstance(decoded, dict):
            raise _BadRequest("JSON body must be an object")
        params.update(decoded)
        return params
    if content_type in ("", "application/x-www-form-urlencoded"):
        try:
            pairs = urllib.parse.parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, errors="strict"
            )
        except ValueError as exc:  # also UnicodeDecodeError from bad percent-escapes
            raise _BadRequest(f"invalid form body: {exc}") from exc
        params.update(_group(pairs, repeatable))
        return params
    raise _BadRequest(f"unsupported Content-Type {content_type!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], stand_in: _StandIn) -> None:
        self.stand_in = stand_in
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a vanished client is not worth one.
        pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "ThreadlineSandbox/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        # Silenced: the outbox lines are the readable log.
        pass

    def _dispatch(self, verb: str) -> None:
        stand_in = cast(_Server, self.server).stand_in
        try:
            reply = stand_in._handle(self._request(verb))
        except _BadRequest as exc:
            reply = _Reply(HTTPStatus.BAD_REQUEST, stand_in._error_body(400, str(exc)))
        except Exception as exc:  # a stand-in bug must not kill the server or spew tracebacks
            stand_in._outbox._note(f"[{stand_in.service}] internal error: {exc!r}")
            reply = _Reply(HTTPStatus.INTERNAL_SERVER_ERROR, stand_in._error_body(500, repr(exc)))
        if isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = json.dumps(reply.body, ensure_ascii=False, default=str).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client went away; nothing to tell it

    def _request(self, verb: str) -> _Request:
        split = urllib.parse.urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise _BadRequest("invalid Content-Length") from exc
        if length < 0 or length > _MAX_BODY_BYTES:
            raise _BadRequest("Content-Length out of range")
        body = self.rfile.read(length) if length else b""
        try:
            query = urllib.parse.parse_qsl(split.query, keep_blank_values=True, errors="strict")
        except ValueError as exc:
            raise _BadRequest(f"invalid query string: {exc}") from exc
        return _Request(verb, split.path, query, self.headers, body)


class _StandIn:
    """Server lifecycle, own-entry bookkeeping and `GET /_outbox`, shared by both stand-ins."""

    service = ""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        # Empty unless a reliability run injects failures.
        self.faults = Faults()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._own: list[OutboxEntry] = []
        self._own_lock = threading.Lock()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running at {self.base_url}")
        server = _Server((host, port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # keeps stop() quick
            name=f"sandbox-{self.service}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=_STOP_JOIN_SECONDS)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        return self._root_url() + self._base_path()

    def _root_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_text}:{port}"

    def _base_path(self) -> str:
        return ""

    def _record(self, method: str, payload: dict[str, Any]) -> None:
        entry = OutboxEntry(self.service, method, payload)
        with self._own_lock:
            self._own.append(entry)
        self._outbox.record(entry)

    def _handle(self, request: _Request) -> _Reply:
        if request.verb == "GET" and request.path == "/_outbox":
            with self._own_lock:
                own = [dataclasses.asdict(entry) for entry in self._own]
            return _Reply(HTTPStatus.OK, own)
        method = self._api_method(request)
        fault = self.faults.strike(method)
        if fault is None:
            return self._handle_api(request)
        self._record("fault", {"method": method, "status": fault.status, **dict(fault.headers)})
        if fault.delay_seconds:
            reply = self._handle_api(request)
            time.sleep(fault.delay_seconds)
            return reply
        return _Reply(
            fault.status, self._error_body(fault.status, "injected"), headers=fault.headers
        )

    def _api_method(self, request: _Request) -> str:
        """The name faults are injected by: the API method a request calls."""
        return f"{request.verb} {request.path}"

    def _handle_api(self, request: _Request) -> _Reply:
        raise NotImplementedError

    def _unsupported(self, request: _Request) -> _Reply:
        body = self._error_body(404, f"{request.verb} {request.path} is not imitated")
        self._record("unsupported", {"verb": request.verb, "path": request.path, "response": body})
        return _Reply(HTTPStatus.NOT_FOUND, body)

    def _error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Slack
# ---------------------------------------------------------------------------------------

_SLACK_METHODS = frozenset(
    {
        "auth.test",
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "chat.postEphemeral",
        "chat.getPermalink",
        "reactions.add",
        "reactions.remove",
        "users.info",
        "views.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "files.delete",
        "conversations.info",
        "conversations.join",
        "conversations.replies",
        "oauth.v2.access",
    }
)
# The most files one files.completeUploadExternal shares (Slack fails from the 15th; a
# report to slack_sdk's maintainers, python-slack-sdk#1653).
_FILES_PER_UPLOAD = 14
_UPLOAD_PATH = re.compile(r"^/upload/(?P<file>F[0-9A-F]+)$")
_FILE_PATH = re.compile(r"^/files/(?P<file>F[0-9A-F]+)/(?P<name>[^/]+)$")


def _is_user(channel: str) -> bool:
    return channel[:1] in ("U", "W")


def _direct_messages(user_id: str) -> str:
    """The id of the bot's direct messages with a user, as Slack answers a post to them."""
    return "D" + user_id[1:]


def _has_content(params: dict[str, Any]) -> bool:
    return bool(params.get("text") or _as_blocks(params.get("blocks")) or params.get("attachments"))


class SlackStandIn(_StandIn):
    """Imitates `POST /api/<method>` of the Slack Web API for the methods Threadline uses."""

    service = "slack"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        self._ts_lock = threading.Lock()
        self._last_ts_micros = 0
        # Files by id: name, type and bytes (None until uploaded), and whether the bot
        # uploaded it (else an agent attached it); the ids of those deleted.
        self._files: dict[str, dict[str, Any]] = {}
        self._deleted_files: set[str] = set()
        # What the bot posted and has not deleted, by (channel, ts): all it may delete, and
        # the threads conversations.replies reads.
        self._posted: dict[tuple[str, str], dict[str, Any]] = {}
        # The workspace (id, name) of each token installed here; any other token is the
        # sandbox workspace's. Tokens revoked since answer every call with token_revoked.
        self._workspaces: dict[str, tuple[str, str]] = {}
        self._revoked: set[str] = set()
        # The bot is in every channel but these (removed from them, not joined again).
        self._left: set[str] = set()

    def install(self, token: str, team_id: str, team: str = "Threadline Sandbox") -> None:
        """A bot token of the workspace `team_id`, as an installation of the app gives one."""
        with self._ts_lock:
            self._workspaces[token] = (team_id, team)
            self._revoked.discard(token)

    def revoke(self, token: str) -> None:
        """The token revoked (the app uninstalled, or the token rotated away): Slack then
        refuses every call made with it."""
        with self._ts_lock:
            self._revoked.add(token)

    def remove_bot(self, channel: str) -> None:
        """The bot removed from a channel, as a member of the channel can do; joining it
        again (`conversations.join`) puts it back."""
        with self._ts_lock:
            self._left.add(channel)

    def add_file(self, name: str, content: bytes, mimetype: str) -> dict[str, Any]:
        """A file as if an agent had attached it in Slack: its description in an event."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        with self._ts_lock:
            self._files[file_id] = {
                "name": name,
                "mimetype": mimetype,
                "content": content,
                "by_bot": False,
            }
        return self._file_object(file_id)

    def files(self) -> list[str]:
        """The ids of the files Slack holds now (deleted ones gone)."""
        with self._ts_lock:
            return list(self._files)

    def _file_object(self, file_id: str) -> dict[str, Any]:
        stored = self._files[file_id]
        return {
            "id": file_id,
            "name": stored["name"],
            "mimetype": stored["mimetype"],
            "size": len(stored["content"] or b""),
            "url_private_download": f"{self._root_url()}/files/{file_id}/{stored['name']}",
        }

    def _file_route(self, request: _Request) -> _Reply | None:
        """Slack's upload URLs (files_upload_v2's second step) and private file downloads."""
        upload = _UPLOAD_PATH.match(request.path)
        if upload and request.verb == "POST":
            with self._ts_lock:
                stored = self._files.get(upload["file"])
                if stored is None:
                    return _Reply(HTTPStatus.NOT_FOUND, b"unknown upload", "text/plain")
                stored["content"] = request.body
            return _Reply(HTTPStatus.OK, f"OK - {len(request.body)}".encode(), "text/plain")
        download = _FILE_PATH.match(request.path)
        if download and request.verb == "GET":
            stored = self._files.get(download["file"])
            if stored is None or stored["content"] is None:
                return _Reply(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            if not _bearer(request.headers):
                # As Slack: without a token, its sign-in page.
                return _Reply(HTTPStatus.OK, b"<html>Sign in</html>", "text/html")
            return _Reply(HTTPStatus.OK, stored["content"], stored["mimetype"])
        return None

    def _base_path(self) -> str:
        return "/api/"

    def _error_body(self, status: int, message: str) -> Any:
        if status == 400:
            return {"ok": False, "error": "invalid_arguments", "detail": message}
        if status == 429:
            return {"ok": False, "error": "ratelimited"}
        return {"ok": False, "error": "internal_error", "detail": message}

    def _api_method(self, request: _Request) -> str:
        return request.path.removeprefix("/api/")

    def _next_ts(self) -> str:
        # A counter, seeded from the clock so a restarted sandbox never reuses the ts of a
        # thread that a persistent local store may still remember.
        with self._ts_lock:
            now = time.time_ns() // 1000
            self._last_ts_micros = max(now, self._last_ts_micros + 1)
            micros = self._last_ts_micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _handle_api(self, request: _Request) -> _Reply:
        file_reply = self._file_route(request)
        if file_reply is not None:
            return file_reply
        if request.verb == "GET" and request.path == "/oauth/v2/authorize":
            return self._consent_page(request)
        if not request.path.startswith("/api/"):
            return self._unsupported(request)
        method = request.path.removeprefix("/api/")
        try:
            params = _decode_params(request)
        except _BadRequest as exc:
            body = self._error_body(400, str(exc))
            self._record(method, {"response": body})
            return _Reply(HTTPStatus.BAD_REQUEST, body)
        # Slack also accepts the token as a parameter; either way it never goes in the record.
        param_token = _as_str(params.pop("token", ""))
        response = self._answer(method, params, _bearer(request.headers) or param_token)
        self._record(method, {**params, "response": response})
        return _Reply(HTTPStatus.OK, response)  # Slack reports errors in the body, not status

    def _answer(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        if method not in _SLACK_METHODS:
            return {"ok": False, "error": "unknown_method"}
        if method == "oauth.v2.access":
            return self._grant(params)
        if not token:
            return {"ok": False, "error": "not_authed"}
        with self._ts_lock:
            revoked = token in self._revoked
            team_id, team = self._workspaces.get(token, ("T-from-nowhere", "Threadline Sandbox"))
        if revoked:
            return {"ok": False, "error": "token_revoked"}
        if method == "users.info":
            return self._user(_as_str(params.get("user")))
        if method == "files.getUploadURLExternal":
            name = _as_str(params.get("filename"))
            if not name or not _as_str(params.get("length")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = "F" + uuid.uuid4().hex[:10].upper()
            with self._ts_lock:
                self._files[file_id] = {
                    "name": name,
                    "mimetype": "",
                    "content": None,
                    "by_bot": True,
                }
            return {
                "ok": True,
                "upload_url": f"{self._root_url()}/upload/{file_id}",
                "file_id": file_id,
            }
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        if method == "files.delete":
            return self._delete_file(_as_str(params.get("file")))
        if method == "views.open":
            if not _as_str(params.get("trigger_id")):
                return {"ok": False, "error": "invalid_trigger_id"}
            refused = view_refusal(params.get("view"))
            if refused is not None:
                return refused
            view = params.get("view")
            return {
                "ok": True,
                "view": {
                    "id": f"V{self._next_ts().replace('.', '')}",
                    **(view if isinstance(view, dict) else {}),
                },
            }
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://sandbox.slack.invalid/",
                "team": team,
                "user": "threadline",
                "team_id": team_id,
                "user_id": "UBOT",
                "bot_id": "BSANDBOX",
                "is_enterprise_install": False,
            }
        channel = _as_str(params.get("channel"))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = message_refusal(params)
            if refused is not None:
                return refused
        if _is_user(channel) and method in ("chat.update", "chat.delete"):
            # A message posted to a user is in the bot's direct messages with them, a
            # channel of its own: the user's id does not name it.
            return {"ok": False, "error": "channel_not_found"}
        if _is_user(channel) and method == "chat.postMessage":
            channel = _direct_messages(channel)
        if method == "chat.postMessage":
            return self._post_message(channel, params)
        if method == "conversations.replies":
            return self._replies(channel, params)
        if method in ("conversations.info", "conversations.join"):
            return self._membership(method, channel)
        if method == "chat.delete":
            ts = _as_str(params.get("ts"))
            with self._ts_lock:
                if self._posted.pop((channel, ts), None) is None:
                    return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            ts = _as_str(params.get("ts"))
            if not ts:
                return {"ok": False, "error": "message_not_found"}
            text = _as_str(params.get("text"))
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "text": text,
                "message": {"type": "message", "text": text, "user": "UBOT", "ts": ts},
            }
        if method == "chat.postEphemeral":
            if not _as_str(params.get("user")):
                return {"ok": False, "error": "user_not_found"}
            if not _has_content(params):
                return {"ok": False, "error": "no_text"}
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.getPermalink":
            message_ts = _as_str(params.get("message_ts"))
            if not message_ts:
                return {"ok": False, "error": "message_not_found"}
            permalink = (
                f"https://sandbox.slack.invalid/archives/{channel}/p{message_ts.replace('.', '')}"
            )
            return {"ok": True, "channel": channel, "permalink": permalink}
        # reactions.add / reactions.remove
        if not _as_str(params.get("timestamp")):
            return {"ok": False, "error": "no_item_specified"}
        if not _as_str(params.get("name")):
            return {"ok": False, "error": "invalid_name"}
        return {"ok": True}

    def _membership(self, method: str, channel: str) -> dict[str, Any]:
        """Every channel exists here, public (C…) or private (G…); the bot is in it unless
        it was removed. Joining puts it back; a private channel needs an invitation."""
        private = channel.startswith("G")
        with self._ts_lock:
            if method == "conversations.join":
                if private:
                    return {"ok": False, "error": "method_not_supported_for_channel_type"}
                self._left.discard(channel)
            member = channel not in self._left
        if private and not member:
            # Slack hides a private channel from those outside it.
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": not private,
                "is_private": private,
                "is_archived": False,
                "is_member": member,
            },
        }

    def _grant(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every code is good here: the sandbox workspace installs the app."""
        if not _as_str(params.get("code")):
            return {"ok": False, "error": "invalid_code"}
        token = "xoxb-sandbox-" + uuid.uuid4().hex
        self.install(token, "T0SANDBOX")
        return {
            "ok": True,
            "app_id": "A0SANDBOX",
            "access_token": token,
            "token_type": "bot",
            "scope": "chat:write,commands",
            "bot_user_id": "UBOT",
            "team": {"id": "T0SANDBOX", "name": "Threadline Sandbox"},
            "enterprise": None,
            "authed_user": {"id": "U0INSTALLER"},
            "incoming_webhook": {"channel": "#support", "channel_id": "C0SANDBOX"},
        }

    def _consent_page(self, request: _Request) -> _Reply:
        """Slack's consent page, reduced to one "Allow" link back to the app."""
        query = dict(request.query)
        back = _as_str(query.get("redirect_uri"))
        if not back.startswith(("http://", "https://")):
            return _Reply(HTTPStatus.BAD_REQUEST, b"redirect_uri missing", "text/plain")
        target = (
            back
            + "?"
            + urllib.parse.urlencode(
                {"code": "sandbox-" + uuid.uuid4().hex, "state": _as_str(query.get("state"))}
            )
        )
        self._record("oauth.authorize", {"scope": _as_str(query.get("scope"))})
        page = (
            "<!doctype html><p>Install Threadline in the sandbox workspace? "
            f'<a href="{html.escape(target)}">Allow</a></p>'
        )
        return _Reply(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            listed = json.loads(_as_str(params.get("files")) or "[]")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        ids = [str(item.get("id")) for item in listed if isinstance(item, dict)]
        if not ids or any(self._files.get(i, {}).get("content") is None for i in ids):
            return {"ok": False, "error": "file_not_found"}
        if len(ids) > _FILES_PER_UPLOAD:
            # As Slack: past 14 files in one completion it fails, and does so every time.
            return {"ok": False, "error": "internal_error"}
        files = [
            {
                **self._file_object(i),
                "shares": {
                    _as_str(params.get("channel_id")): [
                        {"thread_ts": _as_str(params.get("thread_ts"))}
                    ]
                },
            }
            for i in ids
        ]
        return {"ok": True, "files": files}

    def _delete_file(self, file_id: str) -> dict[str, Any]:
        """As Slack: a bot deletes only the files it uploaded."""
        with self._ts_lock:
            if file_id in self._deleted_files:
                return {"ok": False, "error": "file_deleted"}
            stored = self._files.get(file_id)
            if stored is None:
                return {"ok": False, "error": "file_not_found"}
            if not stored.get("by_bot"):
                return {"ok": False, "error": "cant_delete_file"}
            del self._files[file_id]
            self._deleted_files.add(file_id)
        return {"ok": True}

    def _user(self, user_id: str) -> dict[str, Any]:
        # Every user exists here, named after their id: U0ANA is "Ana".
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        name = user_id[1:].lstrip("0").title() or user_id
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "name": user_id.lower(),
                "real_name": name,
                "profile": {"display_name": name, "real_name": name},
            },
        }

    def _post_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        if not _has_content(params):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": "UBOT",
            "bot_id": "BSANDBOX",
            "text": _as_str(params.get("text")),
            "ts": ts,
        }
        thread_ts = _as_str(params.get("thread_ts"))
        if thread_ts:
            message["thread_ts"] = thread_ts
        blocks = _as_blocks(params.get("blocks"))
        if blocks:
            message["blocks"] = blocks
        metadata = _as_object(params.get("metadata"))
        with self._ts_lock:
            self._posted[(channel, ts)] = {**message, "metadata": metadata}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _replies(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        """A thread's messages, its parent first, then those after `oldest`, in pages of
        `limit` (the cursor is where the next page starts); metadata when asked for."""
        thread_ts = _as_str(params.get("ts"))
        with self._ts_lock:
            parent = self._posted.get((channel, thread_ts))
            replies = sorted(
                (m for (c, _), m in self._posted.items() if c == channel),
                key=lambda m: float(m["ts"]),
            )
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        try:
            oldest = float(_as_str(params.get("oldest")) or 0)
            limit = int(_as_str(params.get("limit")) or 1000)
            start = int(_as_str(params.get("cursor")) or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        thread = [parent] + [
            m for m in replies if m.get("thread_ts") == thread_ts and float(m["ts"]) > oldest
        ]
        page = thread[start : start + limit]
        with_metadata = _as_str(params.get("include_all_metadata")).lower() in ("1", "true")
        messages = [
            {k: v for k, v in m.items() if k != "metadata" or (with_metadata and v)} for m in page
        ]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def _bearer(headers: Message[str, str]) -> str:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# ---------------------------------------------------------------------------------------
# Twilio
# ---------------------------------------------------------------------------------------

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>MM[^/]+)/Media/ME[^/]+$"
)
_MESSAGE_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)
_NUMBERS_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/IncomingPhoneNumbers\.json$")
_NUMBER_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/IncomingPhoneNumbers/(?P<sid>PN[^/]+)\.json$"
)
# The Senders API lives on messaging.twilio.com; the account is the one authenticating.
_SENDERS_PATH = "/v2/Channels/Senders"
_SENDER_PATH = re.compile(r"^/v2/Channels/Senders/(?P<sid>XE[^/]+)$")
# Messaging Services (messaging.twilio.com too) and TwiML apps, which may handle a number's
# messages instead of its own webhook.
_SERVICE_PATH = re.compile(r"^/v1/Services/(?P<sid>MG[^/]+)$")
_APPLICATION_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Applications/(?P<sid>AP[^/]+)\.json$"
)
_TWILIO_REPEATABLE = frozenset({"MediaUrl"})
# An IncomingPhoneNumber's updatable fields, by their form names.
_NUMBER_FIELDS = {
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsApplicationSid": "sms_application_sid",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceUrl": "voice_url",
}
_SENDER_WEBHOOK_FIELDS = frozenset(
    {
        "callback_url",
        "callback_method",
        "fallback_url",
        "fallback_method",
        "status_callback_url",
        "status_callback_method",
    }
)


def _basic_auth(headers: Message[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _rfc2822_now() -> str:
    return format_datetime(datetime.now(UTC))


class TwilioStandIn(_StandIn):
    """Imitates the Twilio Messages API and the status callbacks Twilio sends afterwards, and
    the numbers of accounts given to `provision` (their webhooks, as Threadline sets them).

    A provisioned account's calls need its auth token; any other account's, any token."""

    service = "twilio"

    def __init__(self, outbox: Outbox, *, callback_delay: float = 0.2) -> None:
        super().__init__(outbox)
        self._callback_delay = callback_delay
        self._messages: dict[str, dict[str, Any]] = {}
        self._messages_lock = threading.Lock()
        self._callbacks: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Customers' attachments, by path: (content type, bytes).
        self._media: dict[str, tuple[str, bytes]] = {}
        # Provisioned accounts' auth tokens, phone numbers and WhatsApp senders, by sid.
        self._tokens: dict[str, str] = {}
        self._numbers: dict[str, dict[str, Any]] = {}
        self._senders: dict[str, dict[str, Any]] = {}
        # Messaging Services (MG…) and TwiML apps (AP…), by sid.
        self._handlers: dict[str, dict[str, Any]] = {}

    def provision(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sms_numbers: tuple[str, ...] = (),
        whatsapp_numbers: tuple[str, ...] = (),
        sms_application_sid: str | None = None,
    ) -> None:
        """An account, as if bought at Twilio: its SMS numbers (their messages handled by
        `sms_application_sid` if given) and its WhatsApp senders, none pointed anywhere."""
        with self._messages_lock:
            self._tokens[account_sid] = auth_token
            for number in sms_numbers:
                sid = "PN" + uuid.uuid4().hex
                self._numbers[sid] = {
                    "sid": sid,
                    "account_sid": account_sid,
                    "phone_number": number,
                    "friendly_name": number,
                    "capabilities": {"sms": True, "mms": True, "voice": True},
                    "sms_url": "",
                    "sms_method": "POST",
                    "sms_application_sid": sms_application_sid or "",
                    "status_callback": "",
                    "status_callback_method": "POST",
                    "voice_url": "",
                    "api_version": _TWILIO_API_VERSION,
                    "uri": f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}"
                    f"/IncomingPhoneNumbers/{sid}.json",
                }
            for number in whatsapp_numbers:
                sid = "XE" + uuid.uuid4().hex
                self._senders[sid] = {
                    "sid": sid,
                    "account_sid": account_sid,
                    "sender_id": f"whatsapp:{number}",
                    "status": "ONLINE",
                    "webhook": {field: None for field in sorted(_SENDER_WEBHOOK_FIELDS)},
                    "url": f"https://messaging.twilio.com{_SENDERS_PATH}/{sid}",
                }

    def set_webhook(self, number: str, url: str, *, whatsapp: bool = False) -> None:
        """Where a provisioned number's (or WhatsApp sender's) messages go, as someone would
        set it in Twilio's console."""
        with self._messages_lock:
            if whatsapp:
                sender = next(
                    s for s in self._senders.values() if s["sender_id"] == f"whatsapp:{number}"
                )
                sender["webhook"]["callback_url"] = url
            else:
                found = next(n for n in self._numbers.values() if n["phone_number"] == number)
                found["sms_url"] = url

    def add_messaging_service(
        self, account_sid: str, inbound_request_url: str, *, use_inbound_webhook_on_number: bool
    ) -> str:
        """A Messaging Service of the account: its sid, for `provision`'s
        `sms_application_sid`."""
        sid = "MG" + uuid.uuid4().hex
        with self._messages_lock:
            self._handlers[sid] = {
                "sid": sid,
                "account_sid": account_sid,
                "friendly_name": "Sandbox service",
                "inbound_request_url": inbound_request_url,
                "inbound_method": "POST",
                "use_inbound_webhook_on_number": use_inbound_webhook_on_number,
                "url": f"https://messaging.twilio.com/v1/Services/{sid}",
            }
        return sid

    def add_application(self, account_sid: str, sms_url: str) -> str:
        """A TwiML app of the account: its sid, for `provision`'s `sms_application_sid`."""
        sid = "AP" + uuid.uuid4().hex
        with self._messages_lock:
            self._handlers[sid] = {
                "sid": sid,
                "account_sid": account_sid,
                "friendly_name": "Sandbox app",
                "sms_url": sms_url,
                "sms_method": "POST",
                "api_version": _TWILIO_API_VERSION,
                "uri": f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}/Applications/{sid}.json",
            }
        return sid

    def add_media(self, account_sid: str, content: bytes, content_type: str) -> str:
        """An attachment as if a customer had sent it: the MediaUrl Twilio's webhook names."""
        path = (
            f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}/Messages/MM{uuid.uuid4().hex}"
            f"/Media/ME{uuid.uuid4().hex}"
        )
        with self._messages_lock:
            self._media[path] = (content_type, content)
        return self._root_url() + path

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping.clear()
        return super().start(host, port)

    def stop(self) -> None:
        # Wakes callback threads still waiting out their delay, so they give up at once.
        self._stopping.set()
        super().stop()
        deadline = time.monotonic() + _STOP_JOIN_SECONDS
        with self._messages_lock:
            pending = list(self._callbacks)
            self._callbacks.clear()
        for thread in pending:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _error_body(self, status: int, message: str) -> Any:
        if status == 400:
            return _twilio_error(400, 20001, message)
        if status == 404:
            return _twilio_error(404, 20404, f"The requested resource was not found: {message}")
        return _twilio_error(status, 20500, message)

    def _api_method(self, request: _Request) -> str:
        if _MESSAGES_PATH.match(request.path):
            return "messages.create" if request.verb == "POST" else "messages.list"
        return super()._api_method(request)

    def _handle_api(self, request: _Request) -> _Reply:
        match = _MESSAGES_PATH.match(request.path)
        if match and request.verb == "POST":
            return self._create(match["account"], request)
        if match and request.verb == "GET":
            return self._list(match["account"], request)
        match = _MESSAGE_PATH.match(request.path)
        if match and request.verb == "GET":
            return self._fetch(match["account"], match["sid"], request)
        match = _NUMBERS_PATH.match(request.path)
        if match and request.verb == "GET":
            return self._list_numbers(match["account"], request)
        match = _NUMBER_PATH.match(request.path)
        if match and request.verb == "POST":
            return self._update_number(match["account"], match["sid"], request)
        if request.path == _SENDERS_PATH and request.verb == "GET":
            return self._list_senders(request)
        match = _SENDER_PATH.match(request.path)
        if match and request.verb == "POST":
            return self._update_sender(match["sid"], request)
        match = _SERVICE_PATH.match(request.path) or _APPLICATION_PATH.match(request.path)
        if match and request.verb == "GET":
            return self._fetch_handler(match["sid"], request)
        match = _MEDIA_PATH.match(request.path)
        if match and request.verb == "GET":
            if self._authenticate(match["account"], request) is None:
                return self._reject(
                    "media.fetch", {"path": request.path}, 401, 20003, "Authenticate"
                )
            media = self._media.get(request.path)
            if media is None:
                return _Reply(HTTPStatus.NOT_FOUND, self._error_body(404, request.path))
            self._record("media.fetch", {"path": request.path, "bytes": len(media[1])})
            return _Reply(HTTPStatus.OK, media[1], media[0])
        return self._unsupported(request)

    def _authenticate(self, account_sid: str, request: _Request) -> tuple[str, str] | None:
        credentials = _basic_auth(request.headers)
        if credentials is None or credentials[0] != account_sid or not credentials[1]:
            return None
        with self._messages_lock:
            expected = self._tokens.get(account_sid)
        if expected is not None and credentials[1] != expected:
            return None
        return credentials

    def _list_numbers(self, account_sid: str, request: _Request) -> _Reply:
        """The account's numbers; `PhoneNumber` filters, as Twilio's does, by a pattern
        (`*` a digit, a partial number matching within)."""
        params = _group(request.query, frozenset())
        if self._authenticate(account_sid, request) is None:
            return self._reject("incoming_phone_numbers.list", params, 401, 20003, "Authenticate")
        pattern = _as_str(params.get("PhoneNumber"))
        wanted = re.compile("".join(r"\d" if c == "*" else re.escape(c) for c in pattern))
        with self._messages_lock:
            found = [
                copy.deepcopy(number)
                for number in self._numbers.values()
                if number["account_sid"] == account_sid
                and wanted.search(number["phone_number"]) is not None
            ]
        uri = f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers.json"
        page = _twilio_page("incoming_phone_numbers", found, uri, 50)
        self._record("incoming_phone_numbers.list", {**params, "response": {"count": len(found)}})
        return _Reply(HTTPStatus.OK, page)

    def _update_number(self, account_sid: str, sid: str, request: _Request) -> _Reply:
        params = _decode_params(request)
        if self._authenticate(account_sid, request) is None:
            return self._reject("incoming_phone_numbers.update", params, 401, 20003, "Authenticate")
        with self._messages_lock:
            number = self._numbers.get(sid)
            if number is not None and number["account_sid"] == account_sid:
                number.update(
                    {_NUMBER_FIELDS[k]: v for k, v in params.items() if k in _NUMBER_FIELDS}
                )
                snapshot: dict[str, Any] | None = copy.deepcopy(number)
            else:
                snapshot = None
        if snapshot is None:
            message = f"The requested resource {request.path} was not found"
            return self._reject("incoming_phone_numbers.update", params, 404, 20404, message)
        entry = {**params, "PhoneNumber": snapshot["phone_number"], "response": snapshot}
        self._record("incoming_phone_numbers.update", entry)
        return _Reply(HTTPStatus.OK, snapshot)

    def _fetch_handler(self, sid: str, request: _Request) -> _Reply:
        """A Messaging Service or TwiML app of the authenticating account."""
        method = "services.fetch" if sid.startswith("MG") else "applications.fetch"
        credentials = _basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject(method, {"sid": sid}, 401, 20003, "Authenticate")
        with self._messages_lock:
            found = self._handlers.get(sid)
            snapshot = copy.deepcopy(found) if found else None
        if snapshot is None or snapshot["account_sid"] != account_sid:
            message = f"The requested resource {request.path} was not found"
            return self._reject(method, {"sid": sid}, 404, 20404, message)
        self._record(method, {"sid": sid, "response": snapshot})
        return _Reply(HTTPStatus.OK, snapshot)

    def _list_senders(self, request: _Request) -> _Reply:
        params = _group(request.query, frozenset())
        credentials = _basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject("senders.list", params, 401, 20003, "Authenticate")
        channel = _as_str(params.get("Channel"))
        with self._messages_lock:
            found = [
                copy.deepcopy({k: v for k, v in sender.items() if k != "account_sid"})
                for sender in self._senders.values()
                if sender["account_sid"] == account_sid
                and sender["sender_id"].startswith(f"{channel}:")
            ]
        url = f"https://messaging.twilio.com{_SENDERS_PATH}?Channel={channel}&PageSize=50"
        meta = {
            "page": 0,
            "page_size": 50,
            "first_page_url": url,
            "previous_page_url": None,
            "url": url,
            "next_page_url": None,
            "key": "senders",
        }
        self._record("senders.list", {**params, "response": {"count": len(found)}})
        return _Reply(HTTPStatus.OK, {"senders": found, "meta": meta})

    def _update_sender(self, sid: str, request: _Request) -> _Reply:
        params = _decode_params(request)
        credentials = _basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject("senders.update", params, 401, 20003, "Authenticate")
        webhook = params.get("webhook")
        if not isinstance(webhook, dict) or set(webhook) - _SENDER_WEBHOOK_FIELDS:
            return self._reject("senders.update", params, 400, 20001, "Invalid webhook")
        with self._messages_lock:
            sender = self._senders.get(sid)
            if sender is not None and sender["account_sid"] == account_sid:
                sender["webhook"].update(webhook)
                snapshot: dict[str, Any] | None = copy.deepcopy(
                    {k: v for k, v in sender.items() if k != "account_sid"}
                )
            else:
                snapshot = None
        if snapshot is None:
            message = f"The requested resource {request.path} was not found"
            return self._reject("senders.update", params, 404, 20404, message)
        entry = {**params, "sender_id": snapshot["sender_id"], "response": snapshot}
        self._record("senders.update", entry)
        return _Reply(HTTPStatus.OK, snapshot)

    def _create(self, account_sid: str, request: _Request) -> _Reply:
        try:
            params = _decode_params(request, _TWILIO_REPEATABLE)
        except _BadRequest as exc:
            return self._reject("messages.create", {}, 400, 20001, str(exc))
        credentials = self._authenticate(account_sid, request)
        if credentials is None:
            return self._reject("messages.create", params, 401, 20003, "Authenticate")
        to = _as_str(params.get("To"))
        sender = _as_str(params.get("From"))
        service_sid = _as_str(params.get("MessagingServiceSid"))
        body = _as_str(params.get("Body"))
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
        uri = f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": account_sid,
            "api_version": _TWILIO_API_VERSION,
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
        with self._messages_lock:
            self._messages[sid] = resource
            snapshot = copy.deepcopy(resource)
        self._record("messages.create", {**params, "response": snapshot})
        self._schedule_progress(sid, credentials[1], _as_str(params.get("StatusCallback")))
        return _Reply(HTTPStatus.CREATED, snapshot)

    def _fetch(self, account_sid: str, sid: str, request: _Request) -> _Reply:
        if self._authenticate(account_sid, request) is None:
            return self._reject("messages.fetch", {"MessageSid": sid}, 401, 20003, "Authenticate")
        with self._messages_lock:
            stored = self._messages.get(sid)
            snapshot = copy.deepcopy(stored) if stored else None
        if snapshot is None or snapshot["account_sid"] != account_sid:
            message = f"The requested resource {request.path} was not found"
            return self._reject("messages.fetch", {"MessageSid": sid}, 404, 20404, message)
        self._record("messages.fetch", {"MessageSid": sid, "response": snapshot})
        return _Reply(HTTPStatus.OK, snapshot)

    def _list(self, account_sid: str, request: _Request) -> _Reply:
        """Messages of the account, newest first, filtered by To / From like Twilio's list."""
        params = _group(request.query, frozenset())
        if self._authenticate(account_sid, request) is None:
            return self._reject("messages.list", params, 401, 20003, "Authenticate")
        try:
            page_size = max(1, min(int(_as_str(params.get("PageSize")) or 50), 1000))
        except ValueError:
            return self._reject("messages.list", params, 400, 20001, "invalid PageSize")
        wanted = {
            field: _as_str(params[name])
            for name, field in (("To", "to"), ("From", "from"))
            if params.get(name)
        }
        with self._messages_lock:
            found = [
                copy.deepcopy(m)
                for m in reversed(self._messages.values())
                if m["account_sid"] == account_sid
                and all(m.get(field) == value for field, value in wanted.items())
            ][:page_size]
        uri = f"/{_TWILIO_API_VERSION}/Accounts/{account_sid}/Messages.json?PageSize={page_size}"
        page = _twilio_page("messages", found, uri, page_size)
        self._record("messages.list", {**params, "response": {"count": len(found)}})
        return _Reply(HTTPStatus.OK, page)

    def _reject(
        self, method: str, params: dict[str, Any], status: int, code: int, message: str
    ) -> _Reply:
        body = _twilio_error(status, code, message)
        self._record(method, {**params, "response": body})
        return _Reply(status, body)

    def _schedule_progress(self, sid: str, auth_token: str, callback_url: str) -> None:
        thread = threading.Thread(
            target=self._progress,
            args=(sid, auth_token, callback_url),
            name=f"sandbox-twilio-status-{sid}",
            daemon=True,
        )
        with self._messages_lock:
            self._callbacks = [t for t in self._callbacks if t.is_alive()]
            self._callbacks.append(thread)
        thread.start()

    def _progress(self, sid: str, auth_token: str, callback_url: str) -> None:
        """Walk a message through Twilio's delivery states, calling back after each one."""
        if self._stopping.wait(self._callback_delay):
            return
        with self._messages_lock:
            to = _as_str(self._messages[sid]["to"])
        statuses = ["sent", "delivered"] + (["read"] if to.startswith("whatsapp:") else [])
        for status in statuses:
            if self._stopping.is_set():
                return
            with self._messages_lock:
                resource = self._messages[sid]
                resource["status"] = status
                resource["date_updated"] = _rfc2822_now()
                if status == "sent":
                    resource["date_sent"] = resource["date_updated"]
                params = {
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "AccountSid": _as_str(resource["account_sid"]),
                    "From": _as_str(resource["from"]),
                    "To": to,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "ApiVersion": _TWILIO_API_VERSION,
                }
                if resource["messaging_service_sid"]:
                    params["MessagingServiceSid"] = _as_str(resource["messaging_service_sid"])
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


# ---------------------------------------------------------------------------------------
# Amazon SES (v2 API)
# ---------------------------------------------------------------------------------------


class SesStandIn(_StandIn):
    """Imitates SESv2's `SendEmail` (raw content): every mail is shown in the outbox, and
    `on_sent(message_id, source)` hears of it, as SES's delivery events would."""

    service = "ses"

    def __init__(self, outbox: Outbox, on_sent: Callable[[str, str], None] | None = None) -> None:
        super().__init__(outbox)
        self._on_sent = on_sent

    def _error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def _handle_api(self, request: _Request) -> _Reply:
        if not (request.verb == "POST" and request.path == "/v2/email/outbound-emails"):
            return self._unsupported(request)
        try:
            params = json.loads(request.body or b"{}")
            raw = base64.b64decode(params["Content"]["Raw"]["Data"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            body = {"message": "only raw content is imitated here"}
            self._record("send_email", {"response": body})
            return _Reply(HTTPStatus.BAD_REQUEST, body)
        from email import message_from_bytes
        from email import policy as email_policy

        mail = message_from_bytes(raw, policy=email_policy.default)
        text = mail.get_body(("plain",)) if hasattr(mail, "get_body") else None
        message_id = uuid.uuid4().hex
        self._record(
            "send_email",
            {
                "From": str(mail.get("From", "")),
                "To": str(mail.get("To", "")),
                "Subject": str(mail.get("Subject", "")),
                "Message-ID": str(mail.get("Message-ID", "")),
                "In-Reply-To": str(mail.get("In-Reply-To", "")),
                "References": str(mail.get("References", "")),
                "Reply-To": str(mail.get("Reply-To", "")),
                "Body": text.get_content() if text is not None else "",
                "Attachments": [part.get_filename() for part in mail.iter_attachments()],
                "response": {"MessageId": message_id},
            },
        )
        if self._on_sent is not None:
            self._on_sent(message_id, str(params.get("FromEmailAddress", "")))
        return _Reply(HTTPStatus.OK, {"MessageId": message_id})
