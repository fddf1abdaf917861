"""Refunds in the WooCommerce stand-in: one order read (`GET /orders/{id}`, with its line
items), its refunds listed (`GET /orders/{id}/refunds`), and a refund made
(`POST /orders/{id}/refunds`), changing the order's state as WooCommerce does.

As strict as WooCommerce where Threadline relies on it: an unknown order is 404
`woocommerce_rest_shop_order_invalid_id`; a refund's `amount` must be a positive number
(else 400 `woocommerce_rest_invalid_order_refund`) and no more than is left (else 500
`woocommerce_rest_cannot_create_order_refund`, "Invalid refund amount.", as WooCommerce
answers a refund it cannot make); `api_refund` and `line_items` are type-checked
(`rest_invalid_param`); refunded line items come back with negative quantities and their
order line in `_refunded_item_id`; the order turns `refunded` once nothing is left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from local_stack.sandbox.server import Reply

if TYPE_CHECKING:
    from local_stack.sandbox.woocommerce import SeededWooOrder, SeededWooStore

_CENT = Decimal("0.01")


@dataclass
class SeededWooLine:
    line_id: int
    name: str
    quantity: int
    total: str


@dataclass
class SeededWooRefund:
    refund_id: int
    amount: str
    reason: str
    api_refund: bool
    # (order line id, quantity, refund total) refunded.
    lines: list[tuple[int, int, str]]
    meta_data: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, code: str, message: str, **data: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _invalid(name: str, reason: str) -> Reply:
    return _error(
        HTTPStatus.BAD_REQUEST,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: reason},
    )


def refunded_total(order: SeededWooOrder) -> Decimal:
    return sum((Decimal(r.amount) for r in order.refunds), Decimal(0))


def _refund_body(refund: SeededWooRefund) -> dict[str, Any]:
    return {
        "id": refund.refund_id,
        "amount": refund.amount,
        "reason": refund.reason,
        "refunded_payment": refund.api_refund,
        "line_items": [
            {
                "id": refund.refund_id * 10 + index,
                "quantity": -quantity,
                "total": f"-{total}",
                "meta_data": [{"key": "_refunded_item_id", "value": str(line_id)}],
            }
            for index, (line_id, quantity, total) in enumerate(refund.lines)
        ],
        "meta_data": refund.meta_data,
    }


def order_route(store: SeededWooStore, verb: str, rest: str, body: bytes) -> Reply | None:
    """`orders/{id}` and `orders/{id}/refunds`; None for any other route."""
    order_part, _, tail = rest.partition("/")
    if not order_part.isdigit() or tail not in ("", "refunds"):
        return None
    order = next(
        (o for c in store.customers for o in c.orders if o.order_id == int(order_part)), None
    )
    if order is None:
        return _error(HTTPStatus.NOT_FOUND, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    if verb == "GET" and not tail:
        return Reply(HTTPStatus.OK, _order_body(order))
    if verb == "GET":
        return Reply(HTTPStatus.OK, [_refund_body(r) for r in reversed(order.refunds)])
    if verb == "POST" and tail:
        return _create_refund(order, body)
    return None


def _order_body(order: SeededWooOrder) -> dict[str, Any]:
    return {
        "id": order.order_id,
        "number": str(order.order_id),
        "status": order.status,
        "currency": order.currency,
        "total": order.total,
        "line_items": [
            {"id": line.line_id, "name": line.name, "quantity": line.quantity, "total": line.total}
            for line in order.lines
        ],
        "refunds": [{"id": r.refund_id, "total": f"-{r.amount}"} for r in order.refunds],
    }


def _create_refund(order: SeededWooOrder, raw: bytes) -> Reply:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return _error(HTTPStatus.BAD_REQUEST, "rest_invalid_json", "Invalid JSON body passed.")
    if not isinstance(body, dict):
        return _error(HTTPStatus.BAD_REQUEST, "rest_invalid_json", "Invalid JSON body passed.")
    if not isinstance(body.get("api_refund", True), bool):
        return _invalid("api_refund", "api_refund is not of type boolean.")
    items = body.get("line_items", [])
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), int) for i in items
    ):
        return _invalid("line_items", "line_items[0][id] is not of type integer.")
    try:
        amount = Decimal(str(body.get("amount", "0")))
    except InvalidOperation:
        return _invalid("amount", "amount is not of type string.")
    if amount <= 0:
        return _error(
            HTTPStatus.BAD_REQUEST,
            "woocommerce_rest_invalid_order_refund",
            "Refund amount must be greater than zero.",
        )
    if order.refuse_next_refund is not None:
        message, order.refuse_next_refund = order.refuse_next_refund, None
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR, "woocommerce_rest_cannot_create_order_refund", message
        )
    if amount > Decimal(order.total) - refunded_total(order):
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "woocommerce_rest_cannot_create_order_refund",
            "Invalid refund amount.",
        )
    known = {line.line_id for line in order.lines}
    lines = [
        (
            int(i["id"]),
            int(i.get("quantity", 0)),
            f"{Decimal(str(i.get('refund_total', '0'))).quantize(_CENT)}",
        )
        for i in items
        if i["id"] in known
    ]
    meta = body.get("meta_data", [])
    refund = SeededWooRefund(
        refund_id=order.order_id * 100 + len(order.refunds) + 1,
        amount=f"{amount.quantize(_CENT)}",
        reason=str(body.get("reason", "")),
        api_refund=bool(body.get("api_refund", True)),
        lines=lines,
        meta_data=[m for m in meta if isinstance(m, dict)] if isinstance(meta, list) else [],
    )
    order.refunds.append(refund)
    if refunded_total(order) >= Decimal(order.total):
        order.status = "refunded"
    return Reply(HTTPStatus.CREATED, _refund_body(refund))
