"""Refunds from Slack: who may ask for one, what exactly it will do, and when it needs a second
person. Pure rules; the service carries out what they decide.

A refund is planned in a modal (whole order or chosen lines, the amount the platform
suggests for them, a reason, whether the customer is told), submitted once under a key of
that submission, and executed only if the platform still agrees with the amount shown: what
was refunded meanwhile is never refunded again. Above the shop's limit it waits in the
thread for another allowed person's approval.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.orders import Money

if TYPE_CHECKING:
    # The jobs carry a plan, and the shop's modules import the jobs: no import at run time.
    from chalicelib.domain.shop import CommerceActionsConfig

# Lines offered in the modal (a checkbox group takes at most 10 options).
LINES_OFFERED = 10
REASON_MAX = 200
# Slack user groups' ids start with S; users' with U (or W in Enterprise Grid).
_GROUP_PREFIX = "S"


def user_groups(config: "CommerceActionsConfig | None") -> tuple[str, ...]:
    """The user groups whose members may act (their members must be asked of Slack)."""
    if config is None:
        return ()
    return tuple(p for p in config.allowed if p.startswith(_GROUP_PREFIX))


def may_act(
    config: "CommerceActionsConfig | None",
    user_id: str,
    group_members: Mapping[str, Iterable[str]],
) -> bool:
    """Whether `user_id` may refund: named in `allowed`, or a member of a user group named
    there (`group_members`: each allowed group's members as Slack lists them now)."""
    if config is None:
        return False
    if user_id in config.allowed:
        return True
    return any(user_id in group_members.get(group, ()) for group in user_groups(config))


class RefundLine(BaseModel):
    """One order line to refund: the platform's id, what it is, how many, and for how much
    (as the platform suggested)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    line_item_id: str = Field(min_length=1, max_length=200)
    title: str = Field(max_length=255)
    quantity: int = Field(ge=1, le=100_000)


class RefundableLine(BaseModel):
    """An order line as the modal offers it: how many can still be refunded, at what price."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    line_item_id: str = Field(min_length=1, max_length=200)
    title: str = Field(max_length=255)
    refundable_quantity: int = Field(ge=0)
    unit_price: Money


class RefundableOrder(BaseModel):
    """An order as the platform tells it right before a refund: its id, lines, and what was
    refunded of it already."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    order_id: str = Field(min_length=1, max_length=200)
    number: str = Field(pattern=r"^\d{1,20}$")
    total: Money
    refunded: Money
    lines: tuple[RefundableLine, ...] = ()

    @property
    def name(self) -> str:
        return f"#{self.number}"


class RefundPlan(BaseModel):
    """Exactly what a submitted refund will do, as the modal showed it: the lines (for the
    whole order, every line not refunded yet), the amount the platform suggested for them.
    `submission_key` names the modal submission: one plan, at most one refund."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    conversation_ref: str
    order_number: str = Field(pattern=r"^\d{1,20}$")
    order_id: str = Field(min_length=1, max_length=200)
    lines: tuple[RefundLine, ...] = Field(min_length=1, max_length=LINES_OFFERED)
    whole_order: bool = False
    amount: Money
    reason: str = Field(max_length=REASON_MAX)
    notify_customer: bool
    requested_by: str
    submission_key: str = Field(min_length=1, max_length=200)

    def described(self) -> str:
        """What will be refunded, in a few words (escaped by whoever shows it)."""
        if self.whole_order:
            return f"the whole order #{self.order_number}"
        lines = ", ".join(f"{line.quantity} × {line.title}" for line in self.lines)
        return f"#{self.order_number}: {lines}"


class RefundStep(StrEnum):
    EXECUTE = "execute"
    # Above the limit: a second allowed person must approve it in the thread.
    AWAIT_APPROVAL = "await_approval"


def above_limit(amount: Money, config: "CommerceActionsConfig") -> bool:
    """Whether giving back `amount` needs a second allowed person (refunds, cancellations
    that refund)."""
    return amount.amount > config.refund_limit


def refund_step(plan: RefundPlan, config: "CommerceActionsConfig") -> RefundStep:
    """Whether a submitted refund can go at once, or waits for a second person."""
    if above_limit(plan.amount, config):
        return RefundStep.AWAIT_APPROVAL
    return RefundStep.EXECUTE


class ApprovalVerdict(StrEnum):
    APPROVED = "approved"
    # The person who asked cannot approve their own refund.
    SAME_PERSON = "same_person"
    NOT_ALLOWED = "not_allowed"


class Requested(Protocol):
    """An action someone asked for from Slack (a refund, a cancellation)."""

    @property
    def requested_by(self) -> str: ...


def approval_verdict(plan: Requested, approver_id: str, approver_allowed: bool) -> ApprovalVerdict:
    """Whether a click on *Approve* executes the action: only another allowed person's."""
    if approver_id == plan.requested_by:
        return ApprovalVerdict.SAME_PERSON
    if not approver_allowed:
        return ApprovalVerdict.NOT_ALLOWED
    return ApprovalVerdict.APPROVED


class RefundCheck(StrEnum):
    """The platform's state right before acting, against the plan."""

    GO = "go"
    # The platform now suggests another amount (refunded meanwhile, or lines changed).
    CHANGED = "changed"
    # Nothing remains to refund.
    NOTHING_LEFT = "nothing_left"


def refund_check(plan: RefundPlan, suggested: Money) -> RefundCheck:
    """Whether the refund still does what the agent confirmed: the platform's suggested
    amount for the same lines must be the amount shown."""
    if suggested.amount <= Decimal(0):
        return RefundCheck.NOTHING_LEFT
    if suggested != plan.amount:
        return RefundCheck.CHANGED
    return RefundCheck.GO


class RefundTransaction(BaseModel):
    """A payment to refund, as the platform suggested it (the original payment's gateway and
    transaction, and how much of it goes back)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    gateway: str = Field(max_length=200)
    parent_id: str | None = Field(default=None, max_length=200)
    amount: Money


class RefundQuote(BaseModel):
    """What the platform would refund for the chosen lines now, and through which payments."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    amount: Money
    transactions: tuple[RefundTransaction, ...] = ()


class RefundDone(BaseModel):
    """The platform's answer to a refund made: its id, the amount, and the order's state."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    refund_id: str
    amount: Money
    order_refunded: Money
    financial_status: str


class RefundState(StrEnum):
    """Where a submitted refund is. It moves forward only, each move conditional on the one
    before, so a retried or repeated job never acts twice."""

    # Claimed by its submission, not decided yet.
    CLAIMED = "claimed"
    # Above the limit: waiting for a second allowed person.
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    # The platform's suggested payments kept, the refund asked for under the key: a retry
    # asks again with the same key and variables, and the platform answers the first.
    EXECUTING = "executing"
    DONE = "done"
    # Not made: refused by the platform, nothing left, or the amount changed.
    DROPPED = "dropped"


class RefundRecord(BaseModel):
    """A submitted refund as Threadline keeps it, by shop and submission key."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    plan: RefundPlan
    state: RefundState = RefundState.CLAIMED
    quote: RefundQuote | None = None
    approved_by: str | None = None
