"""WooCommerce's REST API v3 imitated, for the two listings Threadline asks
(`GET /wp-json/wc/v3/customers`, `GET /wp-json/wc/v3/orders`), over seeded stores.

As strict as the real one where Threadline relies on it: the consumer key and secret of a
provisioned store in HTTPS basic auth (else 401), WordPress's error shape
`{"code", "message", "data": {"status"}}`, the parameters it validates (`per_page` 1-100,
`order`, `orderby`, integer ids) refused with `rest_invalid_param`, `X-WP-Total` on every
listing, and any other route refused as `rest_no_route`. Faults (429, 503) are injected by
method, "customers" or "orders".
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import Reply, Request, StandIn
from local_stack.sandbox.woocommerce_refunds import SeededWooLine, SeededWooRefund, order_route

API_ROOT = "/wp-json/wc/v3"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLES = {"all", "administrator", "editor", "author", "contributor", "subscriber", "customer"}
_ORDERBY = {"date", "id", "include", "title", "slug", "modified"}


@dataclass
class SeededWooOrder:
    order_id: int
    created_gmt: str
    total: str
    currency: str
    status: str = "processing"
    paid_gmt: str | None = None
    # What was bought, and the refunds made of it (woocommerce_refunds).
    lines: list[SeededWooLine] = field(default_factory=list)
    refunds: list[SeededWooRefund] = field(default_factory=list)
    # The message of a refund the gateway will decline next (an injected fault).
    refuse_next_refund: str | None = None


@dataclass
class SeededWooCustomer:
    customer_id: int
    email: str
    phone: str | None = None
    orders: list[SeededWooOrder] = field(default_factory=list)


@dataclass
class SeededWooStore:
    consumer_key: str
    consumer_secret: str
    customers: list[SeededWooCustomer] = field(default_factory=list)


def demo_customers() -> list[SeededWooCustomer]:
    """The demo store's customers: Ana with a completed order and one being prepared, and
    Bruno, whose order number Ana must never see."""
    return [
        SeededWooCustomer(
            customer_id=31,
            email="ana@example.com",
            phone="+5511987654321",
            orders=[
                SeededWooOrder(
                    2041,
                    "2026-10-02T14:10:00",
                    "129.90",
                    "BRL",
                    "completed",
                    "2026-10-02T14:11:00",
                    lines=[SeededWooLine(20411, "Caneca de cerâmica", 1, "129.90")],
                ),
                SeededWooOrder(
                    2042,
                    "2026-11-20T18:45:00",
                    "259.90",
                    "BRL",
                    "processing",
                    "2026-11-20T18:46:00",
                    lines=[
                        SeededWooLine(20421, "Camiseta básica", 2, "129.90"),
                        SeededWooLine(20422, "Jaqueta jeans", 1, "130.00"),
                    ],
                ),
            ],
        ),
        SeededWooCustomer(
            customer_id=32,
            email="bruno@example.com",
            phone="+5521998877665",
            orders=[SeededWooOrder(2043, "2026-11-22T08:00:00", "59.00", "BRL", "on-hold")],
        ),
    ]


def _error(status: int, code: str, message: str, **data: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _invalid(name: str, reason: str) -> Reply:
    return _error(
        HTTPStatus.BAD_REQUEST,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: reason},
    )


class WooCommerceStandIn(StandIn):
    service = "woocommerce"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        self._stores: dict[tuple[str, str], SeededWooStore] = {}
        self._lock = threading.Lock()

    def provision(
        self, consumer_key: str, consumer_secret: str, customers: list[SeededWooCustomer]
    ) -> None:
        """A store whose REST API answers this key and secret, with these customers."""
        with self._lock:
            self._stores[(consumer_key, consumer_secret)] = SeededWooStore(
                consumer_key, consumer_secret, customers
            )

    def _error_body(self, status: int, message: str) -> Any:
        return {"code": "woocommerce_rest_error", "message": message, "data": {"status": status}}

    def _api_method(self, request: Request) -> str:
        return request.path.removeprefix(API_ROOT).strip("/")

    def _store(self, request: Request) -> SeededWooStore | None:
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        with self._lock:
            return self._stores.get((key, secret))

    def refunds(self, consumer_key: str, order_id: int) -> list[SeededWooRefund]:
        """The refunds made of an order of the store."""
        with self._lock:
            return [
                refund
                for store in self._stores.values()
                if store.consumer_key == consumer_key
                for customer in store.customers
                for order in customer.orders
                if order.order_id == order_id
                for refund in order.refunds
            ]

    def decline_next_refund(self, consumer_key: str, order_id: int, message: str) -> None:
        """The next refund of this order declined by the payment gateway."""
        with self._lock:
            for store in self._stores.values():
                for customer in store.customers:
                    for order in customer.orders:
                        if store.consumer_key == consumer_key and order.order_id == order_id:
                            order.refuse_next_refund = message

    def _handle_api(self, request: Request) -> Reply:
        method = self._api_method(request)
        if method.startswith("orders/"):
            store = self._store(request)
            if store is None:
                return _error(
                    HTTPStatus.UNAUTHORIZED,
                    "woocommerce_rest_cannot_view",
                    "Sorry, you cannot view this resource.",
                )
            with self._lock:
                answer = order_route(
                    store, request.verb, method.removeprefix("orders/"), request.body
                )
            if answer is not None:
                self._record(f"orders {request.verb}", {"order": method})
                return answer
        if request.verb != "GET" or method not in ("customers", "orders"):
            return _error(
                HTTPStatus.NOT_FOUND,
                "rest_no_route",
                "No route was found matching the URL and request method.",
            )
        store = self._store(request)
        if store is None:
            self._record("refused", {"status": 401})
            return _error(
                HTTPStatus.UNAUTHORIZED,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            )
        params = dict(request.query)
        per_page = params.get("per_page", "10")
        if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
            return _invalid("per_page", "per_page must be between 1 (inclusive) and 100")
        if params.get("order", "desc") not in ("asc", "desc"):
            return _invalid("order", "order is not one of asc, desc.")
        if method == "customers":
            return self._customers(store, params, int(per_page))
        return self._orders(store, params, int(per_page))

    def _customers(self, store: SeededWooStore, params: dict[str, str], per_page: int) -> Reply:
        email = params.get("email")
        if email is not None and not _EMAIL.match(email):
            return _invalid("email", "Invalid email address.")
        if params.get("role", "customer") not in _ROLES:
            return _invalid("role", "role is not one of the site's roles.")
        self._record("customers", {"email": email})
        found = [
            {
                "id": customer.customer_id,
                "email": customer.email,
                "role": "customer",
                "billing": {"email": customer.email, "phone": customer.phone or ""},
            }
            for customer in store.customers
            if email is None or customer.email == email.lower()
        ]
        return Reply(HTTPStatus.OK, found[:per_page], headers=(("X-WP-Total", str(len(found))),))

    def _orders(self, store: SeededWooStore, params: dict[str, str], per_page: int) -> Reply:
        if params.get("orderby", "date") not in _ORDERBY:
            return _invalid("orderby", "orderby is not one of date, id, include, title, slug.")
        owner = params.get("customer")
        if owner is not None and not owner.isdigit():
            return _invalid("customer", "customer is not of type integer.")
        include = [part for part in params.get("include", "").split(",") if part]
        if not all(part.isdigit() for part in include):
            return _invalid("include", "include[0] is not of type integer.")
        # WooCommerce's order search reads the billing and shipping addresses, phone included.
        search = params.get("search", "").strip().lower()
        self._record("orders", {"customer": owner, "include": include})
        found = [
            self._order(customer, order)
            for customer in store.customers
            if owner is None or customer.customer_id == int(owner)
            if not search or search in f"{customer.email} {customer.phone or ''}".lower()
            for order in customer.orders
            if not include or str(order.order_id) in include
        ]
        found.sort(key=lambda order: str(order["date_created_gmt"]), reverse=True)
        if params.get("order") == "asc":
            found.reverse()
        return Reply(HTTPStatus.OK, found[:per_page], headers=(("X-WP-Total", str(len(found))),))

    @staticmethod
    def _order(customer: SeededWooCustomer, order: SeededWooOrder) -> dict[str, Any]:
        return {
            "id": order.order_id,
            "number": str(order.order_id),
            "status": order.status,
            "currency": order.currency,
            "total": order.total,
            "customer_id": customer.customer_id,
            "date_created_gmt": order.created_gmt,
            "date_paid_gmt": order.paid_gmt,
            "billing": {"email": customer.email, "phone": customer.phone or ""},
        }
