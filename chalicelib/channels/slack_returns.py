"""Slack's return interactions read: a *Return #n* press on a card (the modal must open within
3 seconds of its trigger) and the two modals submitted. What Threadline put in a button's
value or a modal's metadata comes back as Slack stored it; it is still read as outside
input."""

from dataclasses import dataclass
from typing import Any

from chalicelib.channels.slack_refunds import (
    object_field,
    order_press,
    pressed_order_number,
    required_text,
)
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.outside_input import json_object
from chalicelib.domain.refunds import LINES_OFFERED
from chalicelib.domain.returns import ReturnReason
from chalicelib.presentation.returns import QUANTITY_BLOCK, RETURN_CHOICE, RETURN_ORDER


@dataclass(frozen=True)
class ReturnAsked:
    """*Return #n* pressed on a conversation's card."""

    trigger_id: str
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    conversation_ref: str
    order_number: str


@dataclass(frozen=True)
class ReturnChosen:
    """The first modal submitted: a quantity per offered line (by index), reason, note."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]
    quantities: tuple[tuple[int, int], ...]
    reason: ReturnReason
    note: str


@dataclass(frozen=True)
class ReturnConfirmed:
    """The second modal submitted. `view_id` names the submission (a double click or Slack's
    retry carries the same)."""

    view_id: str
    team_id: str
    user_id: str
    metadata: dict[str, Any]


ReturnInteraction = ReturnAsked | ReturnChosen | ReturnConfirmed


def is_return_action(action_id: object) -> bool:
    return isinstance(action_id, str) and action_id.startswith(f"{RETURN_ORDER}#")


def return_press(
    payload: dict[str, Any], pressed: dict[str, Any], user_id: str, ts: str
) -> ReturnAsked:
    """*Return #n* pressed: `user_id` and the message `ts` already checked by the caller."""
    press = order_press(payload, pressed)
    return ReturnAsked(
        trigger_id=required_text(payload.get("trigger_id"), "trigger_id"),
        team_id=press.team_id,
        channel_id=press.channel_id,
        thread_ts=ts,
        user_id=user_id,
        conversation_ref=press.conversation_ref,
        order_number=pressed_order_number(press),
    )


def _quantity(block: dict[str, Any]) -> int:
    typed = object_field(block, QUANTITY_BLOCK).get("value")
    if typed is None or typed == "":
        return 0
    if not isinstance(typed, str) or not typed.isdigit() or len(typed) > 6:
        raise BadRequest("invalid quantity")
    return int(typed)


def return_submission(
    payload: dict[str, Any], view: dict[str, Any], user_id: str
) -> ReturnChosen | ReturnConfirmed:
    """One of the return modals submitted (the caller checked its callback id)."""
    metadata = json_object(str(view.get("private_metadata", "")), "private_metadata")
    view_id = required_text(view.get("id"), "view.id")
    team = required_text(object_field(payload, "team").get("id"), "team.id")
    if view.get("callback_id") != RETURN_CHOICE:
        return ReturnConfirmed(view_id=view_id, team_id=team, user_id=user_id, metadata=metadata)
    values = object_field(object_field(view, "state"), "values")
    quantities = tuple(
        (index, quantity)
        for index in range(LINES_OFFERED)
        if (quantity := _quantity(object_field(values, f"{QUANTITY_BLOCK}{index}"))) > 0
    )
    picked = object_field(object_field(values, "reason"), "reason").get("selected_option")
    reason_value = picked.get("value") if isinstance(picked, dict) else None
    if reason_value not in set(ReturnReason):
        raise BadRequest("missing or invalid reason")
    note = object_field(object_field(values, "note"), "note").get("value")
    return ReturnChosen(
        view_id=view_id,
        team_id=team,
        user_id=user_id,
        metadata=metadata,
        quantities=quantities,
        reason=ReturnReason(reason_value),
        note=note.strip() if isinstance(note, str) else "",
    )
