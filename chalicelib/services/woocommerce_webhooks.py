"""`POST /webhooks/woocommerce/{shop_id}`: WooCommerce's webhooks, verified first, acted on
once.

A bad signature is refused (403) before anything is read or written (the store's unsigned
ping when a webhook is saved is acknowledged and nothing else). A delivery is claimed by its
`X-WC-Webhook-Delivery-ID` within the shop before it is acted on, as Shopify's are
(`commerce_webhooks.act_once`). An order of a customer with an open conversation queues its
orders lookup; of anyone else it is acknowledged, ignored and counted. An order reaching
completed, refunded or cancelled is told to its customer (services/order_updates.py).
"""

from typing import TYPE_CHECKING, Any

from chalicelib.channels.base import WebhookRequest
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.domain.order_updates import woocommerce_update
from chalicelib.domain.outside_input import json_object
from chalicelib.domain.shop import Shop
from chalicelib.domain.shopify_webhooks import signature_valid
from chalicelib.domain.woocommerce_webhooks import is_ping, order_addresses, refreshes
from chalicelib.services.commerce_webhooks import act_once, refresh_orders
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    Metric,
    MetricsPort,
    OutboundQueue,
    ShopLookup,
    ShopVault,
    WebhookRecords,
)

if TYPE_CHECKING:
    from chalicelib.services.order_updates import OrderUpdates


class WooCommerceWebhooks:
    def __init__(
        self,
        shops: ShopLookup,
        vault: ShopVault,
        conversations: ConversationRecords,
        claims: WebhookRecords,
        outbound: OutboundQueue,
        metrics: MetricsPort,
        clock: Clock,
        updates: "OrderUpdates | None" = None,
    ) -> None:
        self._shops = shops
        self._vault = vault
        self._conversations = conversations
        self._claims = claims
        self._outbound = outbound
        self._metrics = metrics
        self._clock = clock
        self._updates = updates

    def receive(self, shop_id: str, request: WebhookRequest) -> None:
        signature = request.headers.get("x-wc-webhook-signature")
        if signature is None and is_ping(request.body):
            return
        shop = self._shops.get_shop(shop_id)
        secret = self._vault.get(shop_id).woocommerce_webhook_secret if shop else None
        if (
            shop is None
            or shop.woocommerce is None
            or secret is None
            or not signature_valid(request.body, signature, secret.get_secret_value())
        ):
            raise Forbidden("invalid WooCommerce signature")
        delivery_id = request.headers.get("x-wc-webhook-delivery-id", "").strip()
        topic = request.headers.get("x-wc-webhook-topic", "")
        if not delivery_id or not topic or len(delivery_id) > 64:
            raise BadRequest("X-WC-Webhook-Delivery-ID and X-WC-Webhook-Topic are required")
        payload = json_object(request.body)
        # Delivery ids are the store's: kept apart from Shopify's ids under the same shop.
        claim_id = f"woocommerce:{delivery_id}"
        if not refreshes(topic):
            act_once(
                self._claims,
                shop_id,
                claim_id,
                self._clock(),
                lambda: self._metrics.count(Metric.COMMERCE_WEBHOOK_IGNORED),
            )
            return
        act_once(
            self._claims,
            shop_id,
            claim_id,
            self._clock(),
            lambda: self._refresh_and_tell(shop, topic, payload, claim_id),
        )

    def _refresh_and_tell(
        self, shop: Shop, topic: str, payload: dict[str, Any], claim_id: str
    ) -> None:
        refresh_orders(
            self._conversations,
            self._outbound,
            self._metrics,
            shop,
            order_addresses(payload),
            claim_id,
        )
        update = woocommerce_update(topic, payload)
        if update is not None and self._updates is not None:
            self._updates.tell(shop, update)
