"""The shop's own commerce platform behind one `OrderDirectory`: each shop configures one
(Shopify or WooCommerce), and its lookups go to that platform's adapter."""

from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.orders import CommerceRefused, CustomerKeys, OrderSummary
from chalicelib.domain.shop import Shop, ShopSecrets

if TYPE_CHECKING:
    from chalicelib.commerce.shopify import ShopifyOrders
    from chalicelib.commerce.woocommerce import WooCommerceOrders


class PlatformOrders:
    """`OrderDirectory` that asks the platform the shop configured."""

    def __init__(self, shopify: "ShopifyOrders", woocommerce: "WooCommerceOrders") -> None:
        self._shopify = shopify
        self._woocommerce = woocommerce

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary:
        if shop.woocommerce is not None:
            return self._woocommerce.customer_orders(shop, secrets, customer, now)
        if shop.shopify is not None:
            return self._shopify.customer_orders(shop, secrets, customer, now)
        raise CommerceRefused("the shop has no commerce platform configured")
