"""The shop's own commerce platform behind one `RefundDesk`: each shop configures one
(Shopify or WooCommerce), and its refunds go to that platform's adapter."""

from typing import TYPE_CHECKING

from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.refunds import RefundableOrder, RefundDone, RefundPlan, RefundQuote
from chalicelib.domain.shop import Shop, ShopSecrets

if TYPE_CHECKING:
    from chalicelib.commerce.shopify_refunds import ShopifyRefunds
    from chalicelib.commerce.woocommerce_refunds import WooCommerceRefunds


class PlatformRefunds:
    """`RefundDesk` that asks the platform the shop configured."""

    def __init__(self, shopify: "ShopifyRefunds", woocommerce: "WooCommerceRefunds") -> None:
        self._shopify = shopify
        self._woocommerce = woocommerce

    def _desk(self, shop: Shop) -> "ShopifyRefunds | WooCommerceRefunds":
        if shop.woocommerce is not None:
            return self._woocommerce
        if shop.shopify is not None:
            return self._shopify
        raise CommerceRefused("the shop has no commerce platform configured")

    def refundable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> RefundableOrder | None:
        return self._desk(shop).refundable_order(shop, secrets, order_number)

    def quote(
        self, shop: Shop, secrets: ShopSecrets, order_id: str, lines: list[tuple[str, int]]
    ) -> RefundQuote:
        return self._desk(shop).quote(shop, secrets, order_id, lines)

    def refund(
        self, shop: Shop, secrets: ShopSecrets, plan: RefundPlan, quote: RefundQuote
    ) -> RefundDone:
        return self._desk(shop).refund(shop, secrets, plan, quote)
