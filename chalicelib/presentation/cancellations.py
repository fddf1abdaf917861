"""What Slack shows of order cancellations: the *Cancel #n* buttons on the card's orders, the
two modals (the choices, then exactly what will happen), and the notes in the thread
(accepted by the platform, refused and why, not made, waiting for a second person with its
*Approve* button).

Whatever was typed (the staff note) is escaped; the modals' private metadata is Threadline's
own and kept well within Slack's 3,000 characters.
"""

import json
from typing import Any

from chalicelib.domain.cancellations import (
    CANCELLABLE_FULFILMENT,
    CancelAccepted,
    CancellableOrder,
    CancelPlan,
    CancelReason,
)
from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.orders import Money, latest_first
from chalicelib.domain.refunds import REASON_MAX
from chalicelib.domain.shop import Shop
from chalicelib.presentation.block_kit import fit_view
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    fitted_message,
    section_block,
    shorten,
    thread_note,
)

# Action and view ids the Slack adapter parses back.
CANCEL_ORDER = "cancel_order"
APPROVE_CANCEL = "approve_cancel"
CANCEL_CHOICE = "cancel_choice"
CANCEL_CONFIRM = "cancel_confirm"
CANCEL_BUTTONS = 3
# The choices' option values.
RESTOCK, REFUND, NOTIFY = "restock", "refund", "notify"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def cancel_buttons(conversation: Conversation, shop: Shop) -> list[dict[str, Any]]:
    """An actions block with *Cancel #n* for each order on the card not cancelled nor
    fulfilled yet; nothing for a shop where nobody may act."""
    orders = conversation.orders
    if shop.commerce_actions is None or shop.shopify is None or orders is None:
        return []
    ref = conversation_ref(conversation)
    buttons = [
        {
            "type": "button",
            "action_id": f"{CANCEL_ORDER}#{order.number}",
            "text": _plain(f"Cancel {order.name}", 75),
            "value": json.dumps({"ref": ref, "order": order.number}),
        }
        for order in latest_first(orders.orders)[:CANCEL_BUTTONS]
        if not order.cancelled and order.fulfilment_status in CANCELLABLE_FULFILMENT
    ]
    return [{"type": "actions", "elements": buttons}] if buttons else []


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": _plain(text, 75), "value": value}


def cancel_choice_view(
    conversation: Conversation, order: CancellableOrder, channel_id: str, thread_ts: str
) -> dict[str, Any]:
    """The first modal: restock, refund to the original payment, tell the customer (all
    chosen at first), Shopify's reason, and a staff note."""
    metadata = {
        "ref": conversation_ref(conversation),
        "ch": channel_id,
        "ts": thread_ts,
        "order": order.number,
        "id": order.order_id,
        "refundable": order.refundable.model_dump(mode="json"),
    }
    options = [
        _option(RESTOCK, "Restock the items"),
        _option(REFUND, f"Refund {order.refundable.shown()} to the original payment"),
        _option(NOTIFY, "Shopify emails the customer"),
    ]
    reasons = [_option(reason.value, reason.words.capitalize()) for reason in CancelReason]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": CANCEL_CHOICE,
        "title": _plain(f"Cancel {order.name}", 24),
        "submit": _plain("Review cancellation", 24),
        "close": _plain("Back", 24),
        "private_metadata": json.dumps(metadata, ensure_ascii=False),
        "blocks": [
            context_block(
                f"Order *{order.name}* · {escape_mrkdwn(order.total.shown())}, not fulfilled. "
                "A cancelled order cannot be reopened."
            ),
            {
                "type": "input",
                "block_id": "options",
                "optional": True,
                "label": _plain("What else happens", 2000),
                "element": {
                    "type": "checkboxes",
                    "action_id": "options",
                    "options": options,
                    "initial_options": options,
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain("Reason (Shopify's)", 2000),
                "element": {
                    "type": "static_select",
                    "action_id": "reason",
                    "options": reasons,
                    "initial_option": reasons[0],
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": _plain("Staff note (kept in Shopify, not shown to the customer)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "max_length": REASON_MAX,
                },
            },
        ],
    }
    return fit_view(view, kept=4)


def _facts(plan: CancelPlan) -> list[str]:
    refund = (
        f"*Refund:* {escape_mrkdwn(plan.refund_amount.shown())} back to the original payment"
        if plan.refund
        else "*Refund:* none (the payment is kept; a pending authorisation is released)"
    )
    return [
        f"*Cancel order #{plan.order_number}*",
        refund,
        "*Stock:* " + ("items restocked" if plan.restock else "items not restocked"),
        "*Customer:* "
        + (
            "Shopify emails them the cancellation"
            if plan.notify_customer
            else "not told by Shopify"
        ),
        f"*Reason:* {escape_mrkdwn(plan.reason.words)}",
        *([f"*Staff note:* {escape_mrkdwn(plan.note)}"] if plan.note else []),
    ]


def cancel_confirm_view(
    plan: CancelPlan, metadata: dict[str, Any], limit: Money | None
) -> dict[str, Any]:
    """The second modal: exactly what will happen, and that a second person must approve it
    when its refund is above the shop's limit (`limit`)."""
    blocks = [
        section_block("\n".join(_facts(plan))),
        context_block(
            "Shopify cancels in the background: the thread says when the order shows as cancelled."
        ),
    ]
    if limit is not None:
        blocks.append(
            context_block(
                f":raised_hand: The refund is above the shop's limit of "
                f"{escape_mrkdwn(limit.shown())}: nothing is cancelled until another allowed "
                "person approves it in the thread."
            )
        )
    return fit_view(
        {
            "type": "modal",
            "callback_id": CANCEL_CONFIRM,
            "title": _plain(f"Cancel #{plan.order_number}", 24),
            "submit": _plain("Ask for approval" if limit is not None else "Cancel order", 24),
            "close": _plain("Keep order", 24),
            "private_metadata": json.dumps(metadata, ensure_ascii=False),
            "blocks": blocks,
        }
    )


def _asked(plan: CancelPlan) -> str:
    notified = "customer notified" if plan.notify_customer else "customer not notified"
    return (
        f"{escape_mrkdwn(plan.described())} (reason: {escape_mrkdwn(plan.reason.words)}; "
        f"{notified})"
    )


def cancel_accepted_note(
    plan: CancelPlan, accepted: CancelAccepted, approved_by: str | None
) -> SlackMessage:
    approval = f", approved by <@{approved_by}>" if approved_by else ""
    job = f" (job {escape_mrkdwn(accepted.job_id)})" if accepted.job_id else ""
    state = (
        "the order now shows as cancelled"
        if accepted.order_cancelled
        else "the order does not show as cancelled yet; Refresh orders in a moment to see it"
    )
    return thread_note(
        f":white_check_mark: <@{plan.requested_by}> asked Shopify to {_asked(plan)}{approval}. "
        f"Shopify accepted it{job}: {state}."
    )


def cancel_refused_note(plan: CancelPlan, reason: str) -> SlackMessage:
    return thread_note(
        f":x: Nothing was cancelled: Shopify refused <@{plan.requested_by}>'s request to "
        f"{_asked(plan)}. Why: {escape_mrkdwn(reason)}."
    )


def already_cancelled_note(plan: CancelPlan) -> SlackMessage:
    return thread_note(
        f":information_source: Nothing was done: order #{plan.order_number} is cancelled "
        f"already on Shopify. <@{plan.requested_by}> asked to {_asked(plan)}."
    )


def fulfilled_meanwhile_note(plan: CancelPlan) -> SlackMessage:
    return thread_note(
        f":warning: Nothing was cancelled: order #{plan.order_number} has been fulfilled "
        f"(shipped) since <@{plan.requested_by}> asked. Start a return instead."
    )


def cancel_changed_note(plan: CancelPlan, refundable: Money) -> SlackMessage:
    return thread_note(
        f":warning: Nothing was cancelled: a refund with it would now give back "
        f"{escape_mrkdwn(refundable.shown())}, not the "
        f"{escape_mrkdwn(plan.refund_amount.shown())} <@{plan.requested_by}> confirmed (the "
        "order changed meanwhile). Press Cancel again to see it as it is."
    )


def cancel_not_allowed_note(plan: CancelPlan) -> SlackMessage:
    return thread_note(
        f":no_entry: Nothing was cancelled: the shop allows nobody to act on orders from Slack "
        f"any more (`commerce_actions`). <@{plan.requested_by}> asked to {_asked(plan)}."
    )


def cancel_awaiting_approval_note(plan: CancelPlan, limit: Money) -> SlackMessage:
    """The cancellation whose refund is above the limit, held: its *Approve cancellation*
    button for another allowed person."""
    text = (
        f":raised_hand: <@{plan.requested_by}> asks to {_asked(plan)}. The refund is above the "
        f"shop's limit of {escape_mrkdwn(limit.shown())}: another allowed person must approve "
        "it. Nothing is cancelled until then."
    )
    button = {
        "type": "button",
        "action_id": APPROVE_CANCEL,
        "style": "primary",
        "text": _plain("Approve cancellation", 75),
        "value": json.dumps({"ref": plan.conversation_ref, "key": plan.submission_key}),
    }
    return fitted_message(
        text, [section_block(text), {"type": "actions", "elements": [button]}], kept=1
    )


def cancel_approval_refused_note(user_id: str, same_person: bool) -> SlackMessage:
    why = (
        "the person who asked for it cannot approve it too"
        if same_person
        else "only the people and user groups in the shop's `commerce_actions.allowed` can"
    )
    return thread_note(f":no_entry: <@{user_id}> cannot approve this cancellation: {why}.")
