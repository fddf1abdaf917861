"""What the use cases need from the outside world, as small protocols.

The real adapters live in store/, queues.py, secrets.py and channels/; tests pass fakes.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.channels.base import MediaFile, OutboundChannel
from chalicelib.channels.twilio import NumberConnection
from chalicelib.domain.cancellations import (
    CancelAccepted,
    CancellableOrder,
    CancelPlan,
    CancelRecord,
)
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import CustomerProfile
from chalicelib.domain.drafts import ModelDraft, NoDraft
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.handoff import ModelSummary
from chalicelib.domain.jobs import OutboundWork, TimerWork
from chalicelib.domain.messages import (
    DeliveryAdvance,
    DeliveryStatus,
    InboundMessage,
    InboundProgress,
    InboundStatus,
    OutboundMessage,
    ReplyRevision,
    ShopMessage,
    SlackFile,
)
from chalicelib.domain.order_updates import OrderContact
from chalicelib.domain.orders import CustomerKeys, OrderSummary
from chalicelib.domain.refunds import (
    RefundableOrder,
    RefundDone,
    RefundPlan,
    RefundQuote,
    RefundRecord,
    RefundState,
)
from chalicelib.domain.returns import ReturnableOrder, ReturnMade, ReturnPlan, ReturnRecord
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.triage.record import Triage, TriageContext
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.store.claims import ShopMessageClaim
from chalicelib.store.digests import DigestLease

if TYPE_CHECKING:
    # Only `threadline doctor`'s checkup needs them: kept out of a cold start.
    from chalicelib.channels.telegram import WebhookSet
    from chalicelib.domain.checks import (
        GraphObject,
        NumberWebhook,
        Refusal,
        SlackBot,
        SlackChannelState,
        TelegramWebhookInfo,
    )

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


class SlackPort(Protocol):
    def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str: ...

    def post_to(self, destination: str, message: SlackMessage) -> tuple[str, str]: ...

    def find_posted(
        self, channel: str, thread_ts: str, metadata: dict[str, Any], since: datetime
    ) -> str | None: ...

    def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    def react(self, channel: str, ts: str, name: str) -> None: ...

    def unreact(self, channel: str, ts: str, name: str) -> None: ...

    def display_name(self, user_id: str) -> str | None: ...

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None: ...

    def permalink(self, channel: str, ts: str) -> str: ...

    def join(self, channel: str) -> None: ...

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[MediaFile]
    ) -> list[str]: ...

    def download_file(self, file: SlackFile) -> MediaFile | None: ...

    def delete(self, channel: str, ts: str) -> None: ...

    def delete_file(self, file_id: str) -> None: ...

    def usergroup_members(self, usergroup_id: str) -> list[str]: ...

    def post_ephemeral(
        self, channel: str, user_id: str, message: SlackMessage, thread_ts: str | None = None
    ) -> bool: ...


SlackFactory = Callable[[str], SlackPort]


class Workspaces(Protocol):
    """Each shop's Slack workspace, as its bot token opens it."""

    def slack_for(self, shop_id: str) -> SlackPort:
        """Raises WorkspaceUnavailable when the shop has no bot token."""
        ...


def slack_or_retry(workspaces: Workspaces, shop_id: str) -> SlackPort:
    """The shop's Slack for a worker's job: without a bot token the job is retried later
    (a token may be stored meanwhile)."""
    try:
        return workspaces.slack_for(shop_id)
    except WorkspaceUnavailable as error:
        raise Retryable(str(error)) from error


# The outbound adapter of a customer channel.
ChannelRouter = Callable[[Channel], OutboundChannel]


class ShopVault(Protocol):
    """The shops' secrets (Slack bot token, Twilio auth token), one document a shop."""

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets: ...

    def put(self, shop_id: str, secrets: ShopSecrets) -> str: ...

    def revive(self, shop_id: str) -> None: ...

    def delete(self, shop_id: str) -> None: ...

    def undo(self, shop_id: str, version_id: str, previous: ShopSecrets | None) -> None: ...


class SchedulesPort(Protocol):
    def set_alarm(self, job: TimerWork) -> None: ...


class MediaPort(Protocol):
    def keep(self, key: str, file: MediaFile, *, retention_days: int | None = None) -> None: ...

    def share(self, key: str, seconds: int = ...) -> str: ...

    def holds(self, url: str) -> bool: ...


class SharedFiles(Protocol):
    """The media bucket as customers' links reach it."""

    def exists(self, key: str) -> bool: ...

    def share(self, key: str, seconds: int = ...) -> str: ...


class InboundQueue(Protocol):
    def send_inbound(self, message: InboundMessage | ShopMessage) -> None: ...


class OutboundQueue(Protocol):
    def send_outbound(self, job: OutboundWork) -> None: ...


class NumberWebhooks(Protocol):
    def connect(
        self, shop: Shop, secrets: ShopSecrets, messaging_url: str, status_url: str
    ) -> list[NumberConnection]: ...


class NumberInspection(Protocol):
    def webhooks(self, shop: Shop, secrets: ShopSecrets) -> "list[NumberWebhook] | Refusal": ...


class SlackInspection(Protocol):
    """A workspace as a bot token sees it, read only."""

    def bot(self) -> "SlackBot | Refusal": ...

    def channel_state(self, channel: str) -> "SlackChannelState | Refusal": ...


SlackInspectionFactory = Callable[[str], SlackInspection]


class Metric(StrEnum):
    """What the services count and time (docs/OPERATIONS.md lists them)."""

    CUSTOMER_MESSAGE_PROCESSED = "CustomerMessageProcessed"
    AGENT_REPLY_SENT = "AgentReplySent"
    FIRST_RESPONSE_TIME = "FirstResponseTime"
    SLA_BREACHED = "SlaBreached"
    CONVERSATION_RESOLVED = "ConversationResolved"
    DIGEST_POSTED = "DigestPosted"
    SATISFACTION_RATING = "SatisfactionRating"
    UNKNOWN_DELIVERY_STATUS = "UnknownDeliveryStatusDropped"
    # A queued customer message whose stored copy is gone (the customer was erased, or the
    # shop deleted, while it waited): dropped, never posted.
    CUSTOMER_MESSAGE_DROPPED = "CustomerMessageDropped"
    # The commerce platform did not answer a customer's lookup (retried).
    ORDERS_UNAVAILABLE = "OrdersUnavailable"
    # A commerce webhook about no customer with an open conversation: acknowledged, ignored.
    COMMERCE_WEBHOOK_IGNORED = "CommerceWebhookIgnored"
    # A Comprehend or Bedrock triage that failed, timed out, was throttled or answered
    # malformed: the message was triaged by the rules engine instead.
    TRIAGE_FALLBACK = "TriageFallback"
    # A Bedrock hand-off summary that failed: the extractive digest was posted instead.
    SUMMARY_FALLBACK = "SummaryFallback"
    # A draft asked for and not written (the model failed, or the shop offers none).
    DRAFT_UNAVAILABLE = "DraftUnavailable"
    # Order updates sent first: queued to the customer; about no customer Threadline knows;
    # held back because they asked to stop; or with no channel that could carry it
    # (WhatsApp's window shut, no template, no email address).
    ORDER_UPDATE_QUEUED = "OrderUpdateQueued"
    ORDER_UPDATE_UNKNOWN_CUSTOMER = "OrderUpdateUnknownCustomer"
    ORDER_UPDATE_OPTED_OUT = "OrderUpdateOptedOut"
    ORDER_UPDATE_UNREACHABLE = "OrderUpdateUnreachable"
    # A queued message the shop writes first whose customer was erased while it waited
    # (the conversation it was decided from is gone): dropped, never posted nor sent.
    SHOP_MESSAGE_DROPPED = "ShopMessageDropped"
    # A draft Slack would never show its agent (they or the bot left the channel): done.
    DRAFT_NOT_SHOWN = "DraftNotShown"


class MetricsPort(Protocol):
    def count(self, name: str, channel: str | None = None) -> None: ...

    def seconds(self, name: str, value: float, channel: str | None = None) -> None: ...

    def value(self, name: str, value: float, channel: str | None = None) -> None: ...


# The table, one protocol a repository (chalicelib/store/), each with the methods services
# call. A stored item the services read raw (erasure, export) is a dict.
StoredItem = dict[str, Any]


class ShopLookup(Protocol):
    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None: ...


class ShopRecords(ShopLookup, Protocol):
    def put_shop(self, shop: Shop, previous: Shop | None) -> None: ...

    def delete_shop(self, shop: Shop, now: datetime, recreate_after: timedelta) -> None: ...

    def shop_deleted_until(self, shop_id: str, now: datetime) -> datetime | None: ...

    def shops(self) -> list[Shop]: ...

    def shops_of_team(self, team_id: str) -> list[Shop]: ...

    def addresses_taken(self, shop: Shop) -> list[str]: ...

    def shop_for_address(self, address: str) -> str | None: ...


class CounterRecords(Protocol):
    def count(self, shop_id: str, name: str) -> None: ...


class InboundRecords(Protocol):
    def save_inbound(
        self, message: InboundMessage, *, expires_at: int | None = None
    ) -> tuple[InboundMessage, InboundStatus] | None: ...

    def begin_inbound_attempt(self, message: InboundMessage) -> InboundProgress: ...

    def mark_posted(
        self,
        message: InboundMessage,
        slack_ts: str,
        channel_id: str,
        *,
        while_current: Conversation | None = None,
    ) -> str | None: ...

    def mark_files_posted(self, message: InboundMessage) -> None: ...

    def mark_opt_out_noted(self, message: InboundMessage) -> None: ...

    def mark_files_shared(
        self, message: InboundMessage, shared: int, file_ids: list[str]
    ) -> bool: ...

    def note_post_about_message(
        self, shop_id: str, message_key: str, channel_id: str, ts: str
    ) -> bool: ...

    def due_for_requeue(self, now: datetime, limit: int = 100) -> list[InboundMessage]: ...

    def note_requeued(self, message: InboundMessage, next_due: datetime) -> None: ...

    def strand(self, message: InboundMessage) -> None: ...

    def discard_inbound(self, message: InboundMessage, reason: str) -> None: ...

    def stored_messages(
        self, shop_id: str, addresses: Iterable[str] | None = None
    ) -> list[StoredItem]: ...

    def stored_message(self, shop_id: str, message_key: str) -> StoredItem | None: ...

    def erase_messages(self, items: list[StoredItem]) -> int: ...


class ConversationRecords(Protocol):
    def get_conversation(self, shop_id: str, conversation_id: str) -> Conversation | None: ...

    def find_open_conversation(
        self, shop_id: str, customer_address: str
    ) -> Conversation | None: ...

    def find_open_conversations(self, shop_id: str, addresses: list[str]) -> list[Conversation]: ...

    def find_open_conversations_and_link(
        self, shop_id: str, addresses: list[str], linked: str
    ) -> tuple[list[Conversation], str | None]: ...

    def find_conversation_by_thread(
        self, team_id: str, channel_id: str, thread_ts: str
    ) -> Conversation | None: ...

    def find_conversation_by_mail(
        self, shop_id: str, message_ids: tuple[str, ...]
    ) -> Conversation | None: ...

    def posts_about_conversation(self, conversation: Conversation) -> list[tuple[str, str]]: ...

    def point_mail(
        self,
        shop_id: str,
        conversation_id: str,
        message_ids: list[str],
        *,
        expires_at: int | None = None,
    ) -> None: ...

    def create_conversation(
        self,
        conversation: Conversation,
        replacing: Conversation | None = None,
        *,
        expires_at: int | None = None,
        while_stored: InboundMessage | None = None,
    ) -> Conversation: ...

    def record_inbound(
        self,
        message: InboundMessage,
        conversation: Conversation,
        slack_ts: str,
        *,
        expires_at: int | None = None,
        triage: Triage | None = None,
    ) -> None: ...

    def save_state(
        self, conversation: Conversation, *, expires_at: int | None = None
    ) -> Conversation | None: ...

    def attach_slack_thread(
        self,
        conversation: Conversation,
        team_id: str,
        channel_id: str,
        thread_ts: str,
        *,
        expires_at: int | None = None,
    ) -> Conversation | None: ...

    def touch_conversation(self, conversation: Conversation, expires_at: int | None) -> None: ...

    def note_post_about_conversation(
        self, conversation: Conversation, channel_id: str, ts: str
    ) -> bool: ...

    def thread_owner(
        self, team_id: str, channel_id: str, thread_ts: str
    ) -> tuple[str, str] | None: ...


class ConversationLists(Protocol):
    def recent_conversations(self, shop_id: str, limit: int) -> list[Conversation]: ...

    def conversations_page(
        self, shop_id: str, filters: dict[str, str], limit: int, after: StoredItem | None
    ) -> tuple[list[Conversation], StoredItem | None]: ...

    def conversations_created(
        self, shop_id: str, start: datetime, end: datetime
    ) -> list[Conversation]: ...

    def conversations_of(self, shop_id: str, addresses: tuple[str, ...]) -> list[Conversation]: ...

    def timeline(self, shop_id: str, conversation_id: str) -> Iterator[StoredItem]: ...


class ReplyRecords(Protocol):
    def record_revision(self, revision: ReplyRevision) -> None: ...

    def reply_revision(self, team_id: str, channel_id: str, ts: str) -> ReplyRevision | None: ...

    def bot_post(self, team_id: str, post_id: str) -> tuple[str, str] | None: ...

    def record_bot_post(
        self, team_id: str, post_id: str, ts: str, text: str, *, expires_at: int | None = None
    ) -> None: ...

    def claim_outbound(
        self, message: OutboundMessage, *, expires_at: int | None = None
    ) -> OutboundMessage | None: ...

    def advance_outbound(
        self,
        message: OutboundMessage,
        status: DeliveryStatus,
        *,
        provider_message_id: str | None = None,
        error_code: str | None = None,
        error_reason: str | None = None,
        expires_at: int | None = None,
    ) -> bool: ...

    def mark_shown(self, message: OutboundMessage) -> None: ...

    def get_outbound(self, shop_id: str, message_key: str) -> OutboundMessage | None: ...

    def provider_id_taken(self, shop_id: str, provider_message_id: str) -> bool: ...

    def advance_by_provider_id(
        self,
        shop_id: str,
        provider_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
    ) -> DeliveryAdvance | None: ...

    def give_back_display(self, advance: DeliveryAdvance) -> None: ...

    def replies_up_to(
        self, shop_id: str, conversation_id: str, up_to: datetime, limit: int
    ) -> list[OutboundMessage]: ...

    def reply_reading(
        self,
        shop_id: str,
        conversation_id: str,
        message_key: str,
        revision_of: tuple[str, str, str] | None,
    ) -> tuple[Conversation | None, OutboundMessage | None, ReplyRevision | None]: ...

    def record_sent(
        self,
        message: OutboundMessage,
        status: DeliveryStatus,
        provider_message_id: str,
        *,
        expires_at: int | None = None,
        saving: Conversation | None = None,
        saving_expires_at: int | None = None,
    ) -> tuple[bool, Conversation | None]: ...


class ProfileRecords(Protocol):
    def customer_profile(self, shop_id: str, address: str) -> CustomerProfile | None: ...

    def linked_profile(self, shop_id: str, customer_id: str) -> CustomerProfile | None: ...

    def save_profile(
        self,
        profile: CustomerProfile | None,
        replaced: list[CustomerProfile],
        released: tuple[str, ...] = (),
        *,
        expires_at: int | None = None,
    ) -> None: ...

    def erase_profiles(self, shop_id: str) -> int: ...


class ErasureRecords(Protocol):
    def erase_conversation(self, conversation: Conversation, items: list[StoredItem]) -> int: ...

    def record_erasure(self, shop_id: str, receipt: StoredItem) -> None: ...


class InstallationRecords(Protocol):
    def issue_oauth_state(self, state: str, shop_id: str, expires_at: datetime) -> None: ...

    def consume_oauth_state(self, state: str, now: datetime) -> str | None: ...

    def put_installation(self, values: StoredItem) -> None: ...

    def get_installation(self, enterprise_id: str | None, team_id: str) -> StoredItem | None: ...

    def delete_installation(self, enterprise_id: str | None, team_id: str) -> None: ...


class DigestRecords(Protocol):
    def lease_digest(
        self, shop_id: str, day: date, token: str, now: datetime, lease: timedelta
    ) -> DigestLease | None: ...

    def digest_posted(self, lease: DigestLease, ts: str) -> None: ...

    def digest_done(self, lease: DigestLease, now: datetime) -> None: ...

    def release_digest(self, lease: DigestLease) -> None: ...

    def erase_digests(self, shop_id: str) -> None: ...


class DeadLetterRecords(Protocol):
    def claim_dead_letter(self, message_id: str, now: datetime) -> bool: ...

    def release_dead_letter(self, message_id: str) -> None: ...


class ShopMessageRecords(Protocol):
    def claim_shop_message(
        self, claim: ShopMessageClaim, *, now: datetime, expires_at: int
    ) -> ShopMessageClaim: ...

    def shop_message_queued(self, claim: ShopMessageClaim) -> None: ...


class BotWebhooks(Protocol):
    """A shop's Telegram bot pointed at this deployment (channels/telegram.py)."""

    def set_webhook(
        self, shop: Shop, secrets: ShopSecrets, url: str, secret_token: str
    ) -> "WebhookSet": ...


class TriageEngine(Protocol):
    """Reads a customer message's mood, urgency and intent (`rules` offline; Comprehend or
    Bedrock where a shop chooses them)."""

    name: str

    def triage(
        self, text: str, language: str, context: TriageContext, policy: TriagePolicy
    ) -> Triage: ...


class HandoffSummariser(Protocol):
    """Writes a hand-off summary of a conversation's (author, text) lines, oldest first, in
    `language` (a model the shop chose); None when it could not (the failure logged)."""

    def summarise(
        self, lines: Sequence[tuple[str, str]], language: str, policy: TriagePolicy
    ) -> ModelSummary | None: ...


class ReplyDrafter(Protocol):
    """Drafts a reply to the customer in `language` from the conversation's (author, text)
    lines, oldest first, and facts of the customer's own orders (a model the shop chose);
    `NoDraft` with the reason when it could not (the failure logged, never the text)."""

    def draft(
        self,
        lines: Sequence[tuple[str, str]],
        orders: Sequence[str],
        language: str,
        policy: TriagePolicy,
    ) -> ModelDraft | NoDraft: ...


class OrderDirectory(Protocol):
    """A commerce platform's customers and their orders (Shopify; WooCommerce would be one
    more adapter). Raises `Retryable` when the platform is down or throttles, and
    `CommerceRefused` when it refuses the shop's credentials."""

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary: ...


class WebhookRecords(Protocol):
    def claim_webhook(
        self, shop_id: str, webhook_id: str, now: datetime, remember: timedelta | None = None
    ) -> bool: ...

    def release_webhook(self, shop_id: str, webhook_id: str) -> None: ...


class RefundRecords(Protocol):
    def claim_refund(self, plan: RefundPlan, now: datetime, expires_at: int) -> RefundRecord: ...

    def refund_record(self, shop_id: str, submission_key: str) -> RefundRecord | None: ...

    def move_refund(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        quote: RefundQuote | None = None,
        approved_by: str | None = None,
    ) -> bool: ...


class RefundDesk(Protocol):
    """A commerce platform's refunds (Shopify). Raises `Retryable` when the platform is down
    or throttles, and `CommerceRefused` (its reason in plain words) when it refuses."""

    def refundable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> RefundableOrder | None: ...

    def quote(
        self, shop: Shop, secrets: ShopSecrets, order_id: str, lines: list[tuple[str, int]]
    ) -> RefundQuote: ...

    def refund(
        self, shop: Shop, secrets: ShopSecrets, plan: RefundPlan, quote: RefundQuote
    ) -> RefundDone: ...


class CancelRecords(Protocol):
    def claim_cancel(self, plan: CancelPlan, now: datetime, expires_at: int) -> CancelRecord: ...

    def cancel_record(self, shop_id: str, submission_key: str) -> CancelRecord | None: ...

    def move_cancel(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        approved_by: str | None = None,
    ) -> bool: ...


class CancelDesk(Protocol):
    """A commerce platform's order cancellations (Shopify). Raises `Retryable` when the
    platform is down or throttles, and `CommerceRefused` (its reason in plain words) when it
    refuses."""

    def cancellable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> CancellableOrder | None: ...

    def cancel(self, shop: Shop, secrets: ShopSecrets, plan: CancelPlan) -> CancelAccepted: ...


class ReturnRecords(Protocol):
    def claim_return(self, plan: ReturnPlan, now: datetime, expires_at: int) -> ReturnRecord: ...

    def move_return(
        self, shop_id: str, submission_key: str, before: RefundState, after: RefundState
    ) -> bool: ...


class ReturnDesk(Protocol):
    """A commerce platform's returns (Shopify). Raises `Retryable` when the platform is down
    or throttles, and `CommerceRefused` (its reason in plain words) when it refuses."""

    def returnable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> ReturnableOrder | None: ...

    def create_return(self, shop: Shop, secrets: ShopSecrets, plan: ReturnPlan) -> ReturnMade: ...


class BotInspection(Protocol):
    """A shop's Telegram bot as Telegram sees it, read only (`threadline doctor`)."""

    def webhook_info(self, shop: Shop, secrets: ShopSecrets) -> "TelegramWebhookInfo | Refusal": ...


class GraphInspection(Protocol):
    """What a shop's Meta access token may read, read only (`threadline doctor`)."""

    def me(self, token: str) -> "GraphObject | Refusal": ...

    def read(self, object_id: str, token: str) -> "GraphObject | Refusal": ...


class OptOutRecords(Protocol):
    """Customers' STOP for order updates (chalicelib/store/opt_outs.py)."""

    def record_opt_out(self, shop_id: str, address: str, at: datetime) -> None: ...

    def record_opt_in(self, shop_id: str, address: str) -> None: ...

    def opted_out_at(self, shop_id: str, addresses: tuple[str, ...]) -> datetime | None: ...

    def erase_opt_outs(self, shop_id: str) -> int: ...


class OrderContacts(Protocol):
    """Who placed an order, asked of the shop's platform by the order's id (Shopify). Raises
    `Retryable` when the platform is down or throttles, `CommerceRefused` when it refuses."""

    def order_contact(
        self, shop: Shop, secrets: ShopSecrets, order_id: str
    ) -> OrderContact | None: ...
