"""The queues' jobs: the work the outbound queue carries for a conversation's Slack thread
(agents' replies, canned and automatic replies, the shop's messages, card presses, delivery
news) and the timers' alarms. Their JSON is their queue body: a field's name, a `kind` tag or
a default changed here breaks the jobs already waiting on a queue across a deploy.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.cancellations import CancelPlan
from chalicelib.domain.messages import DeliveryStatus, SlackFile
from chalicelib.domain.refunds import RefundPlan
from chalicelib.domain.returns import ReturnPlan
from chalicelib.domain.vocabulary import Priority, SlaStage, SlaTarget


def thread_key(team_id: str, channel_id: str, thread_ts: str) -> str:
    """A Slack thread's identity: replies and card presses in it share one queue group."""
    return f"{team_id}:{channel_id}:{thread_ts}"


class ThreadJob(BaseModel):
    """Work in a conversation's Slack thread. The thread is its queue group: the jobs of one
    conversation run one after another, in order."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    team_id: str
    channel_id: str
    thread_ts: str

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.thread_ts)


class ConversationThreadJob(ThreadJob):
    """Work in a thread that names its conversation, "<shop>:<conversation>", so it never
    acts on another one."""

    conversation_ref: str


class ConversationTimer(BaseModel):
    """A conversation's alarm, delivered by a one-time schedule at `due_at`."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    conversation_id: str
    due_at: datetime

    @property
    def conversation_ref(self) -> str:
        return f"{self.shop_id}:{self.conversation_id}"


class AgentReply(ThreadJob):
    """A message an agent typed in a conversation's Slack thread."""

    kind: Literal["agent_reply"] = "agent_reply"
    event_id: str
    ts: str
    user_id: str
    text: str
    files: tuple[SlackFile, ...] = ()
    # Chosen with "Send to customer": sent whatever the shop's reply mode, and its grace
    # period runs from that choice (`requested_ts`) rather than from when it was written.
    explicit: bool = False
    requested_ts: str | None = None
    # Posted by Threadline for the agent (a canned response): agents cannot edit or delete
    # it, so it has no grace period to wait.
    posted_for_agent: bool = False
    # Sent by Threadline itself (an automatic reply): unsigned, marked as automatic, and no
    # answer to what the customer waits for.
    automatic: bool = False
    # WhatsApp outside its window: this approved template rather than the shop's.
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None

    @property
    def message_key(self) -> str:
        return f"slack:{self.channel_id}:{self.ts}"

    @property
    def version_ts(self) -> str:
        """When the text this job carries was current: the grace period starts there, and
        only an edit made after it changes what is sent."""
        return self.requested_ts or self.ts


class CannedReply(ConversationThreadJob):
    """An agent chose a canned response for a conversation in Slack's modal: posted into the
    thread on their behalf and sent to the customer."""

    kind: Literal["canned_reply"] = "canned_reply"
    view_id: str
    user_id: str
    name: str
    order_number: str | None = None


def auto_reply_post_id(conversation_ref: str, message_key: str, reply_key: str) -> str:
    """The post record of an automatic reply to a customer message. The message key holds an
    id the sender chose (an email's Message-ID): the conversation, and so the shop, comes
    first, or another shop's conversation in the same workspace could find this post."""
    return f"auto:{conversation_ref}:{message_key}:{reply_key}"


class AutoReplyJob(ConversationThreadJob):
    """An automatic reply to post in a conversation's thread and send to the customer."""

    kind: Literal["auto_reply"] = "auto_reply"
    # The customer message it answers, and what it is ("acknowledgement", "faq:returns").
    message_key: str
    reply_key: str
    language: str
    text: str

    @property
    def post_id(self) -> str:
        return auto_reply_post_id(self.conversation_ref, self.message_key, self.reply_key)


class ShopMessageJob(ConversationThreadJob):
    """A shop's message (`ShopMessage`) with its thread: posted there once and sent."""

    kind: Literal["shop_message_post"] = "shop_message_post"
    message_id: str
    text: str
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    # Sent by Threadline itself (see ShopMessage.reply_key).
    reply_key: str | None = None
    language: str | None = None

    @property
    def post_id(self) -> str:
        # The request's own id (not the caller's), within its conversation: a caller's id
        # used again, by another shop or for another customer, never finds this post.
        return f"api:{self.conversation_ref}:{self.message_id}"


class DeliveryUpdate(BaseModel):
    """A provider's status callback about a message we sent."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: Literal["delivery_update"] = "delivery_update"
    shop_id: str
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    # When the provider told us; None for updates queued before it was recorded.
    received_at: datetime | None = None


class DeliveryWatermark(BaseModel):
    """A provider's receipt that names a time rather than messages (Messenger's delivery and
    read watermarks): every reply to the customer sent by then reached that status."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: Literal["delivery_watermark"] = "delivery_watermark"
    shop_id: str
    customer_address: str
    status: DeliveryStatus
    watermark: datetime
    # When the provider told us: a send in flight is waited for only so long.
    received_at: datetime | None = None

    @property
    def group(self) -> str:
        """One customer's receipts run in order, apart from their replies' sends."""
        return f"{self.shop_id}:{self.customer_address}:receipts"


# How long news of a message Threadline has no record of is kept trying: long enough for
# the write that records a send's provider id (or the retry that reconciles an interrupted
# send) to land, short of the queue's last try. After it, the message is taken for one sent
# by the shop's other systems from the same number, and the news is dropped.
UNKNOWN_DELIVERY_PATIENCE = timedelta(minutes=10)


def still_awaited(update: DeliveryUpdate | DeliveryWatermark, now: datetime) -> bool:
    """Whether news of a message not on record may yet find it."""
    return update.received_at is None or now - update.received_at < UNKNOWN_DELIVERY_PATIENCE


class CardAction(StrEnum):
    """What the buttons on a conversation's card do."""

    ASSIGN_TO_ME = "assign_to_me"
    UNASSIGN = "unassign"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    SET_PRIORITY = "set_priority"
    SNOOZE = "snooze"
    REFRESH_ORDERS = "refresh_orders"
    SUMMARISE = "summarise"
    DRAFT_REPLY = "draft_reply"


class SnoozeOption(StrEnum):
    HOUR = "1h"
    TOMORROW = "tomorrow"
    CUSTOMER_REPLY = "customer_reply"


class ConversationAction(BaseModel):
    """An agent pressed a button on a conversation's card."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: Literal["conversation_action"] = "conversation_action"
    action: CardAction
    # "<shop>:<conversation>" as the button carried it: a card redrawn for another
    # conversation (a stale button) does not act on this one.
    conversation_ref: str
    team_id: str
    channel_id: str
    message_ts: str
    user_id: str
    action_ts: str
    priority: Priority | None = None
    snooze: SnoozeOption | None = None

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.message_ts)


class Wakeup(ConversationTimer):
    """A snoozed conversation's alarm, delivered by a one-time schedule: it wakes the
    conversation only if it is still snoozed until that very moment."""

    kind: Literal["wakeup"] = "wakeup"


class SlaAlarm(ConversationTimer):
    """One stage of a response target, delivered by a one-time schedule: it acts only if
    that very target is still unmet and has not reached the stage yet."""

    kind: Literal["sla_alarm"] = "sla_alarm"
    target: SlaTarget
    started_at: datetime
    stage: SlaStage


class StatusQuestion(BaseModel):
    """A customer's message asking where their order is, answered after the lookup."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    message_key: str
    language: str
    asked_at: datetime


class OrdersLookup(ConversationThreadJob):
    """Look the conversation's customer up on the shop's commerce platform and keep the
    summary on the conversation. Its own queue group per conversation (`group`): a platform
    outage retries it without holding the thread's replies or the card's buttons."""

    kind: Literal["orders_lookup"] = "orders_lookup"
    # What asked for it (the message, the button press, the webhook): its dedup id.
    cause: str
    # The order number the customer quoted, looked for among their own orders.
    order_number: str | None = None
    # A "where is my order?" to answer once the lookup is done (`order_status_answers`).
    status_question: StatusQuestion | None = None

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


class RefundRequested(ConversationThreadJob):
    """An allowed agent confirmed a refund in its modal: carried out (or held for a second
    person's approval) in the conversation's orders group, once per `plan.submission_key`."""

    kind: Literal["refund_requested"] = "refund_requested"
    plan: RefundPlan

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


class RefundApproval(ConversationThreadJob):
    """Someone pressed *Approve refund* on a refund held above the shop's limit."""

    kind: Literal["refund_approval"] = "refund_approval"
    submission_key: str
    user_id: str
    action_ts: str

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


class CancelRequested(ConversationThreadJob):
    """An allowed agent confirmed an order's cancellation in its modal: carried out (or held
    for a second person's approval) in the conversation's orders group, once per
    `plan.submission_key`."""

    kind: Literal["cancel_requested"] = "cancel_requested"
    plan: CancelPlan

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


class CancelApproval(ConversationThreadJob):
    """Someone pressed *Approve cancellation* on a cancellation held above the shop's limit."""

    kind: Literal["cancel_approval"] = "cancel_approval"
    submission_key: str
    user_id: str
    action_ts: str

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


class ReturnRequested(ConversationThreadJob):
    """An allowed agent confirmed a return in its modal: opened in the conversation's orders
    group, once per `plan.submission_key`."""

    kind: Literal["return_requested"] = "return_requested"
    plan: ReturnPlan

    @property
    def group(self) -> str:
        return f"{self.thread_key}:orders"


TimerWork = Wakeup | SlaAlarm

TimerJob = Annotated[TimerWork, Field(discriminator="kind")]


# The outbound queue's jobs, all ordered per conversation thread or provider message.
OutboundWork = (
    AgentReply
    | CannedReply
    | AutoReplyJob
    | ShopMessageJob
    | DeliveryUpdate
    | ConversationAction
    | OrdersLookup
    | RefundRequested
    | RefundApproval
    | CancelRequested
    | CancelApproval
    | ReturnRequested
    | DeliveryWatermark
)

OutboundJob = Annotated[OutboundWork, Field(discriminator="kind")]
