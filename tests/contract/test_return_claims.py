"""A return submitted from Slack is filed once per shop and submission, and moves forward
only from the state expected."""

from datetime import UTC, datetime

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.domain.refunds import RefundState
from chalicelib.domain.returns import ReturnLine, ReturnPlan, ReturnReason
from chalicelib.services.ports import ReturnRecords
from tests.fakes import FakeReturnClaims

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EXPIRES = int(NOW.timestamp()) + 86400


@pytest.fixture
def returns(backend: str, request: pytest.FixtureRequest) -> ReturnRecords:
    if backend == "fake":
        return FakeReturnClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.return_claims


def plan(shop_id: str = "ana", key: str = "ana:return:V1") -> ReturnPlan:
    return ReturnPlan(
        shop_id=shop_id,
        conversation_ref=f"{shop_id}:c1",
        order_number="1042",
        order_id="gid://shopify/Order/1042",
        lines=(ReturnLine(fulfillment_line_item_id="F1", title="Camiseta", quantity=1),),
        reason=ReturnReason.COLOR,
        requested_by="U0ALICE",
        submission_key=key,
    )


def test_a_submission_is_filed_once_and_moves_forward_once(returns: ReturnRecords) -> None:
    assert returns.claim_return(plan(), NOW, EXPIRES).state is RefundState.CLAIMED
    assert returns.move_return("ana", "ana:return:V1", RefundState.CLAIMED, RefundState.EXECUTING)
    assert not returns.move_return(
        "ana", "ana:return:V1", RefundState.CLAIMED, RefundState.EXECUTING
    )

    again = returns.claim_return(plan(), NOW, EXPIRES)

    assert (again.state, again.plan) == (RefundState.EXECUTING, plan())
    assert returns.claim_return(plan("bia", "ana:return:V1"), NOW, EXPIRES).state is (
        RefundState.CLAIMED
    )
    assert not returns.move_return("ana", "ana:return:V2", RefundState.CLAIMED, RefundState.DONE)
