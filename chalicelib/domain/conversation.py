"""Conversations and their messages, and the rules that move them.

A conversation is one customer (one address on one channel) talking to one shop; it maps to
one Slack thread. Message keys are `<provider>:<provider id>` for customer messages and
`slack:<channel>:<ts>` for agent replies, so every retry of the same delivery lands on the
same key.
"""

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.canned import order_number_in


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class InboundStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"


class InboundProgress(NamedTuple):
    """How far a customer message got, as a worker starts one more attempt at it."""

    status: InboundStatus | None
    # Its post in its Slack thread, once noted; and whether its files followed.
    slack_ts: str | None
    files_posted: bool
    # This attempt's number: above 1, an earlier attempt may have posted it without noting so.
    attempt: int
    # How many of its files (its whole text first, when it is long, then its attachments in
    # order) an earlier attempt shared before failing: a retry shares only the rest.
    files_shared: int = 0


class DeliveryStatus(StrEnum):
    """Where an agent's reply is on its way to the customer: our own first two steps, then
    Twilio's vocabulary."""

    PENDING = "pending"
    # We are asking the provider; a reply left here was interrupted mid-send.
    DISPATCHING = "dispatching"
    ACCEPTED = "accepted"
    SENDING = "sending"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"


_RANKS = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.DISPATCHING: 10,
    DeliveryStatus.ACCEPTED: 20,
    DeliveryStatus.SENDING: 20,
    DeliveryStatus.SCHEDULED: 20,
    DeliveryStatus.QUEUED: 20,
    DeliveryStatus.SENT: 30,
    DeliveryStatus.DELIVERED: 40,
    DeliveryStatus.UNDELIVERED: 40,
    DeliveryStatus.FAILED: 40,
    DeliveryStatus.CANCELED: 40,
    DeliveryStatus.READ: 50,
}


def delivery_rank(status: DeliveryStatus) -> int:
    """Order of delivery states: callbacks arrive out of order and never move a status back."""
    return _RANKS[status]


FAILED_DELIVERY = frozenset(
    {DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED, DeliveryStatus.CANCELED}
)


class MediaItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    content_type: str | None = None


class EmailHeaders(BaseModel):
    """What an email says about its place in a conversation."""

    model_config = ConfigDict(frozen=True)

    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    # The conversation id from a plus address (support+c<id>@shop.example), if it had one.
    reply_token: str | None = None
    # Sent by a program (auto-reply, list, no-reply mailbox): never opens a conversation.
    automated: bool = False
    # Where SES stored the raw message (bucket, key), for erasing it with the customer.
    raw_location: tuple[str, str] | None = None

    @property
    def answered_ids(self) -> tuple[str, ...]:
        """The messages this one answers, the nearest first."""
        nearest = (self.in_reply_to,) if self.in_reply_to else ()
        return nearest + tuple(reversed(self.references))


class InboundMessage(BaseModel):
    """One customer message, normalised from any channel; also the inbound queue's payload."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    channel: Channel
    provider: Literal["twilio", "email"]
    provider_message_id: str
    customer_address: str
    shop_address: str
    customer_name: str | None = None
    text: str = ""
    media: tuple[MediaItem, ...] = ()
    received_at: datetime
    email: EmailHeaders | None = None
    # The shop's incarnation when it arrived (see Shop.incarnation).
    shop_incarnation: str | None = None

    @property
    def message_key(self) -> str:
        return f"{self.provider}:{self.provider_message_id}"

    @property
    def customer_key(self) -> str:
        """The customer's identity within the shop: one FIFO group, one open conversation."""
        return f"{self.shop_id}:{self.customer_address}"


class ShopMessage(BaseModel):
    """A message the shop sends first (order shipped, a delay notice), through the admin API.
    It travels in the customer's inbound queue group, so it and the customer's own messages
    open one conversation, in order."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["shop_message"] = "shop_message"
    shop_id: str
    # The caller's idempotency key: the same id is sent once.
    message_id: str
    channel: Channel
    customer_address: str
    # The shop's number or address it goes from, unless the conversation has one already.
    shop_address: str
    text: str
    customer_name: str | None = None
    subject: str | None = None
    # WhatsApp outside its 24-hour window: this approved template instead of the shop's.
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    requested_at: datetime
    # The shop's incarnation when it was asked for (see Shop.incarnation).
    shop_incarnation: str | None = None

    @property
    def customer_key(self) -> str:
        return f"{self.shop_id}:{self.customer_address}"

    @property
    def message_key(self) -> str:
        return f"api:{self.message_id}"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaStage(StrEnum):
    """How far an unanswered conversation has gone past its target, in order."""

    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    SECOND_LEVEL = "second_level"


SLA_STAGE_ORDER = list(SlaStage)


class ResponseClock(BaseModel):
    """The response the customer waits for: which target, since when, due when, how late."""

    model_config = ConfigDict(frozen=True)

    target: SlaTarget
    started_at: datetime
    due_at: datetime
    stage: SlaStage = SlaStage.RUNNING


class SlaEvent(BaseModel):
    """One step of a target's life, kept on the conversation for reports."""

    model_config = ConfigDict(frozen=True)

    target: SlaTarget
    stage: SlaStage | Literal["met"]
    at: datetime


class CsatRating(BaseModel):
    """The customer's answer to the satisfaction question: 1 (bad) to 5 (great)."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=1, le=5)
    at: datetime


class Conversation(BaseModel):
    model_config = ConfigDict(frozen=True)

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
    last message, so never before they have written."""
    if conversation.message_count == 0:
        return False
    return at < conversation.last_customer_message_at + WHATSAPP_WINDOW


PREVIEW_LENGTH = 140


def message_preview(message: InboundMessage) -> str:
    """A message in one short line, for the conversation's card."""
    if not message.text.strip():
        return "(attachment)" if message.media else "(empty message)"
    return _preview(message.text)


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"


def with_customer_message(conversation: Conversation, message: InboundMessage) -> Conversation:
    """The conversation once `message` is counted on it (what the store records with it):
    the customer writing makes it open, whether it was resolved, snoozed or waiting; an
    automatic reply (an out-of-office) changes nothing of that."""
    automated = message.email is not None and message.email.automated
    return conversation.model_copy(
        update={
            "status": conversation.status if automated else ConversationStatus.OPEN,
            "snoozed_until": conversation.snoozed_until if automated else None,
            "resolved_at": conversation.resolved_at if automated else None,
            "message_count": conversation.message_count + 1,
            "last_customer_message_at": message.received_at,
            "shop_address": message.shop_address,
            "customer_name": message.customer_name or conversation.customer_name,
            "order_number": order_number_in(message.text) or conversation.order_number,
            "subject": conversation.subject or (message.email.subject if message.email else None),
            "email_references": _email_chain(conversation, message),
        }
    )


EMAIL_CHAIN_LENGTH = 10
# "Re:", "Fwd:" and their cousins in the customers' languages, however often repeated.
_REPLY_PREFIXES = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|res|enc|tr|rv|odp|antw|válasz|továbbítás|balas|rép|"
    r"رد|الرد|جواب|उत्तर|जवाब)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def subject_topic(subject: str) -> str:
    """A subject without its reply and forward prefixes, for comparing conversations."""
    return " ".join(_REPLY_PREFIXES.sub("", subject).split()).casefold()


def reply_subject(subject: str | None) -> str:
    topic = _REPLY_PREFIXES.sub("", subject or "").strip()
    return f"Re: {topic}" if topic else "Re: your message"


def _email_chain(conversation: Conversation, message: InboundMessage) -> tuple[str, ...]:
    """The Message-IDs a reply references (RFC 5322: the parent's References, then the
    parent), kept short as mail clients do."""
    if message.email is None or message.email.message_id is None:
        return conversation.email_references
    chain = [*message.email.references, message.email.message_id]
    return tuple(dict.fromkeys(chain))[-EMAIL_CHAIN_LENGTH:]


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
        first_message_preview=_preview(job.text),
        subject=job.subject,
    )


def thread_key(team_id: str, channel_id: str, thread_ts: str) -> str:
    """A Slack thread's identity: replies and card presses in it share one queue group."""
    return f"{team_id}:{channel_id}:{thread_ts}"


class SlackFile(BaseModel):
    """A file an agent attached to a thread message, as Slack describes it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    mimetype: str = "application/octet-stream"
    size: int = 0
    url: str


class AgentReply(BaseModel):
    """A message an agent typed in a conversation's Slack thread."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["agent_reply"] = "agent_reply"
    event_id: str
    team_id: str
    channel_id: str
    thread_ts: str
    ts: str
    user_id: str
    text: str
    files: tuple[SlackFile, ...] = ()
    # Chosen with "Send to customer": sent whatever the shop's reply mode, and its grace
    # period runs from that choice (`requested_ts`) rather than from when it was written.
    explicit: bool = False
    requested_ts: str | None = None
    # Posted by Threadline for the agent (a canned response): agents cannot edit or delete
    # it, so it has no grace period to wait.
    posted_for_agent: bool = False
    # Sent by Threadline itself (an automatic reply): unsigned, marked as automatic, and no
    # answer to what the customer waits for.
    automatic: bool = False
    # WhatsApp outside its window: this approved template rather than the shop's.
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None

    @property
    def message_key(self) -> str:
        return f"slack:{self.channel_id}:{self.ts}"

    @property
    def version_ts(self) -> str:
        """When the text this job carries was current: the grace period starts there, and
        only an edit made after it changes what is sent."""
        return self.requested_ts or self.ts

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.thread_ts)


class ReplyRevision(BaseModel):
    """An agent edited (`text`) or deleted (`text` None) a message in a conversation thread;
    recorded as it happens, read when the message's grace period is over."""

    model_config = ConfigDict(frozen=True)

    team_id: str
    channel_id: str
    ts: str
    text: str | None
    revised_ts: str
    # The thread the message is in, so the revision is erased with its conversation.
    thread_ts: str | None = None

    @property
    def deleted(self) -> bool:
        return self.text is None

    def newer_than(self, version_ts: str) -> bool:
        return slack_time(self.revised_ts) > slack_time(version_ts)


def slack_time(ts: str) -> float:
    """A Slack timestamp ("1764000000.000100") in seconds since the epoch."""
    return float(ts)


class CannedReply(BaseModel):
    """An agent chose a canned response for a conversation in Slack's modal: posted into the
    thread on their behalf and sent to the customer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["canned_reply"] = "canned_reply"
    view_id: str
    conversation_ref: str
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    name: str
    order_number: str | None = None

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.thread_ts)


def auto_reply_post_id(conversation_ref: str, message_key: str, reply_key: str) -> str:
    """The post record of an automatic reply to a customer message. The message key holds an
    id the sender chose (an email's Message-ID): the conversation, and so the shop, comes
    first, or another shop's conversation in the same workspace could find this post."""
    return f"auto:{conversation_ref}:{message_key}:{reply_key}"


class AutoReplyJob(BaseModel):
    """An automatic reply to post in a conversation's thread and send to the customer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["auto_reply"] = "auto_reply"
    conversation_ref: str
    team_id: str
    channel_id: str
    thread_ts: str
    # The customer message it answers, and what it is ("acknowledgement", "faq:returns").
    message_key: str
    reply_key: str
    language: str
    text: str

    @property
    def post_id(self) -> str:
        return auto_reply_post_id(self.conversation_ref, self.message_key, self.reply_key)

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.thread_ts)


class ShopMessageJob(BaseModel):
    """A shop's message (`ShopMessage`) with its thread: posted there once and sent."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["shop_message_post"] = "shop_message_post"
    conversation_ref: str
    team_id: str
    channel_id: str
    thread_ts: str
    message_id: str
    text: str
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None

    @property
    def post_id(self) -> str:
        # The request's own id (not the caller's), within its conversation: a caller's id
        # used again, by another shop or for another customer, never finds this post.
        return f"api:{self.conversation_ref}:{self.message_id}"

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.thread_ts)


class DeliveryUpdate(BaseModel):
    """A provider's status callback about a message we sent."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["delivery_update"] = "delivery_update"
    shop_id: str
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    # When the provider told us; None for updates queued before it was recorded.
    received_at: datetime | None = None


# How long news of a message Threadline has no record of is kept trying: long enough for
# the write that records a send's provider id (or the retry that reconciles an interrupted
# send) to land, short of the queue's last try. After it, the message is taken for one sent
# by the shop's other systems from the same number, and the news is dropped.
UNKNOWN_DELIVERY_PATIENCE = timedelta(minutes=10)


def still_awaited(update: DeliveryUpdate, now: datetime) -> bool:
    """Whether news of a message not on record may yet find it."""
    return update.received_at is None or now - update.received_at < UNKNOWN_DELIVERY_PATIENCE


class CardAction(StrEnum):
    """What the buttons on a conversation's card do."""

    ASSIGN_TO_ME = "assign_to_me"
    UNASSIGN = "unassign"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    SET_PRIORITY = "set_priority"
    SNOOZE = "snooze"


class SnoozeOption(StrEnum):
    HOUR = "1h"
    TOMORROW = "tomorrow"
    CUSTOMER_REPLY = "customer_reply"


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


class ConversationAction(BaseModel):
    """An agent pressed a button on a conversation's card."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["conversation_action"] = "conversation_action"
    action: CardAction
    # "<shop>:<conversation>" as the button carried it: a card redrawn for another
    # conversation (a stale button) does not act on this one.
    conversation_ref: str
    team_id: str
    channel_id: str
    message_ts: str
    user_id: str
    action_ts: str
    priority: Priority | None = None
    snooze: SnoozeOption | None = None

    @property
    def thread_key(self) -> str:
        return thread_key(self.team_id, self.channel_id, self.message_ts)


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
                update={"priority": action.priority or conversation.priority}
            )


class Wakeup(BaseModel):
    """A snoozed conversation's alarm, delivered by a one-time schedule: it wakes the
    conversation only if it is still snoozed until that very moment."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["wakeup"] = "wakeup"
    shop_id: str
    conversation_id: str
    due_at: datetime

    @property
    def conversation_ref(self) -> str:
        return f"{self.shop_id}:{self.conversation_id}"


class SlaAlarm(BaseModel):
    """One stage of a response target, delivered by a one-time schedule: it acts only if
    that very target is still unmet and has not reached the stage yet."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sla_alarm"] = "sla_alarm"
    shop_id: str
    conversation_id: str
    target: SlaTarget
    started_at: datetime
    stage: SlaStage
    due_at: datetime

    @property
    def conversation_ref(self) -> str:
        return f"{self.shop_id}:{self.conversation_id}"


TimerWork = Wakeup | SlaAlarm
TimerJob = Annotated[TimerWork, Field(discriminator="kind")]


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


# The outbound queue's jobs, all ordered per conversation thread or provider message.
OutboundWork = (
    AgentReply | CannedReply | AutoReplyJob | ShopMessageJob | DeliveryUpdate | ConversationAction
)
OutboundJob = Annotated[OutboundWork, Field(discriminator="kind")]


class EmailEnvelope(BaseModel):
    """How an emailed reply threads in the customer's mailbox."""

    model_config = ConfigDict(frozen=True)

    subject: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


class OutboundMessage(BaseModel):
    """An agent reply on its way to the customer."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    message_key: str
    conversation_id: str
    channel: Channel
    to: str
    from_: str
    text: str
    agent_user_id: str
    agent_name: str | None = None
    # Attachments, kept in the media bucket; sent as media where the channel takes it.
    media_keys: tuple[str, ...] = ()
    email: EmailEnvelope | None = None
    automatic: bool = False
    # Posted in Slack by the bot (a canned response, an automatic reply), which may delete it.
    posted_for_agent: bool = False
    # That post's record (it repeats the text), erased with the message.
    post_id: str | None = None
    # WhatsApp outside its 24-hour window: the approved template sent instead of `text`.
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    slack_channel_id: str
    slack_ts: str
    slack_thread_ts: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    # What the agent's Slack message shows; behind `status` until Slack has been told.
    shown_status: DeliveryStatus = DeliveryStatus.PENDING
    provider_message_id: str | None = None
    error_code: str | None = None
    error_reason: str | None = None
    created_at: datetime

    @property
    def display_behind(self) -> bool:
        return delivery_rank(self.shown_status) < delivery_rank(self.status)


def _envelope(conversation: Conversation) -> EmailEnvelope | None:
    if conversation.channel is not Channel.EMAIL:
        return None
    chain = conversation.email_references
    # Without a mail of the customer's to answer (the shop writes first), no "Re:".
    subject = reply_subject(conversation.subject) if chain else conversation.subject
    return EmailEnvelope(
        subject=subject or "Re: your message",
        in_reply_to=chain[-1] if chain else None,
        references=chain,
    )


def media_capacity(channel: Channel, shop_address: str) -> int:
    """How many files one reply carries as media (attachments for email): one on WhatsApp,
    ten by MMS, which only US and Canadian numbers (+1) send; beyond, links in the text."""
    if channel is Channel.WHATSAPP:
        return 1
    if channel is Channel.EMAIL:
        return 10
    return 10 if channel is Channel.SMS and shop_address.startswith("+1") else 0


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
