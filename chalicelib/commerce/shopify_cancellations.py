"""Order cancellations on Shopify's Admin GraphQL API (`CancelDesk`): the order's state right
before (cancelled already? fulfilled? what a refund would give back), then `orderCancel`.

`orderCancel` is asynchronous: Shopify answers with a job, not a cancelled order. The job is
taken as Shopify's acceptance, and the order is read again at once to say whether it shows as
cancelled yet; the thread says which. Shopify's `orderCancelUserErrors` become a
`CommerceRefused` whose reason says, in plain words, why nothing was cancelled. Nothing of a
customer is logged.
"""

from decimal import Decimal
from typing import Any

from pydantic import Field

from chalicelib.commerce.sessions import SessionOnFirstUse
from chalicelib.commerce.shopify import MoneyBag, ShopifyGraphQL
from chalicelib.commerce.shopify_refunds import (
    ShopifyAnswer,
    UserError,
    read_answer,
    shop_money,
    store_client,
)
from chalicelib.domain.cancellations import CancelAccepted, CancellableOrder, CancelPlan
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.shop import Shop, ShopSecrets

CANCELLABLE_ORDER_QUERY = """
query ThreadlineCancellableOrder($query: String!) {
  orders(first: 1, query: $query) {
    nodes {
      id
      name
      cancelledAt
      displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      totalRefundedSet { shopMoney { amount currencyCode } }
    }
  }
}
"""

CANCEL_MUTATION = """
mutation ThreadlineCancelOrder($orderId: ID!, $notifyCustomer: Boolean,
    $refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!,
    $reason: OrderCancelReason!, $staffNote: String) {
  orderCancel(orderId: $orderId, notifyCustomer: $notifyCustomer, refundMethod: $refundMethod,
      restock: $restock, reason: $reason, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""


class _OrderNode(ShopifyAnswer):
    id: str
    name: str
    cancelledAt: str | None = None
    displayFulfillmentStatus: str | None = None
    totalPriceSet: MoneyBag
    totalRefundedSet: MoneyBag


class _Job(ShopifyAnswer):
    id: str
    done: bool = False


class _CancelError(UserError):
    code: str | None = None


class _OrderCancel(ShopifyAnswer):
    job: _Job | None = None
    orderCancelUserErrors: list[_CancelError] = Field(default_factory=list)


# Shopify's `OrderCancelUserErrorCode`s in plain words; INVALID carries its reason in the
# message (cancelled already, fulfilled, a return in progress, a pending authorisation).
_CODE_WORDS = {
    "NOT_FOUND": "Shopify no longer has this order",
    "NO_REFUND_PERMISSION": "Threadline's Shopify app may not refund on this store",
    "INTERNAL_ERROR": "Shopify failed on its side; try again later",
}


def cancel_refusal_in_plain_words(errors: list[_CancelError]) -> str:
    """Why Shopify refused a cancellation, for the thread."""
    first = errors[0]
    message = first.message.strip()[:300]
    words = _CODE_WORDS.get(first.code or "")
    if words:
        return f"{words} ({message})" if message else words
    return message or "Shopify gave no reason"


def _cancellable(node: _OrderNode, number: str) -> CancellableOrder:
    total = shop_money(node.totalPriceSet)
    refunded = shop_money(node.totalRefundedSet)
    return CancellableOrder(
        order_id=node.id,
        number=number,
        total=total,
        refundable=Money(
            amount=max(total.amount - refunded.amount, Decimal(0)), currency=total.currency
        ),
        cancelled=node.cancelledAt is not None,
        fulfilment_status=(node.displayFulfillmentStatus or "unfulfilled").lower(),
    )


class ShopifyCancellations(SessionOnFirstUse):
    """`CancelDesk` over Shopify."""

    def __init__(self, api_url: str | None = None) -> None:
        self._api_url = api_url or None

    def _client(self, shop: Shop, secrets: ShopSecrets) -> ShopifyGraphQL:
        return store_client(self._session, self._api_url, shop, secrets)

    def cancellable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> CancellableOrder | None:
        """The order of this number as it is now; None if the store has no such order."""
        return self._order(self._client(shop, secrets), order_number)

    @staticmethod
    def _order(client: ShopifyGraphQL, order_number: str) -> CancellableOrder | None:
        data = client.query(CANCELLABLE_ORDER_QUERY, {"query": f'name:"#{order_number}"'})
        nodes = read_answer(
            data, lambda d: [_OrderNode.model_validate(n) for n in d["orders"]["nodes"]]
        )
        node = next((n for n in nodes if n.name.lstrip("#") == order_number), None)
        return _cancellable(node, order_number) if node else None

    def cancel(self, shop: Shop, secrets: ShopSecrets, plan: CancelPlan) -> CancelAccepted:
        """Asks Shopify to cancel the order as planned; its job accepted, the order read again.

        `orderCancel` takes no idempotency key: what keeps a retry from cancelling twice is the
        claim of the submission and the state read before (an order cancelled already is
        never asked again, and Shopify refuses a second cancellation itself)."""
        client = self._client(shop, secrets)
        variables: dict[str, Any] = {
            "orderId": plan.order_id,
            "notifyCustomer": plan.notify_customer,
            "refundMethod": {"originalPaymentMethodsRefund": plan.refund},
            "restock": plan.restock,
            "reason": plan.reason.value,
            "staffNote": plan.note or None,
        }
        data = client.query(CANCEL_MUTATION, variables)
        answer = read_answer(data, lambda d: _OrderCancel.model_validate(d["orderCancel"]))
        if answer.orderCancelUserErrors:
            raise CommerceRefused(cancel_refusal_in_plain_words(answer.orderCancelUserErrors))
        if answer.job is None:
            raise Retryable("Shopify's cancellation answer had no job")
        after = self._order(client, plan.order_number)
        return CancelAccepted(
            job_id=answer.job.id,
            job_done=answer.job.done,
            order_cancelled=after is not None and after.cancelled,
        )
