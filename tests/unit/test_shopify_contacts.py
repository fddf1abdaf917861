"""An order's customer asked of Shopify by the order's id, against the Shopify stand-in in
process: its name, its customer's addresses (the phone with its WhatsApp twins), the
shipment's tracking link; an order the store lacks is None, a shop without Shopify asks
nothing, an outage is retried."""

import pytest
import requests

from chalicelib.commerce.shopify_contacts import ShopifyOrderContacts
from chalicelib.domain.errors import Retryable
from chalicelib.domain.order_updates import OrderContact
from chalicelib.domain.shop import ShopSecrets
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.unit.test_shopify_adapter import SECRETS, SHOP, STAND_IN_URL, TOKEN, InProcess
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit


@pytest.fixture
def transport() -> InProcess:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(TOKEN, demo_customers())
    return InProcess(shopify)


@pytest.fixture
def contacts(transport: InProcess) -> ShopifyOrderContacts:
    adapter = ShopifyOrderContacts(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, transport)
    return adapter


def test_the_orders_customer_and_tracking_link_are_told(contacts: ShopifyOrderContacts) -> None:
    contact = contacts.order_contact(SHOP, SECRETS, "1042")

    assert contact == OrderContact(
        "#1042",
        (
            "ana@example.com",
            "+5511987654321",
            "whatsapp:+5511987654321",
            "wa:+5511987654321",
        ),
        {"10420": "https://rastreamento.correios.com.br/app/index.php?objeto=BR987654321"},
    )


def test_an_order_the_store_lacks_or_a_shop_without_shopify_gives_none(
    contacts: ShopifyOrderContacts,
) -> None:
    assert contacts.order_contact(SHOP, SECRETS, "9999") is None
    assert contacts.order_contact(acme(), SECRETS, "1042") is None
    assert contacts.order_contact(SHOP, ShopSecrets(), "1042") is None
    assert contacts.order_contact(SHOP, SECRETS, "gid://shopify/Order/1042") is None


def test_shopify_down_is_retried(contacts: ShopifyOrderContacts, transport: InProcess) -> None:
    transport.failure = requests.ConnectionError("down")

    with pytest.raises(Retryable):
        contacts.order_contact(SHOP, SECRETS, "1042")
