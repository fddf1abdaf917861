"""Refunds through the Shopify adapter against the Shopify stand-in, in process: the order's
refundable lines, the suggested refund, one refund per idempotency key, the order's state
after it, and Shopify's refusals explained in plain words."""

from decimal import Decimal

import pytest
import requests

from chalicelib.commerce.shopify_refunds import REFUND_MUTATION, ShopifyRefunds
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.refunds import RefundLine, RefundPlan
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.unit.test_shopify_adapter import SECRETS, SHOP, STAND_IN_URL, TOKEN, InProcess

pytestmark = pytest.mark.unit
SHIRT = "gid://shopify/LineItem/10421"


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(TOKEN, demo_customers())
    return shopify


@pytest.fixture
def desk(stand_in: ShopifyStandIn) -> ShopifyRefunds:
    adapter = ShopifyRefunds(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, InProcess(stand_in))
    return adapter


def shirt_plan(desk: ShopifyRefunds, key: str, quantity: int = 1) -> RefundPlan:
    order = desk.refundable_order(SHOP, SECRETS, "1042")
    assert order is not None
    return RefundPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number="1042",
        order_id=order.order_id,
        lines=(RefundLine(line_item_id=SHIRT, title="Camiseta básica", quantity=quantity),),
        amount=Money(amount=Decimal("64.95") * quantity, currency="BRL"),
        reason="arrived torn",
        notify_customer=True,
        requested_by="U0ALICE",
        submission_key=key,
    )


def test_an_order_is_read_with_what_is_left_to_refund(desk: ShopifyRefunds) -> None:
    order = desk.refundable_order(SHOP, SECRETS, "1042")
    assert order is not None
    assert order.refunded == Money(amount=Decimal(0), currency="BRL")
    assert [(line.title, line.refundable_quantity) for line in order.lines] == [
        ("Camiseta básica", 2),
        ("Jaqueta jeans", 1),
    ]
    assert desk.refundable_order(SHOP, SECRETS, "9999") is None


def test_one_line_is_refunded_once_per_key(desk: ShopifyRefunds, stand_in: ShopifyStandIn) -> None:
    plan = shirt_plan(desk, "acme:V1")
    quote = desk.quote(SHOP, SECRETS, plan.order_id, [(SHIRT, 1)])
    assert quote.amount == Money(amount=Decimal("64.95"), currency="BRL")

    done = desk.refund(SHOP, SECRETS, plan, quote)
    again = desk.refund(SHOP, SECRETS, plan, quote)

    assert done == again
    assert done.amount == Money(amount=Decimal("64.95"), currency="BRL")
    assert done.financial_status == "partially_refunded"
    refunds = stand_in.refunds(TOKEN, "#1042")
    assert [(r.amount, r.lines, r.note, r.notify) for r in refunds] == [
        ("64.95", [(10421, 1)], "arrived torn", True)
    ]
    order = desk.refundable_order(SHOP, SECRETS, "1042")
    assert order is not None
    assert order.lines[0].refundable_quantity == 1


def test_more_than_is_left_is_refused_in_plain_words(desk: ShopifyRefunds) -> None:
    plan = shirt_plan(desk, "acme:V1", quantity=2)
    quote = desk.quote(SHOP, SECRETS, plan.order_id, [(SHIRT, 2)])
    desk.refund(SHOP, SECRETS, plan, quote)

    with pytest.raises(CommerceRefused) as refused:
        desk.refund(SHOP, SECRETS, plan.model_copy(update={"submission_key": "acme:V2"}), quote)

    assert refused.value.reason.startswith("some of those items were already refunded")


def test_nothing_is_suggested_for_lines_already_refunded(desk: ShopifyRefunds) -> None:
    plan = shirt_plan(desk, "acme:V1", quantity=2)
    desk.refund(SHOP, SECRETS, plan, desk.quote(SHOP, SECRETS, plan.order_id, [(SHIRT, 2)]))

    quote = desk.quote(SHOP, SECRETS, plan.order_id, [(SHIRT, 1)])

    assert quote.amount.amount == 0
    assert quote.transactions == ()


def test_the_stand_in_refuses_a_refund_without_an_idempotency_key(
    stand_in: ShopifyStandIn,
) -> None:
    session = requests.Session()
    session.mount(STAND_IN_URL, InProcess(stand_in))
    unkeyed = REFUND_MUTATION.replace(" @idempotent(key: $key)", "")

    answer = session.post(
        f"{STAND_IN_URL}/admin/api/2026-07/graphql.json",
        json={"query": unkeyed, "variables": {"input": {"orderId": "gid://shopify/Order/1042"}}},
        headers={"X-Shopify-Access-Token": TOKEN},
    ).json()

    assert "@idempotent" in answer["errors"][0]["message"]
    assert stand_in.refunds(TOKEN, "#1042") == []
