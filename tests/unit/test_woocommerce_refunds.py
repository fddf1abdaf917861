"""Refunds through the WooCommerce adapter against the WooCommerce stand-in, in process: an
order's lines with what is left of each, what chosen lines come to, one refund per
submission key (a retry finds the first), and WooCommerce's refusals explained."""

from decimal import Decimal

import pytest

from chalicelib.commerce.woocommerce_refunds import WooCommerceRefunds
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.refunds import RefundLine, RefundPlan, RefundQuote
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.woocommerce import WooCommerceStandIn, demo_customers
from tests.unit.test_woocommerce_adapter import (
    KEY,
    SECRET,
    SECRETS,
    SHOP,
    STAND_IN_URL,
    InProcess,
)

pytestmark = pytest.mark.unit
SHIRTS = "20421"


def brl(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="BRL")


@pytest.fixture
def transport() -> InProcess:
    stand_in = WooCommerceStandIn(Outbox())
    stand_in.provision(KEY, SECRET, demo_customers())
    return InProcess(stand_in)


@pytest.fixture
def desk(transport: InProcess) -> WooCommerceRefunds:
    adapter = WooCommerceRefunds(STAND_IN_URL)
    adapter._session.mount(STAND_IN_URL, transport)
    return adapter


def shirt_plan(key: str, quantity: int = 1) -> RefundPlan:
    return RefundPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number="2042",
        order_id="2042",
        lines=(RefundLine(line_item_id=SHIRTS, title="Camiseta básica", quantity=quantity),),
        amount=brl(f"{Decimal('64.95') * quantity}"),
        reason="chegou rasgada",
        notify_customer=True,
        requested_by="U0ALICE",
        submission_key=key,
    )


def test_an_order_is_read_with_what_is_left_to_refund(desk: WooCommerceRefunds) -> None:
    order = desk.refundable_order(SHOP, SECRETS, "2042")
    assert order is not None
    assert (order.total, order.refunded) == (brl("259.90"), brl("0"))
    assert [(ln.title, ln.refundable_quantity, ln.unit_price) for ln in order.lines] == [
        ("Camiseta básica", 2, brl("64.95")),
        ("Jaqueta jeans", 1, brl("130.00")),
    ]
    assert desk.refundable_order(SHOP, SECRETS, "9999") is None


def test_chosen_lines_come_to_their_share_and_nothing_for_more_than_is_left(
    desk: WooCommerceRefunds,
) -> None:
    assert desk.quote(SHOP, SECRETS, "2042", [(SHIRTS, 1)]).amount == brl("64.95")
    assert desk.quote(SHOP, SECRETS, "2042", [(SHIRTS, 2), ("20422", 1)]).amount == brl("259.90")
    assert desk.quote(SHOP, SECRETS, "2042", [(SHIRTS, 3)]).amount == brl("0")
    assert desk.quote(SHOP, SECRETS, "2042", [("1", 1)]).amount == brl("0")


def test_a_refund_is_made_once_per_key_and_what_it_took_is_gone(
    desk: WooCommerceRefunds, transport: InProcess
) -> None:
    plan = shirt_plan("acme:refund:V1")
    quote = RefundQuote(amount=brl("64.95"))

    done = desk.refund(SHOP, SECRETS, plan, quote)
    again = desk.refund(SHOP, SECRETS, plan, quote)

    assert again == done
    assert (done.amount, done.order_refunded, done.financial_status) == (
        brl("64.95"),
        brl("64.95"),
        "processing",
    )
    [made] = transport.stand_in.refunds(KEY, 2042)
    assert (made.amount, made.reason, made.api_refund, made.lines) == (
        "64.95",
        "chegou rasgada",
        True,
        [(20421, 1, "64.95")],
    )
    order = desk.refundable_order(SHOP, SECRETS, "2042")
    assert order is not None
    assert order.lines[0].refundable_quantity == 1


def test_the_whole_order_refunded_turns_it_refunded(desk: WooCommerceRefunds) -> None:
    plan = shirt_plan("acme:refund:V1", 2).model_copy(
        update={
            "lines": (
                RefundLine(line_item_id=SHIRTS, title="Camiseta", quantity=2),
                RefundLine(line_item_id="20422", title="Jaqueta", quantity=1),
            ),
            "amount": brl("259.90"),
        }
    )
    done = desk.refund(SHOP, SECRETS, plan, RefundQuote(amount=brl("259.90")))
    assert done.financial_status == "refunded"


def test_woocommerce_refusals_are_explained_never_retried(
    desk: WooCommerceRefunds, transport: InProcess
) -> None:
    transport.stand_in.decline_next_refund(KEY, 2042, "Stripe: the charge was disputed")
    with pytest.raises(CommerceRefused, match="the charge was disputed"):
        desk.refund(SHOP, SECRETS, shirt_plan("acme:refund:V1"), RefundQuote(amount=brl("64.95")))
    with pytest.raises(CommerceRefused, match="Invalid refund amount"):
        desk.refund(SHOP, SECRETS, shirt_plan("acme:refund:V2"), RefundQuote(amount=brl("999")))
    with pytest.raises(CommerceRefused, match="greater than zero"):
        desk.refund(SHOP, SECRETS, shirt_plan("acme:refund:V3"), RefundQuote(amount=brl("0")))
    assert transport.stand_in.refunds(KEY, 2042) == []


def test_an_outage_is_retried(desk: WooCommerceRefunds, transport: InProcess) -> None:
    import requests

    transport.failure = requests.ConnectionError("down")
    with pytest.raises(Retryable):
        desk.refundable_order(SHOP, SECRETS, "2042")
