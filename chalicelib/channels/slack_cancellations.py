"""Slack's order-cancellation interactions read: a *Cancel #n* press on a card (the modal must
open within 3 seconds of its trigger), the two modals submitted, and *Approve cancellation*
pressed in a thread. What Threadline put in a button's value or a modal's metadata comes back
as Slack stored it; it is still read as outside input."""

from dataclasses import dataclass
from typing import Any

from chalicelib.channels.slack_refunds import (
    approval_thread_ts,
    object_field,
    order_press,
    pressed_order_number,
    required_text,
)
from chalicelib.domain.cancellations import CancelReason
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.jobs import CancelApproval
from chalicelib.domain.outside_input import json_object
from chalicelib.presentation.cancellations import (
    APPROVE_CANCEL,
    CANCEL_CHOICE,
    CANCEL_ORDER,
    NOTIFY,
    REFUND,
    RESTOCK,
)


@dataclass(frozen=True)
class CancelAsked:
    """*Cancel #n* pressed on a conversation's card."""

    trigger_id: str
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    conversation_ref: str
    order_number: str


@dataclass(frozen=True)
class CancelChosen:
    """The first modal submitted: restock, refund, notify, reason, note."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]
    restock: bool
    refund: bool
    notify_customer: bool
    reason: CancelReason
    note: str


@dataclass(frozen=True)
class CancelConfirmed:
    """The second modal submitted: the cancellation it showed, confirmed. `view_id` names the
    submission (a double click or Slack's retry carries the same)."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]


CancelInteraction = CancelAsked | CancelChosen | CancelConfirmed | CancelApproval


def is_cancel_action(action_id: object) -> bool:
    return isinstance(action_id, str) and (
        action_id.startswith(f"{CANCEL_ORDER}#") or action_id == APPROVE_CANCEL
    )


def cancel_press(
    payload: dict[str, Any], pressed: dict[str, Any], user_id: str, ts: str
) -> CancelAsked | CancelApproval:
    """A cancellation button pressed: `user_id` and the message `ts` already checked by the
    caller's rules for card presses."""
    press = order_press(payload, pressed)
    if pressed.get("action_id") == APPROVE_CANCEL:
        return CancelApproval(
            team_id=press.team_id,
            channel_id=press.channel_id,
            thread_ts=approval_thread_ts(payload),
            conversation_ref=press.conversation_ref,
            submission_key=required_text(press.value.get("key"), "actions.value.key"),
            user_id=user_id,
            action_ts=required_text(pressed.get("action_ts"), "actions.action_ts"),
        )
    return CancelAsked(
        trigger_id=required_text(payload.get("trigger_id"), "trigger_id"),
        team_id=press.team_id,
        channel_id=press.channel_id,
        thread_ts=ts,
        user_id=user_id,
        conversation_ref=press.conversation_ref,
        order_number=pressed_order_number(press),
    )


def cancel_submission(
    payload: dict[str, Any], view: dict[str, Any], user_id: str
) -> CancelChosen | CancelConfirmed:
    """One of the cancellation modals submitted (the caller checked its callback id)."""
    metadata = json_object(str(view.get("private_metadata", "")), "private_metadata")
    view_id = required_text(view.get("id"), "view.id")
    team = required_text(object_field(payload, "team").get("id"), "team.id")
    if view.get("callback_id") != CANCEL_CHOICE:
        return CancelConfirmed(view_id=view_id, team_id=team, user_id=user_id, metadata=metadata)
    values = object_field(object_field(view, "state"), "values")
    selected = object_field(object_field(values, "options"), "options").get("selected_options")
    chosen = {
        option.get("value")
        for option in (selected if isinstance(selected, list) else [])
        if isinstance(option, dict)
    }
    picked = object_field(object_field(values, "reason"), "reason").get("selected_option")
    reason_value = picked.get("value") if isinstance(picked, dict) else None
    if reason_value not in set(CancelReason):
        raise BadRequest("missing or invalid reason")
    reason = CancelReason(reason_value)
    note = object_field(object_field(values, "note"), "note").get("value")
    return CancelChosen(
        view_id=view_id,
        team_id=team,
        user_id=user_id,
        metadata=metadata,
        restock=RESTOCK in chosen,
        refund=REFUND in chosen,
        notify_customer=NOTIFY in chosen,
        reason=reason,
        note=note.strip() if isinstance(note, str) else "",
    )
