"""Starting a return from Slack: which fulfilled lines, how many of each, why, and whether
the platform still lets them be returned. Pure rules; the service carries out what they
decide.

A return is planned in a modal (a quantity per returnable line, Shopify's reason, a note),
submitted once under a key of that submission, and made only if every line chosen can still
be returned in that quantity. No money moves when a return opens (a refund is its own action,
with its own limit), so no second person is asked; it moves through the same states as a
refund (`refunds.RefundState`).
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.refunds import LINES_OFFERED, RefundState

# Shopify keeps a return line's note up to 255 characters.
RETURN_NOTE_MAX = 255


class ReturnReason(StrEnum):
    """Shopify's `ReturnReason` values, as an agent may choose them."""

    DEFECTIVE = "DEFECTIVE"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    WRONG_ITEM = "WRONG_ITEM"
    SIZE_TOO_SMALL = "SIZE_TOO_SMALL"
    SIZE_TOO_LARGE = "SIZE_TOO_LARGE"
    UNWANTED = "UNWANTED"
    STYLE = "STYLE"
    COLOR = "COLOR"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"

    @property
    def words(self) -> str:
        return self.value.replace("_", " ").lower()


class ReturnableLine(BaseModel):
    """A fulfilled line as the platform offers it for a return: how many can still go back."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    fulfillment_line_item_id: str = Field(min_length=1, max_length=200)
    title: str = Field(max_length=255)
    quantity: int = Field(ge=0)


class ReturnableOrder(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    order_id: str = Field(min_length=1, max_length=200)
    number: str = Field(pattern=r"^\d{1,20}$")
    lines: tuple[ReturnableLine, ...] = ()

    @property
    def name(self) -> str:
        return f"#{self.number}"


class ReturnLine(BaseModel):
    """One line to return: the fulfilled line's id, what it is, how many."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    fulfillment_line_item_id: str = Field(min_length=1, max_length=200)
    title: str = Field(max_length=255)
    quantity: int = Field(ge=1, le=100_000)


class ReturnPlan(BaseModel):
    """Exactly what a submitted return will do, as the modal showed it. `submission_key`
    names the modal submission: one plan, at most one return."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    conversation_ref: str
    order_number: str = Field(pattern=r"^\d{1,20}$")
    order_id: str = Field(min_length=1, max_length=200)
    lines: tuple[ReturnLine, ...] = Field(min_length=1, max_length=LINES_OFFERED)
    reason: ReturnReason
    note: str = Field(default="", max_length=RETURN_NOTE_MAX)
    requested_by: str
    submission_key: str = Field(min_length=1, max_length=200)

    def described(self) -> str:
        """What goes back, in a few words (escaped by whoever shows it)."""
        lines = ", ".join(f"{line.quantity} × {line.title}" for line in self.lines)
        return f"#{self.order_number}: {lines}"


class ReturnCheck(StrEnum):
    GO = "go"
    # Nothing of the order can be returned any more (returned meanwhile, or refunded).
    NOTHING_LEFT = "nothing_left"
    # Some line chosen can no longer be returned in the quantity shown.
    CHANGED = "changed"


def return_check(plan: ReturnPlan, order: ReturnableOrder) -> ReturnCheck:
    """Whether the return still does what the agent confirmed."""
    left = {line.fulfillment_line_item_id: line.quantity for line in order.lines}
    if not any(left.values()):
        return ReturnCheck.NOTHING_LEFT
    if any(left.get(line.fulfillment_line_item_id, 0) < line.quantity for line in plan.lines):
        return ReturnCheck.CHANGED
    return ReturnCheck.GO


class ReturnMade(BaseModel):
    """The platform's answer to a return made: its id, its name and status."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    return_id: str
    name: str
    status: str


class ReturnRecord(BaseModel):
    """A submitted return as Threadline keeps it, by shop and submission key."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    plan: ReturnPlan
    state: RefundState = RefundState.CLAIMED
