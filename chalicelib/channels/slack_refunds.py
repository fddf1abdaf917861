"""Slack's refund interactions read: a *Refund #n* press on a card (the modal must open within
3 seconds of its trigger), the two modals submitted, and *Approve refund* pressed in a
thread. What Threadline put in a button's value or a modal's metadata comes back as Slack
stored it; it is still read as outside input."""

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.jobs import RefundApproval
from chalicelib.domain.outside_input import json_object
from chalicelib.presentation.refunds import APPROVE_REFUND, REFUND_CHOICE, REFUND_ORDER


@dataclass(frozen=True)
class RefundAsked:
    """*Refund #n* pressed on a conversation's card."""

    trigger_id: str
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    conversation_ref: str
    order_number: str


@dataclass(frozen=True)
class RefundChosen:
    """The first modal submitted: lines, reason, notify."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]
    chosen: tuple[int, ...]
    reason: str
    notify_customer: bool


@dataclass(frozen=True)
class RefundConfirmed:
    """The second modal submitted: the refund it showed, confirmed. `view_id` names the
    submission (a double click or Slack's retry carries the same)."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]


RefundInteraction = RefundAsked | RefundChosen | RefundConfirmed | RefundApproval


def is_refund_action(action_id: object) -> bool:
    return isinstance(action_id, str) and (
        action_id.startswith(f"{REFUND_ORDER}#") or action_id == APPROVE_REFUND
    )


def required_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"missing or invalid {name}")
    return value


def object_field(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class OrderPress:
    """What a press of any order action's button names: its value, workspace, channel and
    the conversation it is for."""

    value: dict[str, Any]
    team_id: str
    channel_id: str
    conversation_ref: str


def order_press(payload: dict[str, Any], pressed: dict[str, Any]) -> OrderPress:
    value = json_object(required_text(pressed.get("value"), "actions.value"), "actions.value")
    return OrderPress(
        value=value,
        team_id=required_text(object_field(payload, "team").get("id"), "team.id"),
        channel_id=required_text(
            object_field(payload, "container").get("channel_id"), "container.channel_id"
        ),
        conversation_ref=required_text(value.get("ref"), "actions.value.ref"),
    )


def pressed_order_number(press: OrderPress) -> str:
    order = required_text(press.value.get("order"), "actions.value.order")
    if not order.isdigit() or len(order) > 20:
        raise BadRequest("missing or invalid order number")
    return order


def approval_thread_ts(payload: dict[str, Any]) -> str:
    """The thread of an approval note's button: the note is in the conversation's thread."""
    message = object_field(payload, "message")
    container = object_field(payload, "container")
    return required_text(message.get("thread_ts") or container.get("thread_ts"), "thread_ts")


def refund_press(
    payload: dict[str, Any], pressed: dict[str, Any], user_id: str, ts: str
) -> RefundAsked | RefundApproval:
    """A refund button pressed: `user_id` and the message `ts` already checked by the
    caller's rules for card presses."""
    press = order_press(payload, pressed)
    if pressed.get("action_id") == APPROVE_REFUND:
        return RefundApproval(
            team_id=press.team_id,
            channel_id=press.channel_id,
            thread_ts=approval_thread_ts(payload),
            conversation_ref=press.conversation_ref,
            submission_key=required_text(press.value.get("key"), "actions.value.key"),
            user_id=user_id,
            action_ts=required_text(pressed.get("action_ts"), "actions.action_ts"),
        )
    return RefundAsked(
        trigger_id=required_text(payload.get("trigger_id"), "trigger_id"),
        team_id=press.team_id,
        channel_id=press.channel_id,
        thread_ts=ts,
        user_id=user_id,
        conversation_ref=press.conversation_ref,
        order_number=pressed_order_number(press),
    )


def refund_submission(
    payload: dict[str, Any], view: dict[str, Any], user_id: str
) -> RefundChosen | RefundConfirmed:
    """One of the refund modals submitted (the caller checked its callback id)."""
    metadata = json_object(str(view.get("private_metadata", "")), "private_metadata")
    view_id = required_text(view.get("id"), "view.id")
    team = required_text(object_field(payload, "team").get("id"), "team.id")
    if view.get("callback_id") != REFUND_CHOICE:
        return RefundConfirmed(view_id=view_id, team_id=team, user_id=user_id, metadata=metadata)
    values = object_field(object_field(view, "state"), "values")
    lines = object_field(object_field(values, "lines"), "lines").get("selected_options")
    notify = object_field(object_field(values, "notify"), "notify").get("selected_options")
    reason = object_field(object_field(values, "reason"), "reason").get("value")
    chosen: list[int] = []
    for option in lines if isinstance(lines, list) else []:
        index = option.get("value") if isinstance(option, dict) else None
        if not isinstance(index, str) or not index.isdigit() or len(index) > 2:
            raise BadRequest("missing or invalid line")
        chosen.append(int(index))
    return RefundChosen(
        view_id=view_id,
        team_id=team,
        user_id=user_id,
        metadata=metadata,
        chosen=tuple(sorted(set(chosen))),
        reason=reason.strip() if isinstance(reason, str) else "",
        notify_customer=isinstance(notify, list) and bool(notify),
    )
