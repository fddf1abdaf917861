"""The modals agents fill in: picking a canned response for a conversation."""

import json
from typing import Any

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.shop import Shop
from chalicelib.presentation.block_kit import fit_view
from chalicelib.presentation.slack_blocks import CHANNEL_LABELS, customer_shown, shorten


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def canned_picker(conversation: Conversation, shop: Shop) -> dict[str, Any]:
    """The modal in which an agent picks a canned response for a conversation."""
    metadata = {
        "ref": conversation_ref(conversation),
        "channel": conversation.slack_channel_id,
        "thread_ts": conversation.slack_thread_ts,
    }
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "canned_response",
        "title": _plain("Canned response", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"To *{customer_shown(conversation)}* "
                        f"({CHANNEL_LABELS[conversation.channel]})",
                    }
                ],
            }
        ],
    }
    if not shop.canned_responses:
        view["blocks"].append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "This shop has no canned responses yet: an operator adds them "
                    "to the shop's `canned_responses`.",
                },
            }
        )
        return fit_view(view)
    view["submit"] = _plain("Send to customer", 24)
    view["blocks"] += _picker_inputs(conversation, shop)
    return fit_view(view, kept=2)


def _picker_inputs(conversation: Conversation, shop: Shop) -> list[dict[str, Any]]:
    """The picker's two inputs: the response, and the order number it fills in (the
    customer's last one suggested)."""
    order: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "order_number",
        "placeholder": _plain("e.g. 1042", 150),
    }
    if conversation.order_number:
        order["initial_value"] = conversation.order_number
    return [
        {
            "type": "input",
            "block_id": "response",
            "label": _plain("Response", 2000),
            "element": {
                "type": "static_select",
                "action_id": "response",
                "options": [
                    {
                        "text": _plain(canned.name, 75),
                        "description": _plain(canned.text, 75),
                        "value": canned.name,
                    }
                    for canned in shop.canned_responses
                ],
            },
        },
        {
            "type": "input",
            "block_id": "order_number",
            "optional": True,
            "label": _plain("Order number", 2000),
            "hint": _plain("Fills {order_number}; the customer's last #number is suggested.", 150),
            "element": order,
        },
    ]
