"""The Shopify adapter against the Shopify stand-in, in process (no sockets): a customer found
by email or phone with their orders, throttling and outages made `Retryable` with Shopify's
own wait, a refused token explained, and no order of another customer ever taken."""

import json
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from chalicelib.commerce.shopify import ShopifyOrders, endpoint
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, LookupOutcome, customer_keys
from chalicelib.domain.shop import CommerceConfig, ShopifyConfig, ShopSecrets
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import Request
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TOKEN = "shpat_" + "t" * 32
SHOP = acme(commerce=CommerceConfig(shopify=ShopifyConfig(domain="acme.myshopify.com")))
SECRETS = ShopSecrets(shopify_access_token=SecretStr(TOKEN))
STAND_IN_URL = "http://shopify.stand-in"


class InProcess(requests.adapters.BaseAdapter):
    """requests' transport to the stand-in's handler, or a failure as the network gives."""

    def __init__(self, stand_in: ShopifyStandIn) -> None:
        super().__init__()
        self.stand_in = stand_in
        self.failure: Exception | None = None
        self.status: int | None = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        if self.failure is not None:
            raise self.failure
        headers = Message()
        for name, value in request.headers.items():
            headers[name] = str(value)
        path = (request.path_url or "/").split("?", 1)[0]
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        reply = self.stand_in._handle(Request("POST", path, [], headers, body))
        response = requests.Response()
        response.status_code = self.status or reply.status
        response._content = json.dumps(reply.body).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def transport() -> InProcess:
    stand_in = ShopifyStandIn(Outbox())
    stand_in.provision(TOKEN, demo_customers())
    return InProcess(stand_in)


@pytest.fixture
def orders(transport: InProcess) -> ShopifyOrders:
    adapter = ShopifyOrders(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, transport)
    return adapter


def test_the_endpoint_is_the_stores_own_at_the_pinned_version_unless_overridden() -> None:
    config = ShopifyConfig(domain="acme.myshopify.com", api_version="2026-07")
    assert endpoint(config, None) == "https://acme.myshopify.com/admin/api/2026-07/graphql.json"
    assert endpoint(config, "http://local:1/") == "http://local:1/admin/api/2026-07/graphql.json"


def test_a_customer_found_by_phone_has_their_orders_latest_first(orders: ShopifyOrders) -> None:
    found = orders.customer_orders(
        SHOP, SECRETS, customer_keys(["whatsapp:+5511987654321"], None), NOW
    )

    assert found.outcome is LookupOutcome.FOUND
    assert [o.number for o in found.orders] == ["1042", "1041"]
    latest = found.orders[0]
    assert latest.delivery_status == "in_transit"
    assert latest.carrier == "Correios"
    assert latest.tracking_number == "BR987654321"
    assert latest.tracking_url is not None
    assert latest.tracking_url.startswith("https://")
    assert found.order_count == 2
    assert found.total_spent is not None
    assert str(found.total_spent.amount) == "389.80"


def test_a_customer_found_by_email(orders: ShopifyOrders) -> None:
    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["ANA@example.com"], None), NOW)
    assert [o.number for o in found.orders] == ["1042", "1041"]


def test_someone_the_store_does_not_know_is_not_a_customer(orders: ShopifyOrders) -> None:
    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["+14155550999"], None), NOW)
    assert found.outcome is LookupOutcome.NOT_A_CUSTOMER


def test_another_customers_quoted_order_is_never_taken(orders: ShopifyOrders) -> None:
    keys = customer_keys(["+5511987654321"], "#1043")

    found = orders.customer_orders(SHOP, SECRETS, keys, NOW)

    assert "1043" not in [o.number for o in found.orders]


def test_a_customer_the_search_matched_loosely_is_not_taken_for_the_one_asked_about(
    orders: ShopifyOrders, transport: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a search that answers more customers than asked for (Shopify ignores a term it
    # cannot read and matches everyone)
    stand_in = transport.stand_in
    answer = stand_in._customers

    def everyone(store: Any, variables: dict[str, Any]) -> Any:
        terms = " OR ".join(f'email:"{c.email}"' for c in store.customers if c.email)
        return answer(store, {**variables, "query": terms})

    monkeypatch.setattr(stand_in, "_customers", everyone)

    # When Ana is looked up by her number
    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["+5511987654321"], None), NOW)

    # Then only her own orders and figures are taken, never Bruno's
    assert [o.number for o in found.orders] == ["1042", "1041"]
    assert found.order_count == 2


def test_a_refused_token_is_explained(orders: ShopifyOrders) -> None:
    wrong = ShopSecrets(shopify_access_token=SecretStr("shpat_wrong"))
    with pytest.raises(CommerceRefused, match="HTTP 401"):
        orders.customer_orders(SHOP, wrong, customer_keys(["+5511987654321"], None), NOW)


def test_a_throttled_query_is_retried_after_the_wait_its_cost_tells(
    orders: ShopifyOrders, transport: InProcess
) -> None:
    transport.stand_in.throttle()

    with pytest.raises(Retryable) as raised:
        orders.customer_orders(SHOP, SECRETS, customer_keys(["+5511987654321"], None), NOW)

    # 7 points asked, none available, 100 restored a second: a second's wait.
    assert raised.value.retry_after == 1.0


@pytest.mark.parametrize(
    "failure", [requests.ConnectTimeout("slow"), requests.ConnectionError("refused")]
)
def test_no_answer_is_retryable(
    orders: ShopifyOrders, transport: InProcess, failure: Exception
) -> None:
    transport.failure = failure
    with pytest.raises(Retryable):
        orders.customer_orders(SHOP, SECRETS, customer_keys(["+5511987654321"], None), NOW)


def test_a_server_error_is_retryable(orders: ShopifyOrders, transport: InProcess) -> None:
    transport.status = 503
    with pytest.raises(Retryable, match="HTTP 503"):
        orders.customer_orders(SHOP, SECRETS, customer_keys(["+5511987654321"], None), NOW)


def test_the_stand_in_refuses_a_query_it_does_not_imitate(transport: InProcess) -> None:
    headers = Message()
    headers["X-Shopify-Access-Token"] = TOKEN
    body = json.dumps({"query": "query Other { shop { name } }"}).encode()

    reply = transport.stand_in._handle(
        Request("POST", "/admin/api/2026-07/graphql.json", [], headers, body)
    )

    assert reply.body["errors"][0]["extensions"]["code"] == "undefinedField"
