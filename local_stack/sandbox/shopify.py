"""Shopify's Admin GraphQL API imitated, for the two queries Threadline asks
(`ThreadlineCustomers`, `ThreadlineOrders`), over seeded stores, customers and orders.

As strict as the real one where Threadline relies on it: the path's API version, the
`X-Shopify-Access-Token` of a provisioned store (else 401 with Shopify's string `errors`),
GraphQL errors in Shopify's shape (`errors[].extensions.code`), the cost of every answer in
`extensions.cost`, and `THROTTLED` on demand (`throttle`). Anything else it is asked is
refused as an undefined field, never answered with made-up data.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn
from local_stack.sandbox.shopify_cancellations import (
    CANCEL_OPERATIONS,
    SeededCancellation,
    cancel_operation,
)
from local_stack.sandbox.shopify_refunds import (
    REFUND_OPERATIONS,
    GraphQLRefusal,
    SeededLine,
    SeededRefund,
    refund_operation,
)
from local_stack.sandbox.shopify_returns import (
    RETURN_OPERATIONS,
    SeededReturn,
    return_operation,
)

_GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>20\d\d-(01|04|07|10))/graphql\.json$")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(?P<name>\w+)")
_TERM = re.compile(r'(?P<field>\w+):(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s()]+))')
_MAXIMUM_POINTS = 2000.0
_RESTORE_RATE = 100.0
_QUERY_COST = {
    "ThreadlineCustomers": 7,
    "ThreadlineOrders": 52,
    "ThreadlineRefundableOrder": 14,
    "ThreadlineSuggestedRefund": 3,
    "ThreadlineRefund": 10,
    "ThreadlineCancellableOrder": 4,
    "ThreadlineCancelOrder": 10,
    "ThreadlineReturnOrder": 2,
    "ThreadlineReturnableFulfillments": 12,
    "ThreadlineReturnCreate": 10,
}


def demo_customers() -> list[SeededCustomer]:
    """The demo store's customers: Ana (the demo's WhatsApp customer) with a delivered order
    and one on its way, and another customer whose order number Ana must never see."""
    return [
        SeededCustomer(
            customer_id=7001,
            email="ana@example.com",
            phone="+5511987654321",
            amount_spent="389.80",
            currency="BRL",
            orders=[
                SeededOrder(
                    name="#1041",
                    created_at="2026-10-02T14:10:00Z",
                    total="129.90",
                    currency="BRL",
                    fulfillment_status="FULFILLED",
                    shipment=("DELIVERED", "2026-10-03T09:00:00Z", None, "BR123", None, "Correios"),
                    lines=[SeededLine(10411, "Caneca de cerâmica", 1, "129.90")],
                ),
                SeededOrder(
                    name="#1042",
                    created_at="2026-11-20T18:45:00Z",
                    total="259.90",
                    currency="BRL",
                    fulfillment_status="FULFILLED",
                    shipment=(
                        "IN_TRANSIT",
                        "2026-11-21T10:00:00Z",
                        "2026-11-26T00:00:00Z",
                        "BR987654321",
                        "https://rastreamento.correios.com.br/app/index.php?objeto=BR987654321",
                        "Correios",
                    ),
                    lines=[
                        SeededLine(10421, "Camiseta básica", 2, "64.95"),
                        SeededLine(10422, "Jaqueta jeans", 1, "130.00"),
                    ],
                ),
            ],
        ),
        SeededCustomer(
            customer_id=7002,
            email="bruno@example.com",
            phone="+5521998877665",
            amount_spent="59.00",
            currency="BRL",
            orders=[
                SeededOrder(
                    name="#1043",
                    created_at="2026-11-22T08:00:00Z",
                    total="59.00",
                    currency="BRL",
                    lines=[SeededLine(10431, "Meias (3 pares)", 1, "59.00")],
                )
            ],
        ),
    ]


@dataclass
class SeededOrder:
    name: str
    created_at: str
    total: str
    currency: str
    financial_status: str = "PAID"
    fulfillment_status: str = "UNFULFILLED"
    cancelled_at: str | None = None
    # The latest shipment: (display status, created at, estimated delivery, number, url,
    # carrier), when the order has one.
    shipment: tuple[str, str, str | None, str | None, str | None, str | None] | None = None
    # What was bought (refunds are of these) and the refunds made (shopify_refunds).
    lines: list[SeededLine] = field(default_factory=list)
    refunds: list[SeededRefund] = field(default_factory=list)
    # The cancellation made of it (shopify_cancellations).
    cancellation: SeededCancellation | None = None
    # The returns opened of it (shopify_returns).
    returns: list[SeededReturn] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return f"gid://shopify/Order/{self.name.lstrip('#')}"


@dataclass
class SeededCustomer:
    customer_id: int
    email: str | None
    phone: str | None
    amount_spent: str
    currency: str
    orders: list[SeededOrder] = field(default_factory=list)


@dataclass
class SeededStore:
    access_token: str
    customers: list[SeededCustomer] = field(default_factory=list)


class ShopifyStandIn(StandIn):
    service = "shopify"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        self._stores: dict[str, SeededStore] = {}
        self._lock = threading.Lock()
        self._throttled = 0
        # The user errors the next refundCreate answers, as a declining gateway makes Shopify.
        self._refusals: list[list[dict[str, Any]]] = []
        # The orderCancelUserErrors the next orderCancel answers (a pending authorisation).
        self._cancel_refusals: list[dict[str, Any]] = []

    def provision(self, access_token: str, customers: list[SeededCustomer]) -> None:
        """A store whose Admin API answers `access_token`, with these customers."""
        with self._lock:
            self._stores[access_token] = SeededStore(access_token, customers)

    def refunds(self, access_token: str, order_name: str) -> list[SeededRefund]:
        """The refunds made of an order of the store."""
        with self._lock:
            store = self._stores[access_token]
            return [
                refund
                for customer in store.customers
                for order in customer.orders
                if order.name == order_name
                for refund in order.refunds
            ]

    def cancellations(self, access_token: str) -> dict[str, SeededCancellation]:
        """The cancellations made in the store, by order name."""
        with self._lock:
            return {
                order.name: order.cancellation
                for customer in self._stores[access_token].customers
                for order in customer.orders
                if order.cancellation is not None
            }

    def returns(self, access_token: str, order_name: str) -> list[SeededReturn]:
        """The returns opened of an order of the store."""
        with self._lock:
            return [
                made
                for customer in self._stores[access_token].customers
                for order in customer.orders
                if order.name == order_name
                for made in order.returns
            ]

    def refuse_next_refund(self, message: str, field: list[str] | None = None) -> None:
        """The next refundCreate refused with this user error (and nothing refunded)."""
        with self._lock:
            self._refusals.append([{"field": field, "message": message}])

    def refuse_next_cancel(self, message: str, code: str = "INVALID") -> None:
        """The next orderCancel refused with this error (and nothing cancelled)."""
        with self._lock:
            self._cancel_refusals.append({"field": ["orderId"], "message": message, "code": code})

    def throttle(self, queries: int = 1) -> None:
        """The next `queries` queries answer THROTTLED, as an exhausted bucket does."""
        with self._lock:
            self._throttled += queries

    def _error_body(self, status: int, message: str) -> Any:
        return {"errors": message}

    def _api_method(self, request: Request) -> str:
        return "graphql"

    def _handle_api(self, request: Request) -> Reply:
        if request.verb != "POST" or _GRAPHQL_PATH.match(request.path) is None:
            return Reply(HTTPStatus.NOT_FOUND, {"errors": "Not Found"})
        store = self._stores.get(request.headers.get("X-Shopify-Access-Token") or "")
        if store is None:
            body = "[API] Invalid API key or access token (unrecognized login or wrong password)"
            self._record("refused", {"status": 401})
            return Reply(HTTPStatus.UNAUTHORIZED, {"errors": body})
        try:
            document = json.loads(request.body)
        except ValueError as error:
            raise BadRequest("the body is not JSON") from error
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            return Reply(
                HTTPStatus.BAD_REQUEST, {"errors": {"query": "Required parameter missing"}}
            )
        variables = document.get("variables") or {}
        operation = _OPERATION.match(document["query"])
        name = operation.group("name") if operation else ""
        cost = _QUERY_COST.get(name, 1)
        with self._lock:
            throttled = self._throttled > 0
            self._throttled -= 1 if throttled else 0
        if throttled:
            self._record("throttled", {"operation": name})
            return Reply(HTTPStatus.OK, self._throttled_answer(cost))
        if name == "ThreadlineCustomers":
            data = self._customers(store, variables)
        elif name == "ThreadlineOrders":
            data = self._orders(store, variables)
        elif name in REFUND_OPERATIONS:
            try:
                with self._lock:
                    refusal = (
                        self._refusals.pop(0)
                        if name == "ThreadlineRefund" and self._refusals
                        else None
                    )
                    data = (
                        {"refundCreate": {"refund": None, "order": None, "userErrors": refusal}}
                        if refusal
                        else refund_operation(name, store, variables, document["query"])
                    )
            except GraphQLRefusal as refusal:
                return Reply(HTTPStatus.OK, _error(refusal.message, refusal.code))
        elif name in RETURN_OPERATIONS:
            try:
                with self._lock:
                    data = return_operation(name, store, variables)
            except GraphQLRefusal as refusal:
                return Reply(HTTPStatus.OK, _error(refusal.message, refusal.code))
        elif name in CANCEL_OPERATIONS:
            try:
                with self._lock:
                    refused = (
                        self._cancel_refusals.pop(0)
                        if name == "ThreadlineCancelOrder" and self._cancel_refusals
                        else None
                    )
                    data = (
                        {"orderCancel": {"job": None, "orderCancelUserErrors": [refused]}}
                        if refused
                        else cancel_operation(name, store, variables)
                    )
            except GraphQLRefusal as refusal:
                return Reply(HTTPStatus.OK, _error(refusal.message, refusal.code))
        else:
            return Reply(
                HTTPStatus.OK,
                _error("this stand-in answers Threadline's queries only", "undefinedField"),
            )
        if isinstance(data, Reply):
            return data
        self._record(name, {"query": variables.get("query"), "first": variables.get("first")})
        return Reply(
            HTTPStatus.OK, {"data": data, "extensions": _cost(cost, _MAXIMUM_POINTS - cost)}
        )

    @staticmethod
    def _throttled_answer(cost: int) -> dict[str, Any]:
        answer = _error("Throttled", "THROTTLED")
        answer["extensions"] = _cost(cost, 0.0, actual=None)
        return answer

    def _customers(self, store: SeededStore, variables: dict[str, Any]) -> dict[str, Any] | Reply:
        terms = _terms(variables.get("query"))
        if terms is None or not _first_valid(variables):
            return Reply(
                HTTPStatus.OK,
                _error("Variable $query or $first is invalid", "argumentLiteralsIncompatible"),
            )
        emails = {value.lower() for key, value in terms if key == "email"}
        phones = {value for key, value in terms if key == "phone"}
        found = [
            c
            for c in store.customers
            if (c.email and c.email.lower() in emails) or (c.phone and c.phone in phones)
        ][: int(variables["first"])]
        return {
            "customers": {
                "nodes": [
                    {
                        "id": f"gid://shopify/Customer/{c.customer_id}",
                        "numberOfOrders": str(len(c.orders)),
                        "amountSpent": {"amount": c.amount_spent, "currencyCode": c.currency},
                        "defaultEmailAddress": {"emailAddress": c.email} if c.email else None,
                        "defaultPhoneNumber": {"phoneNumber": c.phone} if c.phone else None,
                    }
                    for c in found
                ]
            }
        }

    def _orders(self, store: SeededStore, variables: dict[str, Any]) -> dict[str, Any] | Reply:
        terms = _terms(variables.get("query"))
        if terms is None or not _first_valid(variables):
            return Reply(
                HTTPStatus.OK,
                _error("Variable $query or $first is invalid", "argumentLiteralsIncompatible"),
            )
        owners = {value for key, value in terms if key == "customer_id"}
        names = {value.lstrip("#") for key, value in terms if key == "name"}
        matching = [
            (customer, order)
            for customer in store.customers
            if str(customer.customer_id) in owners
            for order in customer.orders
            if not names or order.name.lstrip("#") in names
        ]
        matching.sort(key=lambda pair: pair[1].created_at, reverse=True)
        return {
            "orders": {"nodes": [_order_node(c, o) for c, o in matching[: int(variables["first"])]]}
        }


def _terms(query: Any) -> list[tuple[str, str]] | None:
    if not isinstance(query, str) or not query.strip():
        return None
    return [
        (m.group("field"), m.group("quoted") if m.group("quoted") is not None else m.group("bare"))
        for m in _TERM.finditer(query)
    ]


def _first_valid(variables: dict[str, Any]) -> bool:
    first = variables.get("first")
    # Shopify refuses a page of more than 250.
    return isinstance(first, int) and 1 <= first <= 250


def _order_node(customer: SeededCustomer, order: SeededOrder) -> dict[str, Any]:
    fulfillments = []
    if order.shipment is not None:
        status, created, eta, number, url, carrier = order.shipment
        tracking = [{"number": number, "url": url, "company": carrier}] if number or url else []
        fulfillments.append(
            {
                "createdAt": created,
                "displayStatus": status,
                "estimatedDeliveryAt": eta,
                "trackingInfo": tracking,
            }
        )
    return {
        "name": order.name,
        "createdAt": order.created_at,
        "cancelledAt": order.cancelled_at,
        "displayFinancialStatus": order.financial_status,
        "displayFulfillmentStatus": order.fulfillment_status,
        "totalPriceSet": {"shopMoney": {"amount": order.total, "currencyCode": order.currency}},
        "customer": {"id": f"gid://shopify/Customer/{customer.customer_id}"},
        "fulfillments": fulfillments,
    }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _cost(requested: int, available: float, actual: int | None = 0) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested if actual is not None else None,
            "throttleStatus": {
                "maximumAvailable": _MAXIMUM_POINTS,
                "currentlyAvailable": available,
                "restoreRate": _RESTORE_RATE,
            },
        }
    }
