"""What the use cases need from the outside world, as small protocols.

The real adapters live in store.py, queues.py, secrets.py and channels/; tests pass fakes.
"""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.channels.base import MediaFile, OutboundChannel
from chalicelib.channels.twilio import NumberConnection
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import OutboundWork, TimerWork
from chalicelib.domain.messages import InboundMessage, ShopMessage, SlackFile
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.slack_blocks import SlackMessage

if TYPE_CHECKING:
    # Only `threadline doctor`'s checkup needs them: kept out of a cold start.
    from chalicelib.domain.checks import NumberWebhook, Refusal, SlackBot, SlackChannelState

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


class MetricsPort(Protocol):
    def count(self, name: str, channel: str | None = None) -> None: ...

    def seconds(self, name: str, value: float, channel: str | None = None) -> None: ...

    def value(self, name: str, value: float, channel: str | None = None) -> None: ...
