"""Returns in the Shopify stand-in: the three operations Threadline's returns use
(`ThreadlineReturnOrder`, `ThreadlineReturnableFulfillments`, `ThreadlineReturnCreate`), over
the seeded orders, recording returns as Shopify does.

As strict as Shopify where Threadline relies on it: only a fulfilled order has returnable
fulfilments (here one fulfilment holds all of its lines), what was returned or refunded
already is not returnable again; `returnCreate` with a reason outside `ReturnReason`, a
missing line list or quantity is a GraphQL error, and a line the order did not fulfil, or
more than is returnable, is refused in `userErrors` (`field`, `message`, `code`). A return
opens approved (status OPEN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local_stack.sandbox.shopify_refunds import GraphQLRefusal

if TYPE_CHECKING:
    from local_stack.sandbox.shopify import SeededOrder, SeededStore

RETURN_OPERATIONS = frozenset(
    {"ThreadlineReturnOrder", "ThreadlineReturnableFulfillments", "ThreadlineReturnCreate"}
)
_REASONS = frozenset(
    {
        "COLOR",
        "DEFECTIVE",
        "NOT_AS_DESCRIBED",
        "OTHER",
        "SIZE_TOO_LARGE",
        "SIZE_TOO_SMALL",
        "STYLE",
        "UNKNOWN",
        "UNWANTED",
        "WRONG_ITEM",
    }
)
_FULFILLED = frozenset({"FULFILLED", "PARTIALLY_FULFILLED"})
_FULFILLMENT_LINE = re.compile(r"^gid://shopify/FulfillmentLineItem/(?P<id>\d+)$")


@dataclass
class SeededReturn:
    return_id: str
    name: str
    status: str
    # (line id, quantity, reason, note) returned.
    lines: list[tuple[int, int, str, str | None]]


def return_operation(name: str, store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    """The `data` of one return operation; raises `GraphQLRefusal` for a malformed request."""
    match name:
        case "ThreadlineReturnOrder":
            query = variables.get("query")
            if not isinstance(query, str):
                raise GraphQLRefusal(
                    "Variable $query of type String! was provided invalid value", "INVALID"
                )
            wanted = query.partition('name:"#')[2].rstrip('"')
            found = [o for o in _orders(store) if o.name.lstrip("#") == wanted][:1]
            return {"orders": {"nodes": [{"id": o.order_id, "name": o.name} for o in found]}}
        case "ThreadlineReturnableFulfillments":
            return _returnable(_order(store, variables.get("orderId")))
        case _:
            return _return_create(store, variables)


def _orders(store: SeededStore) -> list[SeededOrder]:
    return [order for customer in store.customers for order in customer.orders]


def _order(store: SeededStore, order_id: object) -> SeededOrder:
    order = next((o for o in _orders(store) if o.order_id == order_id), None)
    if order is None:
        raise GraphQLRefusal("Invalid id: the order does not exist", "RESOURCE_NOT_FOUND")
    return order


def _returnable_quantity(order: SeededOrder, line_id: int, bought: int) -> int:
    returned = sum(q for r in order.returns for lid, q, _, _ in r.lines if lid == line_id)
    refunded = sum(q for refund in order.refunds for lid, q in refund.lines if lid == line_id)
    return max(0, bought - returned - refunded)


def _returnable(order: SeededOrder) -> dict[str, Any]:
    if order.fulfillment_status not in _FULFILLED or order.cancelled_at is not None:
        return {"returnableFulfillments": {"nodes": []}}
    items = [
        {
            "quantity": left,
            "fulfillmentLineItem": {
                "id": f"gid://shopify/FulfillmentLineItem/{line.line_id}",
                "lineItem": {"title": line.title},
            },
        }
        for line in order.lines
        if (left := _returnable_quantity(order, line.line_id, line.quantity)) > 0
    ]
    nodes = (
        [
            {
                "id": f"gid://shopify/ReturnableFulfillment/{order.name.lstrip('#')}",
                "returnableFulfillmentLineItems": {"nodes": items},
            }
        ]
        if items
        else []
    )
    return {"returnableFulfillments": {"nodes": nodes}}


def _refused(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {
        "returnCreate": {
            "return": None,
            "userErrors": [{"field": field, "message": message, "code": code}],
        }
    }


def _return_create(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    return_input = variables.get("returnInput")
    if not isinstance(return_input, dict) or not isinstance(
        return_input.get("returnLineItems"), list
    ):
        raise GraphQLRefusal(
            "Variable $returnInput of type ReturnInput! was provided invalid value", "INVALID"
        )
    order = next((o for o in _orders(store) if o.order_id == return_input.get("orderId")), None)
    if order is None:
        return _refused(["returnInput", "orderId"], "Order does not exist", "NOT_FOUND")
    bought = {line.line_id: line.quantity for line in order.lines}
    wanted: list[tuple[int, int, str, str | None]] = []
    for index, item in enumerate(return_input["returnLineItems"]):
        if not isinstance(item, dict) or item.get("returnReason") not in _REASONS:
            raise GraphQLRefusal("returnReason must be a ReturnReason", "INVALID")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            raise GraphQLRefusal("quantity must be a positive Int", "INVALID")
        matched = _FULFILLMENT_LINE.match(str(item.get("fulfillmentLineItemId", "")))
        line_id = int(matched.group("id")) if matched else -1
        field = ["returnInput", "returnLineItems", str(index)]
        if line_id not in bought or order.fulfillment_status not in _FULFILLED:
            return _refused(
                [*field, "fulfillmentLineItemId"], "Fulfillment line item does not exist", "INVALID"
            )
        if quantity > _returnable_quantity(order, line_id, bought[line_id]):
            return _refused(
                [*field, "quantity"],
                "Quantity is not available for return",
                "INVALID",
            )
        note = item.get("returnReasonNote")
        wanted.append(
            (line_id, quantity, item["returnReason"], note if isinstance(note, str) else None)
        )
    if not wanted:
        return _refused(["returnInput", "returnLineItems"], "Return must have line items", "BLANK")
    made = SeededReturn(
        return_id=f"gid://shopify/Return/{order.name.lstrip('#')}{len(order.returns) + 1}",
        name=f"{order.name}-R{len(order.returns) + 1}",
        status="OPEN",
        lines=wanted,
    )
    order.returns.append(made)
    return {
        "returnCreate": {
            "return": {"id": made.return_id, "name": made.name, "status": made.status},
            "userErrors": [],
        }
    }
