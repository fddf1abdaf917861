"""The buttons on a conversation's card: pressed in Slack, applied through the queue, shown
on the card and in the thread."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.settings import SCHEDULE_GROUP
from local_stack.pump import SchedulePump
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL
from tests.signing import (
    CHANNEL_ID,
    TEAM_ID,
    form,
    slack_headers,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
PATH = "/webhooks/twilio/ana"


def customer_writes(client: Any, sid_number: int, body: str) -> None:
    params = twilio_message(sid_number, Body=body)
    headers = twilio_headers(PUBLIC_URL + PATH, params)
    assert client.http.post(PATH, headers=headers, body=form(params)).status_code == 200


PRESSES = itertools.count()


def press(client: Any, action_id: str, root_ts: str, value: str, **overrides: Any) -> int:
    """Posts a signed block_actions interaction, as Slack does for a button press."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": overrides.get("team", TEAM_ID)},
        "user": {"id": overrides.get("user", "U0AGENT1")},
        "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": root_ts},
        "channel": {"id": CHANNEL_ID},
        "actions": [
            {
                "action_id": action_id,
                "type": "button",
                "value": value,
                # Each press its own, as Slack's are: the queue drops a job whose
                # deduplication id it saw in the last 5 minutes.
                "action_ts": overrides.get("action_ts", f"{1764001000 + next(PRESSES)}.000100"),
                **overrides.get("fields", {}),
            }
        ],
    }
    body = form({"payload": json.dumps(payload)})
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    return int(client.http.post("/slack/interactions", headers=headers, body=body).status_code)


def card_buttons(blocks: list[dict[str, Any]]) -> list[str]:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    return [element["action_id"] for element in actions["elements"]]


@pytest.fixture
def conversation(client, shop, container, run_workers, slack: FakeSlack) -> tuple[str, str]:
    """A customer's conversation with its card; returns (root ts, the buttons' value)."""
    from tests.integration.conftest import PUBLIC_URL
    from tests.signing import twilio_headers, twilio_message

    path = "/webhooks/twilio/ana"
    params = twilio_message(1, Body="Olá, preciso de ajuda")
    assert (
        client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        ).status_code
        == 200
    )
    run_workers()
    [root] = slack.roots()
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert found is not None
    return root.ts, f"ana:{found.conversation_id}"


def test_assign_resolve_and_a_customer_reply_each_show_on_the_card_and_in_the_thread(
    client, container, conversation, run_workers, slack: FakeSlack
):
    root_ts, ref = conversation
    [root] = slack.roots()
    assert card_buttons(root.message.blocks) == [
        "assign_to_me",
        "resolve",
        "set_priority",
        "snooze",
        "summarise",
    ]

    # When an agent takes the conversation, then resolves it
    assert press(client, "assign_to_me", root_ts, ref) == 200
    run_workers()
    assigned = slack.updates[-1]
    assert press(client, "resolve", root_ts, ref) == 200
    run_workers()
    resolved = slack.updates[-1]

    # Then the card shows the agent and then the resolution, with the buttons that fit
    assert assigned.ts == resolved.ts == root_ts
    assert "<@U0AGENT1>" in json.dumps(assigned.message.blocks)
    assert card_buttons(assigned.message.blocks) == [
        "unassign",
        "resolve",
        "set_priority",
        "snooze",
        "summarise",
    ]
    assert ":white_check_mark: Resolved" in json.dumps(resolved.message.blocks)
    assert card_buttons(resolved.message.blocks) == [
        "unassign",
        "reopen",
        "set_priority",
        "summarise",
    ]
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert (stored.status.value, stored.assignee_user_id) == ("resolved", "U0AGENT1")
    notes = [p.message.text for p in slack.thread(root_ts)][1:]
    assert notes == [
        ":bust_in_silhouette: <@U0AGENT1> took this conversation.",
        "Summary: what is still open — customer messages waiting for an answer: 1",
        ":white_check_mark: <@U0AGENT1> resolved this conversation.",
    ]

    # When the customer writes again
    from tests.integration.conftest import PUBLIC_URL
    from tests.signing import twilio_headers, twilio_message

    path = "/webhooks/twilio/ana"
    params = twilio_message(2, Body="Ainda não chegou")
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()

    # Then it is open again, on the card and in the thread
    reopened = slack.updates[-1]
    assert ":large_green_circle: Open" in json.dumps(reopened.message.blocks)
    assert card_buttons(reopened.message.blocks) == [
        "unassign",
        "resolve",
        "set_priority",
        "snooze",
        "summarise",
    ]
    assert slack.thread(root_ts)[-1].message.text.endswith("this conversation is open again.")


@pytest.mark.parametrize("case", ["stale button", "another workspace", "unknown card"])
def test_a_press_that_does_not_match_its_conversation_changes_nothing(
    client, container, conversation, run_workers, slack: FakeSlack, case
):
    root_ts, ref = conversation
    # Given a press whose button belongs elsewhere
    if case == "stale button":
        status = press(client, "resolve", root_ts, "ana:01OTHERCONVERSATION")
    elif case == "another workspace":
        status = press(client, "resolve", root_ts, ref, team="T0OTHER")
    else:
        status = press(client, "resolve", "1764999999.000100", ref)
    # When the workers run
    run_workers()
    # Then Slack got its 200, and the conversation, its card and its thread are unchanged
    assert status == 200
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert stored.status.value == "open"
    assert slack.updates == []
    assert len(slack.thread(root_ts)) == 1


def test_a_malformed_interaction_is_a_400_and_queues_nothing(client, shop):
    # Given a signed interaction whose payload is not JSON
    body = form({"payload": "{not json"})
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    # When it arrives
    response = client.http.post("/slack/interactions", headers=headers, body=body)
    # Then it is refused with a reason
    assert response.status_code == 400
    assert json.loads(response.body)["error"]


def test_choosing_a_priority_shows_it_on_the_card_and_in_the_thread(
    client, container, conversation, run_workers, slack: FakeSlack
):
    root_ts, ref = conversation
    # When an agent picks "Urgent" in the card's priority select
    option = {"value": f"{ref}#urgent", "text": {"type": "plain_text", "text": "Urgent"}}
    assert press(client, "set_priority", root_ts, "", fields={"selected_option": option}) == 200
    run_workers()
    # Then it is stored, on the card, and noted in the thread
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert stored.priority.value == "urgent"
    assert "*Priority:* :red_circle: Urgent" in json.dumps(slack.updates[-1].message.blocks)
    assert slack.thread(root_ts)[-1].message.text == (
        "<@U0AGENT1> set the priority to :red_circle: Urgent."
    )


# Snooze --------------------------------------------------------------------------------


def snooze(client: Any, root_ts: str, ref: str, option: str) -> int:
    chosen = {"value": f"{ref}#{option}", "text": {"type": "plain_text", "text": option}}
    return press(client, "snooze", root_ts, "", fields={"selected_option": chosen})


def alarms() -> list[dict[str, Any]]:
    scheduler = boto3.client("scheduler")
    return [
        scheduler.get_schedule(Name=s["Name"], GroupName=SCHEDULE_GROUP)
        for s in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    ]


def fire_alarms(at: datetime) -> int:
    return SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP).fire_due(at)


def test_a_conversation_snoozed_for_an_hour_wakes_by_a_one_time_schedule(
    client, container, conversation, run_workers, slack: FakeSlack
):
    root_ts, ref = conversation
    # Given an agent took the conversation
    press(client, "assign_to_me", root_ts, ref)
    run_workers()

    # When they snooze it for an hour
    before = datetime.now(UTC)
    assert snooze(client, root_ts, ref, "1h") == 200
    run_workers()

    # Then it is snoozed until a minute boundary about an hour from now, on the card too
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert stored.status.value == "snoozed"
    until = stored.snoozed_until
    assert until is not None
    assert timedelta(hours=1) <= until - before <= timedelta(hours=1, minutes=1)
    assert until.second == 0
    assert ":zzz: Snoozed until" in json.dumps(slack.updates[-1].message.blocks)
    assert "snoozed this conversation until" in slack.thread(root_ts)[-1].message.text
    # And one schedule, at that moment, deletes itself after putting the alarm on the timers queue
    [alarm] = alarms()
    assert alarm["ScheduleExpression"] == f"at({until.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"
    assert alarm["ScheduleExpressionTimezone"] == "UTC"
    assert alarm["ActionAfterCompletion"] == "DELETE"
    assert alarm["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert alarm["Target"]["Arn"].endswith(":threadline-timers.fifo")
    assert alarm["Target"]["RoleArn"].endswith(":role/threadline-scheduler-us-east-1")
    assert json.loads(alarm["Target"]["Input"])["conversation_id"] == stored.conversation_id

    # When the hour is not over yet, nothing fires
    assert fire_alarms(until - timedelta(minutes=1)) == 0
    # When it is
    assert fire_alarms(until) == 1
    run_workers()

    # Then the conversation is open again, the card says so, and its agent is called back
    woken = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert woken is not None
    assert (woken.status.value, woken.snoozed_until) == ("open", None)
    assert ":large_green_circle: Open" in json.dumps(slack.updates[-1].message.blocks)
    assert slack.thread(root_ts)[-1].message.text == (
        ":alarm_clock: Snooze over: this conversation is open again. <@U0AGENT1>"
    )
    assert alarms() == []


def test_an_alarm_of_a_snooze_that_ended_early_changes_nothing(
    client, container, conversation, run_workers, slack: FakeSlack
):
    root_ts, ref = conversation
    # Given a conversation snoozed until tomorrow, then woken by hand
    snooze(client, root_ts, ref, "tomorrow")
    run_workers()
    [alarm] = alarms()
    press(client, "reopen", root_ts, ref)
    run_workers()
    thread_length = len(slack.thread(root_ts))

    # When the alarm fires anyway
    assert fire_alarms(datetime.now(UTC) + timedelta(days=2)) == 1
    run_workers()

    # Then the conversation stays as it is, and nobody is told anything
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert stored.status.value == "open"
    assert len(slack.thread(root_ts)) == thread_length
    assert alarm["Name"].startswith("wakeup-")


def test_snoozed_until_the_customer_writes_sets_no_alarm_and_the_customer_wakes_it(
    client, container, conversation, run_workers, slack: FakeSlack
):
    root_ts, ref = conversation
    # Given a conversation snoozed until the customer writes
    snooze(client, root_ts, ref, "customer_reply")
    run_workers()
    assert alarms() == []
    assert "until the customer writes" in json.dumps(slack.updates[-1].message.blocks)

    # When the customer writes
    customer_writes(client, 2, "Alguma novidade?")
    run_workers()

    # Then it is open again, and the thread says why
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored is not None
    assert (stored.status.value, stored.snoozed_until) == ("open", None)
    assert slack.thread(root_ts)[-1].message.text.endswith("this conversation is open again.")


def test_an_unknown_snooze_option_is_a_400(client, conversation):
    root_ts, ref = conversation
    assert snooze(client, root_ts, ref, "forever") == 400
