"""Commerce in the thread (WooCommerce): a WooCommerce shop's customer gets their orders on
the card through the same port as Shopify's (the real adapter, against the stand-in in
process); WooCommerce's webhooks verified first (a forged one writes nothing) and acted on
once per delivery."""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.commerce.platforms import PlatformOrders
from chalicelib.commerce.shopify import ShopifyOrders
from chalicelib.commerce.woocommerce import WooCommerceOrders
from chalicelib.domain.orders import CustomerKeys, OrderSummary
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.services.installs import Exchange
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.woocommerce import WooCommerceStandIn, demo_customers
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock, stored_item
from tests.integration.test_commerce import (
    CUSTOMER,
    card_of,
    customer_writes,
    outbound_waiting,
    table_items,
)
from tests.signing import shop_document
from tests.unit.test_woocommerce_adapter import InProcess

KEY = "ck_" + "k" * 40
SECRET = "cs_" + "s" * 40
WEBHOOK_SECRET = "woocommerce-webhook-secret"
STAND_IN_URL = "http://woocommerce.stand-in"
WOOCOMMERCE = {
    "woocommerce": {
        "url": "https://loja-da-ana.example",
        "consumer_key": KEY,
        "consumer_secret": SECRET,
        "webhook_secret": WEBHOOK_SECRET,
    }
}


class CountedOrders:
    """The shop's platform as bootstrap composes it, each lookup counted."""

    def __init__(self, platforms: PlatformOrders) -> None:
        self._platforms = platforms
        self.asked = 0

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary:
        self.asked += 1
        return self._platforms.customer_orders(shop, secrets, customer, now)


@pytest.fixture
def directory() -> CountedOrders:
    stand_in = WooCommerceStandIn(Outbox())
    stand_in.provision(KEY, SECRET, demo_customers())
    woocommerce = WooCommerceOrders(STAND_IN_URL)
    woocommerce._session.mount(STAND_IN_URL, InProcess(stand_in))
    return CountedOrders(PlatformOrders(ShopifyOrders("http://shopify.invalid"), woocommerce))


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    slack_oauth: Exchange | None,
    directory: CountedOrders,
) -> Iterator[bootstrap.Container]:
    built = bootstrap.Container(
        settings, twilio=twilio, slack=slack.workspace, clock=clock, orders=directory
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def shop(put_shop: Callable[..., Any]) -> str:
    response = put_shop("ana", shop_document(commerce=WOOCOMMERCE))
    assert response.status_code == 201, response.body
    return "ana"


def woocommerce_webhook(
    client: Client,
    payload: dict[str, Any],
    delivery_id: str,
    secret: str = WEBHOOK_SECRET,
    topic: str = "order.updated",
) -> Any:
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Source": "https://loja-da-ana.example/",
    }
    return client.http.post("/webhooks/woocommerce/ana", headers=headers, body=body)


ORDER_UPDATED = {"id": 2042, "number": "2042", "customer_id": 31, "billing": {"phone": CUSTOMER}}


def test_a_woocommerce_shops_customer_gets_their_orders_on_the_card(
    client, shop, run_workers, slack: FakeSlack
):
    customer_writes(client, 1)
    run_workers()

    card = card_of(slack)
    assert "#2042" in card
    assert "#2041" in card
    assert "#2043" not in card, "another customer's order"
    assert card.index("#2042") < card.index("#2041"), "latest first"
    assert "Refresh orders" in card


def test_a_forged_webhook_writes_nothing(client, shop, run_workers, directory):
    customer_writes(client, 1)
    run_workers()
    items, waiting, asked = table_items(), outbound_waiting(), directory.asked

    response = woocommerce_webhook(client, ORDER_UPDATED, "d-1", secret="not-the-secret")

    assert response.status_code == 403
    assert table_items() == items
    assert outbound_waiting() == waiting
    run_workers()
    assert directory.asked == asked


def test_an_order_update_refreshes_the_open_conversation_once_per_delivery(
    client, shop, run_workers, directory
):
    customer_writes(client, 1)
    run_workers()
    assert directory.asked == 1

    assert woocommerce_webhook(client, ORDER_UPDATED, "d-7").status_code == 200
    run_workers()
    assert directory.asked == 2

    # The store delivering the same webhook again is acknowledged and not acted on
    assert woocommerce_webhook(client, ORDER_UPDATED, "d-7").status_code == 200
    run_workers()
    assert directory.asked == 2
    assert stored_item("SHOP#ana#WEBHOOK#woocommerce:d-7", "RECEIVED") is not None


def test_an_order_of_someone_without_a_conversation_is_acknowledged_and_ignored(
    client, shop, directory
):
    payload = {"id": 2043, "billing": {"email": "bruno@example.com", "phone": "+5521998877665"}}

    assert woocommerce_webhook(client, payload, "d-8").status_code == 200

    assert outbound_waiting() == 0
    assert directory.asked == 0


def test_the_stores_unsigned_ping_is_acknowledged_and_writes_nothing(client, shop):
    items = table_items()

    response = client.http.post(
        "/webhooks/woocommerce/ana",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"webhook_id=12",
    )

    assert response.status_code == 200
    assert table_items() == items


def test_the_woocommerce_secrets_are_masked_and_kept_out_of_the_table(client, shop):
    answer = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)

    shown = answer["commerce"]["woocommerce"]
    assert shown["consumer_key"] == shown["consumer_secret"] == shown["webhook_secret"]
    assert shown["webhook_secret"] == "********"
    assert answer["webhooks"]["woocommerce"] == f"{PUBLIC_URL}/webhooks/woocommerce/ana"
    stored = json.dumps(table_items())
    assert KEY not in stored
    assert SECRET not in stored
    assert WEBHOOK_SECRET not in stored


def test_a_shop_takes_one_commerce_platform(put_shop):
    shopify = {"domain": "loja-da-ana.myshopify.com", "access_token": "shpat_x"}
    response = put_shop("ana", shop_document(commerce={**WOOCOMMERCE, "shopify": shopify}))

    assert response.status_code == 400
    assert "one platform" in response.body.decode()
