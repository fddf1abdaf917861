"""What Slack shows of returns: the *Return #n* buttons on the card's fulfilled orders, the two
modals (how many of each returnable line and why, then exactly what will happen), and the
notes in the thread (opened, refused by the platform and why, not made).

Whatever came from the platform (line titles) or was typed (the note) is escaped; the modals'
private metadata is Threadline's own and kept well within Slack's 3,000 characters.
"""

import json
from typing import Any

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.orders import latest_first
from chalicelib.domain.returns import (
    RETURN_NOTE_MAX,
    ReturnableOrder,
    ReturnMade,
    ReturnPlan,
    ReturnReason,
)
from chalicelib.domain.shop import Shop
from chalicelib.presentation.block_kit import fit_view
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    section_block,
    shorten,
    thread_note,
)

# Action and view ids the Slack adapter parses back.
RETURN_ORDER = "return_order"
RETURN_CHOICE = "return_choice"
RETURN_CONFIRM = "return_confirm"
RETURN_BUTTONS = 3
# A quantity input's block id is this and the line's index.
QUANTITY_BLOCK = "qty"
TITLE_SHOWN = 60
RETURNABLE_FULFILMENT = frozenset({"fulfilled", "partially_fulfilled"})


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def return_buttons(conversation: Conversation, shop: Shop) -> list[dict[str, Any]]:
    """An actions block with *Return #n* for each order on the card with something fulfilled;
    nothing for a shop where nobody may act."""
    orders = conversation.orders
    if shop.commerce_actions is None or shop.shopify is None or orders is None:
        return []
    ref = conversation_ref(conversation)
    buttons = [
        {
            "type": "button",
            "action_id": f"{RETURN_ORDER}#{order.number}",
            "text": _plain(f"Return {order.name}", 75),
            "value": json.dumps({"ref": ref, "order": order.number}),
        }
        for order in latest_first(orders.orders)[:RETURN_BUTTONS]
        if not order.cancelled and order.fulfilment_status in RETURNABLE_FULFILMENT
    ]
    return [{"type": "actions", "elements": buttons}] if buttons else []


def return_choice_view(
    conversation: Conversation, order: ReturnableOrder, channel_id: str, thread_ts: str
) -> dict[str, Any]:
    """The first modal: how many of each returnable line (none unless typed), Shopify's
    reason, and a note."""
    lines = [line for line in order.lines if line.quantity > 0]
    metadata = {
        "ref": conversation_ref(conversation),
        "ch": channel_id,
        "ts": thread_ts,
        "order": order.number,
        "id": order.order_id,
        "lines": [
            [line.fulfillment_line_item_id, line.quantity, line.title[:TITLE_SHOWN]]
            for line in lines
        ],
    }
    quantities = [
        {
            "type": "input",
            "block_id": f"{QUANTITY_BLOCK}{index}",
            "optional": True,
            "label": _plain(f"{shorten(line.title, TITLE_SHOWN)} (up to {line.quantity})", 2000),
            "element": {
                "type": "number_input",
                "action_id": QUANTITY_BLOCK,
                "is_decimal_allowed": False,
                "min_value": "0",
                "max_value": str(line.quantity),
            },
        }
        for index, line in enumerate(lines)
    ]
    reasons = [
        {"text": _plain(reason.words.capitalize(), 75), "value": reason.value}
        for reason in ReturnReason
    ]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": RETURN_CHOICE,
        "title": _plain(f"Return {order.name}", 24),
        "submit": _plain("Review return", 24),
        "close": _plain("Back", 24),
        "private_metadata": json.dumps(metadata, ensure_ascii=False),
        "blocks": [
            context_block(
                f"Order *{order.name}*: how many of each item comes back. Opening a return "
                "refunds nothing; refund it once the items are back."
            ),
            *quantities,
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain("Reason (Shopify's)", 2000),
                "element": {"type": "static_select", "action_id": "reason", "options": reasons},
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": _plain("Note (kept on the return in Shopify)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "max_length": RETURN_NOTE_MAX,
                },
            },
        ],
    }
    return fit_view(view, kept=len(quantities) + 3)


def _asked(plan: ReturnPlan) -> str:
    note = f"; note: {escape_mrkdwn(plan.note)}" if plan.note else ""
    return f"{escape_mrkdwn(plan.described())} (reason: {plan.reason.words}{note})"


def return_confirm_view(plan: ReturnPlan, metadata: dict[str, Any]) -> dict[str, Any]:
    """The second modal: exactly what will happen."""
    facts = [
        f"*Open a return of order #{plan.order_number}*, approved at once",
        *(f"• {line.quantity} × {escape_mrkdwn(line.title)}" for line in plan.lines),
        f"*Reason:* {plan.reason.words}",
        *([f"*Note:* {escape_mrkdwn(plan.note)}"] if plan.note else []),
        "*Money:* nothing is refunded now",
    ]
    return fit_view(
        {
            "type": "modal",
            "callback_id": RETURN_CONFIRM,
            "title": _plain(f"Return #{plan.order_number}", 24),
            "submit": _plain("Open return", 24),
            "close": _plain("Back", 24),
            "private_metadata": json.dumps(metadata, ensure_ascii=False),
            "blocks": [section_block("\n".join(facts))],
        }
    )


def return_made_note(plan: ReturnPlan, made: ReturnMade) -> SlackMessage:
    return thread_note(
        f":white_check_mark: <@{plan.requested_by}> opened a return of {_asked(plan)}. "
        f"Shopify: return {escape_mrkdwn(made.name)} is "
        f"{escape_mrkdwn(made.status.replace('_', ' '))}."
    )


def return_refused_note(plan: ReturnPlan, reason: str) -> SlackMessage:
    return thread_note(
        f":x: No return was opened: Shopify refused <@{plan.requested_by}>'s return of "
        f"{_asked(plan)}. Why: {escape_mrkdwn(reason)}."
    )


def return_nothing_left_note(plan: ReturnPlan) -> SlackMessage:
    return thread_note(
        f":information_source: No return was opened: nothing of order #{plan.order_number} "
        f"can be returned any more on Shopify. <@{plan.requested_by}> asked for {_asked(plan)}."
    )


def return_changed_note(plan: ReturnPlan) -> SlackMessage:
    return thread_note(
        f":warning: No return was opened: some of {escape_mrkdwn(plan.described())} can no "
        f"longer be returned in that number (returned or refunded meanwhile). "
        f"<@{plan.requested_by}>, press Return again to see what is left."
    )


def return_not_allowed_note(plan: ReturnPlan) -> SlackMessage:
    return thread_note(
        f":no_entry: No return was opened: the shop allows nobody to act on orders from Slack "
        f"any more (`commerce_actions`). <@{plan.requested_by}> asked for {_asked(plan)}."
    )
