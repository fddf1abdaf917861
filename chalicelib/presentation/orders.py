"""The customer's orders on the conversation's card: at most three, latest first, each with
its status and tracking link, and the lifetime figures; the *Refresh orders* button; and the
note told in the thread when an order cannot be quoted.

Everything shown came from the platform (a carrier, a tracking number, a link): escaped like
a customer's text, each line cut to its element by `block_kit` as the card is fitted.
"""

from typing import Any

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.jobs import CardAction
from chalicelib.domain.orders import LookupOutcome, Order, OrderSummary, latest_first
from chalicelib.domain.shop import Shop
from chalicelib.presentation.cancellations import cancel_buttons
from chalicelib.presentation.refunds import refund_buttons
from chalicelib.presentation.returns import return_buttons
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    local_time,
    section_block,
    thread_note,
)

ORDERS_SHOWN = 3
# Shown of a value the platform chose (a carrier's name, a tracking number).
VALUE_SHOWN = 60


def _words(status: str) -> str:
    return escape_mrkdwn(status[:VALUE_SHOWN].replace("_", " ").capitalize())


def _value(text: str) -> str:
    return escape_mrkdwn(text[:VALUE_SHOWN])


def _tracking(order: Order) -> str | None:
    number = _value(order.tracking_number) if order.tracking_number else None
    if order.tracking_url:
        # The adapter keeps web links only (no "<", ">", "|" or spaces): "&" is all to escape.
        url = order.tracking_url.replace("&", "&amp;")
        return f"<{url}|{number or 'Track'}>"
    return number


def order_line(order: Order, timezone: str, quoted: bool = False) -> str:
    """One order: number, date, total, payment and fulfilment status, and its shipment."""
    parts = [
        f"*{order.name}*" + (" (quoted)" if quoted else ""),
        local_time(order.placed_at, timezone),
        escape_mrkdwn(order.total.shown()),
        "Cancelled" if order.cancelled else _words(order.payment_status),
        _words(order.fulfilment_status),
    ]
    if order.delivery_status:
        parts.append(_words(order.delivery_status))
    shipment = " ".join(
        part
        for part in (_value(order.carrier) if order.carrier else None, _tracking(order))
        if part
    )
    if shipment:
        parts.append(f":truck: {shipment}")
    if order.estimated_delivery:
        parts.append(f"ETA {order.estimated_delivery.date().isoformat()}")
    return " · ".join(parts)


def _state_line(orders: OrderSummary | None, timezone: str) -> str | None:
    if orders is None:
        return ":hourglass_flowing_sand: Looking up the customer's orders…"
    match orders.outcome:
        case LookupOutcome.UNAVAILABLE:
            since = local_time(orders.checked_at, timezone)
            return (
                f":warning: Orders unavailable: the shop's platform did not answer ({since}); "
                "trying again."
            )
        case LookupOutcome.REFUSED:
            return f":no_entry: Orders unavailable: {escape_mrkdwn(orders.reason or 'refused')}."
        case LookupOutcome.NOT_A_CUSTOMER:
            return "No customer of the shop has this customer's email or phone number."
        case LookupOutcome.FOUND if not orders.orders:
            return "A customer of the shop, with no orders yet."
    return None


def orders_blocks(conversation: Conversation, shop: Shop) -> list[dict[str, Any]]:
    """The card's orders section; nothing for a shop without a commerce platform."""
    if not shop.sells_online:
        return []
    orders = conversation.orders
    lines = [line] if (line := _state_line(orders, shop.timezone)) else []
    quoted = conversation.order_number
    if orders is not None and orders.orders:
        shown = latest_first(orders.orders)[:ORDERS_SHOWN]
        lines += [order_line(order, shop.timezone, order.number == quoted) for order in shown]
        if quoted and orders.order(quoted) is None:
            # Said of the number only: whose order it is, if anyone's, is never shown.
            lines.append(f":grey_question: #{escape_mrkdwn(quoted)} is not one of their orders.")
        spent = f" · {escape_mrkdwn(orders.total_spent.shown())}" if orders.total_spent else ""
        count = orders.order_count
        lines.append(f"*Lifetime:* {count} order{'' if count == 1 else 's'}{spent}")
    return [
        section_block("*:package: Orders*"),
        *(context_block(text) for text in lines),
        *refund_buttons(conversation, shop),
        *cancel_buttons(conversation, shop),
        *return_buttons(conversation, shop),
    ]


def refresh_orders_button(conversation: Conversation) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": CardAction.REFRESH_ORDERS.value,
        "text": {"type": "plain_text", "text": "Refresh orders"},
        "value": conversation_ref(conversation),
    }


def order_refused_note(reason: str) -> SlackMessage:
    """Told in the thread when a canned response cannot quote an order: nothing was sent."""
    return thread_note(f":warning: No order quoted, nothing was sent: {escape_mrkdwn(reason)}.")
