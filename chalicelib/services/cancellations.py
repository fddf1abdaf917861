"""Order cancellations from Slack (Shopify): the modals answered while Slack waits, then the
cancellation carried out by the outbound worker in the conversation's orders group.

As refunds (`services.refunds`): only the users and user groups in the shop's
`commerce_actions.allowed` may open, submit or approve one; the confirmation modal shows
exactly what will happen (refund and its amount, restock, notify, reason); its submission,
namespaced by the shop, is claimed before anything is done, so a double click or a retry
cancels once; one that refunds above the shop's `refund_limit` waits in the thread for
another allowed person's approval. Right before cancelling, the order is read again: already
cancelled, fulfilled meanwhile, or refunded meanwhile and nothing is done, the thread says
why. Shopify cancels asynchronously: its job is taken as accepted, and the note says whether
the order shows as cancelled yet.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from chalicelib.channels.slack_cancellations import CancelAsked, CancelChosen, CancelConfirmed
from chalicelib.domain.cancellations import (
    CancelAccepted,
    CancelCheck,
    CancelPlan,
    CancelRecord,
    cancel_check,
    cancel_needs_approval,
    may_cancel,
)
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import CancelApproval, CancelRequested
from chalicelib.domain.orders import CommerceRefused, Money
from chalicelib.domain.refunds import ApprovalVerdict, RefundState, approval_verdict
from chalicelib.domain.shop import Shop
from chalicelib.presentation.cancellations import (
    already_cancelled_note,
    cancel_accepted_note,
    cancel_approval_refused_note,
    cancel_awaiting_approval_note,
    cancel_changed_note,
    cancel_choice_view,
    cancel_confirm_view,
    cancel_not_allowed_note,
    cancel_refused_note,
    fulfilled_meanwhile_note,
)
from chalicelib.presentation.refunds import refusal_view
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.order_actions import OrderActionThreads, refund_limit
from chalicelib.services.ports import (
    CancelDesk,
    CancelRecords,
    Clock,
    ConversationRecords,
    OutboundQueue,
    ShopLookup,
    ShopVault,
    SlackPort,
    Workspaces,
    slack_or_retry,
)

logger = Logger(service="threadline", child=True)

TITLE = "Cancel order"
NOT_ALLOWED = (
    "You may not cancel orders from Slack: only the people and user groups in the shop's "
    "commerce_actions.allowed can. Ask one of them."
)
AGAIN = "This cancellation can no longer be made: press Cancel again."
# Longer than any retry or approval waits; the claim alone keeps a submission from acting
# twice.
CANCEL_MEMORY = timedelta(days=90)


class CancelActions:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        vault: ShopVault,
        desk: CancelDesk,
        records: CancelRecords,
        workspaces: Workspaces,
        outbound: OutboundQueue,
        clock: Clock,
    ) -> None:
        self._threads = OrderActionThreads(shops, conversations, workspaces)
        self._vault = vault
        self._desk = desk
        self._records = records
        self._workspaces = workspaces
        self._outbound = outbound
        self._clock = clock

    # While Slack waits ---------------------------------------------------------------------

    def open(self, asked: CancelAsked) -> None:
        """*Cancel #n* pressed: the modal to choose how, or a plain refusal."""
        found = self._threads.thread(
            asked.team_id, asked.channel_id, asked.thread_ts, asked.conversation_ref
        )
        if found is None:
            logger.info("cancellation asked outside a conversation with a store")
            return
        conversation, shop = found
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return
        slack.open_view(asked.trigger_id, self._choice_or_refusal(conversation, shop, slack, asked))

    def _choice_or_refusal(
        self, conversation: Conversation, shop: Shop, slack: SlackPort, asked: CancelAsked
    ) -> dict[str, Any]:
        if not self._threads.allowed(shop, slack, asked.user_id):
            return refusal_view(NOT_ALLOWED, TITLE)
        orders = conversation.orders
        number = asked.order_number
        if orders is None or orders.order(number) is None:
            # Only ever an order of this conversation's customer.
            return refusal_view(f"#{number} is not one of this customer's orders.", TITLE)
        try:
            order = self._desk.cancellable_order(shop, self._vault.get(shop.shop_id), number)
        except Retryable:
            return refusal_view("Shopify did not answer: try again in a moment.", TITLE)
        except CommerceRefused as error:
            return refusal_view(f"Shopify refused: {error.reason}.", TITLE)
        if order is None:
            return refusal_view(f"Shopify no longer has order #{number}.", TITLE)
        if order.cancelled:
            return refusal_view(f"Order #{number} is cancelled already.", TITLE)
        if not may_cancel(order):
            return refusal_view(
                f"Order #{number} has been fulfilled: start a return instead.", TITLE
            )
        return cancel_choice_view(conversation, order, asked.channel_id, asked.thread_ts)

    def review(self, chosen: CancelChosen) -> dict[str, object]:
        """The first modal submitted: the second one, showing exactly what will happen."""
        try:
            target = _Target(chosen.metadata)
        except (KeyError, TypeError, ValueError, ValidationError):
            return _errors("reason", AGAIN)
        found = self._threads.thread(
            chosen.team_id, target.channel_id, target.thread_ts, target.ref
        )
        if found is None:
            return _errors("reason", "This conversation is gone.")
        shop = found[1]
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        if not self._threads.allowed(shop, slack, chosen.user_id):
            return _errors("reason", NOT_ALLOWED)
        refundable = target.refundable
        refund = chosen.refund and refundable.amount > 0
        nothing = Money(amount=Decimal(0), currency=refundable.currency)
        try:
            plan = CancelPlan(
                shop_id=shop.shop_id,
                conversation_ref=target.ref,
                order_number=target.order_number,
                order_id=target.order_id,
                restock=chosen.restock,
                refund=refund,
                refund_amount=refundable if refund else nothing,
                notify_customer=chosen.notify_customer,
                reason=chosen.reason,
                note=chosen.note[:200],
                requested_by=chosen.user_id,
                # Given by the confirmation's submission.
                submission_key="-",
            )
        except ValidationError:
            # The metadata came back from Slack; it is still outside input.
            return _errors("reason", AGAIN)
        metadata = {
            "ch": target.channel_id,
            "ts": target.thread_ts,
            "plan": plan.model_dump(mode="json", exclude={"submission_key", "requested_by"}),
        }
        config = shop.commerce_actions
        held = config is not None and cancel_needs_approval(plan, config)
        limit = refund_limit(shop, refundable.currency) if held else None
        return {"response_action": "update", "view": cancel_confirm_view(plan, metadata, limit)}

    def confirm(self, confirmed: CancelConfirmed) -> dict[str, object] | None:
        """The confirmation submitted: queued under its key; a refusal if the person may not."""
        confirmed_plan = self._threads.confirmed_plan(
            confirmed, CancelPlan, "cancel", AGAIN, NOT_ALLOWED
        )
        if isinstance(confirmed_plan, str):
            return _errors_view(confirmed_plan)
        self._outbound.send_outbound(
            CancelRequested(
                team_id=confirmed.team_id,
                channel_id=confirmed_plan.channel_id,
                thread_ts=confirmed_plan.thread_ts,
                conversation_ref=confirmed_plan.conversation_ref,
                plan=confirmed_plan.plan,
            )
        )
        return None

    # In the worker ---------------------------------------------------------------------------

    def carry_out(self, job: CancelRequested) -> None:
        """A confirmed cancellation: claimed under its key, then held for approval or made."""
        found = self._threads.worker_thread(
            job.team_id, job.channel_id, job.thread_ts, job.conversation_ref
        )
        if found is None:
            return
        shop, slack = found
        plan = job.plan
        now = self._clock()
        record = self._records.claim_cancel(
            plan, now, shop.expiry(now) or int((now + CANCEL_MEMORY).timestamp())
        )
        if record.plan != plan:
            logger.warning("cancellation key claimed by another plan", shop_id=shop.shop_id)
            return
        config = shop.commerce_actions
        claimed = record.state is RefundState.CLAIMED
        if claimed and config is None:
            self._note(slack, job, cancel_not_allowed_note(plan))
            self._move(plan, RefundState.CLAIMED, RefundState.DROPPED)
        elif claimed and config and cancel_needs_approval(plan, config):
            # Told first: a retry after a failed move tells again rather than never.
            limit = refund_limit(shop, plan.refund_amount.currency)
            self._note(slack, job, cancel_awaiting_approval_note(plan, limit))
            self._move(plan, RefundState.CLAIMED, RefundState.AWAITING_APPROVAL)
        elif record.state in (RefundState.CLAIMED, RefundState.EXECUTING):
            self._make(shop, slack, job, record)
        else:
            # Held, made or dropped already: a repeated submission does nothing more.
            logger.info("cancellation submitted again", state=record.state.value)

    def approve(self, job: CancelApproval) -> None:
        """*Approve cancellation* pressed: made if another allowed person pressed it."""
        found = self._threads.worker_thread(
            job.team_id, job.channel_id, job.thread_ts, job.conversation_ref
        )
        if found is None:
            return
        shop, slack = found
        if not job.submission_key.startswith(f"{shop.shop_id}:"):
            return
        record = self._records.cancel_record(shop.shop_id, job.submission_key)
        if record is None or record.plan.conversation_ref != job.conversation_ref:
            return
        if record.state is RefundState.AWAITING_APPROVAL:
            allowed = self._threads.allowed(shop, slack, job.user_id)
            verdict = approval_verdict(record.plan, job.user_id, allowed)
            if verdict is not ApprovalVerdict.APPROVED:
                same = verdict is ApprovalVerdict.SAME_PERSON
                self._note(slack, job, cancel_approval_refused_note(job.user_id, same))
                return
            if not self._records.move_cancel(
                shop.shop_id,
                job.submission_key,
                RefundState.AWAITING_APPROVAL,
                RefundState.APPROVED,
                approved_by=job.user_id,
            ):
                return
            record = record.model_copy(
                update={"state": RefundState.APPROVED, "approved_by": job.user_id}
            )
        if record.state in (RefundState.APPROVED, RefundState.EXECUTING):
            self._make(shop, slack, job, record)

    def _make(
        self,
        shop: Shop,
        slack: SlackPort,
        job: CancelRequested | CancelApproval,
        record: CancelRecord,
    ) -> None:
        plan = record.plan
        secrets = self._vault.get(shop.shop_id)
        order = self._desk.cancellable_order(shop, secrets, plan.order_number)
        if order is None:
            self._note(slack, job, cancel_refused_note(plan, "Shopify no longer has this order"))
            self._move(plan, record.state, RefundState.DROPPED)
            return
        check = cancel_check(plan, order)
        if check is CancelCheck.ALREADY_CANCELLED and record.state is RefundState.EXECUTING:
            # Asked before a retry, whose answer was lost: Shopify did it.
            accepted = CancelAccepted(job_id=None, job_done=True, order_cancelled=True)
            self._note(slack, job, cancel_accepted_note(plan, accepted, record.approved_by))
            self._move(plan, RefundState.EXECUTING, RefundState.DONE)
            return
        match check:
            case CancelCheck.ALREADY_CANCELLED:
                self._drop(slack, job, record, already_cancelled_note(plan))
                return
            case CancelCheck.FULFILLED:
                self._drop(slack, job, record, fulfilled_meanwhile_note(plan))
                return
            case CancelCheck.CHANGED:
                self._drop(slack, job, record, cancel_changed_note(plan, order.refundable))
                return
        if record.state is not RefundState.EXECUTING and not self._records.move_cancel(
            plan.shop_id, plan.submission_key, record.state, RefundState.EXECUTING
        ):
            return
        try:
            accepted = self._desk.cancel(shop, secrets, plan)
        except CommerceRefused as error:
            self._note(slack, job, cancel_refused_note(plan, error.reason))
            self._move(plan, RefundState.EXECUTING, RefundState.DROPPED)
            return
        self._note(slack, job, cancel_accepted_note(plan, accepted, record.approved_by))
        self._move(plan, RefundState.EXECUTING, RefundState.DONE)

    def _drop(
        self,
        slack: SlackPort,
        job: CancelRequested | CancelApproval,
        record: CancelRecord,
        note: SlackMessage,
    ) -> None:
        self._note(slack, job, note)
        self._move(record.plan, record.state, RefundState.DROPPED)

    def _move(self, plan: CancelPlan, before: RefundState, after: RefundState) -> None:
        self._records.move_cancel(plan.shop_id, plan.submission_key, before, after)

    @staticmethod
    def _note(slack: SlackPort, job: CancelRequested | CancelApproval, note: SlackMessage) -> None:
        slack.post(job.channel_id, note, job.thread_ts)


class _Target:
    """The first modal's metadata: the conversation's thread and the order."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.ref = str(metadata["ref"])
        self.channel_id = str(metadata["ch"])
        self.thread_ts = str(metadata["ts"])
        self.order_number = str(metadata["order"])
        self.order_id = str(metadata["id"])
        self.refundable = Money.model_validate(metadata["refundable"])


def _errors(block: str, text: str) -> dict[str, object]:
    return {"response_action": "errors", "errors": {block: text[:2000]}}


def _errors_view(text: str) -> dict[str, object]:
    """A refusal in place of the confirmation (it has no input to attach an error to)."""
    return {"response_action": "update", "view": refusal_view(text, TITLE)}
