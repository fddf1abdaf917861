"""Response targets on EventBridge Scheduler: a waiting customer arms warning, breach and
second-level alarms; each stage shows in the thread and on the card, calls on-call, the lead
and the escalation channel, and is recorded; an answered conversation's alarms do nothing."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.settings import SCHEDULE_GROUP
from local_stack.pump import SchedulePump
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.signing import (
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
# A Monday morning in São Paulo (UTC-3): 09:00 local.
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SLA = {
    "business_hours_only": False,
    "targets": {"normal": {"first_response": 60, "next_response": 30}},
    "on_call": ["S0ONCALL", "U0ONCALL"],
    "lead_user_id": "U0LEAD",
    "escalation_channel_id": "C0ESCALATE",
}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sla_shop(put_shop) -> str:
    assert put_shop("ana", shop_document(sla=SLA)).status_code == 201
    return "ana"


def customer_writes(client: Any, n: int, body: str = "Cadê meu pedido?") -> None:
    params = twilio_message(n, Body=body)
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200


def fire(at: datetime) -> int:
    return SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP).fire_due(at)


def alarms() -> list[dict[str, Any]]:
    scheduler = boto3.client("scheduler")
    listed = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    found = [scheduler.get_schedule(Name=s["Name"], GroupName=SCHEDULE_GROUP) for s in listed]
    return sorted(found, key=lambda s: s["ScheduleExpression"])


def test_an_unanswered_conversation_walks_through_every_stage(
    client, sla_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    # When a customer writes at 09:00 (a 60-minute first-response target)
    customer_writes(client, 1)
    run_workers()

    # Then three one-time schedules are set: warning at 80%, breach at the target, second
    # level at twice the target
    assert [a["ScheduleExpression"] for a in alarms()] == [
        "at(2026-11-23T12:48:00)",
        "at(2026-11-23T13:00:00)",
        "at(2026-11-23T14:00:00)",
    ]
    assert all(a["ActionAfterCompletion"] == "DELETE" for a in alarms())
    [root] = slack.roots()
    assert "*First response due:* 23 Nov 2026 10:00 -03" in json.dumps(root.message.blocks)

    # When the warning comes due
    clock.now = START + timedelta(minutes=48)
    assert fire(clock.now) == 1
    run_workers()
    # Then the thread and the card say so
    assert slack.thread(root.ts)[-1].message.text == (
        ":hourglass_flowing_sand: First response due soon: the target ends 23 Nov 2026 10:00 -03."
    )
    assert ":warning: *First response due:* 23 Nov 2026 10:00 -03 (in 12 min)" in json.dumps(
        slack.updates[-1].message.blocks
    )

    # When the target passes
    assert fire(START + timedelta(minutes=60)) == 1
    run_workers()
    # Then on-call (a user group and a user) is called, and the card turns red
    assert slack.thread(root.ts)[-1].message.text == (
        ":rotating_light: First response overdue (the target ended 23 Nov 2026 10:00 -03). "
        "<!subteam^S0ONCALL> <@U0ONCALL>"
    )
    assert ":red_circle: *First response overdue*" in json.dumps(slack.updates[-1].message.blocks)

    # When twice the target has passed
    assert fire(START + timedelta(minutes=120)) == 1
    run_workers()
    # Then the lead gets a DM and the escalation channel a line, both linking the thread
    lead, channel = [p for p in slack.posts if p.channel in ("U0LEAD", "C0ESCALATE")]
    assert (lead.channel, channel.channel) == ("U0LEAD", "C0ESCALATE")
    assert "has waited for its first response since 23 Nov 2026 09:00 -03" in lead.message.text
    assert f"p{root.ts.replace('.', '')}" in lead.message.text
    assert slack.thread(root.ts)[-1].message.text == ":sos: Still unanswered: escalated <@U0LEAD>."
    # And every stage is on the conversation's record
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert [(e.stage, e.at) for e in conversation.sla_history] == [
        ("warning", START + timedelta(minutes=48)),
        ("breached", START + timedelta(minutes=60)),
        ("second_level", START + timedelta(minutes=120)),
    ]
    assert alarms() == []


def test_an_answered_conversations_alarms_do_nothing_and_the_next_message_starts_anew(
    client, sla_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    # Given a customer who wrote at 09:00 and an agent who answered at 09:10
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    clock.now = START + timedelta(minutes=10)
    body = slack_thread_reply(root.ts, "1764000500.000100", "Chega amanhã!")
    client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    thread_length = len(slack.thread(root.ts))

    # When all of the first target's alarms fire
    assert fire(START + timedelta(hours=3)) == 3
    run_workers()

    # Then nothing is said, and the target is recorded as met
    assert len(slack.thread(root.ts)) == thread_length
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.response_clock is None
    assert conversation.first_response_at == START + timedelta(minutes=10)
    assert [(e.target, e.stage) for e in conversation.sla_history] == [("first_response", "met")]

    # When the customer writes again at 10:00, a 30-minute next-response target starts
    clock.now = START + timedelta(hours=1)
    customer_writes(client, 2, "E a nota fiscal?")
    run_workers()
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.response_clock is not None
    assert conversation.response_clock.target == "next_response"
    assert conversation.response_clock.due_at == START + timedelta(minutes=90)


def test_a_second_message_while_waiting_keeps_the_first_ones_clock(
    client, sla_shop, run_workers, container, clock: Clock
):
    customer_writes(client, 1)
    run_workers()
    clock.now = START + timedelta(minutes=20)
    customer_writes(client, 2, "Alô?")
    run_workers()
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.response_clock.started_at == START
    assert len(alarms()) == 3


def test_a_shop_without_sla_sets_no_alarms(client, shop, run_workers, slack: FakeSlack):
    customer_writes(client, 1)
    run_workers()
    assert alarms() == []
    assert "due" not in json.dumps(slack.roots()[0].message.blocks)


def test_a_resolution_target_escalates_unless_the_conversation_is_resolved_in_time(
    client, put_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    targets = {"normal": {"resolution": 120}}
    assert put_shop("ana", shop_document(sla={**SLA, "targets": targets})).status_code == 201
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    assert "*Resolution due:* 23 Nov 2026 11:00 -03" in json.dumps(root.message.blocks)

    # When the target passes unresolved, the thread says so
    assert fire(START + timedelta(minutes=120)) == 2
    run_workers()
    assert "Resolution overdue" in slack.thread(root.ts)[-1].message.text

    # When an agent resolves it, the last alarm changes nothing, and the record says met
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0SHOP1"},
        "user": {"id": "U0AGENT"},
        "container": {"channel_id": "C0SUPPORT", "message_ts": root.ts},
        "actions": [
            {
                "action_id": "resolve",
                "value": f"ana:{conversation.conversation_id}",
                "action_ts": "1.1",
            }
        ],
    }
    body = form({"payload": json.dumps(payload)})
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    client.http.post("/slack/interactions", headers=headers, body=body)
    run_workers()
    before = len(slack.thread(root.ts))
    assert fire(START + timedelta(hours=5)) == 1
    run_workers()
    assert len(slack.thread(root.ts)) == before
    done = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert done.resolution_clock is None
    assert [(e.target, e.stage) for e in done.sla_history][-1] == ("resolution", "met")
