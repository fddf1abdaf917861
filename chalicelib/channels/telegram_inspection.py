"""A shop's Telegram bot as Telegram sees it, for `threadline doctor`: its webhook
(`getWebhookInfo`), asked with the bot's token from the secret store, which never leaves the
deployment."""

from typing import Any

from chalicelib.channels.telegram import TELEGRAM_API, BotApi, TelegramRefusal, _bot_of
from chalicelib.domain.checks import NO_BOT_TOKEN, Refusal, TelegramWebhookInfo
from chalicelib.domain.errors import Retryable
from chalicelib.domain.shop import Shop, ShopSecrets

MAX_SHOWN = 200


class TelegramBotInspection:
    def __init__(self, api_url: str = TELEGRAM_API, timeout_seconds: float = 10.0) -> None:
        self._api_url = api_url
        self._timeout = timeout_seconds

    def webhook_info(self, shop: Shop, secrets: ShopSecrets) -> TelegramWebhookInfo | Refusal:
        bot = _bot_of(shop, secrets)
        if bot is None:
            return Refusal(NO_BOT_TOKEN)
        try:
            found = BotApi(self._api_url, bot[1], self._timeout).call("getWebhookInfo", {})
        except TelegramRefusal as refusal:
            return Refusal(str(refusal.error_code), refusal.description)
        except Retryable as error:
            return Refusal("unreachable", str(error))
        info: dict[str, Any] = found if isinstance(found, dict) else {}
        allowed = info.get("allowed_updates")
        pending = info.get("pending_update_count")
        return TelegramWebhookInfo(
            url=str(info.get("url") or ""),
            last_error_message=str(info.get("last_error_message") or "")[:MAX_SHOWN],
            allowed_updates=(
                tuple(str(kind) for kind in allowed) if isinstance(allowed, list) else None
            ),
            pending_update_count=pending if isinstance(pending, int) else 0,
        )
