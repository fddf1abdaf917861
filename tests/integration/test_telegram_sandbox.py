"""The Telegram stand-in's getWebhookInfo, as Telegram answers it: an empty URL before a
webhook is set, the chosen update types, and the last delivery's error while it is the last
one, in Telegram's words."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.telegram import TelegramStandIn

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

BOT_ID = 7000000077
TOKEN = f"{BOT_ID}:AAE" + "w" * 32


class Webhook:
    """A bot's webhook answering `status` to every update."""

    def __init__(self) -> None:
        self.status = 200
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(webhook.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/telegram/ana"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    found = Webhook()
    yield found
    found.server.shutdown()


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    stand_in = TelegramStandIn(Outbox())
    stand_in.add_bot(TOKEN, "loja_bot")
    stand_in.start("127.0.0.1", 0)
    yield stand_in
    stand_in.stop()


def call(telegram: TelegramStandIn, method: str, **fields: Any) -> dict[str, Any]:
    answer = requests.post(f"{telegram.base_url}/bot{TOKEN}/{method}", json=fields, timeout=5)
    body: dict[str, Any] = answer.json()
    return body


def test_webhook_info_shows_the_url_the_updates_and_the_last_error(
    telegram: TelegramStandIn, webhook: Webhook
) -> None:
    assert call(telegram, "getWebhookInfo")["result"] == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    set_ = call(
        telegram, "setWebhook", url=webhook.url, secret_token="s3cr3t", allowed_updates=["message"]
    )
    assert set_["ok"] is True
    info = call(telegram, "getWebhookInfo")["result"]
    assert (info["url"], info["allowed_updates"]) == (webhook.url, ["message"])
    assert "last_error_message" not in info

    # When the webhook refuses a delivery, Telegram says so until one succeeds
    webhook.status = 403
    assert telegram.customer_writes(TOKEN, 1, "Ana", "Olá") == 403
    info = call(telegram, "getWebhookInfo")["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 403 Forbidden"
    assert isinstance(info["last_error_date"], int)
    webhook.status = 200
    telegram.customer_writes(TOKEN, 1, "Ana", "Olá de novo")
    assert "last_error_message" not in call(telegram, "getWebhookInfo")["result"]


def test_webhook_info_needs_a_known_bot(telegram: TelegramStandIn) -> None:
    answer = requests.post(f"{telegram.base_url}/bot1:nope/getWebhookInfo", timeout=5)
    assert answer.status_code == 401
    assert json.loads(answer.content) == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }
