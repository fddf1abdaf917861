"""Order cancellations through the Shopify adapter against the Shopify stand-in, in process:
the order's state read, `orderCancel`'s job taken as accepted and the order read again, the
stand-in's strictness (required arguments, Shopify's reasons), and Shopify's refusals
explained in plain words."""

from decimal import Decimal
from typing import Any

import pytest
import requests

from chalicelib.commerce.shopify_cancellations import CANCEL_MUTATION, ShopifyCancellations
from chalicelib.domain.cancellations import CancelPlan, CancelReason
from chalicelib.domain.orders import CommerceRefused, Money
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.unit.test_shopify_adapter import SECRETS, SHOP, STAND_IN_URL, TOKEN, InProcess

pytestmark = pytest.mark.unit


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(TOKEN, demo_customers())
    return shopify


@pytest.fixture
def desk(stand_in: ShopifyStandIn) -> ShopifyCancellations:
    adapter = ShopifyCancellations(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, InProcess(stand_in))
    return adapter


def plan(number: str, refund: bool = True, amount: str = "59.00") -> CancelPlan:
    return CancelPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number=number,
        order_id=f"gid://shopify/Order/{number}",
        restock=True,
        refund=refund,
        refund_amount=Money(amount=Decimal(amount if refund else "0"), currency="BRL"),
        notify_customer=False,
        reason=CancelReason.INVENTORY,
        requested_by="U0ALICE",
        submission_key="acme:cancel:V1",
    )


def test_an_order_is_read_as_it_is_now(desk: ShopifyCancellations) -> None:
    open_order = desk.cancellable_order(SHOP, SECRETS, "1043")
    assert open_order is not None
    assert (open_order.cancelled, open_order.fulfilment_status) == (False, "unfulfilled")
    assert open_order.refundable == Money(amount=Decimal("59.00"), currency="BRL")
    shipped = desk.cancellable_order(SHOP, SECRETS, "1042")
    assert shipped is not None
    assert shipped.fulfilment_status == "fulfilled"
    assert desk.cancellable_order(SHOP, SECRETS, "9999") is None


def test_a_cancellation_is_accepted_and_the_order_reads_cancelled(
    desk: ShopifyCancellations, stand_in: ShopifyStandIn
) -> None:
    accepted = desk.cancel(SHOP, SECRETS, plan("1043"))

    assert accepted.job_id == "gid://shopify/Job/cancel-1043"
    assert accepted.order_cancelled
    made = stand_in.cancellations(TOKEN)["#1043"]
    assert (made.reason, made.restock, made.refund, made.notify) == ("INVENTORY", True, True, False)
    assert [r.amount for r in stand_in.refunds(TOKEN, "#1043")] == ["59.00"]
    after = desk.cancellable_order(SHOP, SECRETS, "1043")
    assert after is not None
    assert after.cancelled
    assert after.refundable.amount == 0


def test_shopify_refuses_a_second_cancellation_and_a_fulfilled_order_in_plain_words(
    desk: ShopifyCancellations, stand_in: ShopifyStandIn
) -> None:
    desk.cancel(SHOP, SECRETS, plan("1043", refund=False))
    with pytest.raises(CommerceRefused, match="already been cancelled"):
        desk.cancel(SHOP, SECRETS, plan("1043", refund=False))
    with pytest.raises(CommerceRefused, match="fulfilled"):
        desk.cancel(SHOP, SECRETS, plan("1042", refund=False))
    with pytest.raises(CommerceRefused, match="no longer has this order"):
        desk.cancel(SHOP, SECRETS, plan("9999", refund=False))
    assert list(stand_in.cancellations(TOKEN)) == ["#1043"]


@pytest.mark.parametrize(
    "variables",
    [
        {"orderId": "gid://shopify/Order/1043", "restock": True, "reason": "BORED"},
        {"orderId": "gid://shopify/Order/1043", "reason": "CUSTOMER", "refundMethod": {}},
        {"orderId": "gid://shopify/Order/1043", "restock": True, "reason": "CUSTOMER"},
    ],
)
def test_the_stand_in_refuses_what_shopify_would_not_parse(
    stand_in: ShopifyStandIn, variables: dict[str, Any]
) -> None:
    session = requests.Session()
    session.mount(STAND_IN_URL, InProcess(stand_in))
    answer = session.post(
        f"{STAND_IN_URL}/admin/api/2026-07/graphql.json",
        json={"query": CANCEL_MUTATION, "variables": variables},
        headers={"X-Shopify-Access-Token": TOKEN},
        timeout=5,
    ).json()
    assert answer["errors"][0]["extensions"]["code"] == "INVALID"
    assert stand_in.cancellations(TOKEN) == {}
