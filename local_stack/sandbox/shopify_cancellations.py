"""Order cancellations in the Shopify stand-in: the two operations Threadline's cancellations
use (`ThreadlineCancellableOrder`, `ThreadlineCancelOrder`), over the seeded orders, changing
their state as Shopify does.

As strict as Shopify where Threadline relies on it: `orderCancel`'s required arguments
(`restock`, `reason` among `OrderCancelReason`'s values, `refundMethod`) are GraphQL errors
when missing or wrong; an order cancelled already, or with anything fulfilled, is refused in
`orderCancelUserErrors` (`code` INVALID), an unknown one with NOT_FOUND. Shopify cancels
asynchronously: the answer is a job; here the job runs at once, so the order reads as
cancelled (and refunded, when asked) right after.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from local_stack.sandbox.shopify_refunds import (
    GraphQLRefusal,
    SeededRefund,
    refunded_amount,
)

if TYPE_CHECKING:
    from local_stack.sandbox.shopify import SeededOrder, SeededStore

CANCEL_OPERATIONS = frozenset({"ThreadlineCancellableOrder", "ThreadlineCancelOrder"})
_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})
_CENT = Decimal("0.01")
# When the stand-in cancels, as Shopify's `cancelledAt` shows it.
CANCELLED_AT = "2026-11-24T09:00:00Z"


@dataclass
class SeededCancellation:
    job_id: str
    reason: str
    restock: bool
    refund: bool
    notify: bool
    staff_note: str | None


def cancel_operation(name: str, store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    """The `data` of one cancellation operation; raises `GraphQLRefusal` for a malformed
    request."""
    if name == "ThreadlineCancellableOrder":
        return _cancellable_order(store, variables)
    return _order_cancel(store, variables)


def _orders(store: SeededStore) -> list[SeededOrder]:
    return [order for customer in store.customers for order in customer.orders]


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": f"{amount.quantize(_CENT)}", "currencyCode": currency}}


def _cancellable_order(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    query = variables.get("query")
    if not isinstance(query, str):
        raise GraphQLRefusal(
            "Variable $query of type String! was provided invalid value", "INVALID"
        )
    wanted = query.partition('name:"#')[2].rstrip('"')
    found = [order for order in _orders(store) if order.name.lstrip("#") == wanted]
    return {
        "orders": {
            "nodes": [
                {
                    "id": order.order_id,
                    "name": order.name,
                    "cancelledAt": order.cancelled_at,
                    "displayFulfillmentStatus": order.fulfillment_status,
                    "totalPriceSet": _money(Decimal(order.total), order.currency),
                    "totalRefundedSet": _money(refunded_amount(order), order.currency),
                }
                for order in found[:1]
            ]
        }
    }


def _refused(message: str, code: str, field: list[str] | None) -> dict[str, Any]:
    return {
        "orderCancel": {
            "job": None,
            "orderCancelUserErrors": [{"field": field, "message": message, "code": code}],
        }
    }


def _order_cancel(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    restock, reason = variables.get("restock"), variables.get("reason")
    refund_method = variables.get("refundMethod")
    if not isinstance(restock, bool):
        raise GraphQLRefusal("Variable $restock of type Boolean! was not provided", "INVALID")
    if reason not in _REASONS:
        raise GraphQLRefusal(
            "Variable $reason of type OrderCancelReason! was provided invalid value", "INVALID"
        )
    if not isinstance(refund_method, dict) or not isinstance(
        refund_method.get("originalPaymentMethodsRefund", False), bool
    ):
        raise GraphQLRefusal(
            "Variable $refundMethod of type OrderCancelRefundMethodInput! was provided invalid "
            "value",
            "INVALID",
        )
    order = next((o for o in _orders(store) if o.order_id == variables.get("orderId")), None)
    if order is None:
        return _refused("Order does not exist", "NOT_FOUND", ["orderId"])
    if order.cancelled_at is not None:
        return _refused("Order has already been cancelled", "INVALID", ["orderId"])
    if order.fulfillment_status != "UNFULFILLED":
        return _refused("Cannot cancel an order with fulfilled line items", "INVALID", ["orderId"])
    refund = bool(refund_method.get("originalPaymentMethodsRefund"))
    job_id = f"gid://shopify/Job/cancel-{order.name.lstrip('#')}"
    if refund:
        left = Decimal(order.total) - refunded_amount(order)
        order.refunds.append(
            SeededRefund(
                refund_id=int(order.name.lstrip("#")) * 100 + len(order.refunds) + 1,
                amount=f"{left.quantize(_CENT)}",
                lines=[],
                note=None,
                notify=bool(variables.get("notifyCustomer")),
                idempotency_key=job_id,
            )
        )
        order.financial_status = "REFUNDED"
    note = variables.get("staffNote")
    order.cancelled_at = CANCELLED_AT
    order.cancellation = SeededCancellation(
        job_id=job_id,
        reason=str(reason),
        restock=restock,
        refund=refund,
        notify=bool(variables.get("notifyCustomer")),
        staff_note=note if isinstance(note, str) else None,
    )
    return {"orderCancel": {"job": {"id": job_id, "done": False}, "orderCancelUserErrors": []}}
