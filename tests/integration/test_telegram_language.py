"""A Telegram customer whose words are too few to tell their language ("??", "hi") gets
the automatic acknowledgement in the language their app declares, and the conversation
keeps it for the survey and order answers later."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from local_stack.sandbox.telegram import TelegramStandIn
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN
from tests.integration.test_telegram import BOT_ID, BOT_TOKEN, CHAT_ID, PATH, settings, telegram_api
from tests.signing import shop_document

__all__ = ["settings", "telegram_api"]

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

SHOP = {"sla": {"targets": {"normal": {"first_response": 60}}}, "auto_replies": {}}


def update(update_id: int, text: str, language_code: str | None) -> bytes:
    sender: dict[str, Any] = {"id": CHAT_ID, "is_bot": False, "first_name": "Ana"}
    if language_code is not None:
        sender["language_code"] = language_code
    message = {
        "message_id": update_id,
        "from": sender,
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Ana"},
        "date": 1774774800,
        "text": text,
    }
    return json.dumps({"update_id": update_id, "message": message}).encode()


@pytest.mark.parametrize(
    ("language_code", "acknowledgement"),
    # The greeting alone: the rest depends on whether the shop is open when the test runs.
    [("pt-br", "Olá Ana, "), (None, "Hi Ana, ")],
)
def test_the_acknowledgement_speaks_the_language_the_app_declares(
    client: Client,
    put_shop: Callable[..., Any],
    telegram_api: TelegramStandIn,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    container: bootstrap.Container,
    language_code: str | None,
    acknowledgement: str,
) -> None:
    # Given a shop answering automatically, English by default, with its bot connected
    document = shop_document(telegram={"bot_token": BOT_TOKEN}, **SHOP)
    assert put_shop("ana", document).status_code == 201
    assert client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN).status_code == 200
    secret = str(telegram_api.webhooks[BOT_ID]["secret_token"])

    # When a customer writes only "??"
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    body = update(77, "??", language_code)
    assert client.http.post(PATH, headers=headers, body=body).status_code == 200
    run_workers()

    # Then the acknowledgement goes out in the declared language (else the shop's default)
    [sent] = [e.payload for e in telegram_api._own if e.method == "sendMessage"]
    assert sent["text"].startswith(acknowledgement)
    [root] = slack.roots()
    assert slack.thread(root.ts)[1].message.text.startswith(acknowledgement)
    # And the conversation keeps it for what is sent automatically later
    conversation = container.store.conversations.find_open_conversation(
        "ana", f"telegram:{CHAT_ID}"
    )
    assert conversation is not None
    assert conversation.customer_language == ("pt" if language_code else None)
