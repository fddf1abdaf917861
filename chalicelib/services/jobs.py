"""The queues' jobs, each handed to the use case that does it: the one place a worker
decides what a decoded job is."""

from typing import Protocol, assert_never

from chalicelib.domain.jobs import (
    AgentReply,
    AutoReplyJob,
    CancelApproval,
    CancelRequested,
    CannedReply,
    CardAction,
    ConversationAction,
    DeliveryUpdate,
    DeliveryWatermark,
    OrdersLookup,
    OutboundWork,
    RefundApproval,
    RefundRequested,
    ReturnRequested,
    ShopMessageJob,
    SlaAlarm,
    TimerWork,
    Wakeup,
)
from chalicelib.domain.messages import InboundMessage, ShopMessage
from chalicelib.services.cancellations import CancelActions
from chalicelib.services.conversations import CardActions, InboundProcessor
from chalicelib.services.drafts import ReplyDrafts
from chalicelib.services.meta_routes import MetaRoutes
from chalicelib.services.orders import OrderLookups
from chalicelib.services.refunds import RefundActions
from chalicelib.services.replies import ReplyDispatcher
from chalicelib.services.returns import ReturnActions

# Whatever the inbound, outbound and timers queues carry.
Job = InboundMessage | ShopMessage | OutboundWork | TimerWork


class Workers(Protocol):
    """The use cases the workers run (the composition root's container)."""

    @property
    def inbound(self) -> InboundProcessor: ...

    @property
    def replies(self) -> ReplyDispatcher: ...

    @property
    def card_actions(self) -> CardActions: ...

    @property
    def orders(self) -> OrderLookups: ...

    @property
    def refunds(self) -> RefundActions: ...

    @property
    def drafts(self) -> ReplyDrafts: ...

    @property
    def cancellations(self) -> CancelActions: ...

    @property
    def returns(self) -> ReturnActions: ...

    @property
    def meta_routes(self) -> MetaRoutes: ...


def run_job(job: Job, workers: Workers, receive_count: int | None = None) -> None:
    """Does one decoded job; a job that fails raises, and its queue retries it.
    `receive_count`: how many times the queue has handed this copy out, when known."""
    match job:
        case InboundMessage(provider="meta"):
            workers.meta_routes.process(job, receive_count)
        case InboundMessage():
            workers.inbound.process(job, receive_count)
        case ShopMessage():
            workers.inbound.open_for_shop(job)
        case AgentReply():
            workers.replies.send_reply(job)
        case DeliveryUpdate():
            workers.replies.record_delivery(job)
        case CannedReply():
            workers.replies.send_canned(job)
        case AutoReplyJob():
            workers.replies.send_auto_reply(job)
        case ShopMessageJob():
            workers.replies.send_shop_message(job)
        case ConversationAction(action=CardAction.REFRESH_ORDERS):
            workers.orders.refresh(job)
        case ConversationAction(action=CardAction.DRAFT_REPLY):
            workers.drafts.draft(job)
        case ConversationAction():
            workers.card_actions.act(job)
        case Wakeup():
            workers.card_actions.wake(job)
        case SlaAlarm():
            workers.card_actions.escalate(job)
        case OrdersLookup():
            workers.orders.look_up(job)
        case RefundRequested():
            workers.refunds.carry_out(job)
        case RefundApproval():
            workers.refunds.approve(job)
        case CancelRequested():
            workers.cancellations.carry_out(job)
        case CancelApproval():
            workers.cancellations.approve(job)
        case ReturnRequested():
            workers.returns.carry_out(job)
        case DeliveryWatermark():
            workers.replies.record_watermark(job)
        case _:
            assert_never(job)
