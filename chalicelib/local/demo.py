"""`make demo`: walks the whole loop once against a running local stack.

Registers a demo shop, sends a signed WhatsApp message as Twilio would, waits until it shows
up as a Slack thread in the sandbox, answers it as an agent would (a signed Slack event in
that thread), and waits until the reply goes out through the Twilio sandbox.
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from chalicelib.local.stack import LOCAL_ADMIN_TOKEN, LOCAL_SIGNING_SECRET

SHOP_ID = "demo-shop"
ACCOUNT_SID = "AC" + "d" * 32
AUTH_TOKEN = "demo-twilio-auth-token"
TEAM_ID = "T0DEMO"
CHANNEL_ID = "C0DEMO"
SHOP = {
    "name": "Loja Demo",
    "timezone": "America/Sao_Paulo",
    "slack": {"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "bot_token": "xoxb-demo-token"},
    "twilio": {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sms_numbers": ["+14155550100"],
        "whatsapp_numbers": ["+14155550101"],
    },
}


def call(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (local URLs)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local URLs)
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def twilio_form(api: str, path: str, params: dict[str, str]) -> tuple[int, str]:
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(AUTH_TOKEN).compute_signature(api + path, params)
    return call(
        "POST",
        api + path,
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def slack_event(api: str, payload: dict[str, Any]) -> tuple[int, str]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(
        LOCAL_SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return call(
        "POST",
        api + "/slack/events",
        body,
        {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
        },
    )


def wait_for_entry(
    outbox_url: str, method: str, match: str, timeout: float = 15, *, field: str | None = None
) -> dict[str, Any]:
    """The first call of `method` whose payload (or its `field`) contains `match`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(outbox_url, timeout=5) as response:  # noqa: S310
            for entry in json.loads(response.read()):
                payload = entry["payload"] if field is None else entry["payload"].get(field, "")
                if entry["method"] == method and match in json.dumps(payload, ensure_ascii=False):
                    return dict(entry)
        time.sleep(0.3)
    raise TimeoutError(f"no {method} containing {match!r} in {outbox_url}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local.demo")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--slack", default="http://127.0.0.1:8001")
    parser.add_argument("--twilio", default="http://127.0.0.1:8002")
    args = parser.parse_args(argv)

    status, body = call(
        "PUT",
        f"{args.api}/admin/shops/{SHOP_ID}",
        json.dumps(SHOP).encode(),
        {"Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    print(f"1. shop registered: HTTP {status}")
    if status >= 300:
        print(body)
        return 1

    text = "Olá! Meu pedido #1042 ainda não chegou 📦 <!channel>"
    message_sid = "SM" + hashlib.md5(str(time.time()).encode()).hexdigest()  # noqa: S324
    status, _ = twilio_form(
        args.api,
        f"/webhooks/twilio/{SHOP_ID}",
        {
            "MessageSid": message_sid,
            "AccountSid": ACCOUNT_SID,
            "From": "whatsapp:+5511987654321",
            "To": "whatsapp:+14155550101",
            "Body": text,
            "NumMedia": "0",
            "ProfileName": "Ana Souza",
            "WaId": "5511987654321",
        },
    )
    print(f"2. customer's WhatsApp message sent to the webhook: HTTP {status}")
    # The message's own text (the card quotes it too, but only in its blocks).
    post = wait_for_entry(f"{args.slack}/_outbox", "chat.postMessage", "1042", field="text")
    thread_ts = post["payload"]["thread_ts"]
    print(f"3. it arrived in Slack, thread {thread_ts}")

    reply_ts = f"{time.time():.6f}"
    status, _ = slack_event(
        args.api,
        {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "event_id": "Ev" + reply_ts.replace(".", ""),
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": CHANNEL_ID,
                "user": "U0AGENT",
                "text": "Oi Ana! Seu pedido sai hoje, o código de rastreio chega por aqui.",
                "ts": reply_ts,
                "thread_ts": thread_ts,
            },
        },
    )
    print(f"4. agent replied in the thread (Slack event): HTTP {status}")
    wait_for_entry(f"{args.twilio}/_outbox", "messages.create", "Seu pedido sai hoje")
    print("5. the reply went out through Twilio to whatsapp:+5511987654321")
    wait_for_entry(f"{args.slack}/_outbox", "reactions.add", "white_check_mark")
    print("6. Twilio reported it delivered; the agent's message shows :white_check_mark:")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
