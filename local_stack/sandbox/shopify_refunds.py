"""Refunds in the Shopify stand-in: the three operations Threadline's refunds use
(`ThreadlineRefundableOrder`, `ThreadlineSuggestedRefund`, `ThreadlineRefund`), over the
seeded orders, changing their state as Shopify does.

As strict as Shopify where Threadline relies on it: `refundCreate` needs the `@idempotent`
directive (mandatory since API version 2026-04) and answers a repeated key with the first
refund, never a second; a refund of more than is left (quantity or amount), of a line the
order does not have, or whose transactions do not add up is refused in `userErrors`
(`field`, `message`), as Shopify refuses; the order's refunded amount and financial status
follow every refund.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_stack.sandbox.shopify import SeededOrder, SeededStore

REFUND_OPERATIONS = frozenset(
    {"ThreadlineRefundableOrder", "ThreadlineSuggestedRefund", "ThreadlineRefund"}
)
_IDEMPOTENT = re.compile(r"@idempotent\s*\(\s*key\s*:\s*\$(?P<variable>\w+)\s*\)")
_LINE_GID = re.compile(r"^gid://shopify/LineItem/(?P<id>\d+)$")
_CENT = Decimal("0.01")


@dataclass
class SeededLine:
    line_id: int
    title: str
    quantity: int
    unit_price: str


@dataclass
class SeededRefund:
    refund_id: int
    amount: str
    # (line id, quantity) refunded.
    lines: list[tuple[int, int]]
    note: str | None
    notify: bool
    idempotency_key: str


class GraphQLRefusal(Exception):
    """A top-level GraphQL error (the request itself is wrong), not a user error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def refund_operation(
    name: str, store: SeededStore, variables: dict[str, Any], document: str
) -> dict[str, Any]:
    """The `data` of one refund operation; raises `GraphQLRefusal` for a malformed request."""
    match name:
        case "ThreadlineRefundableOrder":
            return _refundable_order(store, variables)
        case "ThreadlineSuggestedRefund":
            return _suggested_refund(store, variables)
        case _:
            key_variable = _IDEMPOTENT.search(document)
            if key_variable is None:
                raise GraphQLRefusal(
                    "The @idempotent directive is required for this mutation", "BAD_REQUEST"
                )
            key = variables.get(key_variable.group("variable"))
            if not isinstance(key, str) or not key or len(key) > 255:
                raise GraphQLRefusal(
                    "The idempotency key must be a non-empty string", "BAD_REQUEST"
                )
            return _refund_create(store, variables, key)


def _orders(store: SeededStore) -> list[SeededOrder]:
    return [order for customer in store.customers for order in customer.orders]


def _by_id(store: SeededStore, order_id: object) -> SeededOrder | None:
    return next((o for o in _orders(store) if o.order_id == order_id), None)


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": f"{amount.quantize(_CENT)}", "currencyCode": currency}}


def refunded_amount(order: SeededOrder) -> Decimal:
    return sum((Decimal(refund.amount) for refund in order.refunds), Decimal(0))


def _refunded_quantity(order: SeededOrder, line_id: int) -> int:
    return sum(q for refund in order.refunds for lid, q in refund.lines if lid == line_id)


def _refundable_order(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    query = variables.get("query")
    if not isinstance(query, str):
        raise GraphQLRefusal(
            "Variable $query of type String! was provided invalid value", "INVALID"
        )
    wanted = re.search(r'name:"?#?(\d+)"?', query)
    found = [
        order
        for order in _orders(store)
        if wanted is not None and order.name.lstrip("#") == wanted.group(1)
    ]
    return {"orders": {"nodes": [_refundable_node(store, order) for order in found[:1]]}}


def _customer_of(store: SeededStore, order: SeededOrder) -> int:
    return next(c.customer_id for c in store.customers if order in c.orders)


def _refundable_node(store: SeededStore, order: SeededOrder) -> dict[str, Any]:
    return {
        "id": order.order_id,
        "name": order.name,
        "customer": {"id": f"gid://shopify/Customer/{_customer_of(store, order)}"},
        "totalPriceSet": _money(Decimal(order.total), order.currency),
        "totalRefundedSet": _money(refunded_amount(order), order.currency),
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{line.line_id}",
                    "title": line.title,
                    "refundableQuantity": line.quantity - _refunded_quantity(order, line.line_id),
                    "originalUnitPriceSet": _money(Decimal(line.unit_price), order.currency),
                }
                for line in order.lines
            ]
        },
    }


def _requested_lines(
    order: SeededOrder, requested: object
) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """The (line id, quantity) pairs asked for, and the user errors of those that cannot be."""
    if not isinstance(requested, list):
        raise GraphQLRefusal("refundLineItems must be a list", "INVALID")
    lines: list[tuple[int, int]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(requested):
        if not isinstance(item, dict):
            raise GraphQLRefusal("a refundLineItem must be an object", "INVALID")
        matched = _LINE_GID.match(str(item.get("lineItemId", "")))
        line = next(
            (ln for ln in order.lines if matched and ln.line_id == int(matched.group("id"))),
            None,
        )
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            raise GraphQLRefusal("quantity must be a positive Int", "INVALID")
        if line is None:
            errors.append(
                {
                    "field": ["refundLineItems", str(index), "lineItemId"],
                    "message": "Line item does not exist",
                }
            )
            continue
        left = line.quantity - _refunded_quantity(order, line.line_id)
        if quantity > left:
            errors.append(
                {
                    "field": ["refundLineItems", str(index), "quantity"],
                    "message": "Quantity cannot refund more items than were purchased",
                }
            )
            continue
        lines.append((line.line_id, quantity))
    return lines, errors


def _lines_amount(order: SeededOrder, lines: list[tuple[int, int]]) -> Decimal:
    prices = {line.line_id: Decimal(line.unit_price) for line in order.lines}
    return sum((prices[line_id] * quantity for line_id, quantity in lines), Decimal(0))


def _suggested_refund(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    order = _by_id(store, variables.get("id"))
    if order is None:
        return {"order": None}
    lines, errors = _requested_lines(order, variables.get("lines") or [])
    left = Decimal(order.total) - refunded_amount(order)
    # Shopify suggests what can still be refunded of the lines asked, never more.
    amount = Decimal(0) if errors else min(_lines_amount(order, lines), left)
    transactions = (
        [
            {
                "gateway": "bogus",
                "kind": "SUGGESTED_REFUND",
                "parentTransaction": {
                    "id": f"gid://shopify/OrderTransaction/{order.name.lstrip('#')}1"
                },
                "amountSet": _money(amount, order.currency),
            }
        ]
        if amount > 0
        else []
    )
    return {
        "order": {
            "suggestedRefund": {
                "amountSet": _money(amount, order.currency),
                "suggestedTransactions": transactions,
            }
        }
    }


def _financial_status(order: SeededOrder) -> str:
    refunded = refunded_amount(order)
    if refunded <= 0:
        return "PAID"
    return "REFUNDED" if refunded >= Decimal(order.total) else "PARTIALLY_REFUNDED"


def _refund_payload(order: SeededOrder, refund_index: int | None) -> dict[str, Any]:
    refund = order.refunds[refund_index] if refund_index is not None else None
    return {
        "refund": (
            {
                "id": f"gid://shopify/Refund/{refund.refund_id}",
                "totalRefundedSet": _money(Decimal(refund.amount), order.currency),
            }
            if refund
            else None
        ),
        "order": {
            "id": order.order_id,
            "displayFinancialStatus": _financial_status(order),
            "totalRefundedSet": _money(refunded_amount(order), order.currency),
        },
        "userErrors": [],
    }


def _refused(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"refundCreate": {"refund": None, "order": None, "userErrors": errors}}


def _refund_create(store: SeededStore, variables: dict[str, Any], key: str) -> dict[str, Any]:
    refund_input = variables.get("input")
    if not isinstance(refund_input, dict):
        raise GraphQLRefusal("Variable $input of type RefundInput! was not provided", "INVALID")
    order = _by_id(store, refund_input.get("orderId"))
    if order is None:
        return _refused([{"field": ["orderId"], "message": "Order does not exist"}])
    for index, refund in enumerate(order.refunds):
        if refund.idempotency_key == key:
            # A repeated key is answered with the first refund, never a second one.
            return {"refundCreate": _refund_payload(order, index)}
    lines, errors = _requested_lines(order, refund_input.get("refundLineItems") or [])
    if errors:
        return _refused(errors)
    transactions = refund_input.get("transactions") or []
    if not isinstance(transactions, list):
        raise GraphQLRefusal("transactions must be a list", "INVALID")
    try:
        amount = sum(
            (Decimal(str(t["amount"])) for t in transactions if isinstance(t, dict)), Decimal(0)
        )
    except (KeyError, ArithmeticError) as error:
        raise GraphQLRefusal("a transaction's amount is invalid", "INVALID") from error
    if any(isinstance(t, dict) and t.get("kind") != "REFUND" for t in transactions):
        return _refused(
            [{"field": ["transactions", "0", "kind"], "message": "Kind is not a refund"}]
        )
    left = Decimal(order.total) - refunded_amount(order)
    if amount > left:
        return _refused(
            [
                {
                    "field": ["transactions", "0", "amount"],
                    "message": f"Refund amount of {amount.quantize(_CENT)} exceeds the "
                    f"refundable amount of {left.quantize(_CENT)}",
                }
            ]
        )
    if not lines and amount <= 0:
        return _refused(
            [{"field": None, "message": "Refund must have at least one line item or transaction"}]
        )
    note = refund_input.get("note")
    order.refunds.append(
        SeededRefund(
            refund_id=int(order.name.lstrip("#")) * 100 + len(order.refunds) + 1,
            amount=f"{amount.quantize(_CENT)}",
            lines=lines,
            note=note if isinstance(note, str) else None,
            notify=bool(refund_input.get("notify")),
            idempotency_key=key,
        )
    )
    order.financial_status = _financial_status(order)
    return {"refundCreate": _refund_payload(order, len(order.refunds) - 1)}
