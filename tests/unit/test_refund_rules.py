"""Refunds' rules: who may act (directly or through a user group), when a refund waits for a
second person and who may approve it, the platform's state checked against what was shown,
and the shop JSON's `commerce_actions`."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import (
    ApprovalVerdict,
    RefundCheck,
    RefundLine,
    RefundPlan,
    RefundStep,
    approval_verdict,
    may_act,
    refund_check,
    refund_step,
    user_groups,
)
from chalicelib.domain.shop import CommerceActionsConfig, ShopDocument, ShopSecrets, masked_document

pytestmark = pytest.mark.unit
CONFIG = CommerceActionsConfig(allowed=["S0SUPPORTLEADS", "U0ALICE"], refund_limit=Decimal(200))


def plan(amount: str, requested_by: str = "U0ALICE") -> RefundPlan:
    return RefundPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number="1042",
        order_id="gid://shopify/Order/1042",
        lines=(RefundLine(line_item_id="gid://shopify/LineItem/1", title="Mug", quantity=1),),
        amount=Money(amount=Decimal(amount), currency="BRL"),
        reason="damaged",
        notify_customer=True,
        requested_by=requested_by,
        submission_key="acme:V1",
    )


def test_a_named_user_may_act_and_a_stranger_may_not() -> None:
    assert may_act(CONFIG, "U0ALICE", {})
    assert not may_act(CONFIG, "U0MALLORY", {"S0SUPPORTLEADS": ["U0BOB"]})


def test_a_member_of_an_allowed_group_may_act() -> None:
    assert user_groups(CONFIG) == ("S0SUPPORTLEADS",)
    assert may_act(CONFIG, "U0BOB", {"S0SUPPORTLEADS": ["U0BOB"]})


def test_a_member_of_a_group_not_allowed_may_not_act() -> None:
    assert not may_act(CONFIG, "U0BOB", {"S0OTHERS": ["U0BOB"]})


def test_without_commerce_actions_nobody_may_act() -> None:
    assert not may_act(None, "U0ALICE", {})
    assert user_groups(None) == ()


def test_a_refund_up_to_the_limit_goes_at_once_and_above_it_waits() -> None:
    assert refund_step(plan("200.00"), CONFIG) is RefundStep.EXECUTE
    assert refund_step(plan("200.01"), CONFIG) is RefundStep.AWAIT_APPROVAL


def test_only_another_allowed_person_approves() -> None:
    waiting = plan("259.90", requested_by="U0ALICE")
    assert approval_verdict(waiting, "U0ALICE", True) is ApprovalVerdict.SAME_PERSON
    assert approval_verdict(waiting, "U0MALLORY", False) is ApprovalVerdict.NOT_ALLOWED
    assert approval_verdict(waiting, "U0BOB", True) is ApprovalVerdict.APPROVED


def test_the_platform_state_is_checked_against_the_amount_shown() -> None:
    shown = plan("129.90")
    assert refund_check(shown, Money(amount=Decimal("129.9"), currency="BRL")) is RefundCheck.GO
    assert (
        refund_check(shown, Money(amount=Decimal("0.00"), currency="BRL"))
        is RefundCheck.NOTHING_LEFT
    )
    assert (
        refund_check(shown, Money(amount=Decimal("50.00"), currency="BRL")) is RefundCheck.CHANGED
    )
    assert (
        refund_check(shown, Money(amount=Decimal("129.90"), currency="EUR")) is RefundCheck.CHANGED
    )


def test_a_plan_describes_lines_or_the_whole_order() -> None:
    assert plan("1").described() == "#1042: 1 × Mug"
    assert plan("1").model_copy(update={"whole_order": True}).described() == "the whole order #1042"


def test_shop_json_takes_commerce_actions_and_shows_them_back() -> None:
    document = ShopDocument.model_validate(
        {
            "name": "Acme",
            "commerce_actions": {"allowed": ["S0SUPPORTLEADS", "U0ALICE"], "refund_limit": 200},
        }
    )
    shop, _ = document.split("acme")
    assert shop.commerce_actions == CONFIG
    shown = masked_document(shop, ShopSecrets(), "https://threadline.example")
    assert shown["commerce_actions"] == {
        "allowed": ["S0SUPPORTLEADS", "U0ALICE"],
        "refund_limit": 200.0,
    }


@pytest.mark.parametrize(
    "actions",
    [
        {"allowed": ["alice"]},
        {"allowed": ["C0CHANNEL"]},
        {"allowed": [], "refund_limit": -1},
        {"allowed": [], "refund_limit": "0.001"},
    ],
)
def test_shop_json_refuses_what_is_not_a_slack_user_or_group_or_a_limit(
    actions: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        ShopDocument.model_validate({"name": "Acme", "commerce_actions": actions})
