"""A shop's Telegram bot in its JSON (the token a secret, masked on GET) and the connect
use case (the webhook secret generated once, kept, never shown)."""

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from chalicelib.channels.telegram import ALLOWED_UPDATES, WebhookSet
from chalicelib.domain.shop import (
    MASK,
    Shop,
    ShopDocument,
    ShopSecrets,
    masked_document,
    missing_secrets,
)
from chalicelib.services.telegram_bots import TelegramConnect, new_webhook_secret
from tests.fakes import FakeRecords, FakeVault

pytestmark = pytest.mark.unit

TOKEN = "7012345678:AAE" + "k" * 32
OTHER_BOT_TOKEN = "7099999999:AAE" + "z" * 32


def document(**telegram: Any) -> ShopDocument:
    return ShopDocument.model_validate({"name": "Loja", "telegram": telegram})


def test_the_bot_token_is_a_secret_and_its_id_plain_configuration() -> None:
    shop, secrets = document(bot_token=TOKEN).split("ana")
    assert shop.telegram is not None
    assert shop.telegram.bot_id == "7012345678"
    assert secrets.telegram_bot_token == SecretStr(TOKEN)
    assert TOKEN not in shop.model_dump_json()


def test_get_masks_the_token_and_names_the_webhook() -> None:
    shop, secrets = document(bot_token=TOKEN).split("ana")
    shown = masked_document(shop, secrets, "https://t.example")
    assert shown["telegram"] == {"bot_id": "7012345678", "bot_token": MASK}
    webhooks = shown["webhooks"]
    assert isinstance(webhooks, dict)
    assert webhooks["telegram"] == "https://t.example/webhooks/telegram/ana"


@pytest.mark.parametrize(
    "telegram",
    [
        {"bot_token": "not-a-token"},
        {"bot_token": "123:short"},
        {"bot_token": TOKEN, "bot_id": "1"},
        {},
    ],
)
def test_what_is_no_bot_token_is_refused(telegram: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        document(**telegram)


def test_a_masked_token_keeps_the_stored_one_of_the_same_bot_only() -> None:
    stored = ShopSecrets(telegram_bot_token=SecretStr(TOKEN))
    # The GET answer sent back as it is
    shop, given = document(bot_id="7012345678", bot_token=MASK).split("ana")
    assert missing_secrets(shop, given.merged_over(stored)) == []
    # Another bot named without its token: the stored token is not that bot's
    other, given = document(bot_id="7099999999", bot_token=MASK).split("ana")
    assert missing_secrets(other, given.merged_over(stored)) == ["telegram.bot_token"]


def test_a_new_bot_token_keeps_the_generated_webhook_secret() -> None:
    stored = ShopSecrets(
        telegram_bot_token=SecretStr(TOKEN), telegram_webhook_secret=SecretStr("kept")
    )
    _, given = document(bot_token=OTHER_BOT_TOKEN).split("ana")
    merged = given.merged_over(stored)
    assert merged.telegram_bot_token == SecretStr(OTHER_BOT_TOKEN)
    assert merged.telegram_webhook_secret == SecretStr("kept")


def test_a_generated_secret_is_what_telegram_takes() -> None:
    secret = new_webhook_secret()
    assert 1 <= len(secret) <= 256
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)
    assert new_webhook_secret() != secret


class RecordingWebhooks:
    def __init__(self) -> None:
        self.set: list[tuple[str, str]] = []

    def set_webhook(
        self, shop: Shop, secrets: ShopSecrets, url: str, secret_token: str
    ) -> WebhookSet:
        self.set.append((url, secret_token))
        return WebhookSet(url=url, allowed_updates=ALLOWED_UPDATES, bot_username="ana_bot")


def test_connecting_twice_sets_the_same_secret_generated_once() -> None:
    # Given a shop with its bot token stored, and no webhook secret yet
    shop, secrets = document(bot_token=TOKEN).split("ana")
    shops, vault, webhooks = FakeRecords().shops, FakeVault(), RecordingWebhooks()
    shops.put_shop(shop, None)
    vault.put("ana", secrets)
    generated = iter(["first-secret", "second-secret"])
    connect = TelegramConnect(shops, vault, "https://t.example", webhooks, lambda: next(generated))

    # When it is connected twice
    answers = [connect.connect("ana"), connect.connect("ana")]

    # Then both set the first secret, which the vault keeps, and neither answer shows it
    url = "https://t.example/webhooks/telegram/ana"
    assert webhooks.set == [(url, "first-secret"), (url, "first-secret")]
    assert vault.get("ana").telegram_webhook_secret == SecretStr("first-secret")
    assert vault.get("ana").telegram_bot_token == SecretStr(TOKEN)
    assert all("first-secret" not in str(answer) for answer in answers)
    assert answers[0]["allowed_updates"] == ["message", "edited_message"]
