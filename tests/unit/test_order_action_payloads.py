"""Whatever Slack (or someone posing as it, past the signature) sends for the cancellation and
return buttons and modals, reading it answers a typed interaction or a `BadRequest` (a 4xx
with a short reason), never anything else."""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.channels.slack import parse_interaction
from chalicelib.channels.slack_cancellations import CancelAsked, CancelChosen
from chalicelib.channels.slack_returns import ReturnChosen
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.jobs import CancelApproval

pytestmark = pytest.mark.unit

leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
values = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
ids = st.sampled_from(["cancel_order#1044", "approve_cancel", "return_order#1042", "cancel_order#"])
callbacks = st.sampled_from(["cancel_choice", "cancel_confirm", "return_choice", "return_confirm"])


def body(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def read(payload: Any) -> object:
    """The interaction read, or the refusal (its reason short enough to answer with)."""
    try:
        return parse_interaction(body(payload))
    except BadRequest as refused:
        reason = str(refused)
    assert 0 < len(reason) <= 200
    return reason


@settings(max_examples=150, deadline=None)
@given(
    action_id=ids,
    value=values | values.map(json.dumps),
    container=values,
    message=values,
    action_ts=values,
)
def test_a_press_reads_or_is_refused(
    action_id: str, value: Any, container: Any, message: Any, action_ts: Any
) -> None:
    read(
        {
            "type": "block_actions",
            "team": {"id": "T0TEAM"},
            "user": {"id": "U0ALICE"},
            "trigger_id": "1337.42.abcd",
            "container": container,
            "message": message,
            "actions": [{"action_id": action_id, "value": value, "action_ts": action_ts}],
        }
    )


@settings(max_examples=150, deadline=None)
@given(callback=callbacks, metadata=values | values.map(json.dumps), state=values, view_id=values)
def test_a_submission_reads_or_is_refused(
    callback: str, metadata: Any, state: Any, view_id: Any
) -> None:
    read(
        {
            "type": "view_submission",
            "team": {"id": "T0TEAM"},
            "user": {"id": "U0ALICE"},
            "view": {
                "id": view_id,
                "callback_id": callback,
                "private_metadata": metadata,
                "state": state,
            },
        }
    )


def test_well_formed_ones_read_as_what_they_are() -> None:
    press: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE"},
        "trigger_id": "1337.42.abcd",
        "container": {"channel_id": "C0SUPPORT", "message_ts": "1764000000.000100"},
        "message": {"ts": "1764000000.000200", "thread_ts": "1764000000.000100"},
        "actions": [
            {
                "action_id": "cancel_order#1044",
                "value": json.dumps({"ref": "ana:c1", "order": "1044"}),
                "action_ts": "1764000001.000100",
            }
        ],
    }
    asked = read(press)
    assert isinstance(asked, CancelAsked)
    assert asked.order_number == "1044"
    approve = {**press, "actions": [{**press["actions"][0], "action_id": "approve_cancel"}]}
    approve["actions"][0]["value"] = json.dumps({"ref": "ana:c1", "key": "ana:cancel:V1"})
    assert isinstance(read(approve), CancelApproval)

    submission: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE"},
        "view": {
            "id": "V1",
            "callback_id": "cancel_choice",
            "private_metadata": "{}",
            "state": {
                "values": {
                    "options": {"options": {"selected_options": [{"value": "refund"}]}},
                    "reason": {"reason": {"selected_option": {"value": "FRAUD"}}},
                }
            },
        },
    }
    chosen = read(submission)
    assert isinstance(chosen, CancelChosen)
    assert (chosen.refund, chosen.restock, chosen.notify_customer) == (True, False, False)
    submission["view"]["callback_id"] = "return_choice"
    submission["view"]["state"]["values"] |= {"qty1": {"qty": {"value": "2"}}}
    submission["view"]["state"]["values"]["reason"]["reason"]["selected_option"]["value"] = "COLOR"
    returned = read(submission)
    assert isinstance(returned, ReturnChosen)
    assert returned.quantities == ((1, 2),)
