"""Refunds from Slack (Shopify, WooCommerce): the modals answered while Slack waits, then the
refund carried out by the outbound worker in the conversation's orders group.

Only the users and user groups in the shop's `commerce_actions.allowed` may open, submit or
approve one; anyone else gets a plain refusal. The confirmation modal shows exactly what
will happen (lines, amount and currency as the platform suggests them, reason, notify), and
its submission is the refund's key, namespaced by the shop: the key is claimed before
anything is done, so a double click or a retry finds the claim and refunds nothing more.
Right before refunding, the platform is asked again what it would refund for those lines:
anything else than what was shown (refunded meanwhile) and nothing is refunded. The refund is
then asked of the platform under the same key (Shopify's `@idempotent` directive; on
WooCommerce the key kept on the refund and looked for first), and its payments are kept
first, so a retry after a lost answer asks the same and gets the first refund back. Above
the shop's `refund_limit`, the refund waits in the thread for another allowed person's
approval.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.channels.slack_refunds import RefundAsked, RefundChosen, RefundConfirmed
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import RefundApproval, RefundRequested
from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.refunds import (
    ApprovalVerdict,
    RefundCheck,
    RefundLine,
    RefundPlan,
    RefundRecord,
    RefundState,
    RefundStep,
    approval_verdict,
    refund_check,
    refund_step,
)
from chalicelib.domain.shop import Shop
from chalicelib.presentation.refunds import (
    approval_refused_note,
    awaiting_approval_note,
    platform_name,
    refund_changed_note,
    refund_choice_view,
    refund_confirm_view,
    refund_done_note,
    refund_not_allowed_note,
    refund_nothing_left_note,
    refund_refused_note,
    refusal_view,
)
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.order_actions import OrderActionThreads, refund_limit
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    OutboundQueue,
    RefundDesk,
    RefundRecords,
    ShopLookup,
    ShopVault,
    SlackPort,
    Workspaces,
    slack_or_retry,
)

logger = Logger(service="threadline", child=True)

NOT_ALLOWED = (
    "You may not refund from Slack: only the people and user groups in the shop's "
    "commerce_actions.allowed can. Ask one of them."
)
# Longer than any retry or approval waits; the claim alone keeps a submission from acting
# twice.
REFUND_MEMORY = timedelta(days=90)


class RefundActions:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        vault: ShopVault,
        desk: RefundDesk,
        records: RefundRecords,
        workspaces: Workspaces,
        outbound: OutboundQueue,
        clock: Clock,
    ) -> None:
        self._threads = OrderActionThreads(
            shops, conversations, workspaces, acts_on=lambda shop: shop.sells_online
        )
        self._vault = vault
        self._desk = desk
        self._records = records
        self._workspaces = workspaces
        self._outbound = outbound
        self._clock = clock

    # While Slack waits ---------------------------------------------------------------------

    def _thread(
        self, team_id: str, channel_id: str, thread_ts: str, ref: str
    ) -> tuple[Conversation, Shop] | None:
        return self._threads.thread(team_id, channel_id, thread_ts, ref)

    def _allowed(self, shop: Shop, slack: SlackPort, user_id: str) -> bool:
        return self._threads.allowed(shop, slack, user_id)

    def open(self, asked: RefundAsked) -> None:
        """*Refund #n* pressed: the modal to choose what to refund, or a plain refusal."""
        found = self._thread(
            asked.team_id, asked.channel_id, asked.thread_ts, asked.conversation_ref
        )
        if found is None:
            logger.info("refund asked outside a conversation with a store")
            return
        conversation, shop = found
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return
        view = self._choice_or_refusal(conversation, shop, slack, asked)
        slack.open_view(asked.trigger_id, view)

    def _choice_or_refusal(
        self, conversation: Conversation, shop: Shop, slack: SlackPort, asked: RefundAsked
    ) -> dict[str, Any]:
        platform = platform_name(shop)
        if not self._allowed(shop, slack, asked.user_id):
            return refusal_view(NOT_ALLOWED)
        orders = conversation.orders
        if orders is None or orders.order(asked.order_number) is None:
            # Only ever an order of this conversation's customer.
            return refusal_view(f"#{asked.order_number} is not one of this customer's orders.")
        try:
            order = self._desk.refundable_order(
                shop, self._vault.get(shop.shop_id), asked.order_number
            )
        except Retryable:
            return refusal_view(f"{platform} did not answer: try again in a moment.")
        except CommerceRefused as error:
            return refusal_view(f"{platform} refused: {error.reason}.")
        if order is None:
            return refusal_view(f"{platform} no longer has order #{asked.order_number}.")
        if not any(line.refundable_quantity > 0 for line in order.lines):
            return refusal_view(f"Nothing is left to refund on order #{asked.order_number}.")
        return refund_choice_view(conversation, order, asked.channel_id, asked.thread_ts, platform)

    def review(self, chosen: RefundChosen) -> dict[str, object]:
        """The first modal submitted: the second one, showing exactly what will happen with
        the amount Shopify suggests now; or what is wrong, by input."""
        try:
            target = _Target(chosen.metadata)
        except (KeyError, TypeError, ValueError):
            return _errors("lines", "This refund can no longer be made: press Refund again.")
        found = self._thread(chosen.team_id, target.channel_id, target.thread_ts, target.ref)
        if found is None:
            return _errors("lines", "This conversation is gone.")
        shop = found[1]
        platform = platform_name(shop)
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        if not self._allowed(shop, slack, chosen.user_id):
            return _errors("lines", NOT_ALLOWED)
        if not chosen.chosen or any(i >= len(target.lines) for i in chosen.chosen):
            return _errors("lines", "Choose what to refund.")
        if not chosen.reason:
            return _errors("reason", "Say why (it is kept on the refund).")
        lines = tuple(
            RefundLine(line_item_id=target.lines[i][0], title=target.lines[i][2], quantity=q)
            for i in chosen.chosen
            if (q := target.lines[i][1]) > 0
        )
        try:
            quote = self._desk.quote(
                shop,
                self._vault.get(shop.shop_id),
                target.order_id,
                [(line.line_item_id, line.quantity) for line in lines],
            )
        except Retryable:
            return _errors("lines", f"{platform} did not answer: submit again in a moment.")
        except CommerceRefused as error:
            return _errors("lines", f"{platform} refused: {error.reason}."[:2000])
        if quote.amount.amount <= 0:
            return _errors("lines", "Nothing is left to refund of these lines.")
        plan = RefundPlan(
            shop_id=shop.shop_id,
            conversation_ref=target.ref,
            order_number=target.order_number,
            order_id=target.order_id,
            lines=lines,
            whole_order=len(lines) == len(target.lines),
            amount=quote.amount,
            reason=chosen.reason,
            notify_customer=chosen.notify_customer,
            requested_by=chosen.user_id,
            # Given by the confirmation's submission.
            submission_key="-",
        )
        metadata = {
            "ch": target.channel_id,
            "ts": target.thread_ts,
            "plan": plan.model_dump(mode="json", exclude={"submission_key", "requested_by"}),
        }
        config = shop.commerce_actions
        held = config is not None and refund_step(plan, config) is RefundStep.AWAIT_APPROVAL
        limit = refund_limit(shop, quote.amount.currency) if held else None
        view = refund_confirm_view(plan, metadata, limit, platform)
        return {"response_action": "update", "view": view}

    def confirm(self, confirmed: RefundConfirmed) -> dict[str, object] | None:
        """The confirmation submitted: queued under its key; a refusal if the person may not."""
        confirmed_plan = self._threads.confirmed_plan(
            confirmed,
            RefundPlan,
            "refund",
            "This refund can no longer be made: press Refund again.",
            NOT_ALLOWED,
        )
        if isinstance(confirmed_plan, str):
            return _errors_view(confirmed_plan)
        self._outbound.send_outbound(
            RefundRequested(
                team_id=confirmed.team_id,
                channel_id=confirmed_plan.channel_id,
                thread_ts=confirmed_plan.thread_ts,
                conversation_ref=confirmed_plan.conversation_ref,
                plan=confirmed_plan.plan,
            )
        )
        return None

    # In the worker ---------------------------------------------------------------------------

    def carry_out(self, job: RefundRequested) -> None:
        """A confirmed refund: claimed under its key, then held for approval or made."""
        found = self._worker_thread(
            job.team_id, job.channel_id, job.thread_ts, job.conversation_ref
        )
        if found is None:
            return
        shop, slack = found
        plan = job.plan
        now = self._clock()
        record = self._records.claim_refund(
            plan, now, shop.expiry(now) or int((now + REFUND_MEMORY).timestamp())
        )
        if record.plan != plan:
            logger.warning("refund key claimed by another plan", shop_id=shop.shop_id)
            return
        config = shop.commerce_actions
        claimed = record.state is RefundState.CLAIMED
        if claimed and config is None:
            self._note(slack, job, refund_not_allowed_note(plan))
            self._move(plan, RefundState.CLAIMED, RefundState.DROPPED)
        elif claimed and config and refund_step(plan, config) is RefundStep.AWAIT_APPROVAL:
            # Told first: a retry after a failed move tells again rather than never.
            self._note(
                slack, job, awaiting_approval_note(plan, refund_limit(shop, plan.amount.currency))
            )
            self._move(plan, RefundState.CLAIMED, RefundState.AWAITING_APPROVAL)
        elif record.state in (RefundState.CLAIMED, RefundState.EXECUTING):
            self._make(shop, slack, job, record)
        else:
            # Held, made or dropped already: a repeated submission does nothing more.
            logger.info("refund submitted again", state=record.state.value)

    def approve(self, job: RefundApproval) -> None:
        """*Approve refund* pressed: made if another allowed person pressed it."""
        found = self._worker_thread(
            job.team_id, job.channel_id, job.thread_ts, job.conversation_ref
        )
        if found is None:
            return
        shop, slack = found
        if not job.submission_key.startswith(f"{shop.shop_id}:"):
            return
        record = self._records.refund_record(shop.shop_id, job.submission_key)
        if record is None or record.plan.conversation_ref != job.conversation_ref:
            return
        if record.state is RefundState.AWAITING_APPROVAL:
            verdict = approval_verdict(
                record.plan, job.user_id, self._allowed(shop, slack, job.user_id)
            )
            if verdict is not ApprovalVerdict.APPROVED:
                same = verdict is ApprovalVerdict.SAME_PERSON
                self._note(slack, job, approval_refused_note(job.user_id, same))
                return
            if not self._records.move_refund(
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

    def _worker_thread(
        self, team_id: str, channel_id: str, thread_ts: str, ref: str
    ) -> tuple[Shop, SlackPort] | None:
        return self._threads.worker_thread(team_id, channel_id, thread_ts, ref)

    def _make(
        self,
        shop: Shop,
        slack: SlackPort,
        job: RefundRequested | RefundApproval,
        record: RefundRecord,
    ) -> None:
        plan = record.plan
        platform = platform_name(shop)
        secrets = self._vault.get(shop.shop_id)
        quote = record.quote
        if quote is None:
            quote = self._desk.quote(
                shop, secrets, plan.order_id, [(ln.line_item_id, ln.quantity) for ln in plan.lines]
            )
            match refund_check(plan, quote.amount):
                case RefundCheck.NOTHING_LEFT:
                    self._note(slack, job, refund_nothing_left_note(plan, platform))
                    self._move(plan, record.state, RefundState.DROPPED)
                    return
                case RefundCheck.CHANGED:
                    self._note(slack, job, refund_changed_note(plan, quote.amount, platform))
                    self._move(plan, record.state, RefundState.DROPPED)
                    return
            if not self._records.move_refund(
                plan.shop_id, plan.submission_key, record.state, RefundState.EXECUTING, quote=quote
            ):
                return
        try:
            done = self._desk.refund(shop, secrets, plan, quote)
        except CommerceRefused as error:
            self._note(slack, job, refund_refused_note(plan, error.reason, platform))
            self._move(plan, RefundState.EXECUTING, RefundState.DROPPED)
            return
        self._note(slack, job, refund_done_note(plan, done, record.approved_by, platform))
        self._move(plan, RefundState.EXECUTING, RefundState.DONE)

    def _move(self, plan: RefundPlan, before: RefundState, after: RefundState) -> None:
        self._records.move_refund(plan.shop_id, plan.submission_key, before, after)

    @staticmethod
    def _note(slack: SlackPort, job: RefundRequested | RefundApproval, note: SlackMessage) -> None:
        slack.post(job.channel_id, note, job.thread_ts)


class _Target:
    """The first modal's metadata: the conversation's thread and the order's lines."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.ref = str(metadata["ref"])
        self.channel_id = str(metadata["ch"])
        self.thread_ts = str(metadata["ts"])
        self.order_number = str(metadata["order"])
        self.order_id = str(metadata["id"])
        self.lines: list[tuple[str, int, str]] = [
            (str(line_id), int(quantity), str(title))
            for line_id, quantity, title in metadata["lines"]
        ]


def _errors(block: str, text: str) -> dict[str, object]:
    return {"response_action": "errors", "errors": {block: text[:2000]}}


def _errors_view(text: str) -> dict[str, object]:
    """A refusal in place of the confirmation (it has no input to attach an error to)."""
    return {"response_action": "update", "view": refusal_view(text)}
