"""The rules of a cancellation from Slack: it goes only while the order is open and
unfulfilled and would give back what was shown; it waits for a second person only when it
refunds above the shop's limit; only another allowed person approves it."""

from decimal import Decimal

import pytest

from chalicelib.domain.cancellations import (
    CancelCheck,
    CancellableOrder,
    CancelPlan,
    CancelReason,
    cancel_check,
    cancel_needs_approval,
    may_cancel,
)
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import ApprovalVerdict, approval_verdict
from chalicelib.domain.shop import CommerceActionsConfig

pytestmark = pytest.mark.unit
CONFIG = CommerceActionsConfig(allowed=["U0ALICE"], refund_limit=Decimal(200))


def brl(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="BRL")


def order(**changes: object) -> CancellableOrder:
    fields: dict[str, object] = {
        "order_id": "gid://shopify/Order/1044",
        "number": "1044",
        "total": brl("250.00"),
        "refundable": brl("250.00"),
        "cancelled": False,
        "fulfilment_status": "unfulfilled",
    }
    return CancellableOrder.model_validate({**fields, **changes})


def plan(**changes: object) -> CancelPlan:
    fields: dict[str, object] = {
        "shop_id": "acme",
        "conversation_ref": "acme:c1",
        "order_number": "1044",
        "order_id": "gid://shopify/Order/1044",
        "restock": True,
        "refund": True,
        "refund_amount": brl("250.00"),
        "notify_customer": False,
        "reason": CancelReason.CUSTOMER,
        "requested_by": "U0ALICE",
        "submission_key": "acme:cancel:V1",
    }
    return CancelPlan.model_validate({**fields, **changes})


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (order(), CancelCheck.GO),
        (order(cancelled=True), CancelCheck.ALREADY_CANCELLED),
        (order(fulfilment_status="partially_fulfilled"), CancelCheck.FULFILLED),
        (order(fulfilment_status="fulfilled"), CancelCheck.FULFILLED),
        (order(refundable=brl("200.00")), CancelCheck.CHANGED),
    ],
)
def test_the_platforms_state_decides_whether_it_goes(
    now: CancellableOrder, expected: CancelCheck
) -> None:
    assert cancel_check(plan(), now) is expected


def test_without_a_refund_what_was_refunded_meanwhile_does_not_matter() -> None:
    without = plan(refund=False, refund_amount=brl("0"))
    assert cancel_check(without, order(refundable=brl("200.00"))) is CancelCheck.GO


def test_only_an_open_unfulfilled_order_may_be_cancelled() -> None:
    assert may_cancel(order())
    assert may_cancel(order(fulfilment_status="on_hold"))
    assert not may_cancel(order(cancelled=True))
    assert not may_cancel(order(fulfilment_status="fulfilled"))


def test_a_second_person_is_needed_only_for_a_refund_above_the_limit() -> None:
    assert cancel_needs_approval(plan(), CONFIG)
    assert not cancel_needs_approval(plan(refund_amount=brl("200.00")), CONFIG)
    assert not cancel_needs_approval(plan(refund=False), CONFIG)


def test_only_another_allowed_person_approves() -> None:
    held = plan()
    assert approval_verdict(held, "U0ALICE", True) is ApprovalVerdict.SAME_PERSON
    assert approval_verdict(held, "U0MALLORY", False) is ApprovalVerdict.NOT_ALLOWED
    assert approval_verdict(held, "U0BOB", True) is ApprovalVerdict.APPROVED


def test_what_it_does_in_a_few_words() -> None:
    assert plan().described() == (
        "cancel order #1044: 250.00 BRL back to the original payment; items restocked"
    )
    assert plan(refund=False, restock=False).described() == (
        "cancel order #1044: no refund; items not restocked"
    )
