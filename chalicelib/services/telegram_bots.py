"""Connecting a shop's Telegram bot: its webhook set to this deployment, with the secret
token Telegram will echo on every update.

The secret is Threadline's: generated on the first connect, kept in the shop's secret, and
set again unchanged on every later connect, so connecting twice changes nothing and no
update in flight is refused. The bot token stays in the deployment: callers never hold it.
"""

import secrets as random_secrets
from collections.abc import Callable

from aws_lambda_powertools import Logger
from pydantic import SecretStr

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.shop import is_shop_id, telegram_webhook_url
from chalicelib.services.ports import BotWebhooks, ShopLookup, ShopVault

logger = Logger(service="threadline", child=True)


def new_webhook_secret() -> str:
    """64 characters of A-Za-z0-9_- (Telegram takes 1 to 256 of them)."""
    return random_secrets.token_urlsafe(48)


class TelegramConnect:
    def __init__(
        self,
        shops: ShopLookup,
        vault: ShopVault,
        public_url: str,
        bots: BotWebhooks,
        new_secret: Callable[[], str] = new_webhook_secret,
    ) -> None:
        self._shops = shops
        self._vault = vault
        self._public_url = public_url
        self._bots = bots
        self._new_secret = new_secret

    def connect(self, shop_id: str) -> dict[str, object]:
        """The bot's webhook set (`setWebhook`): this deployment's URL for the shop, the
        shop's secret token, customers' messages and their edits. Raises Conflict when the
        shop has no bot or Telegram refuses it."""
        shop = self._shops.get_shop(shop_id, fresh=True) if is_shop_id(shop_id) else None
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        if shop.telegram is None:
            raise Conflict(f"shop {shop_id} has no Telegram bot")
        stored = self._vault.get(shop_id, fresh=True)
        if stored.telegram_bot_token is None:
            raise Conflict(f"no Telegram bot token is stored for shop {shop_id}")
        secret = stored.telegram_webhook_secret
        secrets = stored
        if secret is None:
            # Kept before Telegram hears of it: an update that arrives at once is verified.
            secret = SecretStr(self._new_secret())
            secrets = stored.model_copy(update={"telegram_webhook_secret": secret})
            self._vault.put(shop_id, secrets)
        url = telegram_webhook_url(self._public_url, shop_id)
        done = self._bots.set_webhook(shop, secrets, url, secret.get_secret_value())
        logger.info("telegram webhook set", shop_id=shop_id)
        return {
            "shop_id": shop_id,
            "bot_id": shop.telegram.bot_id,
            "bot_username": done.bot_username,
            "webhook": done.url,
            "allowed_updates": list(done.allowed_updates),
            "secret_token": "set (kept in the shop's secret, never shown)",
        }
