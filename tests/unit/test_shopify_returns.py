"""Returns through the Shopify adapter against the Shopify stand-in, in process: the order's
returnable fulfilled lines, a return opened once, what was returned no longer returnable, and
Shopify's refusals explained in plain words."""

import pytest

from chalicelib.commerce.shopify_returns import ShopifyReturns
from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.returns import ReturnLine, ReturnPlan, ReturnReason
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.unit.test_shopify_adapter import SECRETS, SHOP, STAND_IN_URL, TOKEN, InProcess

pytestmark = pytest.mark.unit
SHIRT = "gid://shopify/FulfillmentLineItem/10421"


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(TOKEN, demo_customers())
    return shopify


@pytest.fixture
def desk(stand_in: ShopifyStandIn) -> ShopifyReturns:
    adapter = ShopifyReturns(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, InProcess(stand_in))
    return adapter


def plan(quantity: int, line: str = SHIRT, number: str = "1042") -> ReturnPlan:
    return ReturnPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number=number,
        order_id=f"gid://shopify/Order/{number}",
        lines=(ReturnLine(fulfillment_line_item_id=line, title="Camiseta", quantity=quantity),),
        reason=ReturnReason.DEFECTIVE,
        note="rasgou",
        requested_by="U0ALICE",
        submission_key="acme:return:V1",
    )


def test_a_fulfilled_order_offers_its_lines_and_an_unfulfilled_one_none(
    desk: ShopifyReturns,
) -> None:
    order = desk.returnable_order(SHOP, SECRETS, "1042")
    assert order is not None
    assert [(line.title, line.quantity) for line in order.lines] == [
        ("Camiseta básica", 2),
        ("Jaqueta jeans", 1),
    ]
    unfulfilled = desk.returnable_order(SHOP, SECRETS, "1043")
    assert unfulfilled is not None
    assert unfulfilled.lines == ()
    assert desk.returnable_order(SHOP, SECRETS, "9999") is None


def test_a_return_opens_and_what_it_took_is_no_longer_returnable(
    desk: ShopifyReturns, stand_in: ShopifyStandIn
) -> None:
    made = desk.create_return(SHOP, SECRETS, plan(1))

    assert (made.name, made.status) == ("#1042-R1", "open")
    [recorded] = stand_in.returns(TOKEN, "#1042")
    assert recorded.lines == [(10421, 1, "DEFECTIVE", "rasgou")]
    order = desk.returnable_order(SHOP, SECRETS, "1042")
    assert order is not None
    assert order.lines[0].quantity == 1


def test_shopify_refuses_more_than_is_returnable_and_an_unknown_line_in_plain_words(
    desk: ShopifyReturns, stand_in: ShopifyStandIn
) -> None:
    with pytest.raises(CommerceRefused, match="can no longer be returned in that number"):
        desk.create_return(SHOP, SECRETS, plan(3))
    with pytest.raises(CommerceRefused, match="Fulfillment line item does not exist"):
        desk.create_return(SHOP, SECRETS, plan(1, "gid://shopify/FulfillmentLineItem/1"))
    with pytest.raises(CommerceRefused, match="Fulfillment line item does not exist"):
        desk.create_return(
            SHOP, SECRETS, plan(1, "gid://shopify/FulfillmentLineItem/10431", "1043")
        )
    assert stand_in.returns(TOKEN, "#1042") == []
