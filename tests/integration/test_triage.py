"""Triage in the inbound worker, through the webhook, the queues and the store: a furious
message raises the conversation and re-arms its targets with a note in the thread; an agent's
choice of priority is kept; an intent routes as the shop configured; the triage is stored
with the message and shown on the card."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.settings import SCHEDULE_GROUP
from local_stack.pump import SchedulePump
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL, Clock, stored_item
from tests.integration.test_card_actions import press
from tests.signing import form, shop_document, twilio_headers, twilio_message

CUSTOMER = "+5511987654321"
# 09:00 in São Paulo (UTC-3).
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SLA = {
    "business_hours_only": False,
    "targets": {
        "normal": {"first_response": 240, "next_response": 240},
        "high": {"first_response": 60, "next_response": 60},
        "urgent": {"first_response": 30, "next_response": 30},
    },
    "on_call": ["S0ONCALL"],
}
FURIOUS_HINDI = (
    "बकवास सर्विस!!! तीन हफ्ते हो गए, पार्सल नहीं आया 😡 पैसे वापस नहीं मिले तो बैंक में चार्जबैक कर दूँगा"
)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def customer_writes(client: Any, n: int, body: str) -> None:
    params = twilio_message(n, Body=body)
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200


def alarm_times() -> list[str]:
    scheduler = boto3.client("scheduler")
    listed = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    found = [scheduler.get_schedule(Name=s["Name"], GroupName=SCHEDULE_GROUP) for s in listed]
    return sorted(s["ScheduleExpression"] for s in found)


def fire(at: datetime) -> int:
    return SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP).fire_due(at)


def choose_priority(client: Any, root_ts: str, ref: str, priority: str) -> None:
    option = {"value": f"{ref}#{priority}", "text": {"type": "plain_text", "text": priority}}
    assert press(client, "set_priority", root_ts, "", fields={"selected_option": option}) == 200


def test_a_furious_hindi_message_raises_the_priority_and_re_arms_the_targets(
    client, put_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    # Given a shop with response targets and the rules engine, nothing else configured
    document = shop_document(sla=SLA, triage={"engine": "rules"})
    assert put_shop("ana", document).status_code == 201

    # When a customer writes furiously in Hindi, threatening a chargeback
    customer_writes(client, 1, FURIOUS_HINDI)
    run_workers()

    # Then the conversation is urgent, its first response due in 30 minutes, not 240
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.priority.value == "urgent"
    assert conversation.response_clock.due_at == START + timedelta(minutes=30)
    # And the thread says so, with the old and the new due time
    [root] = slack.roots()
    note = slack.thread(root.ts)[-1].message.text
    assert note.startswith(
        ":triangular_flag_on_post: Triage raised the priority to :red_circle: Urgent ("
    )
    assert "chargeback threat" in note
    assert "anger" in note
    assert "First response now due 23 Nov 2026 09:30 -03 (was 23 Nov 2026 13:00 -03)." in note
    # And the card shows the priority, the mood and the intent
    card = json.dumps(slack.updates[-1].message.blocks, ensure_ascii=False)
    assert "*Priority:* :red_circle: Urgent" in card
    assert "*Mood:* :rage: furious" in card
    # And the triage is kept with the message
    item = stored_item(f"SHOP#ana#MSG#twilio:SM{1:032x}", "MESSAGE")
    assert item is not None
    stored = json.loads(item["triage"])
    assert (stored["language"], stored["urgency"]) == ("hi", "urgent")
    # And the tighter stages are set: warning, breach and second level of the 30 minutes
    assert {"at(2026-11-23T12:24:00)", "at(2026-11-23T12:30:00)", "at(2026-11-23T13:00:00)"} <= (
        set(alarm_times())
    )

    # When the tighter target passes, on-call is called
    clock.now = START + timedelta(minutes=30)
    fire(clock.now)
    run_workers()
    assert slack.thread(root.ts)[-1].message.text.startswith(
        ":rotating_light: First response overdue (the target ended 23 Nov 2026 09:30 -03)."
    )
    # And the alarms of the looser target, when they come, say nothing more
    told = len(slack.thread(root.ts))
    fire(START + timedelta(hours=9))
    run_workers()
    assert len(slack.thread(root.ts)) == told + 1  # only the tighter second level
    assert slack.thread(root.ts)[-1].message.text.startswith(":sos: Still unanswered")


def test_an_agents_choice_of_priority_is_kept(
    client, put_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    document = shop_document(sla=SLA, triage={"engine": "rules"})
    assert put_shop("ana", document).status_code == 201
    customer_writes(client, 1, FURIOUS_HINDI)
    run_workers()
    [root] = slack.roots()
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.priority.value == "urgent"

    # When an agent sets it back to normal
    choose_priority(client, root.ts, f"ana:{conversation.conversation_id}", "normal")
    run_workers()
    notes = len(slack.thread(root.ts))

    # And the customer writes again, as furious, threatening a lawyer
    clock.now = START + timedelta(minutes=5)
    customer_writes(client, 2, "मैं वकील से बात करूँगा और अदालत में केस करूँगा!!! 😡")
    run_workers()

    # Then the agent's choice stands, and triage says nothing of priority
    kept = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert kept.priority.value == "normal"
    assert kept.priority_set_by_agent
    later = [p.message.text for p in slack.thread(root.ts)[notes:]]
    assert not any("Triage raised" in text for text in later)
    # But the card follows the mood over the conversation
    assert "*Trend:*" in json.dumps(slack.updates[-1].message.blocks)


def test_an_intent_routes_to_its_channel_and_mentions_its_group_once(
    client, put_shop, run_workers, slack: FakeSlack, container, clock: Clock
):
    routes = {"refund": {"channel_id": "C0RETURNS", "mention": "S0RETURNS"}}
    triage = {"engine": "rules", "rules": {"routes": routes}}
    assert put_shop("ana", shop_document(triage=triage)).status_code == 201

    # When a customer asks about a refund
    customer_writes(client, 1, "Quando vou receber meu reembolso do pedido 3390?")
    run_workers()

    # Then the thread mentions the returns group and the returns channel gets a link to it
    root, shared = slack.roots()
    assert slack.thread(root.ts)[-1].message.text == (
        ":twisted_rightwards_arrows: Looks like a refund: <!subteam^S0RETURNS> "
        "(shared in <#C0RETURNS>)."
    )
    assert shared.channel == "C0RETURNS"
    assert f"p{root.ts.replace('.', '')}" in shared.message.text
    assert "Quando" not in shared.message.text
    # And the priority stays: a question is not urgent
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.priority.value == "normal"
    assert conversation.triage_routed == ("refund",)

    # When the customer asks about it again, it is not routed twice
    clock.now = START + timedelta(minutes=2)
    customer_writes(client, 2, "E o reembolso?")
    run_workers()
    assert len([p for p in slack.posts if p.channel == "C0RETURNS"]) == 1


def test_a_shop_without_triage_is_not_triaged(
    client, put_shop, run_workers, slack: FakeSlack, container
):
    assert put_shop("ana", shop_document(sla=SLA)).status_code == 201
    customer_writes(client, 1, FURIOUS_HINDI)
    run_workers()

    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation.priority.value == "normal"
    assert conversation.triage_marks == ()
    item = stored_item(f"SHOP#ana#MSG#twilio:SM{1:032x}", "MESSAGE")
    assert item is not None
    assert "triage" not in item
    assert "*Mood:*" not in json.dumps(slack.roots()[0].message.blocks)
