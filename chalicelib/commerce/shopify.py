"""Shopify's Admin GraphQL API, as a thin typed client over `requests` (docs/adr/0006):
a customer found by their emails and phone numbers, and their latest orders.

Errors become Threadline's: no answer, a 5xx, a 429 or a `THROTTLED` query (Shopify's
cost-based limit, whose wait `extensions.cost` tells) are `Retryable`, with that wait; a
refused token or scope (401, 403, `ACCESS_DENIED`) is `CommerceRefused`, explained. Nothing
of a customer (addresses, orders) is ever logged.
"""

import math
import re
from datetime import datetime
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
from chalicelib.domain.shop import Shop, ShopifyConfig, ShopSecrets

if TYPE_CHECKING:
    import requests

# Shopify answers a query in well under a second; a worker waits no longer than this.
TIMEOUT_SECONDS = (3.0, 8.0)
# Customers that may share a person's addresses (an old account by email, one by phone).
CUSTOMERS_ASKED = 5
# The wait when Shopify throttles without saying how long (its leaky bucket restores
# points every second).
THROTTLE_WAIT_SECONDS = 2.0
_DIGITS = re.compile(r"\d+")

CUSTOMERS_QUERY = """
query ThreadlineCustomers($query: String!, $first: Int!) {
  customers(first: $first, query: $query) {
    nodes {
      id
      numberOfOrders
      amountSpent { amount currencyCode }
      defaultEmailAddress { emailAddress }
      defaultPhoneNumber { phoneNumber }
    }
  }
}
"""

ORDERS_QUERY = """
query ThreadlineOrders($query: String!, $first: Int!) {
  orders(first: $first, sortKey: CREATED_AT, reverse: true, query: $query) {
    nodes {
      name
      createdAt
      cancelledAt
      displayFinancialStatus
      displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id }
      fulfillments(first: 5) {
        createdAt
        displayStatus
        estimatedDeliveryAt
        trackingInfo(first: 1) { number url company }
      }
    }
  }
}
"""


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class MoneyV2(_Answer):
    amount: Decimal
    currencyCode: str


class EmailAddress(_Answer):
    emailAddress: str | None = None


class PhoneNumber(_Answer):
    phoneNumber: str | None = None


class ShopifyCustomer(_Answer):
    id: str
    numberOfOrders: int = 0
    amountSpent: MoneyV2 | None = None
    defaultEmailAddress: EmailAddress | None = None
    defaultPhoneNumber: PhoneNumber | None = None

    def has_any(self, customer: CustomerKeys) -> bool:
        """Whether this customer has one of the addresses asked about, exactly."""
        email = self.defaultEmailAddress.emailAddress if self.defaultEmailAddress else None
        phone = self.defaultPhoneNumber.phoneNumber if self.defaultPhoneNumber else None
        return (email is not None and email.strip().lower() in customer.emails) or (
            phone is not None and phone.strip() in customer.phones
        )


class TrackingInfo(_Answer):
    number: str | None = None
    url: str | None = None
    company: str | None = None


class Fulfillment(_Answer):
    createdAt: datetime
    displayStatus: str | None = None
    estimatedDeliveryAt: datetime | None = None
    trackingInfo: list[TrackingInfo] = []


class MoneyBag(_Answer):
    shopMoney: MoneyV2


class CustomerRef(_Answer):
    id: str


class ShopifyOrder(_Answer):
    name: str
    createdAt: datetime
    cancelledAt: datetime | None = None
    displayFinancialStatus: str | None = None
    displayFulfillmentStatus: str
    totalPriceSet: MoneyBag
    customer: CustomerRef | None = None
    fulfillments: list[Fulfillment] = []


class _Nodes(_Answer):
    nodes: list[dict[str, Any]]


Node = TypeVar("Node", bound=_Answer)


def endpoint(config: ShopifyConfig, api_url: str | None) -> str:
    """The store's GraphQL endpoint at its pinned version; `api_url` (a local stand-in)
    replaces the store's own host."""
    base = api_url.rstrip("/") if api_url else f"https://{config.domain}"
    return f"{base}/admin/api/{config.api_version}/graphql.json"


def _throttle_wait(extensions: Any) -> float:
    """How long until Shopify's bucket holds the points the query asked for."""
    try:
        cost = extensions["cost"]
        requested = float(cost["requestedQueryCost"])
        status = cost["throttleStatus"]
        missing = requested - float(status["currentlyAvailable"])
        return max(1.0, math.ceil(missing / float(status["restoreRate"])))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return THROTTLE_WAIT_SECONDS


def _refusal(status: int) -> CommerceRefused | None:
    match status:
        case 401:
            return CommerceRefused(
                "Shopify refused the access token (HTTP 401): set "
                "commerce.shopify.access_token again"
            )
        case 402 | 423:
            return CommerceRefused(f"the Shopify store is frozen or locked (HTTP {status})")
        case 403:
            return CommerceRefused(
                "Shopify refused access (HTTP 403): the app needs the read_customers and "
                "read_orders scopes"
            )
        case 404:
            return CommerceRefused(
                "Shopify has no such store or API version (HTTP 404): check "
                "commerce.shopify.domain and api_version"
            )
    return None


class ShopifyGraphQL:
    """One store's Admin GraphQL endpoint: a query in, its `data` out, or an error of ours."""

    def __init__(self, session: "requests.Session", url: str, access_token: str) -> None:
        self._session = session
        self._url = url
        self._token = access_token

    def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        import requests

        try:
            response = self._session.post(
                self._url,
                json={"query": document, "variables": variables},
                headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise Retryable("Shopify did not answer") from error
        refusal = _refusal(response.status_code)
        if refusal is not None:
            raise refusal
        if response.status_code == 429:
            wait = response.headers.get("Retry-After")
            raise Retryable("Shopify throttled the lookup", _seconds(wait))
        if response.status_code >= 500:
            raise Retryable(f"Shopify answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as error:
            raise Retryable("Shopify's answer was not JSON") from error
        if not isinstance(answer, dict):
            raise Retryable("Shopify's answer was not a GraphQL answer")
        if response.status_code != 200:
            raise CommerceRefused(f"Shopify refused the lookup (HTTP {response.status_code})")
        self._raise_errors(answer)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise Retryable("Shopify's answer had no data")
        return data

    @staticmethod
    def _raise_errors(answer: dict[str, Any]) -> None:
        errors = answer.get("errors")
        if not errors:
            return
        if not isinstance(errors, list):
            # A top-level string (an invalid token on some paths): a refusal.
            raise CommerceRefused("Shopify refused the lookup")
        codes = {
            str((error.get("extensions") or {}).get("code", ""))
            for error in errors
            if isinstance(error, dict)
        }
        if "THROTTLED" in codes:
            raise Retryable(
                "Shopify throttled the lookup", _throttle_wait(answer.get("extensions"))
            )
        if "INTERNAL_SERVER_ERROR" in codes:
            raise Retryable("Shopify failed the lookup")
        if "ACCESS_DENIED" in codes:
            raise CommerceRefused(
                "Shopify denied the lookup: the app needs the read_customers and read_orders "
                "scopes (and protected customer data access)"
            )
        code = next(iter(sorted(codes - {""})), "unknown")
        raise CommerceRefused(f"Shopify refused the query ({code[:40]})")


def _seconds(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else THROTTLE_WAIT_SECONDS
    except ValueError:
        return THROTTLE_WAIT_SECONDS


def _status(value: str | None) -> str:
    return (value or "").strip().lower()


def _web_link(url: str | None) -> str | None:
    """A tracking link only if it is a web link (it becomes a link in Slack and a message)."""
    if url and re.match(r"^https?://[^\s<>|]+$", url):
        return url
    return None


def _number(name: str) -> str | None:
    """An order's number from its name ("#1042", or a shop's own "ACME-1042-B")."""
    # The last run of digits (at most its last 20), found in one pass.
    runs = _DIGITS.findall(name)
    return runs[-1][-20:] if runs else None


def _order(node: ShopifyOrder) -> Order | None:
    number = _number(node.name)
    if number is None:
        return None
    shipments = sorted(node.fulfillments, key=lambda shipment: shipment.createdAt)
    latest = shipments[-1] if shipments else None
    tracking = latest.trackingInfo[0] if latest and latest.trackingInfo else None
    total = node.totalPriceSet.shopMoney
    return Order(
        number=number,
        placed_at=node.createdAt,
        total=Money(amount=total.amount, currency=total.currencyCode),
        payment_status=_status(node.displayFinancialStatus) or "unknown",
        fulfilment_status=_status(node.displayFulfillmentStatus),
        delivery_status=(_status(latest.displayStatus) or None) if latest else None,
        cancelled=node.cancelledAt is not None,
        carrier=tracking.company if tracking else None,
        tracking_number=tracking.number if tracking else None,
        tracking_url=_web_link(tracking.url if tracking else None),
        estimated_delivery=latest.estimatedDeliveryAt if latest else None,
    )


def _numeric_id(gid: str) -> str | None:
    tail = gid.rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


class ShopifyOrders:
    """`OrderDirectory` over Shopify: the customers having any of the addresses, and their
    orders (each checked to be theirs, whatever the search matched)."""

    def __init__(self, api_url: str | None = None) -> None:
        import requests

        self._api_url = api_url or None
        self._session = requests.Session()

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary:
        config = shop.shopify
        token = secrets.shopify_access_token
        if config is None or token is None:
            raise CommerceRefused("the shop has no Shopify store and access token configured")
        if customer.empty:
            return not_a_customer(now)
        client = ShopifyGraphQL(
            self._session, endpoint(config, self._api_url), token.get_secret_value()
        )
        # Only customers with one of the addresses: a search may match more than asked for.
        customers = [c for c in self._customers(client, customer) if c.has_any(customer)]
        ids = {number for c in customers if (number := _numeric_id(c.id)) is not None}
        if not ids:
            return not_a_customer(now)
        owners = " OR ".join(f"customer_id:{number}" for number in sorted(ids))
        nodes = self._orders(client, owners, ORDERS_KEPT)
        quoted = customer.quoted_number
        if quoted and all(_number(node.name) != quoted for node in nodes):
            nodes += self._orders(client, f'({owners}) AND name:"{quoted}"', 1)
        orders = [
            order
            for node in nodes
            # The customer's own orders only, whatever the search syntax matched.
            if node.customer is not None and _numeric_id(node.customer.id) in ids
            if (order := _order(node)) is not None
        ]
        return summary(
            orders,
            order_count=sum(c.numberOfOrders for c in customers),
            total_spent=_spent(customers),
            checked_at=now,
            quoted_number=quoted,
        )

    @staticmethod
    def _customers(client: ShopifyGraphQL, customer: CustomerKeys) -> list[ShopifyCustomer]:
        # The keys are checked shapes (domain.orders.customer_keys): no quote or backslash.
        terms = [f'email:"{email}"' for email in customer.emails]
        terms += [f'phone:"{phone}"' for phone in customer.phones]
        data = client.query(
            CUSTOMERS_QUERY, {"query": " OR ".join(terms), "first": CUSTOMERS_ASKED}
        )
        return _nodes(data, "customers", ShopifyCustomer)

    @staticmethod
    def _orders(client: ShopifyGraphQL, search: str, first: int) -> list[ShopifyOrder]:
        data = client.query(ORDERS_QUERY, {"query": search, "first": first})
        return _nodes(data, "orders", ShopifyOrder)


def _nodes(data: dict[str, Any], field: str, model: type[Node]) -> list[Node]:
    try:
        return [model.model_validate(node) for node in _Nodes.model_validate(data.get(field)).nodes]
    except ValidationError as error:
        raise Retryable(f"Shopify's {field} could not be read") from error


def _spent(customers: list[ShopifyCustomer]) -> Money | None:
    amounts = [c.amountSpent for c in customers if c.amountSpent is not None]
    if not amounts:
        return None
    currency = amounts[0].currencyCode
    total = sum((a.amount for a in amounts if a.currencyCode == currency), Decimal(0))
    return Money(amount=total, currency=currency)
