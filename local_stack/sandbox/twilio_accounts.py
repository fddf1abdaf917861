"""Twilio accounts imitated: their auth tokens, phone numbers (IncomingPhoneNumbers),
WhatsApp senders (the Senders API), Messaging Services and TwiML apps, as Threadline reads
and points them; and what every Twilio answer shares (errors, pages, Basic auth)."""

from __future__ import annotations

import base64
import binascii
import copy
import re
import threading
import uuid
from email.message import Message
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.fields import as_str
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import Reply, Request, StandIn, decode_params, group_params

API_VERSION = "2010-04-01"
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


def twilio_page(name: str, found: list[dict[str, Any]], uri: str, size: int) -> dict[str, Any]:
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


def basic_auth(headers: Message[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class TwilioAccounts(StandIn):
    """The accounts given to `provision`; a provisioned account's calls need its auth token,
    any other account's any token. The Twilio stand-in's half that is not messages."""

    service = "twilio"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        # Guards every resource of the stand-in, messages included.
        self._lock = threading.Lock()
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
        with self._lock:
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
                    "api_version": API_VERSION,
                    "uri": f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
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
        with self._lock:
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
        with self._lock:
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
        with self._lock:
            self._handlers[sid] = {
                "sid": sid,
                "account_sid": account_sid,
                "friendly_name": "Sandbox app",
                "sms_url": sms_url,
                "sms_method": "POST",
                "api_version": API_VERSION,
                "uri": f"/{API_VERSION}/Accounts/{account_sid}/Applications/{sid}.json",
            }
        return sid

    def _error_body(self, status: int, message: str) -> Any:
        if status == 400:
            return twilio_error(400, 20001, message)
        if status == 404:
            return twilio_error(404, 20404, f"The requested resource was not found: {message}")
        return twilio_error(status, 20500, message)

    def _authenticate(self, account_sid: str, request: Request) -> tuple[str, str] | None:
        credentials = basic_auth(request.headers)
        if credentials is None or credentials[0] != account_sid or not credentials[1]:
            return None
        with self._lock:
            expected = self._tokens.get(account_sid)
        if expected is not None and credentials[1] != expected:
            return None
        return credentials

    def _reject(
        self, method: str, params: dict[str, Any], status: int, code: int, message: str
    ) -> Reply:
        body = twilio_error(status, code, message)
        self._record(method, {**params, "response": body})
        return Reply(status, body)

    def _list_numbers(self, account_sid: str, request: Request) -> Reply:
        """The account's numbers; `PhoneNumber` filters, as Twilio's does, by a pattern
        (`*` a digit, a partial number matching within)."""
        params = group_params(request.query, frozenset())
        if self._authenticate(account_sid, request) is None:
            return self._reject("incoming_phone_numbers.list", params, 401, 20003, "Authenticate")
        pattern = as_str(params.get("PhoneNumber"))
        wanted = re.compile("".join(r"\d" if c == "*" else re.escape(c) for c in pattern))
        with self._lock:
            found = [
                copy.deepcopy(number)
                for number in self._numbers.values()
                if number["account_sid"] == account_sid
                and wanted.search(number["phone_number"]) is not None
            ]
        uri = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers.json"
        page = twilio_page("incoming_phone_numbers", found, uri, 50)
        self._record("incoming_phone_numbers.list", {**params, "response": {"count": len(found)}})
        return Reply(HTTPStatus.OK, page)

    def _update_number(self, account_sid: str, sid: str, request: Request) -> Reply:
        params = decode_params(request)
        if self._authenticate(account_sid, request) is None:
            return self._reject("incoming_phone_numbers.update", params, 401, 20003, "Authenticate")
        with self._lock:
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
        return Reply(HTTPStatus.OK, snapshot)

    def _fetch_handler(self, sid: str, request: Request) -> Reply:
        """A Messaging Service or TwiML app of the authenticating account."""
        method = "services.fetch" if sid.startswith("MG") else "applications.fetch"
        credentials = basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject(method, {"sid": sid}, 401, 20003, "Authenticate")
        with self._lock:
            found = self._handlers.get(sid)
            snapshot = copy.deepcopy(found) if found else None
        if snapshot is None or snapshot["account_sid"] != account_sid:
            message = f"The requested resource {request.path} was not found"
            return self._reject(method, {"sid": sid}, 404, 20404, message)
        self._record(method, {"sid": sid, "response": snapshot})
        return Reply(HTTPStatus.OK, snapshot)

    def _list_senders(self, request: Request) -> Reply:
        params = group_params(request.query, frozenset())
        credentials = basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject("senders.list", params, 401, 20003, "Authenticate")
        channel = as_str(params.get("Channel"))
        with self._lock:
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
        return Reply(HTTPStatus.OK, {"senders": found, "meta": meta})

    def _update_sender(self, sid: str, request: Request) -> Reply:
        params = decode_params(request)
        credentials = basic_auth(request.headers)
        account_sid = credentials[0] if credentials else ""
        if self._authenticate(account_sid, request) is None:
            return self._reject("senders.update", params, 401, 20003, "Authenticate")
        webhook = params.get("webhook")
        if not isinstance(webhook, dict) or set(webhook) - _SENDER_WEBHOOK_FIELDS:
            return self._reject("senders.update", params, 400, 20001, "Invalid webhook")
        with self._lock:
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
        return Reply(HTTPStatus.OK, snapshot)

    def _handle_accounts(self, request: Request) -> Reply | None:
        """The account's numbers, WhatsApp senders, Messaging Services and TwiML apps."""
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
        return None
