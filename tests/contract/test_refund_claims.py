"""A refund submitted from Slack is filed once per shop and submission, and moves forward
only from the state expected: a repeated submission finds the first record as it is now, and
a second job cannot take a step another took."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import (
    RefundLine,
    RefundPlan,
    RefundQuote,
    RefundState,
    RefundTransaction,
)
from chalicelib.services.ports import RefundRecords
from tests.fakes import FakeRefundClaims

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EXPIRES = int(NOW.timestamp()) + 86400
AMOUNT = Money(amount=Decimal("64.95"), currency="BRL")


@pytest.fixture
def refunds(backend: str, request: pytest.FixtureRequest) -> RefundRecords:
    if backend == "fake":
        return FakeRefundClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.refund_claims


def plan(shop_id: str = "ana", key: str = "ana:refund:V1") -> RefundPlan:
    return RefundPlan(
        shop_id=shop_id,
        conversation_ref=f"{shop_id}:c1",
        order_number="1042",
        order_id="gid://shopify/Order/1042",
        lines=(RefundLine(line_item_id="gid://shopify/LineItem/1", title="Caneca", quantity=1),),
        amount=AMOUNT,
        reason="quebrou",
        notify_customer=False,
        requested_by="U0ALICE",
        submission_key=key,
    )


def test_a_submission_is_filed_once_and_found_as_it_is_now(refunds: RefundRecords) -> None:
    first = refunds.claim_refund(plan(), NOW, EXPIRES)
    assert first.state is RefundState.CLAIMED
    assert refunds.move_refund("ana", "ana:refund:V1", RefundState.CLAIMED, RefundState.DONE)

    again = refunds.claim_refund(plan(), NOW, EXPIRES)

    assert again.state is RefundState.DONE
    assert again.plan == plan()
    # Another shop's submission with the same key is its own.
    assert refunds.claim_refund(plan("bia", "ana:refund:V1"), NOW, EXPIRES).state is (
        RefundState.CLAIMED
    )


def test_a_step_is_taken_once_and_keeps_what_it_carries(refunds: RefundRecords) -> None:
    refunds.claim_refund(plan(), NOW, EXPIRES)
    quote = RefundQuote(
        amount=AMOUNT, transactions=(RefundTransaction(gateway="bogus", amount=AMOUNT),)
    )
    key = "ana:refund:V1"

    assert refunds.move_refund("ana", key, RefundState.CLAIMED, RefundState.AWAITING_APPROVAL)
    assert refunds.move_refund(
        "ana", key, RefundState.AWAITING_APPROVAL, RefundState.APPROVED, approved_by="U0BOB"
    )
    assert not refunds.move_refund(
        "ana", key, RefundState.AWAITING_APPROVAL, RefundState.APPROVED, approved_by="U0EVE"
    )
    assert refunds.move_refund("ana", key, RefundState.APPROVED, RefundState.EXECUTING, quote=quote)

    record = refunds.refund_record("ana", key)
    assert record is not None
    assert (record.state, record.approved_by, record.quote) == (
        RefundState.EXECUTING,
        "U0BOB",
        quote,
    )
    assert refunds.refund_record("ana", "ana:refund:V2") is None
    assert not refunds.move_refund("ana", "ana:refund:V2", RefundState.CLAIMED, RefundState.DONE)
