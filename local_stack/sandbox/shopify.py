"""Shopify's Admin GraphQL API imitated, for the queries Threadline asks
(`ThreadlineCustomers`, `ThreadlineOrders`, an order's contact in shopify_contacts.py,
refunds in shopify_refunds.py), over seeded stores, customers and orders.

As strict as the real one where Threadline relies on it: the path's API version, the
`X-Shopify-Access-Token` of a provisioned store (else 401 with Shopify's string `errors`),
GraphQL errors in Shopify's shape (`errors[].extensions.code`), the cost of every answer in
`extensions.cost`, and `THROTTLED` on demand (`throttle`). Anything else it is asked is
refused as an undefined field, never answered with made-up data.

When a store's state changes (a refund, a cancellation, a fulfilment or one of its events)
it sends the webhooks Shopify sends (a refund's `refunds/create` then `orders/updated`, ...),
signed, to the store's subscriptions (`shopify_webhooks`). A test or the demo changes the
state as a warehouse or carrier would, through the sandbox's control routes
(`/_sandbox/orders/{number}/...`, authenticated by the store's access token like the API).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn
from local_stack.sandbox.shopify_cancellations import (
    CANCEL_OPERATIONS,
    SeededCancellation,
    cancel_operation,
)
from local_stack.sandbox.shopify_contacts import ORDER_CONTACT, order_contact
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
from local_stack.sandbox.shopify_webhooks import WebhookSender, WebhookSubscription

_GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>20\d\d-(01|04|07|10))/graphql\.json$")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(?P<name>\w+)")
_TERM = re.compile(r'(?P<field>\w+):(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s()]+))')
_CONTROL_PATH = re.compile(
    r"^/_sandbox/orders/(?P<number>\d+)(?:/(?P<change>fulfil|events|cancel))?$"
)
_REDELIVER_PATH = re.compile(r"^/_sandbox/webhooks/(?P<webhook_id>[\w-]+)/redeliver$")
# A fulfilment event's status (as webhooks and the REST API spell it) → the shipment's
# display status (as GraphQL spells it).
EVENT_STATUSES = {
    "label_printed": "LABEL_PRINTED",
    "confirmed": "CONFIRMED",
    "in_transit": "IN_TRANSIT",
    "out_for_delivery": "OUT_FOR_DELIVERY",
    "attempted_delivery": "ATTEMPTED_DELIVERY",
    "delivered": "DELIVERED",
    "failure": "FAILURE",
}
# The demo store's id, as Shopify's payloads name their shop.
_SHOP_ID = 548380009
_MAXIMUM_POINTS = 2000.0
_RESTORE_RATE = 100.0
_QUERY_COST = {
    "ThreadlineCustomers": 7,
    "ThreadlineOrders": 52,
    "ThreadlineRefundableOrder": 14,
    "ThreadlineSuggestedRefund": 3,
    "ThreadlineRefund": 10,
    "ThreadlineOrderContact": 4,
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
    # How many fulfilments and fulfilment events it has had (their webhooks' ids).
    fulfillments: int = 0
    events: int = 0
    # The cancellation made of it (shopify_cancellations).
    cancellation: SeededCancellation | None = None
    # The returns opened of it (shopify_returns).
    returns: list[SeededReturn] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return f"gid://shopify/Order/{self.name.lstrip('#')}"

    @property
    def fulfillment_id(self) -> int:
        """The id of its latest shipment, as its webhooks and the API both name it."""
        return int(self.name.lstrip("#")) * 10 + self.fulfillments


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
    subscriptions: list[WebhookSubscription] = field(default_factory=list)


class ShopifyStandIn(StandIn):
    service = "shopify"

    def __init__(self, outbox: Outbox, retry_waits: tuple[float, ...] | None = None) -> None:
        super().__init__(outbox)
        self._webhooks = (
            WebhookSender(self._record)
            if retry_waits is None
            else WebhookSender(self._record, retry_waits)
        )
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

    def subscribe(self, access_token: str, subscription: WebhookSubscription) -> None:
        """The store's webhooks (every topic) also go to this address, signed with its
        secret, as an app's subscriptions do."""
        with self._lock:
            self._stores[access_token].subscriptions.append(subscription)

    def fulfil(
        self,
        access_token: str,
        order_name: str,
        tracking_number: str,
        tracking_url: str | None = None,
        carrier: str | None = None,
        estimated_delivery_at: str | None = None,
    ) -> None:
        """The order shipped, as the warehouse marks it: `fulfillments/create` and
        `orders/fulfilled` are sent."""
        with self._lock:
            store = self._stores[access_token]
            customer, order = _order_named(store, order_name)
            order.fulfillment_status = "FULFILLED"
            order.shipment = (
                "CONFIRMED",
                _now(),
                estimated_delivery_at,
                tracking_number,
                tracking_url,
                carrier,
            )
            order.fulfillments += 1
            payload = _fulfillment_payload(customer, order)
            fulfilled = _order_payload(customer, order)
            subscriptions = list(store.subscriptions)
        self._webhooks.send(subscriptions, "fulfillments/create", payload)
        # As Shopify does, the order's own webhook follows (it names the customer's
        # addresses; a fulfilment names only the shipping address).
        self._webhooks.send(subscriptions, "orders/fulfilled", fulfilled)

    def add_event(self, access_token: str, order_name: str, status: str) -> None:
        """The carrier reports on the order's shipment (`in_transit`, `out_for_delivery`,
        `delivered`, ...): `fulfillment_events/create` is sent."""
        with self._lock:
            store = self._stores[access_token]
            _, order = _order_named(store, order_name)
            if order.shipment is None:
                raise KeyError(f"{order_name} has no shipment")
            _, created, eta, number, url, carrier = order.shipment
            order.shipment = (EVENT_STATUSES[status], created, eta, number, url, carrier)
            order.events += 1
            number_only = int(order.name.lstrip("#"))
            event_id = number_only * 1000 + order.events
            # Shopify's shape: the shipment's place, never the customer's email or phone.
            payload = {
                "id": event_id,
                "fulfillment_id": order.fulfillment_id,
                "status": status,
                "message": None,
                "happened_at": _now(),
                "city": None,
                "province": None,
                "country": None,
                "zip": None,
                "address1": None,
                "latitude": None,
                "longitude": None,
                "shop_id": _SHOP_ID,
                "created_at": _now(),
                "updated_at": _now(),
                "estimated_delivery_at": eta,
                "order_id": number_only,
                "admin_graphql_api_id": f"gid://shopify/FulfillmentEvent/{event_id}",
            }
            subscriptions = list(store.subscriptions)
        self._webhooks.send(subscriptions, "fulfillment_events/create", payload)

    def cancel(self, access_token: str, order_name: str, reason: str = "customer") -> None:
        """The order cancelled in the shop's admin: `orders/cancelled` is sent."""
        with self._lock:
            store = self._stores[access_token]
            customer, order = _order_named(store, order_name)
            order.cancelled_at = _now()
            payload = {
                **_order_payload(customer, order),
                "cancel_reason": reason,
            }
            subscriptions = list(store.subscriptions)
        self._webhooks.send(subscriptions, "orders/cancelled", payload)

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
        return "sandbox" if request.path.startswith("/_sandbox/") else "graphql"

    def _handle_api(self, request: Request) -> Reply:
        control = _CONTROL_PATH.match(request.path)
        if control is not None:
            return self._control(request, f"#{control.group('number')}", control.group("change"))
        redelivery = _REDELIVER_PATH.match(request.path)
        if redelivery is not None:
            return self._redeliver(request, redelivery.group("webhook_id"))
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
        elif name == ORDER_CONTACT:
            try:
                data = order_contact(store, variables)
            except GraphQLRefusal as bad_id:
                return Reply(HTTPStatus.OK, _error(bad_id.message, bad_id.code))
        elif name in REFUND_OPERATIONS:
            try:
                with self._lock:
                    refunds_before = _refund_ids(store)
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
                    made = _new_refunds(store, refunds_before)
                    updated = [
                        _order_payload(*_order_named(store, f"#{refund['order_id']}"))
                        for refund in made
                    ]
                    subscriptions = list(store.subscriptions)
                for refund, order in zip(made, updated, strict=True):
                    self._webhooks.send(subscriptions, "refunds/create", refund)
                    self._webhooks.send(subscriptions, "orders/updated", order)
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

    def _control(self, request: Request, order_name: str, change: str | None) -> Reply:
        """The sandbox's control routes: an order's state (`GET`), or a change to it."""
        token = request.headers.get("X-Shopify-Access-Token") or ""
        if token not in self._stores:
            return Reply(HTTPStatus.UNAUTHORIZED, {"errors": "unknown access token"})
        try:
            params = json.loads(request.body) if request.body.strip() else {}
        except ValueError as error:
            raise BadRequest("the body is not JSON") from error
        if not isinstance(params, dict):
            raise BadRequest("the body is not a JSON object")
        try:
            if change is None and request.verb == "GET":
                with self._lock:
                    _, order = _order_named(self._stores[token], order_name)
                    return Reply(HTTPStatus.OK, _order_state(order))
            if request.verb != "POST" or change is None:
                return Reply(HTTPStatus.NOT_FOUND, {"errors": "Not Found"})
            if change == "fulfil":
                number = params.get("tracking_number")
                if not isinstance(number, str) or not number:
                    raise BadRequest("tracking_number is required")
                self.fulfil(
                    token,
                    order_name,
                    number,
                    _text(params, "tracking_url"),
                    _text(params, "carrier"),
                    _text(params, "estimated_delivery_at"),
                )
            elif change == "events":
                if params.get("status") not in EVENT_STATUSES:
                    raise BadRequest(f"status is one of {', '.join(EVENT_STATUSES)}")
                self.add_event(token, order_name, params["status"])
            else:
                self.cancel(token, order_name, _text(params, "reason") or "customer")
        except KeyError as missing:
            return Reply(HTTPStatus.NOT_FOUND, {"errors": f"Not Found: {missing}"})
        self._record(f"sandbox.{change}", {"order": order_name, **params})
        with self._lock:
            _, order = _order_named(self._stores[token], order_name)
            return Reply(HTTPStatus.OK, _order_state(order))

    def _redeliver(self, request: Request, webhook_id: str) -> Reply:
        """`POST /_sandbox/webhooks/{id}/redeliver` (`{"same_id": false}` for a new id): a
        past delivery sent again, as Shopify does when it did not hear the answer."""
        if request.verb != "POST":
            return Reply(HTTPStatus.NOT_FOUND, {"errors": "Not Found"})
        if (request.headers.get("X-Shopify-Access-Token") or "") not in self._stores:
            return Reply(HTTPStatus.UNAUTHORIZED, {"errors": "unknown access token"})
        try:
            params = json.loads(request.body) if request.body.strip() else {}
        except ValueError as error:
            raise BadRequest("the body is not JSON") from error
        same_id = params.get("same_id", True) if isinstance(params, dict) else None
        if not isinstance(same_id, bool):
            raise BadRequest("same_id is true or false")
        try:
            sent_as = self._webhooks.redeliver(webhook_id, same_id)
        except KeyError:
            return Reply(HTTPStatus.NOT_FOUND, {"errors": f"Not Found: no webhook {webhook_id}"})
        self._record("sandbox.redeliver", {"webhook_id": webhook_id, "sent_as": sent_as})
        return Reply(HTTPStatus.OK, {"webhook_id": sent_as})

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value else None


def _order_named(store: SeededStore, order_name: str) -> tuple[SeededCustomer, SeededOrder]:
    for customer in store.customers:
        for order in customer.orders:
            if order.name == order_name:
                return customer, order
    raise KeyError(order_name)


def _order_state(order: SeededOrder) -> dict[str, Any]:
    """What a test asks of an order: its statuses, shipment and refunds."""
    return {
        "name": order.name,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "cancelled_at": order.cancelled_at,
        "shipment_status": order.shipment[0] if order.shipment else None,
        "refunds": [
            {"id": r.refund_id, "amount": r.amount, "lines": r.lines, "note": r.note}
            for r in order.refunds
        ],
    }


def _refund_ids(store: SeededStore) -> set[int]:
    return {r.refund_id for c in store.customers for o in c.orders for r in o.refunds}


def _new_refunds(store: SeededStore, before: set[int]) -> list[dict[str, Any]]:
    """The `refunds/create` payloads (REST-shaped, as webhooks are) of refunds made since."""
    # Shopify's shape: the order's id, never its customer's email or phone.
    return [
        {
            "id": refund.refund_id,
            "order_id": int(order.name.lstrip("#")),
            "created_at": _now(),
            "note": refund.note,
            "user_id": None,
            "processed_at": _now(),
            "restock": False,
            "duties": [],
            "return": None,
            "refund_shipping_lines": [],
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund.refund_id}",
            "order_adjustments": [],
            "refund_line_items": [
                {
                    "id": line_id * 10 + index,
                    "line_item_id": line_id,
                    "quantity": quantity,
                    "restock_type": "no_restock",
                    "location_id": None,
                }
                for index, (line_id, quantity) in enumerate(refund.lines)
            ],
            "transactions": [
                {
                    "id": refund.refund_id * 10,
                    "order_id": int(order.name.lstrip("#")),
                    "kind": "refund",
                    "gateway": "bogus",
                    "status": "success",
                    "amount": refund.amount,
                    "currency": order.currency,
                    "processed_at": _now(),
                    "test": True,
                }
            ],
        }
        for customer in store.customers
        for order in customer.orders
        for refund in order.refunds
        if refund.refund_id not in before
    ]


def _order_payload(customer: SeededCustomer, order: SeededOrder) -> dict[str, Any]:
    """An order as webhooks carry it (REST-shaped), with the customer's addresses."""
    return {
        "id": int(order.name.lstrip("#")),
        "name": order.name,
        "email": customer.email,
        "phone": customer.phone,
        "created_at": order.created_at,
        "cancelled_at": order.cancelled_at,
        "financial_status": order.financial_status.lower(),
        "fulfillment_status": order.fulfillment_status.lower(),
        "total_price": order.total,
        "currency": order.currency,
        "customer": {
            "id": customer.customer_id,
            "email": customer.email,
            "phone": customer.phone,
        },
    }


def _fulfillment_payload(customer: SeededCustomer, order: SeededOrder) -> dict[str, Any]:
    assert order.shipment is not None
    _, created, eta, number, url, carrier = order.shipment
    number_only = int(order.name.lstrip("#"))
    fulfillment_id = order.fulfillment_id
    # Shopify's shape: the order's email and the shipping address (whose phone may be the
    # recipient's, in any format), never the customer's own phone.
    return {
        "id": fulfillment_id,
        "order_id": number_only,
        "name": f"{order.name}.{order.fulfillments}",
        "status": "success",
        "service": "manual",
        "location_id": 24826418,
        "origin_address": None,
        "receipt": {},
        "shipment_status": None,
        "created_at": created,
        "updated_at": created,
        "estimated_delivery_at": eta,
        "tracking_company": carrier,
        "tracking_number": number,
        "tracking_numbers": [number] if number else [],
        "tracking_url": url,
        "tracking_urls": [url] if url else [],
        "email": customer.email,
        "destination": {
            "address1": "Rua das Flores, 100",
            "city": "São Paulo",
            "zip": "01001-000",
            "country": "Brazil",
            "country_code": "BR",
            "phone": customer.phone,
        },
        "line_items": [
            {"id": line.line_id, "title": line.title, "quantity": line.quantity}
            for line in order.lines
        ],
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
    }
