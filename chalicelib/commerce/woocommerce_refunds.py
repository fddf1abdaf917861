"""Refunds on WooCommerce's REST API v3 (`RefundDesk`): an order's lines with what is left to
refund of each, the refund those lines come to, and `POST /orders/{id}/refunds` with
`line_items`, `amount`, `reason` and `api_refund` (the payment gateway gives the money back).

WooCommerce suggests no refund: a line's share is its total after discounts, divided by its
quantity, never more than is left to refund on the order. It takes no idempotency key either:
each refund carries the submission's key in its `meta_data`, and before refunding the order's
refunds are read for one carrying it, so a retry after a lost answer finds the first refund
rather than making a second. A refusal (HTTP 400) becomes a `CommerceRefused` with
WooCommerce's own words. Nothing of a customer is logged.
"""

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.commerce.sessions import SessionOnFirstUse
from chalicelib.commerce.woocommerce import WooCommerceRest, api_base
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.refunds import (
    LINES_OFFERED,
    RefundableLine,
    RefundableOrder,
    RefundDone,
    RefundPlan,
    RefundQuote,
)
from chalicelib.domain.shop import Shop, ShopSecrets

# The refund's meta_data key naming the Slack submission it was made for.
SUBMISSION_META = "_threadline_submission"
_CENT = Decimal("0.01")


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class _Line(_Answer):
    id: int
    name: str
    quantity: int
    total: Decimal


class _Order(_Answer):
    id: int
    number: str
    status: str
    currency: str
    total: Decimal
    line_items: list[_Line] = Field(default_factory=list)


class _Meta(_Answer):
    key: str
    value: Any = None


class _Refund(_Answer):
    id: int
    amount: Decimal
    line_items: list[dict[str, Any]] = Field(default_factory=list)
    meta_data: list[_Meta] = Field(default_factory=list)

    def submission(self) -> str | None:
        return next((str(m.value) for m in self.meta_data if m.key == SUBMISSION_META), None)


def _refunded_lines(refunds: list[_Refund]) -> dict[int, int]:
    """How many of each order line were refunded (WooCommerce keeps the order line's id in
    `_refunded_item_id`, and the quantity as a negative number)."""
    refunded: dict[int, int] = {}
    for refund in refunds:
        for item in refund.line_items:
            meta = {
                m.get("key"): m.get("value")
                for m in item.get("meta_data", [])
                if isinstance(m, dict)
            }
            line_id = str(meta.get("_refunded_item_id", ""))
            quantity = item.get("quantity")
            if line_id.isdigit() and isinstance(quantity, int):
                refunded[int(line_id)] = refunded.get(int(line_id), 0) + abs(quantity)
    return refunded


def _unit(line: _Line) -> Decimal:
    return line.total / line.quantity if line.quantity > 0 else Decimal(0)


class WooCommerceRefunds(SessionOnFirstUse):
    """`RefundDesk` over WooCommerce."""

    def __init__(self, api_url: str | None = None) -> None:
        self._api_url = api_url or None

    def _client(self, shop: Shop, secrets: ShopSecrets) -> WooCommerceRest:
        config = shop.woocommerce
        key = secrets.woocommerce_consumer_key
        secret = secrets.woocommerce_consumer_secret
        if config is None or key is None or secret is None:
            raise CommerceRefused("the shop has no WooCommerce store and consumer key configured")
        return WooCommerceRest(
            self._session,
            api_base(config, self._api_url),
            key.get_secret_value(),
            secret.get_secret_value(),
        )

    @staticmethod
    def _order(client: WooCommerceRest, order_id: str) -> tuple[_Order, list[_Refund]]:
        if not order_id.isdigit():
            raise CommerceRefused("WooCommerce no longer has this order")
        order = _read(client.call("GET", f"/orders/{order_id}").json(), _Order.model_validate)
        listed = client.call("GET", f"/orders/{order_id}/refunds", {"per_page": 100}).json()
        refunds = _read(listed, lambda items: [_Refund.model_validate(i) for i in items])
        return order, refunds

    def refundable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> RefundableOrder | None:
        """The order of this number (WooCommerce's order number is its id) with what is left
        to refund of each line; None if the store has no such order."""
        try:
            order, refunds = self._order(self._client(shop, secrets), order_number)
        except CommerceRefused as error:
            # A 404 on one order is that order missing (the store's API answered the route).
            if "(HTTP 404)" in error.reason or "no longer has" in error.reason:
                return None
            raise
        refunded = _refunded_lines(refunds)
        currency = order.currency.upper()
        return RefundableOrder(
            order_id=str(order.id),
            number=order_number,
            total=Money(amount=order.total, currency=currency),
            refunded=Money(amount=sum((r.amount for r in refunds), Decimal(0)), currency=currency),
            lines=tuple(
                RefundableLine(
                    line_item_id=str(line.id),
                    title=line.name[:255],
                    refundable_quantity=max(0, line.quantity - refunded.get(line.id, 0)),
                    unit_price=Money(amount=_unit(line).quantize(_CENT), currency=currency),
                )
                for line in order.line_items[:LINES_OFFERED]
            ),
        )

    def quote(
        self, shop: Shop, secrets: ShopSecrets, order_id: str, lines: list[tuple[str, int]]
    ) -> RefundQuote:
        """What these (line id, quantity) pairs come to now, never more than is left to
        refund; zero when a line is unknown or has fewer left than asked."""
        order, refunds = self._order(self._client(shop, secrets), order_id)
        return RefundQuote(amount=_amount(order, refunds, lines))

    def refund(
        self, shop: Shop, secrets: ShopSecrets, plan: RefundPlan, quote: RefundQuote
    ) -> RefundDone:
        """Makes the refund of `plan`, once per `plan.submission_key`: a refund carrying the
        key already is answered instead of a second one."""
        client = self._client(shop, secrets)
        order, refunds = self._order(client, plan.order_id)
        made = next((r for r in refunds if r.submission() == plan.submission_key), None)
        if made is None:
            prices = {str(line.id): _unit(line) for line in order.line_items}

            def share(line_id: str, quantity: int) -> str:
                value = prices.get(line_id, Decimal(0)) * quantity
                return f"{value.quantize(_CENT, ROUND_HALF_UP)}"

            body: dict[str, Any] = {
                "amount": f"{quote.amount.amount.quantize(_CENT)}",
                "reason": plan.reason,
                "api_refund": True,
                "line_items": [
                    {
                        "id": int(line.line_item_id),
                        "quantity": line.quantity,
                        "refund_total": share(line.line_item_id, line.quantity),
                    }
                    for line in plan.lines
                ],
                "meta_data": [{"key": SUBMISSION_META, "value": plan.submission_key}],
            }
            answer = client.call("POST", f"/orders/{plan.order_id}/refunds", body=body).json()
            made = _read(answer, _Refund.model_validate)
            order, refunds = self._order(client, plan.order_id)
        currency = order.currency.upper()
        return RefundDone(
            refund_id=str(made.id),
            amount=Money(amount=made.amount, currency=currency),
            order_refunded=Money(
                amount=sum((r.amount for r in refunds), Decimal(0)), currency=currency
            ),
            financial_status=order.status,
        )


def _amount(order: _Order, refunds: list[_Refund], lines: list[tuple[str, int]]) -> Money:
    currency = order.currency.upper()
    by_id = {str(line.id): line for line in order.line_items}
    refunded = _refunded_lines(refunds)
    total = Decimal(0)
    for line_id, quantity in lines:
        line = by_id.get(line_id)
        if line is None or quantity > line.quantity - refunded.get(line.id, 0):
            return Money(amount=Decimal(0), currency=currency)
        total += _unit(line) * quantity
    left = order.total - sum((r.amount for r in refunds), Decimal(0))
    amount = min(total, left).quantize(_CENT, ROUND_HALF_UP)
    return Money(amount=max(amount, Decimal(0)), currency=currency)


Read = TypeVar("Read")


def _read(data: Any, reader: Callable[[Any], Read]) -> Read:
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError, ValidationError) as error:
        raise Retryable("WooCommerce's answer could not be read") from error
