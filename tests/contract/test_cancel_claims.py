"""A cancellation submitted from Slack is filed once per shop and submission, and moves
forward only from the state expected: a repeated submission finds the first record as it is
now, and a second job cannot take a step another took."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.domain.cancellations import CancelPlan, CancelReason
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import RefundState
from chalicelib.services.ports import CancelRecords
from tests.fakes import FakeCancelClaims

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EXPIRES = int(NOW.timestamp()) + 86400


@pytest.fixture
def cancels(backend: str, request: pytest.FixtureRequest) -> CancelRecords:
    if backend == "fake":
        return FakeCancelClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.cancel_claims


def plan(shop_id: str = "ana", key: str = "ana:cancel:V1") -> CancelPlan:
    return CancelPlan(
        shop_id=shop_id,
        conversation_ref=f"{shop_id}:c1",
        order_number="1044",
        order_id="gid://shopify/Order/1044",
        restock=True,
        refund=True,
        refund_amount=Money(amount=Decimal("89.90"), currency="BRL"),
        notify_customer=True,
        reason=CancelReason.CUSTOMER,
        note="trocou",
        requested_by="U0ALICE",
        submission_key=key,
    )


def test_a_submission_is_filed_once_and_found_as_it_is_now(cancels: CancelRecords) -> None:
    assert cancels.claim_cancel(plan(), NOW, EXPIRES).state is RefundState.CLAIMED
    assert cancels.move_cancel("ana", "ana:cancel:V1", RefundState.CLAIMED, RefundState.DONE)

    again = cancels.claim_cancel(plan(), NOW, EXPIRES)

    assert (again.state, again.plan) == (RefundState.DONE, plan())
    # Another shop's submission with the same key is its own.
    assert cancels.claim_cancel(plan("bia", "ana:cancel:V1"), NOW, EXPIRES).state is (
        RefundState.CLAIMED
    )


def test_a_step_is_taken_once_and_keeps_its_approver(cancels: CancelRecords) -> None:
    cancels.claim_cancel(plan(), NOW, EXPIRES)
    key = "ana:cancel:V1"

    assert cancels.move_cancel("ana", key, RefundState.CLAIMED, RefundState.AWAITING_APPROVAL)
    assert cancels.move_cancel(
        "ana", key, RefundState.AWAITING_APPROVAL, RefundState.APPROVED, approved_by="U0BOB"
    )
    assert not cancels.move_cancel(
        "ana", key, RefundState.AWAITING_APPROVAL, RefundState.APPROVED, approved_by="U0EVE"
    )

    record = cancels.cancel_record("ana", key)
    assert record is not None
    assert (record.state, record.approved_by) == (RefundState.APPROVED, "U0BOB")
    assert cancels.cancel_record("ana", "ana:cancel:V2") is None
    assert not cancels.move_cancel("ana", "ana:cancel:V2", RefundState.CLAIMED, RefundState.DONE)
