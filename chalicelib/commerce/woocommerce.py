"""WooCommerce's REST API v3, as a thin typed client over `requests`: a customer found by
their email addresses, and their latest orders.

The store is asked at `{url}/wp-json/wc/v3` with the consumer key and secret over HTTPS basic
auth. WooCommerce's customers endpoint filters by email only, so a customer is looked up by
email, and a phone number by the orders search (which reads billing phones), keeping only the
orders whose billing phone is that number exactly (guests' orders included). Every customer
answered is checked to have one of the emails asked, and every order to be theirs. No answer, a
5xx or a 429 is `Retryable` (with the store's `Retry-After`); a refused key (401, 403) or a
store without the REST API (404) is `CommerceRefused`, explained. Nothing of a customer is
ever logged.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import (
    ORDERS_KEPT,
    CommerceRefused,
    CustomerKeys,
    Money,
    Order,
    OrderSummary,
    not_a_customer,
    summary,
)
from chalicelib.domain.shop import Shop, ShopSecrets, WooCommerceConfig

if TYPE_CHECKING:
    import requests

# A WordPress host answers a listing in about a second; a worker waits no longer than this.
TIMEOUT_SECONDS = (3.0, 8.0)
# Customers that may share a person's addresses (one account per email asked).
CUSTOMERS_ASKED = 5
# The wait when the store (or its host's firewall) throttles without saying how long.
THROTTLE_WAIT_SECONDS = 5.0
API_PATH = "/wp-json/wc/v3"


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class WooCustomer(_Answer):
    id: int
    email: str = ""

    def has_any(self, customer: CustomerKeys) -> bool:
        """Whether this customer has one of the emails asked about, exactly."""
        return self.email.strip().lower() in customer.emails


class Billing(_Answer):
    phone: str = ""

    def has_phone(self, customer: CustomerKeys) -> bool:
        # A billing phone is free text: the number only if it is written as one, in E.164.
        return re.sub(r"[\s().-]", "", self.phone) in customer.phones


class WooOrder(_Answer):
    id: int
    billing: Billing = Billing()
    number: str
    status: str
    currency: str
    total: Decimal
    customer_id: int
    date_created_gmt: datetime
    date_paid_gmt: datetime | None = None


TAnswer = TypeVar("TAnswer", bound=_Answer)


def api_base(config: WooCommerceConfig, api_url: str | None) -> str:
    """The store's REST API root; `api_url` (a local stand-in) replaces the store's URL."""
    base = api_url.rstrip("/") if api_url else config.url.rstrip("/")
    return base + API_PATH


def _refusal(status: int) -> CommerceRefused | None:
    match status:
        case 401:
            return CommerceRefused(
                "WooCommerce refused the consumer key (HTTP 401): set "
                "commerce.woocommerce.consumer_key and consumer_secret again"
            )
        case 403:
            return CommerceRefused(
                "WooCommerce refused access (HTTP 403): the key needs Read permission"
            )
        case 404:
            return CommerceRefused(
                "the store has no WooCommerce REST API v3 (HTTP 404): check "
                "commerce.woocommerce.url and that permalinks are enabled"
            )
    return None


def _seconds(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else THROTTLE_WAIT_SECONDS
    except ValueError:
        return THROTTLE_WAIT_SECONDS


class WooCommerceRest:
    """One store's REST API: a listing asked, its items out, or an error of ours."""

    def __init__(self, session: "requests.Session", base: str, key: str, secret: str) -> None:
        self._session = session
        self._base = base
        self._auth = (key, secret)

    def listing(
        self, path: str, params: dict[str, str | int], model: type[TAnswer]
    ) -> tuple[list[TAnswer], int | None]:
        """The items of a listing, and the total the store counts (`X-WP-Total`)."""
        response = self.call("GET", path, params)
        try:
            items = response.json()
            if not isinstance(items, list):
                raise ValueError("not a listing")
            found = [model.model_validate(item) for item in items]
        except (ValueError, ValidationError) as error:
            raise Retryable(f"WooCommerce's {path.strip('/')} could not be read") from error
        total = response.headers.get("X-WP-Total", "")
        return found, int(total) if total.isdigit() else None

    def call(
        self,
        verb: str,
        path: str,
        params: dict[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
    ) -> "requests.Response":
        """One request to the store, answered 2xx; anything else raised as ours. A 400 (the
        store refused what was asked) is a `CommerceRefused` with WordPress's message."""
        import requests

        try:
            response = self._session.request(
                verb,
                self._base + path,
                params=params,
                json=body,
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise Retryable("WooCommerce did not answer") from error
        refusal = _refusal(response.status_code)
        if refusal is not None:
            raise refusal
        if response.status_code == 429:
            raise Retryable(
                "WooCommerce throttled the lookup", _seconds(response.headers.get("Retry-After"))
            )
        if response.status_code >= 500 and _wordpress_code(response) in _REFUSED_WITH_500:
            raise CommerceRefused(_wordpress_message(response))
        if response.status_code >= 500:
            raise Retryable(f"WooCommerce answered HTTP {response.status_code}")
        if response.status_code == 400:
            raise CommerceRefused(_wordpress_message(response))
        if not 200 <= response.status_code < 300:
            raise CommerceRefused(f"WooCommerce refused the lookup (HTTP {response.status_code})")
        return response


# WooCommerce answers a refund it could not make (the gateway declined, the amount is more
# than is left) with HTTP 500 and this code: an answer, not an outage, so never retried.
_REFUSED_WITH_500 = frozenset({"woocommerce_rest_cannot_create_order_refund"})


def _wordpress_code(response: "requests.Response") -> str | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def _wordpress_message(response: "requests.Response") -> str:
    """WordPress's error message (`{"code", "message", "data"}`), short and on one line."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, str) or not message.strip():
        return "WooCommerce refused the request (HTTP 400)"
    return " ".join(message.split())[:300]


def _payment_status(order: WooOrder) -> str:
    if order.status == "refunded":
        return "refunded"
    if order.status == "failed":
        return "failed"
    return "paid" if order.date_paid_gmt is not None else "pending"


def _gmt(moment: datetime) -> datetime:
    # WooCommerce's `*_gmt` fields are UTC without an offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _order(node: WooOrder) -> Order | None:
    number = node.number.strip().lstrip("#")
    if not number.isdigit() or len(number) > 20:
        return None
    try:
        total = Money(amount=node.total, currency=node.currency.upper())
    except ValidationError:
        return None
    return Order(
        number=number,
        placed_at=_gmt(node.date_created_gmt),
        total=total,
        payment_status=_payment_status(node),
        # WooCommerce's "completed" is its shipped-and-done; core keeps no shipment tracking.
        fulfilment_status="fulfilled" if node.status == "completed" else "unfulfilled",
        cancelled=node.status == "cancelled",
    )


class WooCommerceOrders:
    """`OrderDirectory` over WooCommerce: the customers having any of the emails, and their
    orders (each checked to be theirs, whatever the listing answered)."""

    def __init__(self, api_url: str | None = None) -> None:
        import requests

        self._api_url = api_url or None
        self._session = requests.Session()

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary:
        config = shop.woocommerce
        key = secrets.woocommerce_consumer_key
        secret = secrets.woocommerce_consumer_secret
        if config is None or key is None or secret is None:
            raise CommerceRefused("the shop has no WooCommerce store and consumer key configured")
        if customer.empty:
            return not_a_customer(now)
        client = WooCommerceRest(
            self._session,
            api_base(config, self._api_url),
            key.get_secret_value(),
            secret.get_secret_value(),
        )
        ids: set[int] = set()
        for email in customer.emails[:CUSTOMERS_ASKED]:
            found, _ = client.listing("/customers", {"email": email, "role": "all"}, WooCustomer)
            # Only customers with one of the addresses: never one the store matched loosely.
            ids.update(c.id for c in found if c.has_any(customer) and c.id > 0)
        nodes: list[WooOrder] = []
        for phone in customer.phones[:CUSTOMERS_ASKED]:
            found_orders, _ = client.listing(
                "/orders", {"search": phone, "per_page": ORDERS_KEPT}, WooOrder
            )
            nodes += [node for node in found_orders if node.billing.has_phone(customer)]
        by_phone = {node.id for node in nodes}
        if not ids and not nodes:
            return not_a_customer(now)
        order_count = 0
        quoted = customer.quoted_number
        for customer_id in sorted(ids):
            latest, total = client.listing(
                "/orders",
                {
                    "customer": customer_id,
                    "per_page": ORDERS_KEPT,
                    "orderby": "date",
                    "order": "desc",
                },
                WooOrder,
            )
            nodes += latest
            order_count += total if total is not None else len(latest)
        if quoted and all(node.number != quoted for node in nodes):
            for customer_id in sorted(ids):
                # An order's number is its id unless a plugin renumbers (then it is not found).
                older, _ = client.listing(
                    "/orders", {"customer": customer_id, "include": quoted}, WooOrder
                )
                nodes += older
        orders = [
            order
            for node in nodes
            # The customer's own orders only, whatever the listing answered.
            if node.customer_id in ids or node.billing.has_phone(customer)
            if (order := _order(node)) is not None
        ]
        return summary(
            orders,
            order_count=order_count + len(by_phone - {n.id for n in nodes if n.customer_id in ids}),
            total_spent=None,
            checked_at=now,
            quoted_number=quoted,
        )
