"""One customer across the new channels: the number on the WhatsApp Cloud API and on WhatsApp
through Twilio is one person without any link (card, history, export, erasure), and a shop
links the person's Instagram, Messenger and Telegram identities to their phone number into
one profile that finds, exports and erases every conversation."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.settings import Settings
from local_stack.sandbox.telegram import TelegramStandIn
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN
from tests.integration.test_customers import admin, find, writes
from tests.integration.test_data_rights import table_items
from tests.integration.test_telegram import BOT_ID, BOT_TOKEN, PATH, telegram_api
from tests.meta_payloads import (
    CUSTOMER_WA_ID,
    INSTAGRAM_ID,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PAGE_ID,
    encoded,
    messaging_message,
    messaging_webhook,
    meta_shop,
    signed,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)
from tests.signing import shop_document

__all__ = ["telegram_api"]

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

PHONE = f"+{CUSTOMER_WA_ID}"
IG_USER, PSID, CHAT = "17841455500000001", "24536372", 5151
NAME = "Ana Souza"


@pytest.fixture
def settings(settings: Settings, telegram_api: TelegramStandIn) -> Settings:
    return settings.model_copy(
        update={
            "telegram_api_url": telegram_api.base_url,
            "meta_app_secret": META_APP_SECRET,
            "meta_verify_token": META_VERIFY_TOKEN,
        }
    )


@pytest.fixture
def shop(client: Client, put_shop: Callable[..., Any]) -> str:
    """A shop on Twilio, Meta's three channels and Telegram."""
    document = shop_document(meta=meta_shop(), telegram={"bot_token": BOT_TOKEN})
    assert put_shop("ana", document).status_code == 201
    assert client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN).status_code == 200
    return "ana"


def meta(client: Client, document: dict[str, Any]) -> None:
    body = encoded(document)
    assert client.http.post("/webhooks/meta", headers=signed(body), body=body).status_code == 200


def on_whatsapp_cloud(client: Client, n: int, text: str) -> None:
    meta(client, whatsapp_webhook(whatsapp_change([wa_text(n, text)], name=NAME)))


def on_instagram(client: Client, text: str) -> None:
    event = messaging_message(INSTAGRAM_ID, IG_USER, "m_ig_1", text)
    meta(client, messaging_webhook("instagram", INSTAGRAM_ID, event))


def on_messenger(client: Client, text: str) -> None:
    meta(client, messaging_webhook("page", PAGE_ID, messaging_message(PAGE_ID, PSID, "m_1", text)))


def on_telegram(client: Client, telegram_api: TelegramStandIn, text: str) -> None:
    secret = str(telegram_api.webhooks[BOT_ID]["secret_token"])
    update = {
        "update_id": 31,
        "message": {
            "message_id": 31,
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "chat": {"id": CHAT, "type": "private", "first_name": "Ana"},
            "date": 1774774800,
            "text": text,
        },
    }
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    answer = client.http.post(PATH, headers=headers, body=json.dumps(update).encode())
    assert answer.status_code == 200


def traces_left() -> str:
    return json.dumps(table_items(), ensure_ascii=False)


def test_whatsapp_cloud_and_twilio_whatsapp_of_one_number_are_one_customer(
    client: Client,
    shop: str,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    container: bootstrap.Container,
) -> None:
    # Given Ana on WhatsApp through Twilio, then from the same number on the Cloud API
    writes(client, 1, From=f"whatsapp:{PHONE}", To="whatsapp:+14155550101", ProfileName=NAME)
    run_workers()
    on_whatsapp_cloud(client, 2, "Oi de novo, pela Cloud API")
    run_workers()

    # Then the Cloud API conversation's card links to the Twilio one: one customer
    conversations = container.store.conversations
    twilio = conversations.find_open_conversation("ana", f"whatsapp:{PHONE}")
    cloud = conversations.find_open_conversation("ana", f"wa:{PHONE}")
    assert twilio is not None
    assert cloud is not None
    assert cloud.previous_conversation_id == twilio.conversation_id
    [card] = [root for root in slack.roots() if root.ts == cloud.slack_thread_ts]
    assert "earlier conversation" in json.dumps(card.message.blocks)
    # And either address finds both conversations as one customer's history
    for query in (f"wa:{PHONE}", f"whatsapp:{PHONE}", PHONE):
        [customer] = find(client, query)
        assert sorted(c["channel"] for c in customer["conversations"]) == [
            "whatsapp",
            "whatsapp_cloud",
        ]
    # And the export by one covers both, and the erasure by the other erases both
    status, exported = admin(client, "get", f"/admin/shops/ana/customers/{quote(f'wa:{PHONE}')}")
    assert status == 200
    assert len(exported["conversations"]) == 2
    status, receipt = admin(
        client, "delete", f"/admin/shops/ana/customers/{quote(f'whatsapp:{PHONE}')}"
    )
    assert (status, receipt["conversations"]) == (200, 2)
    left = traces_left()
    for trace in (CUSTOMER_WA_ID, NAME, "pela Cloud API"):
        assert trace not in left, trace


def test_instagram_messenger_and_telegram_identities_link_into_one_profile(
    client: Client,
    shop: str,
    run_workers: Callable[[], int],
    telegram_api: TelegramStandIn,
) -> None:
    # Given Ana's phone number, to which the shop links her Instagram, Messenger and
    # Telegram identities
    for address in (f"instagram:{IG_USER}", f"messenger:{PSID}", f"telegram:{CHAT}"):
        status, profile = admin(
            client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": address}
        )
        assert status == 200, profile
    assert profile["customer_id"]
    linked = {a["address"]: a["channel"] for a in profile["addresses"]}
    assert linked == {
        PHONE: "sms",
        f"wa:{PHONE}": "whatsapp_cloud",
        f"whatsapp:{PHONE}": "whatsapp",
        f"instagram:{IG_USER}": "instagram",
        f"messenger:{PSID}": "messenger",
        f"telegram:{CHAT}": "telegram",
    }

    # When she writes on each of them, and by SMS
    writes(client, 1, From=PHONE, Body="Oi pelo SMS")
    run_workers()
    on_instagram(client, "Oi pelo Instagram")
    run_workers()
    on_messenger(client, "Oi pelo Messenger")
    run_workers()
    on_telegram(client, telegram_api, "Oi pelo Telegram")
    run_workers()

    # Then any of her identities finds one customer with all four conversations
    for query in (f"telegram:{CHAT}", f"instagram:{IG_USER}", f"messenger:{PSID}", PHONE):
        [customer] = find(client, query)
        assert customer["customer_id"] == profile["customer_id"]
        assert sorted(c["channel"] for c in customer["conversations"]) == [
            "instagram",
            "messenger",
            "sms",
            "telegram",
        ]
    # And the export by her Telegram identity covers every linked identity and conversation
    status, exported = admin(client, "get", f"/admin/shops/ana/customers/telegram%3A{CHAT}")
    assert status == 200
    assert len(exported["conversations"]) == 4
    assert set(exported["linked_identities"]) == {
        PHONE,
        f"instagram:{IG_USER}",
        f"messenger:{PSID}",
        f"telegram:{CHAT}",
    }
    # And erasing by her Instagram identity erases everything of her, links included
    status, receipt = admin(
        client, "delete", f"/admin/shops/ana/customers/{quote(f'instagram:{IG_USER}')}"
    )
    assert (status, receipt["conversations"]) == (200, 4)
    left = traces_left()
    for trace in (IG_USER, PSID, f"telegram:{CHAT}", PHONE, "Oi pelo"):
        assert trace not in left, trace
