"""What Slack shows of refunds: the *Refund* buttons on the card's orders, the two modals (what
to refund, then exactly what will happen), a plain refusal, and the notes in the thread (done,
refused by the platform and why, not made, waiting for a second person with its *Approve*
button).

Whatever came from the platform (line titles) or was typed (the reason) is escaped; the
modals' private metadata is Threadline's own and kept well within Slack's 3,000 characters.
"""

import json
from typing import Any

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.orders import Money, latest_first
from chalicelib.domain.refunds import (
    REASON_MAX,
    RefundableOrder,
    RefundDone,
    RefundPlan,
)
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
REFUND_ORDER = "refund_order"
APPROVE_REFUND = "approve_refund"
REFUND_CHOICE = "refund_choice"
REFUND_CONFIRM = "refund_confirm"
# A line's title as the modal and the metadata keep it.
TITLE_SHOWN = 60
REFUND_BUTTONS = 3
NOT_REFUNDABLE = frozenset({"refunded", "voided"})


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def platform_name(shop: Shop) -> str:
    """The shop's commerce platform as the modals and notes name it."""
    return "WooCommerce" if shop.woocommerce is not None else "Shopify"


def _tells_customer(platform: str) -> bool:
    # Shopify's refund takes `notify`; WooCommerce sends its own refund email, or none, as the
    # store is set up, whatever is asked.
    return platform == "Shopify"


def _customer_told(plan: RefundPlan, platform: str) -> str:
    if not _tells_customer(platform):
        return f"{platform}'s refund email, if the store sends one"
    return (
        f"{platform} emails them the refund" if plan.notify_customer else f"not told by {platform}"
    )


def refund_buttons(conversation: Conversation, shop: Shop) -> list[dict[str, Any]]:
    """An actions block with *Refund #n* for each order shown on the card that can still
    be refunded; nothing for a shop where nobody may act."""
    orders = conversation.orders
    if shop.commerce_actions is None or not shop.sells_online or orders is None:
        return []
    ref = conversation_ref(conversation)
    buttons = [
        {
            "type": "button",
            # Unique in its block, as Slack requires.
            "action_id": f"{REFUND_ORDER}#{order.number}",
            "text": _plain(f"Refund {order.name}", 75),
            "value": json.dumps({"ref": ref, "order": order.number}),
        }
        for order in latest_first(orders.orders)[:REFUND_BUTTONS]
        if not order.cancelled and order.payment_status not in NOT_REFUNDABLE
    ]
    return [{"type": "actions", "elements": buttons}] if buttons else []


def refusal_view(text: str, title: str = "Refund") -> dict[str, Any]:
    """A modal that only says why: who may not act, or what cannot be done."""
    return fit_view(
        {
            "type": "modal",
            "title": _plain(title, 24),
            "close": _plain("Close", 24),
            "blocks": [section_block(escape_mrkdwn(text))],
        }
    )


def refund_choice_view(
    conversation: Conversation,
    order: RefundableOrder,
    channel_id: str,
    thread_ts: str,
    platform: str = "Shopify",
) -> dict[str, Any]:
    """The first modal: which lines (all of them: the whole order), the reason, and whether
    Shopify tells the customer. Only lines with something left to refund are offered."""
    lines = [line for line in order.lines if line.refundable_quantity > 0]
    metadata = {
        "ref": conversation_ref(conversation),
        "ch": channel_id,
        "ts": thread_ts,
        "order": order.number,
        "id": order.order_id,
        "lines": [
            [line.line_item_id, line.refundable_quantity, line.title[:TITLE_SHOWN]]
            for line in lines
        ],
    }
    options = [
        {
            "text": _plain(
                f"{line.refundable_quantity} × {shorten(line.title, 40)} "
                f"({line.unit_price.shown()} each)",
                75,
            ),
            "value": str(index),
        }
        for index, line in enumerate(lines)
    ]
    refunded = (
        f" · {escape_mrkdwn(order.refunded.shown())} refunded already"
        if order.refunded.amount > 0
        else ""
    )
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": REFUND_CHOICE,
        "title": _plain(f"Refund {order.name}", 24),
        "submit": _plain("Review refund", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(metadata, ensure_ascii=False),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Order *{order.name}* · {escape_mrkdwn(order.total.shown())}"
                        f"{refunded}. All lines chosen: the whole order (what is left of it).",
                    }
                ],
            },
            {
                "type": "input",
                "block_id": "lines",
                "label": _plain("What to refund", 2000),
                "element": {
                    "type": "checkboxes",
                    "action_id": "lines",
                    "options": options,
                    "initial_options": options,
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain(f"Reason (kept on the refund in {platform})", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "max_length": REASON_MAX,
                },
            },
            {
                "type": "input",
                "block_id": "notify",
                "optional": True,
                "label": _plain("Customer", 2000),
                "element": {
                    "type": "checkboxes",
                    "action_id": "notify",
                    "options": [
                        {"text": _plain(f"{platform} emails the customer", 75), "value": "notify"}
                    ],
                },
            }
            if _tells_customer(platform)
            else context_block(
                f"The customer gets {platform}'s refund email if the store sends one."
            ),
        ],
    }
    return fit_view(view, kept=3)


def _what(plan: RefundPlan) -> str:
    return escape_mrkdwn(plan.described())


def refund_confirm_view(
    plan: RefundPlan, metadata: dict[str, Any], limit: Money | None, platform: str = "Shopify"
) -> dict[str, Any]:
    """The second modal: exactly what will happen, and that a second person must approve it
    when it is above the shop's limit (`limit`)."""
    amount = escape_mrkdwn(plan.amount.shown())
    facts = [
        f"*Refund {amount}* to the customer's original payment",
        f"*What:* {_what(plan)}",
        f"*Reason:* {escape_mrkdwn(plan.reason)}",
        f"*Customer:* {_customer_told(plan, platform)}",
    ]
    blocks = [section_block("\n".join(facts))]
    if limit is not None:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f":raised_hand: Above the shop's limit of "
                        f"{escape_mrkdwn(limit.shown())}: nothing is refunded until another "
                        "allowed person approves it in the thread.",
                    }
                ],
            }
        )
    return fit_view(
        {
            "type": "modal",
            "callback_id": REFUND_CONFIRM,
            "title": _plain(f"Refund #{plan.order_number}", 24),
            "submit": _plain(
                "Ask for approval" if limit is not None else f"Refund {plan.amount.shown()}", 24
            ),
            "close": _plain("Cancel", 24),
            "private_metadata": json.dumps(metadata, ensure_ascii=False),
            "blocks": blocks,
        }
    )


def _asked(plan: RefundPlan) -> str:
    notified = "customer notified" if plan.notify_customer else "customer not notified"
    return (
        f"*{escape_mrkdwn(plan.amount.shown())}* of {_what(plan)} "
        f"(reason: {escape_mrkdwn(plan.reason)}; {notified})"
    )


def refund_done_note(
    plan: RefundPlan, done: RefundDone, approved_by: str | None, platform: str = "Shopify"
) -> SlackMessage:
    approval = f", approved by <@{approved_by}>" if approved_by else ""
    status = escape_mrkdwn(done.financial_status.replace("_", " ") or "unknown")
    return thread_note(
        f":white_check_mark: <@{plan.requested_by}> refunded {_asked(plan)}{approval}. "
        f"{platform}: refund of {escape_mrkdwn(done.amount.shown())} made; the order is now "
        f"{status}, {escape_mrkdwn(done.order_refunded.shown())} refunded in all."
    )


def refund_refused_note(plan: RefundPlan, reason: str, platform: str = "Shopify") -> SlackMessage:
    return thread_note(
        f":x: Nothing was refunded: {platform} refused <@{plan.requested_by}>'s refund of "
        f"{_asked(plan)}. Why: {escape_mrkdwn(reason)}."
    )


def refund_nothing_left_note(plan: RefundPlan, platform: str = "Shopify") -> SlackMessage:
    return thread_note(
        f":information_source: Nothing was refunded: {_what(plan)} has nothing left to "
        f"refund on {platform} (refunded already). <@{plan.requested_by}> asked for "
        f"{escape_mrkdwn(plan.amount.shown())}."
    )


def refund_changed_note(
    plan: RefundPlan, suggested: Money, platform: str = "Shopify"
) -> SlackMessage:
    return thread_note(
        f":warning: Nothing was refunded: {platform} now suggests "
        f"{escape_mrkdwn(suggested.shown())} for {_what(plan)}, not the "
        f"{escape_mrkdwn(plan.amount.shown())} <@{plan.requested_by}> confirmed (the order "
        "changed meanwhile). Press Refund again to see what is left."
    )


def refund_not_allowed_note(plan: RefundPlan) -> SlackMessage:
    return thread_note(
        f":no_entry: Nothing was refunded: the shop allows nobody to refund from Slack any "
        f"more (`commerce_actions`). <@{plan.requested_by}> asked for {_asked(plan)}."
    )


def awaiting_approval_note(plan: RefundPlan, limit: Money) -> SlackMessage:
    """The refund above the limit, held: its *Approve refund* button for another allowed
    person."""
    text = (
        f":raised_hand: <@{plan.requested_by}> asks to refund {_asked(plan)}. It is above the "
        f"shop's limit of {escape_mrkdwn(limit.shown())}: another allowed person must approve "
        "it. Nothing is refunded until then."
    )
    button = {
        "type": "button",
        "action_id": APPROVE_REFUND,
        "style": "primary",
        "text": _plain("Approve refund", 75),
        "value": json.dumps({"ref": plan.conversation_ref, "key": plan.submission_key}),
    }
    return fitted_message(
        text, [section_block(text), {"type": "actions", "elements": [button]}], kept=1
    )


def approval_refused_note(user_id: str, same_person: bool) -> SlackMessage:
    why = (
        "the person who asked for a refund cannot approve it too"
        if same_person
        else "only the people and user groups in the shop's `commerce_actions.allowed` can"
    )
    return thread_note(f":no_entry: <@{user_id}> cannot approve this refund: {why}.")
