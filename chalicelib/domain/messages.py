"""The messages of a conversation: what a customer wrote (from any channel), what the shop
sends first, what goes back to the customer, and how far each got.

Message keys are `<provider>:<provider id>` for customer messages and `slack:<channel>:<ts>`
for agent replies, so every retry of the same delivery lands on the same key.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.email_threading import EmailEnvelope, EmailHeaders
from chalicelib.domain.vocabulary import Channel


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
    # Whether the thread has its note of the customer's STOP or START (posted once).
    opt_out_noted: bool = False


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
    model_config = ConfigDict(defer_build=True, frozen=True)

    url: str
    content_type: str | None = None


class InboundKind(StrEnum):
    """What a customer-channel event is to the conversation: a message the customer waits
    on an answer to, a reaction to an earlier message (shown, awaited by no one), or an echo
    of what the shop sent from outside Threadline (shown, never sent again)."""

    MESSAGE = "message"
    REACTION = "reaction"
    ECHO = "echo"


class InboundMessage(BaseModel):
    """One customer message, normalised from any channel; also the inbound queue's payload."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    channel: Channel
    provider: Literal["twilio", "email", "telegram", "meta"]
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
    kind: InboundKind = InboundKind.MESSAGE
    # The language the customer's app declares (domain/declared_language.py), where given.
    customer_language: str | None = None

    @property
    def message_key(self) -> str:
        return f"{self.provider}:{self.provider_message_id}"

    @property
    def automated(self) -> bool:
        """Shown in its thread but awaited by no one: it opens no conversation, reopens
        none and starts no clock (an auto-reply mail, a reaction, an echo)."""
        email_automated = self.email is not None and self.email.automated
        return email_automated or self.kind is not InboundKind.MESSAGE

    @property
    def customer_key(self) -> str:
        """The customer's identity within the shop: one FIFO group, one open conversation."""
        return f"{self.shop_id}:{self.customer_address}"


class ShopMessage(BaseModel):
    """A message the shop sends first (order shipped, a delay notice), through the admin API.
    It travels in the customer's inbound queue group, so it and the customer's own messages
    open one conversation, in order."""

    model_config = ConfigDict(defer_build=True, frozen=True)

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
    # Sent by Threadline itself (an order update): the thread marks it automatic, saying
    # what it is ("order_update:delivered") and in which language.
    reply_key: str | None = None
    language: str | None = None
    # The customer's conversation it was decided from, if they had one: gone by the time it
    # is opened, the customer was erased meanwhile, and the message must not bring them back.
    decided_from: str | None = None

    @property
    def customer_key(self) -> str:
        return f"{self.shop_id}:{self.customer_address}"

    @property
    def message_key(self) -> str:
        return f"api:{self.message_id}"

    @property
    def is_order_update(self) -> bool:
        return (self.reply_key or "").startswith("order_update:")


PREVIEW_LENGTH = 140


def message_preview(message: InboundMessage) -> str:
    """A message in one short line, for the conversation's card."""
    if not message.text.strip():
        return "(attachment)" if message.media else "(empty message)"
    return text_preview(message.text)


def text_preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"


class SlackFile(BaseModel):
    """A file an agent attached to a thread message, as Slack describes it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: str
    name: str
    mimetype: str = "application/octet-stream"
    size: int = 0
    url: str


class ReplyRevision(BaseModel):
    """An agent edited (`text`) or deleted (`text` None) a message in a conversation thread;
    recorded as it happens, read when the message's grace period is over."""

    model_config = ConfigDict(defer_build=True, frozen=True)

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


class CloudTemplate(BaseModel):
    """An approved WhatsApp Cloud API template as it goes out: its body's variables filled."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    language: str
    body_parameters: tuple[str, ...] = ()


class OutboundMessage(BaseModel):
    """An agent reply on its way to the customer."""

    model_config = ConfigDict(defer_build=True, frozen=True)

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
    # WhatsApp Cloud API outside its 24-hour window: the approved template sent instead.
    cloud_template: CloudTemplate | None = None
    # Messenger and Instagram past their 24-hour window: a person's reply, sent with the
    # HUMAN_AGENT tag (up to 7 days, where the shop enabled it).
    human_agent_tag: bool = False

    @property
    def display_behind(self) -> bool:
        return delivery_rank(self.shown_status) < delivery_rank(self.status)


def media_capacity(channel: Channel, shop_address: str) -> int:
    """How many files one reply carries as media (attachments for email): one on WhatsApp,
    ten by MMS, which only US and Canadian numbers (+1) send; beyond, links in the text."""
    if channel in (Channel.WHATSAPP, Channel.WHATSAPP_CLOUD, Channel.MESSENGER, Channel.INSTAGRAM):
        return 1
    if channel is Channel.EMAIL:
        return 10
    if channel is Channel.TELEGRAM:
        # One file a reply, the text its caption (or sent after it): see channels/telegram.py.
        return 1
    return 10 if channel is Channel.SMS and shop_address.startswith("+1") else 0


class DeliveryAdvance(NamedTuple):
    """A status callback's reply, moved forward: `reply` has the new status and, as
    `shown_status`, what the agent's Slack message showed before. `display_taken` when the
    same write recorded the new status as shown, so no other job brings Slack up to it: the
    taker does, or gives it back if Slack fails."""

    reply: OutboundMessage
    display_taken: bool
