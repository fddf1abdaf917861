"""Returns started from Slack (Shopify): the modals answered while Slack waits, then the return
opened by the outbound worker in the conversation's orders group.

As refunds and cancellations: only the users and user groups in the shop's
`commerce_actions.allowed` may open, submit one; the confirmation modal shows exactly what
will happen (the lines and quantities, the reason, the note); its submission, namespaced by
the shop, is claimed before anything is done, so a double click or a retry opens one return;
right before opening it the returnable quantities are read again, and anything less than
chosen opens nothing. No money moves, so no second person is asked.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from chalicelib.channels.slack_returns import ReturnAsked, ReturnChosen, ReturnConfirmed
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import ReturnRequested
from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.refunds import RefundState
from chalicelib.domain.returns import ReturnCheck, ReturnLine, ReturnPlan, return_check
from chalicelib.domain.shop import Shop
from chalicelib.presentation.refunds import refusal_view
from chalicelib.presentation.returns import (
    return_changed_note,
    return_choice_view,
    return_confirm_view,
    return_made_note,
    return_not_allowed_note,
    return_nothing_left_note,
    return_refused_note,
)
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.order_actions import OrderActionThreads
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    OutboundQueue,
    ReturnDesk,
    ReturnRecords,
    ShopLookup,
    ShopVault,
    SlackPort,
    Workspaces,
    slack_or_retry,
)

logger = Logger(service="threadline", child=True)

TITLE = "Return"
NOT_ALLOWED = (
    "You may not start returns from Slack: only the people and user groups in the shop's "
    "commerce_actions.allowed can. Ask one of them."
)
AGAIN = "This return can no longer be made: press Return again."
RETURN_MEMORY = timedelta(days=90)


class ReturnActions:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        vault: ShopVault,
        desk: ReturnDesk,
        records: ReturnRecords,
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

    def open(self, asked: ReturnAsked) -> None:
        """*Return #n* pressed: the modal to choose what comes back, or a plain refusal."""
        found = self._threads.thread(
            asked.team_id, asked.channel_id, asked.thread_ts, asked.conversation_ref
        )
        if found is None:
            logger.info("return asked outside a conversation with a store")
            return
        conversation, shop = found
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return
        slack.open_view(asked.trigger_id, self._choice_or_refusal(conversation, shop, slack, asked))

    def _choice_or_refusal(
        self, conversation: Conversation, shop: Shop, slack: SlackPort, asked: ReturnAsked
    ) -> dict[str, Any]:
        if not self._threads.allowed(shop, slack, asked.user_id):
            return refusal_view(NOT_ALLOWED, TITLE)
        orders = conversation.orders
        number = asked.order_number
        if orders is None or orders.order(number) is None:
            # Only ever an order of this conversation's customer.
            return refusal_view(f"#{number} is not one of this customer's orders.", TITLE)
        try:
            order = self._desk.returnable_order(shop, self._vault.get(shop.shop_id), number)
        except Retryable:
            return refusal_view("Shopify did not answer: try again in a moment.", TITLE)
        except CommerceRefused as error:
            return refusal_view(f"Shopify refused: {error.reason}.", TITLE)
        if order is None:
            return refusal_view(f"Shopify no longer has order #{number}.", TITLE)
        if not any(line.quantity > 0 for line in order.lines):
            return refusal_view(f"Nothing of order #{number} can be returned.", TITLE)
        return return_choice_view(conversation, order, asked.channel_id, asked.thread_ts)

    def review(self, chosen: ReturnChosen) -> dict[str, object]:
        """The first modal submitted: the second one, showing exactly what will happen."""
        try:
            target = _Target(chosen.metadata)
        except (KeyError, TypeError, ValueError):
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
        offered = target.lines
        for index, quantity in chosen.quantities:
            if index >= len(offered) or quantity > offered[index][1]:
                block = f"qty{index}" if index < len(offered) else "reason"
                return _errors(block, "More than can be returned.")
        if not chosen.quantities:
            return _errors("qty0", "Say how many of at least one item come back.")
        try:
            plan = ReturnPlan(
                shop_id=shop.shop_id,
                conversation_ref=target.ref,
                order_number=target.order_number,
                order_id=target.order_id,
                lines=tuple(
                    ReturnLine(
                        fulfillment_line_item_id=offered[index][0],
                        title=offered[index][2],
                        quantity=quantity,
                    )
                    for index, quantity in chosen.quantities
                ),
                reason=chosen.reason,
                note=chosen.note[:255],
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
        return {"response_action": "update", "view": return_confirm_view(plan, metadata)}

    def confirm(self, confirmed: ReturnConfirmed) -> dict[str, object] | None:
        """The confirmation submitted: queued under its key; a refusal if the person may not."""
        confirmed_plan = self._threads.confirmed_plan(
            confirmed, ReturnPlan, "return", AGAIN, NOT_ALLOWED
        )
        if isinstance(confirmed_plan, str):
            return _errors_view(confirmed_plan)
        self._outbound.send_outbound(
            ReturnRequested(
                team_id=confirmed.team_id,
                channel_id=confirmed_plan.channel_id,
                thread_ts=confirmed_plan.thread_ts,
                conversation_ref=confirmed_plan.conversation_ref,
                plan=confirmed_plan.plan,
            )
        )
        return None

    # In the worker ---------------------------------------------------------------------------

    def carry_out(self, job: ReturnRequested) -> None:
        """A confirmed return: claimed under its key, checked against Shopify, opened."""
        found = self._threads.worker_thread(
            job.team_id, job.channel_id, job.thread_ts, job.conversation_ref
        )
        if found is None:
            return
        shop, slack = found
        plan = job.plan
        now = self._clock()
        record = self._records.claim_return(
            plan, now, shop.expiry(now) or int((now + RETURN_MEMORY).timestamp())
        )
        if record.plan != plan:
            logger.warning("return key claimed by another plan", shop_id=shop.shop_id)
            return
        if record.state is RefundState.CLAIMED and shop.commerce_actions is None:
            self._note(slack, job, return_not_allowed_note(plan))
            self._move(plan, RefundState.CLAIMED, RefundState.DROPPED)
        elif record.state in (RefundState.CLAIMED, RefundState.EXECUTING):
            self._make(shop, slack, job, record.state)
        else:
            logger.info("return submitted again", state=record.state.value)

    def _make(self, shop: Shop, slack: SlackPort, job: ReturnRequested, state: RefundState) -> None:
        plan = job.plan
        secrets = self._vault.get(shop.shop_id)
        order = self._desk.returnable_order(shop, secrets, plan.order_number)
        if order is None:
            self._note(slack, job, return_refused_note(plan, "Shopify no longer has this order"))
            self._move(plan, state, RefundState.DROPPED)
            return
        match return_check(plan, order):
            case ReturnCheck.NOTHING_LEFT:
                self._note(slack, job, return_nothing_left_note(plan))
                self._move(plan, state, RefundState.DROPPED)
                return
            case ReturnCheck.CHANGED:
                self._note(slack, job, return_changed_note(plan))
                self._move(plan, state, RefundState.DROPPED)
                return
        if state is not RefundState.EXECUTING and not self._records.move_return(
            plan.shop_id, plan.submission_key, state, RefundState.EXECUTING
        ):
            return
        try:
            made = self._desk.create_return(shop, secrets, plan)
        except CommerceRefused as error:
            self._note(slack, job, return_refused_note(plan, error.reason))
            self._move(plan, RefundState.EXECUTING, RefundState.DROPPED)
            return
        self._note(slack, job, return_made_note(plan, made))
        self._move(plan, RefundState.EXECUTING, RefundState.DONE)

    def _move(self, plan: ReturnPlan, before: RefundState, after: RefundState) -> None:
        self._records.move_return(plan.shop_id, plan.submission_key, before, after)

    @staticmethod
    def _note(slack: SlackPort, job: ReturnRequested, note: SlackMessage) -> None:
        slack.post(job.channel_id, note, job.thread_ts)


class _Target:
    """The first modal's metadata: the conversation's thread and the returnable lines."""

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
    return {"response_action": "update", "view": refusal_view(text, TITLE)}
