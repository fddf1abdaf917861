"""The Shopify adapter over HTTP against the local stack's Shopify stand-in, as `make run`
wires them: the seeded demo store answers its token only, and throttles when asked."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from chalicelib.commerce.shopify import ShopifyOrders
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, customer_keys
from chalicelib.domain.shop import Shop, ShopSecrets
from local_stack.constants import DEMO_SHOP, DEMO_SHOPIFY_TOKEN
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DEMO = Shop.model_validate(
    {
        "shop_id": "demo-shop",
        "name": DEMO_SHOP["name"],
        "commerce": {"shopify": {"domain": "loja-demo.myshopify.com"}},
    }
)
ANA = customer_keys(["whatsapp:+5511987654321"], None)


@pytest.fixture
def stand_in() -> Iterator[ShopifyStandIn]:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(DEMO_SHOPIFY_TOKEN, demo_customers())
    shopify.start()
    yield shopify
    shopify.stop()


def test_the_demo_store_answers_its_token_with_the_customers_orders(
    stand_in: ShopifyStandIn,
) -> None:
    secrets = ShopSecrets(shopify_access_token=SecretStr(DEMO_SHOPIFY_TOKEN))

    found = ShopifyOrders(stand_in.base_url).customer_orders(DEMO, secrets, ANA, NOW)

    assert [o.number for o in found.orders] == ["1042", "1041"]


def test_another_token_is_refused_and_a_throttle_is_retryable(stand_in: ShopifyStandIn) -> None:
    orders = ShopifyOrders(stand_in.base_url)
    wrong = ShopSecrets(shopify_access_token=SecretStr("shpat_wrong"))
    with pytest.raises(CommerceRefused, match="401"):
        orders.customer_orders(DEMO, wrong, ANA, NOW)

    stand_in.throttle()
    right = ShopSecrets(shopify_access_token=SecretStr(DEMO_SHOPIFY_TOKEN))
    with pytest.raises(Retryable):
        orders.customer_orders(DEMO, right, ANA, NOW)
