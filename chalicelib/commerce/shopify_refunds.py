"""Refunds on Shopify's Admin GraphQL API (`RefundDesk`): an order's refundable lines, the
refund Shopify suggests for chosen lines (its amount and the payments it goes back
through), and `refundCreate` with those payments under an idempotency key (the
`@idempotent` directive, mandatory for `refundCreate` since API version 2026-04).

Shopify's `userErrors` become a `CommerceRefused` whose reason says, in plain words, why the
refund was not made. Nothing of a customer is logged.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.commerce.sessions import SessionOnFirstUse
from chalicelib.commerce.shopify import MoneyBag, ShopifyGraphQL, endpoint
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.refunds import (
    LINES_OFFERED,
    RefundableLine,
    RefundableOrder,
    RefundDone,
    RefundPlan,
    RefundQuote,
    RefundTransaction,
)
from chalicelib.domain.shop import Shop, ShopSecrets

if TYPE_CHECKING:
    import requests

REFUNDABLE_ORDER_QUERY = f"""
query ThreadlineRefundableOrder($query: String!) {{
  orders(first: 1, query: $query) {{
    nodes {{
      id
      name
      totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
      totalRefundedSet {{ shopMoney {{ amount currencyCode }} }}
      lineItems(first: {LINES_OFFERED}) {{
        nodes {{
          id
          title
          refundableQuantity
          originalUnitPriceSet {{ shopMoney {{ amount currencyCode }} }}
        }}
      }}
    }}
  }}
}}
"""

SUGGESTED_REFUND_QUERY = """
query ThreadlineSuggestedRefund($id: ID!, $lines: [RefundLineItemInput!]) {
  order(id: $id) {
    suggestedRefund(refundLineItems: $lines) {
      amountSet { shopMoney { amount currencyCode } }
      suggestedTransactions {
        gateway
        kind
        parentTransaction { id }
        amountSet { shopMoney { amount currencyCode } }
      }
    }
  }
}
"""

REFUND_MUTATION = """
mutation ThreadlineRefund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } }
    order { id displayFinancialStatus totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""


Read = TypeVar("Read")


class ShopifyAnswer(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class _LineNode(ShopifyAnswer):
    id: str
    title: str
    refundableQuantity: int
    originalUnitPriceSet: MoneyBag


class _Lines(ShopifyAnswer):
    nodes: list[_LineNode]


class _OrderNode(ShopifyAnswer):
    id: str
    name: str
    totalPriceSet: MoneyBag
    totalRefundedSet: MoneyBag
    lineItems: _Lines


class _Parent(ShopifyAnswer):
    id: str


class _SuggestedTransaction(ShopifyAnswer):
    gateway: str
    parentTransaction: _Parent | None = None
    amountSet: MoneyBag


class _Suggested(ShopifyAnswer):
    amountSet: MoneyBag
    suggestedTransactions: list[_SuggestedTransaction] = []


class UserError(ShopifyAnswer):
    field: list[str] | None = None
    message: str


class _Refund(ShopifyAnswer):
    id: str
    totalRefundedSet: MoneyBag


class _RefundedOrder(ShopifyAnswer):
    displayFinancialStatus: str | None = None
    totalRefundedSet: MoneyBag


class _RefundCreate(ShopifyAnswer):
    refund: _Refund | None = None
    order: _RefundedOrder | None = None
    userErrors: list[UserError] = []


def store_client(
    session: "requests.Session", api_url: str | None, shop: Shop, secrets: ShopSecrets
) -> ShopifyGraphQL:
    """The shop's Admin GraphQL API, for the actions taken from Slack."""
    config = shop.shopify
    token = secrets.shopify_access_token
    if config is None or token is None:
        raise CommerceRefused("the shop has no Shopify store and access token configured")
    return ShopifyGraphQL(session, endpoint(config, api_url), token.get_secret_value())


def shop_money(bag: MoneyBag) -> Money:
    return Money(amount=bag.shopMoney.amount, currency=bag.shopMoney.currencyCode)


def refusal_in_plain_words(errors: list[UserError]) -> str:
    """Why Shopify refused a refund, for the thread: what the agent can do about it."""
    first = errors[0]
    field = first.field or []
    message = first.message.strip()[:300]
    if "quantity" in field:
        return f"some of those items were already refunded or never bought ({message})"
    if "amount" in field:
        return f"that is more than is left to refund on the order ({message})"
    if "orderId" in field:
        return f"Shopify no longer has this order ({message})"
    return message or "Shopify gave no reason"


class ShopifyRefunds(SessionOnFirstUse):
    """`RefundDesk` over Shopify."""

    def __init__(self, api_url: str | None = None) -> None:
        self._api_url = api_url or None

    def _client(self, shop: Shop, secrets: ShopSecrets) -> ShopifyGraphQL:
        return store_client(self._session, self._api_url, shop, secrets)

    def refundable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> RefundableOrder | None:
        """The order of this number with what is left to refund of each line; None if the
        store has no such order."""
        data = self._client(shop, secrets).query(
            REFUNDABLE_ORDER_QUERY, {"query": f'name:"#{order_number}"'}
        )
        nodes = read_answer(
            data, lambda d: [_OrderNode.model_validate(n) for n in d["orders"]["nodes"]]
        )
        node = next((n for n in nodes if n.name.lstrip("#") == order_number), None)
        if node is None:
            return None
        return RefundableOrder(
            order_id=node.id,
            number=order_number,
            total=shop_money(node.totalPriceSet),
            refunded=shop_money(node.totalRefundedSet),
            lines=tuple(
                RefundableLine(
                    line_item_id=line.id,
                    title=line.title[:255],
                    refundable_quantity=max(0, line.refundableQuantity),
                    unit_price=shop_money(line.originalUnitPriceSet),
                )
                for line in node.lineItems.nodes
            ),
        )

    def quote(
        self, shop: Shop, secrets: ShopSecrets, order_id: str, lines: list[tuple[str, int]]
    ) -> RefundQuote:
        """The refund Shopify suggests now for these (line id, quantity) pairs."""
        data = self._client(shop, secrets).query(
            SUGGESTED_REFUND_QUERY,
            {
                "id": order_id,
                "lines": [
                    {"lineItemId": line_id, "quantity": quantity, "restockType": "NO_RESTOCK"}
                    for line_id, quantity in lines
                ],
            },
        )
        order = data.get("order")
        if order is None:
            raise CommerceRefused("Shopify no longer has this order")
        suggested = read_answer(order, lambda d: _Suggested.model_validate(d["suggestedRefund"]))
        return RefundQuote(
            amount=shop_money(suggested.amountSet),
            transactions=tuple(
                RefundTransaction(
                    gateway=t.gateway,
                    parent_id=t.parentTransaction.id if t.parentTransaction else None,
                    amount=shop_money(t.amountSet),
                )
                for t in suggested.suggestedTransactions
                if t.amountSet.shopMoney.amount > Decimal(0)
            ),
        )

    def refund(
        self, shop: Shop, secrets: ShopSecrets, plan: RefundPlan, quote: RefundQuote
    ) -> RefundDone:
        """Makes the refund of `plan` through the payments of `quote`, once per
        `plan.submission_key` (Shopify answers a repeated key with the first refund)."""
        refund_input: dict[str, Any] = {
            "orderId": plan.order_id,
            "notify": plan.notify_customer,
            "refundLineItems": [
                {
                    "lineItemId": line.line_item_id,
                    "quantity": line.quantity,
                    "restockType": "NO_RESTOCK",
                }
                for line in plan.lines
            ],
            "transactions": [
                {
                    "orderId": plan.order_id,
                    "gateway": t.gateway,
                    "kind": "REFUND",
                    "amount": f"{t.amount.amount}",
                    **({"parentId": t.parent_id} if t.parent_id else {}),
                }
                for t in quote.transactions
            ],
        }
        if plan.reason:
            refund_input["note"] = plan.reason
        data = self._client(shop, secrets).query(
            REFUND_MUTATION, {"input": refund_input, "key": plan.submission_key}
        )
        answer = read_answer(data, lambda d: _RefundCreate.model_validate(d["refundCreate"]))
        if answer.userErrors:
            raise CommerceRefused(refusal_in_plain_words(answer.userErrors))
        if answer.refund is None or answer.order is None:
            raise Retryable("Shopify's refund answer had no refund")
        return RefundDone(
            refund_id=answer.refund.id,
            amount=shop_money(answer.refund.totalRefundedSet),
            order_refunded=shop_money(answer.order.totalRefundedSet),
            financial_status=(answer.order.displayFinancialStatus or "").lower(),
        )


def read_answer(data: Any, reader: Callable[[Any], Read]) -> Read:
    try:
        return reader(data)
    except (KeyError, TypeError, ValidationError) as error:
        raise Retryable("Shopify's answer could not be read") from error
