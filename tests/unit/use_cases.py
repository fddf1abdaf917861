"""One world of in-memory fakes to build use cases from: the linked records, FakeSlack
behind the shops' workspaces, RecordingTwilio as every customer channel, the queues and
schedules, and a clock that moves only when told."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from chalicelib.channels.base import MediaFile
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import DeliveryStatus, InboundMessage, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets, SlackConfig, TwilioConfig
from chalicelib.domain.triage.record import Triage
from chalicelib.domain.triage.rules import RulesEngine
from chalicelib.domain.vocabulary import Channel
from chalicelib.secrets import DeploymentKeys, DeploymentSecrets
from chalicelib.services.conversations import InboundProcessor
from chalicelib.services.media_links import MediaLinks
from chalicelib.services.opt_outs import OptOutKeeper
from chalicelib.services.replies import ReplyDispatcher
from chalicelib.services.triage import MessageTriage
from chalicelib.settings import Settings
from tests.fakes import (
    FakeConversations,
    FakeCounters,
    FakeMetrics,
    FakeQueues,
    FakeRecords,
    FakeReplies,
    FakeSchedules,
    FakeSlack,
    FakeVault,
    FakeWorkspaces,
    RecordingTwilio,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SHOP, TEAM, CHANNEL = "acme", "T0ACME", "C0SUPPORT"
SHOP_NUMBER, CUSTOMER = "+15550199999", "+15550100001"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class KeptMedia:
    """The media bucket: what was kept, by key."""

    kept: dict[str, MediaFile] = field(default_factory=dict)

    def keep(self, key: str, file: MediaFile, *, retention_days: int | None = None) -> None:
        self.kept[key] = file

    def share(self, key: str, seconds: int = 3600) -> str:
        return f"https://media.example/{key}"

    def holds(self, url: str) -> bool:
        return url.startswith("https://media.example/")

    def exists(self, key: str) -> bool:
        return key in self.kept


class RacingConversations(FakeConversations):
    """The conversations, with another writer's change slipped in once (just before the
    next `save_state`, or just after the next `record_inbound`), or the next
    `record_inbound` failing before it writes."""

    def __init__(self, world: FakeRecords) -> None:
        super().__init__(world)
        self.before_save: list[Conversation] = []
        self.after_record: list[Conversation] = []
        self.record_failures: list[Exception] = []

    def save_state(
        self, conversation: Conversation, *, expires_at: int | None = None
    ) -> Conversation | None:
        if self.before_save:
            self._race(self.before_save.pop(0), conversation)
        return super().save_state(conversation, expires_at=expires_at)

    def record_inbound(
        self,
        message: InboundMessage,
        conversation: Conversation,
        slack_ts: str,
        *,
        expires_at: int | None = None,
        triage: Triage | None = None,
    ) -> None:
        if self.record_failures:
            raise self.record_failures.pop(0)
        super().record_inbound(
            message, conversation, slack_ts, expires_at=expires_at, triage=triage
        )
        if self.after_record:
            stored = self.get_conversation(conversation.shop_id, conversation.conversation_id)
            assert stored is not None
            self._race(self.after_record.pop(0), stored)

    def _race(self, change: Conversation, read: Conversation) -> None:
        """Stores `change`'s agent fields over the conversation as `read`."""
        other = change.model_copy(update={"version": read.version})
        assert super().save_state(other) is not None


class RacingReplies(FakeReplies):
    """The replies, with another writer's change to the conversation slipped in once, just
    before the next `record_sent` (which stores the conversation a reply answers)."""

    def __init__(self, world: FakeRecords, conversations: RacingConversations) -> None:
        super().__init__(world)
        self.conversations = conversations
        self.before_record: list[Conversation] = []

    def record_sent(
        self,
        message: OutboundMessage,
        status: DeliveryStatus,
        provider_message_id: str,
        *,
        expires_at: int | None = None,
        saving: Conversation | None = None,
        saving_expires_at: int | None = None,
    ) -> tuple[bool, Conversation | None]:
        if self.before_record:
            read = self.conversations.get_conversation(message.shop_id, message.conversation_id)
            assert read is not None
            self.conversations._race(self.before_record.pop(0), read)
        return super().record_sent(
            message,
            status,
            provider_message_id,
            expires_at=expires_at,
            saving=saving,
            saving_expires_at=saving_expires_at,
        )


def acme(**changes: object) -> Shop:
    """The shop, with `changes` to its configuration (validated as an admin's would be)."""
    shop = Shop(
        shop_id=SHOP,
        name="Acme",
        slack=SlackConfig(team_id=TEAM, channel_id=CHANNEL),
        twilio=TwilioConfig(account_sid="AC" + "0" * 32, sms_numbers=[SHOP_NUMBER]),
    )
    return Shop.model_validate({**shop.model_dump(), **changes})


@dataclass
class World:
    records: FakeRecords = field(default_factory=FakeRecords)
    slack: FakeSlack = field(default_factory=FakeSlack)
    twilio: RecordingTwilio = field(default_factory=RecordingTwilio)
    queues: FakeQueues = field(default_factory=FakeQueues)
    schedules: FakeSchedules = field(default_factory=FakeSchedules)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    media: KeptMedia = field(default_factory=KeptMedia)
    counters: FakeCounters = field(default_factory=FakeCounters)
    vault: FakeVault = field(default_factory=FakeVault)
    clock: Clock = field(default_factory=Clock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.conversations = RacingConversations(self.records)
        self.reply_records = RacingReplies(self.records, self.conversations)
        self.records.shops.put_shop(acme(), None)
        self.vault.put(
            SHOP,
            ShopSecrets(
                slack_bot_token=SecretStr(f"xoxb-{SHOP}"), twilio_auth_token=SecretStr("auth")
            ),
        )
        self.workspaces = FakeWorkspaces(self.slack, {SHOP: f"xoxb-{SHOP}"})

    def _channel(self, channel: Channel) -> RecordingTwilio:
        return self.twilio

    def _new_id(self) -> str:
        return f"01CONV{next(self.ids):06d}"

    def inbound(self, opt_outs: OptOutKeeper | None = None) -> InboundProcessor:
        return InboundProcessor(
            self.records.shops,
            self.records.inbound,
            self.conversations,
            self.records.profiles,
            self.vault,
            self._channel,
            self.workspaces,
            self.media,
            self.schedules,
            self.queues,
            self._new_id,
            self.metrics,
            self.clock,
            triage=MessageTriage(
                self.conversations, self.schedules, {"rules": RulesEngine()}, self.clock
            ),
            opt_outs=opt_outs,
        )

    def replies(self) -> ReplyDispatcher:
        settings = Settings(public_url="https://threadline.example/api")
        links = MediaLinks(
            DeploymentSecrets.fixed(DeploymentKeys(admin_token=SecretStr("admin"))),
            self.media,
            settings.public_url,
            self.clock,
        )
        return ReplyDispatcher(
            settings,
            self.records.shops,
            self.conversations,
            self.reply_records,
            self.counters,
            self.vault,
            self._channel,
            self.workspaces,
            self.media,
            links,
            self.clock,
            self.metrics,
        )

    def arrives(
        self, n: int = 1, *, text: str = "Where is my order?", **changes: object
    ) -> InboundMessage:
        """A customer's message, stored as the ack path stores it."""
        message = InboundMessage(
            shop_id=SHOP,
            channel=Channel.SMS,
            provider="twilio",
            provider_message_id=f"SM{n:032d}",
            customer_address=CUSTOMER,
            shop_address=SHOP_NUMBER,
            customer_name="Ana",
            text=text,
            received_at=self.clock(),
        ).model_copy(update=changes)
        self.records.inbound.save_inbound(message)
        return message
