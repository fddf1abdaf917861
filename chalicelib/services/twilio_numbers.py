"""Connecting a shop's Twilio numbers: their webhooks pointed at this deployment through
Twilio's API, with the shop's auth token from the secret store (callers never hold it)."""

from collections import Counter

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.shop import is_shop_id, webhook_urls
from chalicelib.services.ports import NumberWebhooks, ShopLookup, ShopVault

logger = Logger(service="threadline", child=True)


class TwilioConnect:
    def __init__(
        self, shops: ShopLookup, vault: ShopVault, public_url: str, numbers: NumberWebhooks
    ) -> None:
        self._shops = shops
        self._vault = vault
        self._public_url = public_url
        self._numbers = numbers

    def connect(self, shop_id: str) -> dict[str, object]:
        """Every SMS number's and WhatsApp sender's webhook set to the shop's; one result
        per number. Raises Conflict when the shop has no Twilio account or token, or Twilio
        refuses them."""
        shop = self._shops.get_shop(shop_id, fresh=True) if is_shop_id(shop_id) else None
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        if shop.twilio is None:
            raise Conflict(f"shop {shop_id} has no Twilio account")
        secrets = self._vault.get(shop_id, fresh=True)
        if secrets.twilio_auth_token is None:
            raise Conflict(f"no Twilio auth token is stored for shop {shop_id}")
        urls = webhook_urls(self._public_url, shop_id)
        connections = self._numbers.connect(
            shop, secrets, urls["twilio_messaging"], urls["twilio_status_callback"]
        )
        # Counts only: the numbers themselves stay out of the log.
        results = Counter(connection.result.value for connection in connections)
        logger.info("twilio numbers connected", shop_id=shop_id, results=dict(results))
        return {
            "shop_id": shop_id,
            "webhook": urls["twilio_messaging"],
            "numbers": [
                {
                    "number": connection.number,
                    "channel": connection.channel.value,
                    "result": connection.result.value,
                    "detail": connection.detail,
                }
                for connection in connections
            ],
        }
