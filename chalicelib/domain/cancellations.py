"""Cancelling an order from Slack: what exactly a cancellation will do, when it needs a second
person, and whether the platform's state still allows it. Pure rules; the service carries out
what they decide.

A cancellation is planned in a modal (restock, refund to the original payment, tell the
customer, Shopify's reason), submitted once under a key of that submission, and made only if
the order is still open and unfulfilled and what it would give back is still what was shown.
One that refunds more than the shop's limit waits in the thread for another allowed person,
as refunds do (`refunds.above_limit`, `refunds.approval_verdict`); it moves through the same
states as a refund (`refunds.RefundState`).
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import REASON_MAX, RefundState, above_limit

if TYPE_CHECKING:
    from chalicelib.domain.shop import CommerceActionsConfig


class CancelReason(StrEnum):
    """Shopify's `OrderCancelReason` values."""

    CUSTOMER = "CUSTOMER"
    DECLINED = "DECLINED"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    STAFF = "STAFF"
    OTHER = "OTHER"

    @property
    def words(self) -> str:
        return _REASON_WORDS[self]


_REASON_WORDS = {
    CancelReason.CUSTOMER: "the customer changed or cancelled the order",
    CancelReason.DECLINED: "the payment was declined",
    CancelReason.FRAUD: "the order is fraudulent",
    CancelReason.INVENTORY: "items are out of stock",
    CancelReason.STAFF: "a staff error",
    CancelReason.OTHER: "another reason",
}

# Fulfilment states in which nothing has left the warehouse yet (lower case, as `Order` keeps
# them).
CANCELLABLE_FULFILMENT = frozenset({"unfulfilled", "scheduled", "on_hold"})


class CancellableOrder(BaseModel):
    """An order as the platform tells it right before a cancellation."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    order_id: str = Field(min_length=1, max_length=200)
    number: str = Field(pattern=r"^\d{1,20}$")
    total: Money
    # What a refund to the original payment would give back now (paid less refunded).
    refundable: Money
    cancelled: bool
    fulfilment_status: str

    @property
    def name(self) -> str:
        return f"#{self.number}"


class CancelPlan(BaseModel):
    """Exactly what a submitted cancellation will do, as the modal showed it. `refund_amount`
    is what goes back to the original payment (zero without a refund). `submission_key` names
    the modal submission: one plan, at most one cancellation."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    conversation_ref: str
    order_number: str = Field(pattern=r"^\d{1,20}$")
    order_id: str = Field(min_length=1, max_length=200)
    restock: bool
    refund: bool
    refund_amount: Money
    notify_customer: bool
    reason: CancelReason
    note: str = Field(default="", max_length=REASON_MAX)
    requested_by: str
    submission_key: str = Field(min_length=1, max_length=200)

    def described(self) -> str:
        """What will happen, in a few words (escaped by whoever shows it)."""
        refund = (
            f"{self.refund_amount.shown()} back to the original payment"
            if self.refund
            else "no refund"
        )
        restock = "items restocked" if self.restock else "items not restocked"
        return f"cancel order #{self.order_number}: {refund}; {restock}"


def cancel_needs_approval(plan: CancelPlan, config: "CommerceActionsConfig") -> bool:
    """Whether a cancellation waits for a second person: only one that refunds above the
    shop's limit."""
    return plan.refund and above_limit(plan.refund_amount, config)


class CancelCheck(StrEnum):
    """The platform's state right before acting, against the plan."""

    GO = "go"
    ALREADY_CANCELLED = "already_cancelled"
    # Something was shipped meanwhile: a return, not a cancellation.
    FULFILLED = "fulfilled"
    # It would now give back another amount than the one confirmed (refunded meanwhile).
    CHANGED = "changed"


def cancel_check(plan: CancelPlan, order: CancellableOrder) -> CancelCheck:
    """Whether the cancellation still does what the agent confirmed."""
    if order.cancelled:
        return CancelCheck.ALREADY_CANCELLED
    if order.fulfilment_status not in CANCELLABLE_FULFILMENT:
        return CancelCheck.FULFILLED
    if plan.refund and order.refundable != plan.refund_amount:
        return CancelCheck.CHANGED
    return CancelCheck.GO


def may_cancel(order: CancellableOrder) -> bool:
    """Whether the modal offers a cancellation at all."""
    return not order.cancelled and order.fulfilment_status in CANCELLABLE_FULFILMENT


class CancelAccepted(BaseModel):
    """The platform's answer to a cancellation asked: Shopify cancels asynchronously, so its
    job, whether it had run when asked, and the order's state read right after."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    # None when a retry finds the order cancelled by the request it repeats.
    job_id: str | None
    job_done: bool
    order_cancelled: bool


class CancelRecord(BaseModel):
    """A submitted cancellation as Threadline keeps it, by shop and submission key."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    plan: CancelPlan
    state: RefundState = RefundState.CLAIMED
    approved_by: str | None = None
