"""What every stand-in shares: a threaded HTTP server, request decoding, fault injection,
its own outbox entries and `GET /_outbox`."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from local_stack.sandbox.faults import Faults
from local_stack.sandbox.outbox import Outbox, OutboxEntry

# Anything bigger than this is not a chat message; refuse it rather than buffer it.
_MAX_BODY_BYTES = 5 * 1024 * 1024
STOP_JOIN_SECONDS = 2.0


class BadRequest(Exception):
    """The request could not be decoded; answered with HTTP 400 in the service's own shape."""


@dataclass(frozen=True)
class Request:
    verb: str
    path: str
    query: list[tuple[str, str]]
    headers: Message[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    # JSON, or raw bytes (a file) served with `content_type`.
    body: Any
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def group_params(pairs: list[tuple[str, str]], repeatable: frozenset[str]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {
        key: values if key in repeatable or len(values) > 1 else values[0]
        for key, values in grouped.items()
    }


def decode_params(request: Request, repeatable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Query parameters merged with the JSON or form body (the body wins on a clash)."""
    params = group_params(request.query, repeatable)
    raw_type = request.headers.get("Content-Type")
    content_type = request.headers.get_content_type() if raw_type else ""
    if not request.body.strip():
        # slack_sdk sends parameterless calls (auth.test) as an empty "JSON" body.
        return params
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not UTF-8") from exc
    if content_type == "application/json":
        try:
            decoded = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from exc
        if not isinstance(decoded, dict):
            raise BadRequest("JSON body must be an object")
        params.update(decoded)
        return params
    if content_type in ("", "application/x-www-form-urlencoded"):
        try:
            pairs = urllib.parse.parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, errors="strict"
            )
        except ValueError as exc:  # also UnicodeDecodeError from bad percent-escapes
            raise BadRequest(f"invalid form body: {exc}") from exc
        params.update(group_params(pairs, repeatable))
        return params
    raise BadRequest(f"unsupported Content-Type {content_type!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], stand_in: StandIn) -> None:
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
        except BadRequest as exc:
            reply = Reply(HTTPStatus.BAD_REQUEST, stand_in._error_body(400, str(exc)))
        except Exception as exc:  # a stand-in bug must not kill the server or spew tracebacks
            stand_in._outbox.note(f"[{stand_in.service}] internal error: {exc!r}")
            reply = Reply(HTTPStatus.INTERNAL_SERVER_ERROR, stand_in._error_body(500, repr(exc)))
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

    def _request(self, verb: str) -> Request:
        split = urllib.parse.urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise BadRequest("invalid Content-Length") from exc
        if length < 0 or length > _MAX_BODY_BYTES:
            raise BadRequest("Content-Length out of range")
        body = self.rfile.read(length) if length else b""
        try:
            query = urllib.parse.parse_qsl(split.query, keep_blank_values=True, errors="strict")
        except ValueError as exc:
            raise BadRequest(f"invalid query string: {exc}") from exc
        return Request(verb, split.path, query, self.headers, body)


class StandIn:
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
            thread.join(timeout=STOP_JOIN_SECONDS)
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

    def _handle(self, request: Request) -> Reply:
        if request.verb == "GET" and request.path == "/_outbox":
            with self._own_lock:
                own = [dataclasses.asdict(entry) for entry in self._own]
            return Reply(HTTPStatus.OK, own)
        method = self._api_method(request)
        fault = self.faults.strike(method)
        if fault is None:
            return self._handle_api(request)
        self._record("fault", {"method": method, "status": fault.status, **dict(fault.headers)})
        if fault.delay_seconds:
            reply = self._handle_api(request)
            time.sleep(fault.delay_seconds)
            return reply
        return Reply(
            fault.status, self._error_body(fault.status, "injected"), headers=fault.headers
        )

    def _api_method(self, request: Request) -> str:
        """The name faults are injected by: the API method a request calls."""
        return f"{request.verb} {request.path}"

    def _handle_api(self, request: Request) -> Reply:
        raise NotImplementedError

    def _unsupported(self, request: Request) -> Reply:
        body = self._error_body(404, f"{request.verb} {request.path} is not imitated")
        self._record("unsupported", {"verb": request.verb, "path": request.path, "response": body})
        return Reply(HTTPStatus.NOT_FOUND, body)

    def _error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError
