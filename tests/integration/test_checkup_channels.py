"""`GET /admin/shops/{shop_id}/checks` for a shop on Telegram and Meta: the deployment asks
Telegram's getWebhookInfo with the shop's bot token and the Graph API with its Meta token
(the stand-ins, as strict as the real ones) and answers with verdicts only."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from chalice.test import Client

from chalicelib.settings import Settings
from local_stack.sandbox.meta import MetaStandIn
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn
from local_stack.sandbox.telegram import TelegramStandIn
from tests.integration.conftest import ADMIN
from tests.meta_payloads import INSTAGRAM_ID, META_TOKEN, PAGE_ID, PHONE_NUMBER_ID, meta_shop
from tests.signing import BOT_TOKEN, TEAM_ID, shop_document

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

BOT_ID = 7012345678
TELEGRAM_TOKEN = f"{BOT_ID}:AAE" + "d" * 32


@pytest.fixture
def slack_api() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn(Outbox())
    stand_in.start()
    stand_in.install(BOT_TOKEN, TEAM_ID, "Loja da Ana")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def telegram_api() -> Iterator[TelegramStandIn]:
    stand_in = TelegramStandIn(Outbox())
    stand_in.add_bot(TELEGRAM_TOKEN, "loja_da_ana_bot")
    stand_in.start("127.0.0.1", 0)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def graph_api() -> Iterator[MetaStandIn]:
    stand_in = MetaStandIn(Outbox())
    stand_in.start("127.0.0.1", 0)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(
    settings: Settings,
    slack_api: SlackStandIn,
    telegram_api: TelegramStandIn,
    graph_api: MetaStandIn,
) -> Settings:
    stand_ins = {
        "slack_api_url": slack_api.base_url,
        "telegram_api_url": telegram_api.base_url,
        "meta_graph_url": graph_api.base_url,
    }
    return settings.model_copy(update=stand_ins)


@pytest.fixture
def telegram_shop(client: Client, put_shop: Callable[..., Any]) -> str:
    document = shop_document(telegram={"bot_token": TELEGRAM_TOKEN})
    document.pop("twilio")
    assert put_shop("ana", document).status_code == 201
    return "ana"


@pytest.fixture
def meta_shop_id(put_shop: Callable[..., Any]) -> str:
    document = shop_document(meta=meta_shop())
    document.pop("twilio")
    assert put_shop("ana", document).status_code == 201
    return "ana"


def checks(client: Client) -> dict[str, tuple[str, str, str]]:
    response = client.http.get("/admin/shops/ana/checks", headers=ADMIN)
    assert response.status_code == 200, response.body
    return {
        f"{c['subject']} {c['name']}".strip(): (c["verdict"], c["detail"], c["fix"])
        for c in json.loads(response.body)["checks"]
    }


def of(found: dict[str, tuple[str, str, str]], subject: str) -> dict[str, str]:
    return {name: verdict for name, (verdict, _, _) in found.items() if name.startswith(subject)}


# Telegram -----------------------------------------------------------------------------


def test_a_connected_bot_passes_and_no_token_leaves(client, telegram_shop, log_lines):
    connect = client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN)
    assert connect.status_code == 200, connect.body

    response = client.http.get("/admin/shops/ana/checks", headers=ADMIN)

    found = checks(client)
    assert of(found, "Telegram") == {f"Telegram bot {BOT_ID}": "passed"}
    assert found[f"Telegram bot {BOT_ID}"][1] == "updates come here"
    assert of(found, "Meta") == {"Meta": "not_configured"}
    assert TELEGRAM_TOKEN not in response.body.decode()
    assert TELEGRAM_TOKEN not in log_lines.getvalue()


def test_a_bot_never_connected_fails_with_the_command_to_connect_it(client, telegram_shop):
    verdict, detail, fix = checks(client)[f"Telegram bot {BOT_ID}"]
    assert (verdict, detail) == ("failed", "updates go to nowhere (no webhook set)")
    assert fix == "threadline shop connect-telegram ana"


def test_a_bot_pointed_elsewhere_fails_naming_where(client, telegram_shop, telegram_api):
    # Given the bot connected, then pointed at another service by its owner
    assert client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN).status_code == 200
    elsewhere = "https://bots.elsewhere.example/hook"
    answer = requests.post(
        f"{telegram_api.base_url}/bot{TELEGRAM_TOKEN}/setWebhook",
        json={"url": elsewhere},
        timeout=5,
    )
    assert answer.json()["ok"] is True

    verdict, detail, fix = checks(client)[f"Telegram bot {BOT_ID}"]

    assert (verdict, detail, fix) == (
        "failed",
        f"updates go to {elsewhere}",
        "threadline shop connect-telegram ana",
    )


# Meta ---------------------------------------------------------------------------------


def test_a_token_that_reads_every_claimed_id_passes(client, meta_shop_id, graph_api, log_lines):
    graph_api.provision(
        META_TOKEN, whatsapp_numbers=(PHONE_NUMBER_ID,), page_id=PAGE_ID, instagram_id=INSTAGRAM_ID
    )

    response = client.http.get("/admin/shops/ana/checks", headers=ADMIN)

    found = checks(client)
    assert of(found, "Meta") == {
        "Meta access token": "passed",
        f"Meta whatsapp_cloud {PHONE_NUMBER_ID}": "passed",
        f"Meta messenger {PAGE_ID}": "passed",
        f"Meta instagram {INSTAGRAM_ID}": "passed",
    }
    assert of(found, "Telegram") == {"Telegram": "not_configured"}
    assert META_TOKEN not in response.body.decode()
    assert META_TOKEN not in log_lines.getvalue()


def test_an_id_the_token_may_not_read_fails_alone(client, meta_shop_id, graph_api):
    # Given a token of the number and the Page, but not of the Instagram account
    graph_api.provision(META_TOKEN, whatsapp_numbers=(PHONE_NUMBER_ID,), page_id=PAGE_ID)

    found = checks(client)

    assert of(found, "Meta") == {
        "Meta access token": "passed",
        f"Meta whatsapp_cloud {PHONE_NUMBER_ID}": "passed",
        f"Meta messenger {PAGE_ID}": "passed",
        f"Meta instagram {INSTAGRAM_ID}": "failed",
    }
    _, detail, fix = found[f"Meta instagram {INSTAGRAM_ID}"]
    assert detail.startswith("the token may not read it (100: ")
    assert "Business Settings" in fix


def test_a_token_meta_refuses_fails_and_no_id_is_asked(client, meta_shop_id, graph_api):
    # Given a token Meta does not know (expired, revoked)
    found = checks(client)

    assert of(found, "Meta") == {"Meta access token": "failed"}
    _, detail, fix = found["Meta access token"]
    assert detail.startswith("Meta refused the access token (expired or revoked)")
    assert "threadline shop put with meta.access_token" in fix
