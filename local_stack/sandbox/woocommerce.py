"""WooCommerce's REST API v3 imitated, for the two listings Threadline asks
(`GET /wp-json/wc/v3/customers`, `GET /wp-json/wc/v3/orders`), over seeded stores.

As strict as the real one where Threadline relies on it: the consumer key and secret of a
provisioned store in HTTPS basic auth (else 401), WordPress's error shape
`{"code", "message", "data": {"status"}}`, the parameters it validates (`per_page` 1-100,
`order`, `orderby`, integer ids) refused with `rest_invalid_param`, `X-WP-Total` on every
listing, and any other route refused as `rest_no_route`. Faults (429, 503) are injected by
method, "customers" or "orders".

Webhooks are created through `POST /wp-json/wc/v3/webhooks` as in a store's admin, and sent
signed when an order changes (`woocommerce_webhooks`); a test or the demo changes an order's
status as the shop's staff would, through the sandbox's control route
`POST /_sandbox/orders/{id}/status` (the store's key and secret, as the API).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn
from local_stack.sandbox.woocommerce_refunds import SeededWooLine, SeededWooRefund, order_route
from local_stack.sandbox.woocommerce_webhooks import WooWebhook, WooWebhookSender

API_ROOT = "/wp-json/wc/v3"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLES = {"all", "administrator", "editor", "author", "contributor", "subscriber", "customer"}
_ORDERBY = {"date", "id", "include", "title", "slug", "modified"}
_WEBHOOK_TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
_ORDER_STATUSES = {
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
}
_CONTROL_PATH = re.compile(r"^/_sandbox/orders/(?P<order_id>\d+)/status$")


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
    webhooks: list[WooWebhook] = field(default_factory=list)


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
        self._sender = WooWebhookSender(self._record, site_url="")
        self._webhook_ids = 0

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        url = super().start(host, port)
        # The site's URL, which every delivery names as its source.
        self._sender.site_url = url
        return url

    def set_status(
        self, consumer_key: str, consumer_secret: str, order_id: int, status: str
    ) -> None:
        """The shop's staff change the order's status: `order.updated` is sent."""
        with self._lock:
            store = self._stores[(consumer_key, consumer_secret)]
            customer, order = _order_of(store, order_id)
            order.status = status
            payload = self._order(customer, order)
            webhooks = list(store.webhooks)
        self._sender.send(webhooks, "order.updated", payload)

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
        if request.path.startswith("/_sandbox/"):
            return "sandbox"
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
        control = _CONTROL_PATH.match(request.path)
        if method == "webhooks" or (control and request.verb == "POST"):
            store = self._store(request)
            if store is None:
                self._record("refused", {"status": 401})
                return _error(
                    HTTPStatus.UNAUTHORIZED,
                    "woocommerce_rest_cannot_create",
                    "Sorry, you are not allowed to create resources.",
                )
            if control:
                return self._change_status(store, int(control.group("order_id")), request)
            if request.verb == "POST":
                return self._create_webhook(store, request)
            if request.verb == "GET":
                with self._lock:
                    return Reply(HTTPStatus.OK, [w.as_json() for w in store.webhooks])
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

    def _create_webhook(self, store: SeededWooStore, request: Request) -> Reply:
        fields = _json_object(request)
        topic, url = fields.get("topic"), fields.get("delivery_url")
        if topic not in _WEBHOOK_TOPICS:
            return _invalid("topic", "topic is not one of the store's webhook topics.")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _invalid("delivery_url", "delivery_url is not a valid URL.")
        secret = fields.get("secret")
        with self._lock:
            self._webhook_ids += 1
            webhook = WooWebhook(
                webhook_id=self._webhook_ids,
                name=str(fields.get("name") or f"Webhook {self._webhook_ids}"),
                topic=str(topic),
                delivery_url=url,
                secret=secret if isinstance(secret, str) and secret else "",
            )
            store.webhooks.append(webhook)
        self._record("webhooks.create", {"topic": topic, "delivery_url": url})
        self._sender.ping(webhook)
        return Reply(HTTPStatus.CREATED, webhook.as_json())

    def _change_status(self, store: SeededWooStore, order_id: int, request: Request) -> Reply:
        status = _json_object(request).get("status")
        if status not in _ORDER_STATUSES:
            return _invalid("status", "status is not one of the order statuses.")
        try:
            self.set_status(store.consumer_key, store.consumer_secret, order_id, str(status))
        except KeyError:
            return _error(
                HTTPStatus.NOT_FOUND, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."
            )
        self._record("sandbox.status", {"order": order_id, "status": status})
        return Reply(HTTPStatus.OK, {"id": order_id, "status": status})

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


def _order_of(store: SeededWooStore, order_id: int) -> tuple[SeededWooCustomer, SeededWooOrder]:
    for customer in store.customers:
        for order in customer.orders:
            if order.order_id == order_id:
                return customer, order
    raise KeyError(order_id)


def _json_object(request: Request) -> dict[str, Any]:
    try:
        fields = json.loads(request.body or b"{}")
    except ValueError as error:
        raise BadRequest("the body is not JSON") from error
    if not isinstance(fields, dict):
        raise BadRequest("the body is not a JSON object")
    return fields
