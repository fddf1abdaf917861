"""Conversations, and the rules that move them.

A conversation is one customer (one address on one channel) talking to one shop; it maps to
one Slack thread. Its messages are in `messages`, the queued work on it in `jobs`.
"""

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.canned import order_number_in
from chalicelib.domain.email_threading import EmailEnvelope, email_chain, reply_envelope
from chalicelib.domain.jobs import AgentReply, CardAction, ConversationAction, SnoozeOption, Wakeup
from chalicelib.domain.messages import (
    InboundKind,
    InboundMessage,
    OutboundMessage,
    ShopMessage,
    message_preview,
    text_preview,
)
from chalicelib.domain.orders import OrderSummary
from chalicelib.domain.triage.record import Intent, TriageMark
from chalicelib.domain.vocabulary import Channel, Priority, SlaStage, SlaTarget


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


class ResponseClock(BaseModel):
    """The response the customer waits for: which target, since when, due when, how late."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    target: SlaTarget
    started_at: datetime
    due_at: datetime
    stage: SlaStage = SlaStage.RUNNING


class SlaEvent(BaseModel):
    """One step of a target's life, kept on the conversation for reports."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    target: SlaTarget
    stage: SlaStage | Literal["met"]
    at: datetime


class CsatRating(BaseModel):
    """The customer's answer to the satisfaction question: 1 (bad) to 5 (great)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    score: int = Field(ge=1, le=5)
    at: datetime


class Conversation(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    conversation_id: str
    channel: Channel
    customer_address: str
    customer_name: str | None = None
    shop_address: str
    status: ConversationStatus = ConversationStatus.OPEN
    # Opened by a message the shop sent first (the admin API), not by the customer.
    started_by_shop: bool = False
    created_at: datetime
    last_customer_message_at: datetime
    message_count: int = 0
    first_message_preview: str = ""
    assignee_user_id: str | None = None
    priority: Priority = Priority.NORMAL
    # The last order number the customer quoted, for canned responses.
    order_number: str | None = None
    # The conversation this one follows: the customer came back after a quiet period, or
    # wrote before from another of their addresses (another channel, or linked by the shop).
    previous_conversation_id: str | None = None
    previous_thread_url: str | None = None
    previous_channel: Channel | None = None
    # Service levels: the running response and resolution targets, the first answer, and
    # what happened.
    response_clock: ResponseClock | None = None
    resolution_clock: ResponseClock | None = None
    first_response_at: datetime | None = None
    sla_history: tuple[SlaEvent, ...] = ()
    # When an agent last resolved it (None while it is not resolved).
    resolved_at: datetime | None = None
    # Satisfaction: when the question went to the customer, and their answer.
    csat_asked_at: datetime | None = None
    csat: CsatRating | None = None
    # When each automatic reply (acknowledgement, out of hours, faq:<rule>) last went out.
    auto_replies_sent: dict[str, datetime] = Field(default_factory=dict)
    # While snoozed: when it wakes; None means when the customer writes again.
    snoozed_until: datetime | None = None
    slack_team_id: str | None = None
    slack_channel_id: str | None = None
    slack_thread_ts: str | None = None
    # Email: the subject it started with, and the customer's latest Message-ID with the
    # chain before it, which replies quote in In-Reply-To and References.
    subject: str | None = None
    email_references: tuple[str, ...] = ()
    # How many writes have changed it: the store refuses a change made from an older read.
    version: int = 0
    # An agent chose the priority on the card: triage never changes it after that.
    priority_set_by_agent: bool = False
    # When an agent's reply last went out: the customer's messages since wait unanswered.
    last_agent_reply_at: datetime | None = None
    # Triage of the customer's latest messages, oldest first (the card's trend), and the
    # intents whose routes were told (each once).
    triage_marks: tuple[TriageMark, ...] = ()
    triage_routed: tuple[Intent, ...] = ()

    # The customer's orders with the shop, as its commerce platform last told them.
    orders: OrderSummary | None = None
    # The language the customer's app last declared: automatic messages fall back on it
    # when the customer's words are too few to tell.
    customer_language: str | None = None

    @property
    def slack_thread(self) -> tuple[str, str] | None:
        """(channel, thread ts) of the conversation's Slack thread, once it has one."""
        if self.slack_channel_id and self.slack_thread_ts:
            return self.slack_channel_id, self.slack_thread_ts
        return None

    @property
    def customer_label(self) -> str:
        """How agents see the customer: WhatsApp profile name with number, or the number.

        The name is isolated (U+2068 … U+2069) without its own direction controls, so an
        Arabic or Hebrew name, or a crafted one, cannot reorder the number shown after it."""
        number = self.customer_address.removeprefix("whatsapp:")
        name = (self.customer_name or "").translate(_BIDI_CONTROLS).strip()
        return f"\u2068{name}\u2069 ({number})" if name else number


# WhatsApp takes free-form replies only this long after the customer's last message.
WHATSAPP_WINDOW = timedelta(hours=24)


def whatsapp_window_open(conversation: Conversation, at: datetime) -> bool:
    """Whether WhatsApp takes a free-form message: only within 24 hours of the customer's
    last message, so never before they have written (a conversation the shop started). A
    conversation the customer's message opened counts from that message, even in the moment
    before it is counted (its thread is posted first)."""
    if conversation.started_by_shop and conversation.message_count == 0:
        return False
    return at < conversation.last_customer_message_at + WHATSAPP_WINDOW


def with_customer_message(conversation: Conversation, message: InboundMessage) -> Conversation:
    """The conversation once `message` is counted on it (what the store records with it):
    the customer writing makes it open, whether it was resolved, snoozed or waiting; an
    automatic reply (an out-of-office) changes nothing of that."""
    automated = message.automated
    # An echo is the shop's own message: the customer's reply window does not move.
    echo = message.kind is InboundKind.ECHO
    return conversation.model_copy(
        update={
            "status": conversation.status if automated else ConversationStatus.OPEN,
            "snoozed_until": conversation.snoozed_until if automated else None,
            "resolved_at": conversation.resolved_at if automated else None,
            "message_count": conversation.message_count + 1,
            "last_customer_message_at": (
                conversation.last_customer_message_at if echo else message.received_at
            ),
            "shop_address": message.shop_address,
            "customer_name": message.customer_name or conversation.customer_name,
            "order_number": order_number_in(message.text) or conversation.order_number,
            "subject": conversation.subject or (message.email.subject if message.email else None),
            "email_references": email_chain(conversation.email_references, message.email),
            "customer_language": message.customer_language or conversation.customer_language,
        }
    )


def starts_afresh(
    conversation: Conversation, message: InboundMessage, quiet_period: timedelta | None
) -> bool:
    """Whether a customer's message opens a new conversation rather than reopening theirs:
    only a resolved one, and only after the shop's quiet period without a word from them."""
    if quiet_period is None or conversation.status is not ConversationStatus.RESOLVED:
        return False
    return message.received_at - conversation.last_customer_message_at >= quiet_period


def after_agent_reply(conversation: Conversation) -> Conversation:
    """An open conversation an agent has answered waits for the customer (pending)."""
    if conversation.status is ConversationStatus.OPEN:
        return conversation.model_copy(update={"status": ConversationStatus.PENDING})
    return conversation


def open_conversation(message: InboundMessage, conversation_id: str) -> Conversation:
    return Conversation(
        shop_id=message.shop_id,
        conversation_id=conversation_id,
        channel=message.channel,
        customer_address=message.customer_address,
        customer_name=message.customer_name,
        shop_address=message.shop_address,
        created_at=message.received_at,
        last_customer_message_at=message.received_at,
        first_message_preview=message_preview(message),
        order_number=order_number_in(message.text),
        subject=message.email.subject if message.email else None,
        customer_language=message.customer_language,
    )


def shop_conversation(job: ShopMessage, conversation_id: str) -> Conversation:
    """A conversation the shop starts: it waits for the customer, who has not written yet
    (no message counted, so WhatsApp's window is closed until they do)."""
    return Conversation(
        shop_id=job.shop_id,
        conversation_id=conversation_id,
        channel=job.channel,
        customer_address=job.customer_address,
        customer_name=job.customer_name,
        shop_address=job.shop_address,
        status=ConversationStatus.PENDING,
        started_by_shop=True,
        created_at=job.requested_at,
        last_customer_message_at=job.requested_at,
        first_message_preview=text_preview(job.text),
        subject=job.subject,
    )


# "Until tomorrow" wakes a conversation at the start of the shop's next working morning.
MORNING = time(9, 0)


def snooze_end(option: SnoozeOption, now: datetime, timezone: str) -> datetime | None:
    """When a conversation snoozed at `now` wakes (UTC, on the minute, as schedules fire);
    None when only the customer wakes it."""
    match option:
        case SnoozeOption.HOUR:
            end = now + timedelta(hours=1)
        case SnoozeOption.TOMORROW:
            zone = ZoneInfo(timezone)
            tomorrow = now.astimezone(zone).date() + timedelta(days=1)
            end = datetime.combine(tomorrow, MORNING, tzinfo=zone)
        case SnoozeOption.CUSTOMER_REPLY:
            return None
    on_the_minute = end.replace(second=0, microsecond=0)
    if on_the_minute < end:
        on_the_minute += timedelta(minutes=1)
    return on_the_minute.astimezone(now.tzinfo)


def conversation_ref(conversation: Conversation) -> str:
    return f"{conversation.shop_id}:{conversation.conversation_id}"


def apply_action(
    conversation: Conversation, action: ConversationAction, now: datetime, timezone: str
) -> Conversation:
    """The conversation after an agent's button press at `now`, in the shop's time zone."""
    match action.action:
        case CardAction.ASSIGN_TO_ME:
            return conversation.model_copy(update={"assignee_user_id": action.user_id})
        case CardAction.UNASSIGN:
            return conversation.model_copy(update={"assignee_user_id": None})
        case CardAction.RESOLVE:
            if conversation.status is ConversationStatus.RESOLVED:
                return conversation
            return conversation.model_copy(
                update={
                    "status": ConversationStatus.RESOLVED,
                    "snoozed_until": None,
                    "resolved_at": now,
                }
            )
        case CardAction.REOPEN:
            return conversation.model_copy(
                update={
                    "status": ConversationStatus.OPEN,
                    "snoozed_until": None,
                    "resolved_at": None,
                }
            )
        case CardAction.SNOOZE:
            if action.snooze is None or conversation.status is ConversationStatus.RESOLVED:
                return conversation
            return conversation.model_copy(
                update={
                    "status": ConversationStatus.SNOOZED,
                    "snoozed_until": snooze_end(action.snooze, now, timezone),
                }
            )
        case CardAction.SET_PRIORITY:
            return conversation.model_copy(
                update={
                    "priority": action.priority or conversation.priority,
                    "priority_set_by_agent": True,
                }
            )
        case CardAction.REFRESH_ORDERS:
            # Looked up by the orders' own job (services/orders.py); the state is unchanged.
            return conversation
        case CardAction.SUMMARISE:
            # A note in the thread (services/handoff.py); the state is unchanged.
            return conversation
        case CardAction.DRAFT_REPLY:
            # A draft shown to the agent alone (services/drafts.py); the state is unchanged.
            return conversation


def wake(conversation: Conversation, wakeup: Wakeup) -> Conversation | None:
    """The conversation opened by its snooze alarm; None for a stale alarm (the snooze was
    changed or ended since)."""
    if conversation.status is not ConversationStatus.SNOOZED:
        return None
    if conversation.snoozed_until != wakeup.due_at:
        return None
    return conversation.model_copy(
        update={"status": ConversationStatus.OPEN, "snoozed_until": None}
    )


def _envelope(conversation: Conversation) -> EmailEnvelope | None:
    if conversation.channel is not Channel.EMAIL:
        return None
    return reply_envelope(conversation.subject, conversation.email_references)


def reply_to(
    conversation: Conversation,
    reply: AgentReply,
    text: str,
    agent_name: str,
    now: datetime,
    media_keys: tuple[str, ...] = (),
) -> OutboundMessage:
    """The outbound message for an agent's reply (`text`, as the customer will read it):
    back on the customer's channel, from the address the customer wrote to."""
    return OutboundMessage(
        shop_id=conversation.shop_id,
        message_key=reply.message_key,
        conversation_id=conversation.conversation_id,
        channel=conversation.channel,
        to=conversation.customer_address,
        from_=conversation.shop_address,
        text=text,
        agent_user_id=reply.user_id,
        agent_name=agent_name,
        media_keys=media_keys,
        email=_envelope(conversation),
        automatic=reply.automatic,
        posted_for_agent=reply.posted_for_agent,
        post_id=reply.event_id if reply.posted_for_agent else None,
        slack_channel_id=reply.channel_id,
        slack_ts=reply.ts,
        slack_thread_ts=reply.thread_ts,
        created_at=now,
    )
