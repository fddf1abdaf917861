"""The WooCommerce adapter against the WooCommerce stand-in, in process (no sockets): a
customer found by email with their orders, someone unknown, another's order never taken, a
refused key explained, throttling and outages `Retryable`; and the dispatcher asking the
platform the shop configured."""

import base64
import json
import urllib.parse
from datetime import UTC, datetime
from email.message import Message

import pytest
import requests
from pydantic import SecretStr

from chalicelib.commerce.platforms import PlatformOrders
from chalicelib.commerce.shopify import ShopifyOrders
from chalicelib.commerce.woocommerce import WooCommerceOrders, api_base
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, LookupOutcome, customer_keys
from chalicelib.domain.shop import CommerceConfig, ShopSecrets, WooCommerceConfig
from local_stack.sandbox.faults import Fault
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import Request
from local_stack.sandbox.woocommerce import WooCommerceStandIn, demo_customers
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
KEY = "ck_" + "k" * 40
SECRET = "cs_" + "s" * 40
SHOP = acme(commerce=CommerceConfig(woocommerce=WooCommerceConfig(url="https://shop.example")))
SECRETS = ShopSecrets(
    woocommerce_consumer_key=SecretStr(KEY), woocommerce_consumer_secret=SecretStr(SECRET)
)
STAND_IN_URL = "http://woocommerce.stand-in"


class InProcess(requests.adapters.BaseAdapter):
    """requests' transport to the stand-in's handler, or a failure as the network gives."""

    def __init__(self, stand_in: WooCommerceStandIn) -> None:
        super().__init__()
        self.stand_in = stand_in
        self.failure: Exception | None = None

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
        split = urllib.parse.urlsplit(request.url or "/")
        query = urllib.parse.parse_qsl(split.query)
        raw = request.body or b""
        body = (
            raw.encode() if isinstance(raw, str) else bytes(raw) if isinstance(raw, bytes) else b""
        )
        reply = self.stand_in._handle(
            Request(request.method or "GET", split.path, query, headers, body)
        )
        response = requests.Response()
        response.status_code = reply.status
        response._content = json.dumps(reply.body).encode()
        response.headers["Content-Type"] = "application/json"
        for name, value in reply.headers:
            response.headers[name] = value
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def transport() -> InProcess:
    stand_in = WooCommerceStandIn(Outbox())
    stand_in.provision(KEY, SECRET, demo_customers())
    return InProcess(stand_in)


@pytest.fixture
def orders(transport: InProcess) -> WooCommerceOrders:
    adapter = WooCommerceOrders(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, transport)
    return adapter


def test_the_api_is_the_stores_own_unless_overridden() -> None:
    config = WooCommerceConfig(url="https://shop.example/")
    assert api_base(config, None) == "https://shop.example/wp-json/wc/v3"
    assert api_base(config, "http://local:1/") == "http://local:1/wp-json/wc/v3"


def test_a_customer_found_by_email_has_their_orders_latest_first(
    orders: WooCommerceOrders,
) -> None:
    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["ANA@example.com"], None), NOW)

    assert found.outcome is LookupOutcome.FOUND
    assert [o.number for o in found.orders] == ["2042", "2041"]
    latest, older = found.orders
    assert latest.placed_at == datetime(2026, 11, 20, 18, 45, tzinfo=UTC)
    assert latest.total.shown() == "259.90 BRL"
    assert (latest.payment_status, latest.fulfilment_status) == ("paid", "unfulfilled")
    assert older.fulfilment_status == "fulfilled"
    assert found.order_count == 2


def test_a_customer_found_by_phone_has_the_orders_billed_to_that_number(
    orders: WooCommerceOrders,
) -> None:
    found = orders.customer_orders(
        SHOP, SECRETS, customer_keys(["whatsapp:+5511987654321"], None), NOW
    )

    assert [o.number for o in found.orders] == ["2042", "2041"]
    assert found.order_count == 2


def test_someone_the_store_does_not_know_is_not_a_customer(orders: WooCommerceOrders) -> None:
    found = orders.customer_orders(
        SHOP, SECRETS, customer_keys(["nobody@example.com", "+14155550999"], None), NOW
    )
    assert found.outcome is LookupOutcome.NOT_A_CUSTOMER


def test_another_customers_quoted_order_is_never_taken(orders: WooCommerceOrders) -> None:
    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], "#2043"), NOW)
    assert "2043" not in [o.number for o in found.orders]


def test_an_order_the_store_answers_for_someone_else_is_not_taken(
    orders: WooCommerceOrders, transport: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that answers every order whoever is asked about (a plugin ignoring
    # `customer`)
    handle = transport.stand_in._handle

    def everyones(request: Request) -> object:
        query = [(k, v) for k, v in request.query if k != "customer"]
        return handle(Request(request.verb, request.path, query, request.headers, request.body))

    monkeypatch.setattr(transport.stand_in, "_handle", everyones)

    found = orders.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], None), NOW)

    assert [o.number for o in found.orders] == ["2042", "2041"]


def test_a_refused_key_is_explained(orders: WooCommerceOrders) -> None:
    wrong = SECRETS.model_copy(update={"woocommerce_consumer_secret": SecretStr("cs_wrong")})
    with pytest.raises(CommerceRefused, match="HTTP 401"):
        orders.customer_orders(SHOP, wrong, customer_keys(["ana@example.com"], None), NOW)


def test_throttling_is_retried_after_the_stores_wait(
    orders: WooCommerceOrders, transport: InProcess
) -> None:
    transport.stand_in.faults.add("customers", Fault(429, (("Retry-After", "7"),)))

    with pytest.raises(Retryable) as raised:
        orders.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], None), NOW)

    assert raised.value.retry_after == 7.0


def test_an_outage_is_retryable(orders: WooCommerceOrders, transport: InProcess) -> None:
    transport.stand_in.faults.add("orders", Fault(503))
    with pytest.raises(Retryable, match="HTTP 503"):
        orders.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], None), NOW)


def test_no_answer_is_retryable(orders: WooCommerceOrders, transport: InProcess) -> None:
    transport.failure = requests.ConnectTimeout("slow")
    with pytest.raises(Retryable):
        orders.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], None), NOW)


def test_the_stand_in_refuses_what_the_real_api_refuses(transport: InProcess) -> None:
    headers = Message()
    headers["Authorization"] = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()

    reply = transport.stand_in._handle(
        Request("GET", "/wp-json/wc/v3/orders", [("per_page", "500")], headers, b"")
    )

    assert reply.status == 400
    assert reply.body["code"] == "rest_invalid_param"
    assert reply.body["data"]["status"] == 400


def test_the_dispatcher_asks_the_shops_own_platform(orders: WooCommerceOrders) -> None:
    dispatcher = PlatformOrders(ShopifyOrders("http://nowhere.invalid"), orders)

    found = dispatcher.customer_orders(SHOP, SECRETS, customer_keys(["ana@example.com"], None), NOW)

    assert found.outcome is LookupOutcome.FOUND
    with pytest.raises(CommerceRefused, match="no commerce platform"):
        dispatcher.customer_orders(acme(), SECRETS, customer_keys(["ana@example.com"], None), NOW)
