"""Conversations, their messages and the rules that move them."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from chalicelib.domain.conversation import (
    ConversationStatus,
    after_agent_reply,
    apply_action,
    conversation_ref,
    open_conversation,
    reply_to,
    snooze_end,
    starts_afresh,
    wake,
    with_customer_message,
)
from chalicelib.domain.jobs import (
    AgentReply,
    CardAction,
    ConversationAction,
    DeliveryUpdate,
    OutboundJob,
    SnoozeOption,
    Wakeup,
)
from chalicelib.domain.messages import (
    FAILED_DELIVERY,
    DeliveryStatus,
    InboundMessage,
    MediaItem,
    delivery_rank,
    message_preview,
)
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

RECEIVED_AT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
NOW = datetime(2026, 3, 29, 9, 15, tzinfo=UTC)

# The order a reply moves through; statuses in one step are equally far along.
DELIVERY_CHAIN: list[set[DeliveryStatus]] = [
    {DeliveryStatus.PENDING},
    {DeliveryStatus.DISPATCHING},
    {
        DeliveryStatus.ACCEPTED,
        DeliveryStatus.SCHEDULED,
        DeliveryStatus.QUEUED,
        DeliveryStatus.SENDING,
    },
    {DeliveryStatus.SENT},
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELED,
    },
    {DeliveryStatus.READ},
]


def chain_step(status: DeliveryStatus) -> int:
    return next(step for step, statuses in enumerate(DELIVERY_CHAIN) if status in statuses)


def inbound(**overrides: Any) -> InboundMessage:
    """A WhatsApp message from Ana to the shop; any field can be overridden."""
    fields: dict[str, Any] = {
        "shop_id": "kavezo",
        "channel": Channel.WHATSAPP,
        "provider": "twilio",
        "provider_message_id": "SM" + "a" * 32,
        "customer_address": "whatsapp:+34600111222",
        "shop_address": "whatsapp:+36201234567",
        "customer_name": "Ana",
        "text": "Hola, ¿dónde está mi pedido?",
        "received_at": RECEIVED_AT,
    }
    fields.update(overrides)
    return InboundMessage(**fields)


def agent_reply(**overrides: Any) -> AgentReply:
    fields: dict[str, Any] = {
        "event_id": "Ev0123ABC",
        "team_id": "T0123ABC",
        "channel_id": "C0123ABC",
        "thread_ts": "1774744200.000100",
        "ts": "1774747800.000200",
        "user_id": "U0AGENT1",
        "text": "Your parcel left the warehouse today 🚚",
    }
    fields.update(overrides)
    return AgentReply(**fields)


# --------------------------------------------------------------------------- delivery rank


def test_delivery_chain_covers_every_status() -> None:
    # Given the expected delivery chain
    # When its statuses are collected
    listed = set().union(*DELIVERY_CHAIN)

    # Then it names every status exactly once, so the checks below see them all
    assert listed == set(DeliveryStatus)
    assert sum(len(step) for step in DELIVERY_CHAIN) == len(DeliveryStatus)


@pytest.mark.parametrize("earlier", list(DeliveryStatus))
@pytest.mark.parametrize("later", list(DeliveryStatus))
def test_delivery_rank_follows_the_chain_for_every_pair(
    earlier: DeliveryStatus, later: DeliveryStatus
) -> None:
    # Given any two statuses, placed on the delivery chain above (the specification)
    # When they are ranked
    # Then the rank agrees with the chain: a callback can move a reply only forward
    assert (delivery_rank(earlier) < delivery_rank(later)) == (
        chain_step(earlier) < chain_step(later)
    )


def test_delivery_rank_orders_the_main_path() -> None:
    # Given the statuses of a reply's usual life
    path = [
        DeliveryStatus.PENDING,
        DeliveryStatus.DISPATCHING,
        DeliveryStatus.QUEUED,
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.READ,
    ]

    # When they are ranked
    ranks = [delivery_rank(status) for status in path]

    # Then each is strictly further along than the one before
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


def test_failure_ranks_as_final_as_delivered_and_above_sent() -> None:
    # Given the failure statuses
    # When they are compared with sent and delivered
    # Then a late "sent" callback can never overwrite a failure, nor a failure a delivery
    for failure in FAILED_DELIVERY:
        assert delivery_rank(failure) > delivery_rank(DeliveryStatus.SENT)
        assert delivery_rank(failure) == delivery_rank(DeliveryStatus.DELIVERED)
        assert delivery_rank(failure) < delivery_rank(DeliveryStatus.READ)


# --------------------------------------------------------------------------- messages


def test_inbound_message_keys_name_the_provider_message_and_the_customer() -> None:
    # Given a Twilio message from a WhatsApp customer
    message = inbound()

    # When its keys are read
    # Then the message key is provider:id and the customer key is shop:address
    assert message.message_key == "twilio:SM" + "a" * 32
    assert message.customer_key == "kavezo:whatsapp:+34600111222"


def test_same_customer_on_sms_and_whatsapp_has_two_customer_keys() -> None:
    # Given one person writing on SMS and on WhatsApp
    sms = inbound(channel=Channel.SMS, customer_address="+34600111222")
    whatsapp = inbound()

    # When their customer keys are compared
    # Then they are two customers (two conversations, two FIFO groups)
    assert sms.customer_key != whatsapp.customer_key


def test_inbound_message_survives_a_json_round_trip_as_queue_payload() -> None:
    # Given a message with unicode text and media
    message = inbound(
        text="مرحبا، أين طلبي؟ 📦",
        media=(MediaItem(url="https://api.twilio.com/media/ME1", content_type="image/jpeg"),),
    )

    # When it goes through the queue as JSON
    again = InboundMessage.model_validate_json(message.model_dump_json())

    # Then nothing changed
    assert again == message


def test_agent_reply_keys_name_the_slack_message_and_thread() -> None:
    # Given a reply in a thread
    reply = agent_reply()

    # When its keys are read
    # Then the message key is slack:channel:ts and the thread key team:channel:thread_ts
    assert reply.message_key == "slack:C0123ABC:1774747800.000200"
    assert reply.thread_key == "T0123ABC:C0123ABC:1774744200.000100"


def test_outbound_job_is_told_apart_by_kind() -> None:
    # Given the JSON of both outbound job kinds
    adapter: TypeAdapter[Any] = TypeAdapter(OutboundJob)
    update_json = {
        "kind": "delivery_update",
        "shop_id": "kavezo",
        "provider_message_id": "SM" + "b" * 32,
        "status": "failed",
        "error_code": "63016",
    }

    # When they are read back
    update = adapter.validate_python(update_json)
    reply = adapter.validate_json(agent_reply().model_dump_json())

    # Then each becomes its own model
    assert isinstance(update, DeliveryUpdate)
    assert update.status is DeliveryStatus.FAILED
    assert update.error_code == "63016"
    assert reply == agent_reply()


# --------------------------------------------------------------------------- conversations


def test_open_conversation_copies_the_customer_and_the_shop_address() -> None:
    # Given a customer's first message
    message = inbound()

    # When a conversation is opened for it
    conversation = open_conversation(message, "conv-1")

    # Then it is an open conversation on the message's channel, started at its arrival
    assert conversation.shop_id == "kavezo"
    assert conversation.conversation_id == "conv-1"
    assert conversation.channel is Channel.WHATSAPP
    assert conversation.customer_address == "whatsapp:+34600111222"
    assert conversation.customer_name == "Ana"
    assert conversation.shop_address == "whatsapp:+36201234567"
    assert conversation.status is ConversationStatus.OPEN
    assert conversation.created_at == RECEIVED_AT
    assert conversation.last_customer_message_at == RECEIVED_AT
    assert conversation.message_count == 0
    assert conversation.slack_thread_ts is None


@pytest.mark.parametrize(
    ("customer_address", "customer_name", "label"),
    [
        ("whatsapp:+34600111222", "Ana", "\u2068Ana\u2069 (+34600111222)"),
        ("whatsapp:+34600111222", None, "+34600111222"),
        ("+14155550100", None, "+14155550100"),
        ("whatsapp:+919812345678", "प्रिया", "\u2068प्रिया\u2069 (+919812345678)"),
        ("whatsapp:+201001234567", "سارة", "\u2068سارة\u2069 (+201001234567)"),
    ],
)
def test_customer_label_shows_profile_name_with_number_or_just_the_number(
    customer_address: str, customer_name: str | None, label: str
) -> None:
    # Given a conversation with or without a WhatsApp profile name
    message = inbound(customer_address=customer_address, customer_name=customer_name)
    conversation = open_conversation(message, "conv-1")

    # When agents see the customer
    # Then the label never shows the whatsapp: prefix, and the name is direction-isolated
    assert conversation.customer_label == label


@pytest.mark.parametrize("control", ["\u202e", "\u202b", "\u2067", "\u200f", "\u2069"])
def test_a_profile_name_cannot_reorder_the_number_shown_after_it(control: str) -> None:
    # Given a WhatsApp profile name carrying a direction control (e.g. RIGHT-TO-LEFT OVERRIDE)
    message = inbound(customer_address="whatsapp:+5511987654321", customer_name=f"Ana {control}")

    # When agents see the customer
    label = open_conversation(message, "conv-1").customer_label

    # Then the control is gone and the name is isolated from the number
    assert label == "\u2068Ana\u2069 (+5511987654321)"


def test_reply_goes_back_to_the_customer_from_the_address_they_wrote_to() -> None:
    # Given a WhatsApp conversation and an agent's reply in its thread
    conversation = open_conversation(inbound(), "conv-1")
    reply = agent_reply()

    # When the outbound message is built
    outbound = reply_to(conversation, reply, "Your parcel left today 🚚\n— Ana", "Ana", NOW)

    # Then it goes to the customer, from the shop's WhatsApp address, pending, signed
    assert outbound.channel is Channel.WHATSAPP
    assert outbound.to == "whatsapp:+34600111222"
    assert outbound.from_ == "whatsapp:+36201234567"
    assert outbound.text == "Your parcel left today 🚚\n— Ana"
    assert outbound.agent_name == "Ana"
    assert outbound.status is DeliveryStatus.PENDING
    assert outbound.provider_message_id is None
    assert outbound.created_at == NOW
    assert outbound.shop_id == "kavezo"
    assert outbound.conversation_id == "conv-1"
    assert outbound.message_key == reply.message_key
    assert outbound.agent_user_id == "U0AGENT1"
    assert outbound.slack_channel_id == "C0123ABC"
    assert outbound.slack_ts == "1774747800.000200"
    assert outbound.slack_thread_ts == "1774744200.000100"


def test_a_reply_remembers_whether_the_bot_posted_it_in_slack() -> None:
    # Given a conversation, an agent's own message and a canned response posted for them
    conversation = open_conversation(inbound(), "conv-1")
    # When both become replies
    typed = reply_to(conversation, agent_reply(), "Hi", "Ana", NOW)
    canned = reply_to(conversation, agent_reply(posted_for_agent=True), "Hi", "Ana", NOW)
    # Then only the canned one is the bot's post (its to delete when the customer is erased)
    assert (typed.posted_for_agent, canned.posted_for_agent) == (False, True)


def test_reply_on_sms_stays_on_sms() -> None:
    # Given an SMS conversation
    message = inbound(
        channel=Channel.SMS,
        customer_address="+14155550100",
        shop_address="+3612345678",
        customer_name=None,
    )
    conversation = open_conversation(message, "conv-2")

    # When an agent replies
    outbound = reply_to(conversation, agent_reply(), "Hi", "Ana", NOW + timedelta(minutes=1))

    # Then the reply is an SMS between the same two numbers
    assert outbound.channel is Channel.SMS
    assert (outbound.to, outbound.from_) == ("+14155550100", "+3612345678")


@pytest.mark.parametrize(
    ("text", "media", "preview"),
    [
        ("Olá!\n  Onde está\tmeu pedido?", False, "Olá! Onde está meu pedido?"),
        ("", True, "(attachment)"),
        ("", False, "(empty message)"),
        ("x" * 200, False, "x" * 139 + "…"),
    ],
)
def test_message_preview_is_one_short_line(text: str, media: bool, preview: str) -> None:
    # Given a customer message
    items = (MediaItem(url="https://api.twilio.com/m/1"),) if media else ()
    message = inbound(text=text, media=items)

    # When it is previewed on the conversation's card
    # Then it is a single line of at most 140 characters
    assert message_preview(message) == preview


def test_a_counted_message_updates_the_conversation_as_the_store_records_it() -> None:
    # Given a conversation opened by a first message
    first = inbound()
    conversation = open_conversation(first, "conv-1")

    # When a later message to another of the shop's numbers is counted
    later = inbound(shop_address="+14155550177", received_at=NOW, customer_name=None)
    counted = with_customer_message(conversation, later)

    # Then the count, the time, and the number replies go from follow it; the name stays
    assert counted.message_count == conversation.message_count + 1
    assert counted.last_customer_message_at == NOW
    assert counted.shop_address == "+14155550177"
    assert counted.customer_name == conversation.customer_name
    assert counted.first_message_preview == conversation.first_message_preview


def card_press(action: str, user: str = "U0AGENT1", **choice: Any) -> ConversationAction:
    return ConversationAction(
        action=CardAction(action),
        **choice,
        conversation_ref="kavezo:conv-1",
        team_id="T0123ABC",
        channel_id="C0123ABC",
        message_ts="1774744200.000100",
        user_id=user,
        action_ts="1774744300.000100",
    )


def test_card_actions_assign_unassign_resolve_and_reopen() -> None:
    # Given an open, unassigned conversation
    opened = open_conversation(inbound(), "conv-1")

    # When agents press the card's buttons in turn
    assigned = apply_action(opened, card_press("assign_to_me"), NOW, "UTC")
    resolved = apply_action(assigned, card_press("resolve"), NOW, "UTC")
    reopened = apply_action(resolved, card_press("reopen"), NOW, "UTC")
    unassigned = apply_action(reopened, card_press("unassign"), NOW, "UTC")

    # Then each press changes exactly what it says
    assert (assigned.assignee_user_id, assigned.status) == ("U0AGENT1", ConversationStatus.OPEN)
    assert (resolved.assignee_user_id, resolved.status) == ("U0AGENT1", ConversationStatus.RESOLVED)
    assert reopened.status is ConversationStatus.OPEN
    assert unassigned.assignee_user_id is None
    assert conversation_ref(opened) == "kavezo:conv-1"


def test_a_customer_writing_to_a_resolved_conversation_reopens_it() -> None:
    # Given a resolved conversation
    resolved = apply_action(
        open_conversation(inbound(), "conv-1"), card_press("resolve"), NOW, "UTC"
    )

    # When the customer writes again
    counted = with_customer_message(resolved, inbound(received_at=NOW))

    # Then it is open again
    assert counted.status is ConversationStatus.OPEN


@pytest.mark.parametrize(
    ("option", "now", "timezone", "wakes_at"),
    [
        # An hour later, rounded up to the minute a schedule can fire at
        (SnoozeOption.HOUR, "2026-11-23T10:15:30+00:00", "UTC", "2026-11-23T11:16:00+00:00"),
        (SnoozeOption.HOUR, "2026-11-23T10:15:00+00:00", "UTC", "2026-11-23T11:15:00+00:00"),
        # Tomorrow 09:00 in the shop's zone: Jakarta is UTC+7, so 20:00 UTC is already
        # tomorrow there, and the morning after that is meant
        (
            SnoozeOption.TOMORROW,
            "2026-11-23T20:00:00+00:00",
            "Asia/Jakarta",
            "2026-11-25T02:00:00+00:00",
        ),
        (
            SnoozeOption.TOMORROW,
            "2026-11-23T10:00:00+00:00",
            "America/Sao_Paulo",
            "2026-11-24T12:00:00+00:00",
        ),
        # Across the spring DST change in Budapest, 09:00 is 07:00 UTC on the Monday
        (
            SnoozeOption.TOMORROW,
            "2026-03-28T18:00:00+00:00",
            "Europe/Budapest",
            "2026-03-29T07:00:00+00:00",
        ),
        (SnoozeOption.CUSTOMER_REPLY, "2026-11-23T10:00:00+00:00", "UTC", None),
    ],
)
def test_snooze_ends_when_the_agent_chose_in_the_shops_time(
    option: SnoozeOption, now: str, timezone: str, wakes_at: str | None
) -> None:
    end = snooze_end(option, datetime.fromisoformat(now), timezone)
    assert end == (datetime.fromisoformat(wakes_at) if wakes_at else None)


def test_a_snoozed_conversation_wakes_by_its_own_alarm_only() -> None:
    # Given a conversation snoozed for an hour
    opened = open_conversation(inbound(), "conv-1")
    snoozed = apply_action(opened, card_press("snooze", snooze=SnoozeOption.HOUR), NOW, "UTC")
    assert snoozed.status is ConversationStatus.SNOOZED
    assert snoozed.snoozed_until is not None
    alarm = Wakeup(shop_id="kavezo", conversation_id="conv-1", due_at=snoozed.snoozed_until)

    # When its alarm rings, or an alarm of an earlier snooze, or one after it was reopened
    woken = wake(snoozed, alarm)
    earlier = wake(snoozed, alarm.model_copy(update={"due_at": NOW}))
    reopened = apply_action(snoozed, card_press("reopen"), NOW, "UTC")

    # Then only its own alarm opens it
    assert woken is not None
    assert (woken.status, woken.snoozed_until) == (ConversationStatus.OPEN, None)
    assert earlier is None
    assert wake(reopened, alarm) is None


def test_a_customer_writing_ends_a_snooze_and_a_resolved_conversation_is_not_snoozed() -> None:
    opened = open_conversation(inbound(), "conv-1")
    until_reply = card_press("snooze", snooze=SnoozeOption.CUSTOMER_REPLY)
    snoozed = apply_action(opened, until_reply, NOW, "UTC")
    assert (snoozed.status, snoozed.snoozed_until) == (ConversationStatus.SNOOZED, None)

    counted = with_customer_message(snoozed, inbound(received_at=NOW))
    assert counted.status is ConversationStatus.OPEN

    resolved = apply_action(opened, card_press("resolve"), NOW, "UTC")
    assert apply_action(resolved, until_reply, NOW, "UTC") == resolved


@pytest.mark.parametrize(
    ("status", "quiet_for", "period", "afresh"),
    [
        ("resolved", timedelta(hours=73), timedelta(hours=72), True),
        ("resolved", timedelta(hours=72), timedelta(hours=72), True),
        ("resolved", timedelta(hours=71), timedelta(hours=72), False),
        ("resolved", timedelta(days=400), None, False),
        ("open", timedelta(days=30), timedelta(hours=72), False),
        ("snoozed", timedelta(days=30), timedelta(hours=72), False),
    ],
)
def test_only_a_resolved_conversation_quiet_for_the_shops_period_starts_afresh(
    status: str, quiet_for: timedelta, period: timedelta | None, afresh: bool
) -> None:
    conversation = open_conversation(inbound(received_at=NOW), "conv-1").model_copy(
        update={"status": ConversationStatus(status)}
    )
    message = inbound(received_at=NOW + quiet_for)
    assert starts_afresh(conversation, message, period) is afresh


@pytest.mark.parametrize(
    ("status", "after_reply"),
    [
        ("open", "pending"),
        ("pending", "pending"),
        ("snoozed", "snoozed"),
        ("resolved", "resolved"),
    ],
)
def test_an_agents_reply_makes_only_an_open_conversation_wait_for_the_customer(
    status: str, after_reply: str
) -> None:
    conversation = open_conversation(inbound(), "conv-1").model_copy(
        update={"status": ConversationStatus(status)}
    )
    assert after_agent_reply(conversation).status is ConversationStatus(after_reply)
    assert with_customer_message(conversation, inbound(received_at=NOW)).status is (
        ConversationStatus.OPEN
    )
