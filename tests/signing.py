"""Requests signed exactly as Twilio and Slack sign them, for tests and nothing else."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-twilio-auth-token"
SLACK_SIGNING_SECRET = "test-slack-signing-secret"
TEAM_ID = "T0SHOP1"
CHANNEL_ID = "C0SUPPORT"
BOT_TOKEN = "xoxb-test-bot-token"
SMS_NUMBER = "+14155550100"
WHATSAPP_NUMBER = "+14155550101"


def shop_document(**changes: Any) -> dict[str, Any]:
    """A valid shop JSON; keyword arguments replace top-level fields."""
    document: dict[str, Any] = {
        "name": "Loja da Ana",
        "timezone": "America/Sao_Paulo",
        "slack": {"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "bot_token": BOT_TOKEN},
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "sms_numbers": [SMS_NUMBER],
            "whatsapp_numbers": [WHATSAPP_NUMBER],
        },
    }
    document.update(changes)
    return document


def twilio_message(sid_number: int, **fields: str) -> dict[str, str]:
    """The form of an inbound SMS (WhatsApp when From has the `whatsapp:` prefix)."""
    params = {
        "MessageSid": f"SM{sid_number:032x}",
        "AccountSid": ACCOUNT_SID,
        "From": "+5511987654321",
        "To": SMS_NUMBER,
        "Body": "Olá! Onde está meu pedido?",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    params.update(fields)
    return params


def twilio_headers(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
    }


def form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode("utf-8")


def slack_headers(
    body: bytes,
    secret: str = SLACK_SIGNING_SECRET,
    *,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def slack_thread_reply(
    thread_ts: str, ts: str, text: str, *, event_id: str | None = None, **event: Any
) -> bytes:
    """An Events API delivery of an agent's message in a thread."""
    payload = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "api_app_id": "A0THREADLINE",
        "event_id": event_id or f"Ev{ts.replace('.', '')}",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": CHANNEL_ID,
            "user": "U0AGENT",
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            **event,
        },
    }
    return json.dumps(payload).encode("utf-8")
