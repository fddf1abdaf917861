"""In-memory stand-ins for the ports: Slack and Twilio, the table's repositories, the queues
and schedules, the shops' secrets."""

import copy
import itertools
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from chalicelib.channels.base import DeliveryRefused, MediaFile, SendReceipt
from chalicelib.channels.meta_graph import GraphApi
from chalicelib.channels.twilio import TwilioChannel
from chalicelib.domain.cancellations import CancelPlan, CancelRecord
from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.csat import SURVEY_KEY, THANKS_KEY, survey_key
from chalicelib.domain.customers import CustomerProfile, identity
from chalicelib.domain.errors import (
    Conflict,
    ConversationChanged,
    Retryable,
    WorkspaceUnavailable,
)
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import (
    AgentReply,
    AutoReplyJob,
    CancelApproval,
    CancelRequested,
    CannedReply,
    ConversationAction,
    DeliveryWatermark,
    OrdersLookup,
    OutboundWork,
    RefundApproval,
    RefundRequested,
    ReturnRequested,
    ShopMessageJob,
    SlaAlarm,
    TimerWork,
    auto_reply_post_id,
)
from chalicelib.domain.messages import (
    DeliveryAdvance,
    DeliveryStatus,
    InboundMessage,
    InboundProgress,
    InboundStatus,
    MediaItem,
    OutboundMessage,
    ReplyRevision,
    ShopMessage,
    SlackFile,
    delivery_rank,
)
from chalicelib.domain.order_updates import OrderContact
from chalicelib.domain.orders import (
    CommerceRefused,
    CustomerKeys,
    Money,
    Order,
    OrderSummary,
    not_a_customer,
    summary,
)
from chalicelib.domain.refunds import RefundPlan, RefundQuote, RefundRecord, RefundState
from chalicelib.domain.returns import ReturnPlan, ReturnRecord
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.triage.record import Triage
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.ports import SlackPort, StoredItem
from chalicelib.store._table import (
    PARTITION_KEY_BYTES,
    UNPROCESSED_SHARDS,
    Write,
    Writer,
    mail_key,
)
from chalicelib.store.claims import ShopMessageClaim
from chalicelib.store.conversations import CONVERSATION_FIELDS
from chalicelib.store.digests import DIGEST_RECORD_LIFETIME, DigestLease
from chalicelib.store.inbound import FIRST_REQUEUE_AFTER
from chalicelib.store.webhooks import WEBHOOK_MEMORY
from local_stack.slack_limits import message_refusal, view_refusal


@dataclass
class SlackPost:
    token: str
    channel: str
    message: SlackMessage
    thread_ts: str | None
    ts: str


@dataclass
class EphemeralPost:
    token: str
    channel: str
    user_id: str
    message: SlackMessage
    thread_ts: str | None


@dataclass
class FakeSlack:
    """Every workspace's posts and reactions, by token; ts values increase like Slack's."""

    posts: list[SlackPost] = field(default_factory=list)
    updates: list[SlackPost] = field(default_factory=list)
    reactions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    views: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)
    # Files agents attached, by download URL; and what was uploaded into threads.
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[str, str | None, list[MediaFile]]] = field(default_factory=list)
    upload_failures: list[Exception] = field(default_factory=list)
    # Display names by user id; users.info knows nobody else.
    names: dict[str, str] = field(default_factory=lambda: {"U0AGENT": "Bia"})
    # (channel, ts) of the messages deleted; queue exceptions to make the next deletes fail.
    deleted: list[tuple[str, str]] = field(default_factory=list)
    delete_failures: list[Exception] = field(default_factory=list)
    # Files the bot shared, by the id Slack gave each; the ids of those deleted, and
    # exceptions to make the next file deletions fail.
    shared_files: dict[str, MediaFile] = field(default_factory=dict)
    deleted_files: list[str] = field(default_factory=list)
    delete_file_failures: list[Exception] = field(default_factory=list)
    # User groups' members by group id; usergroups.users.list knows no other group.
    user_groups: dict[str, list[str]] = field(default_factory=dict)
    # Messages shown to one user (chat.postEphemeral): never among `posts`.
    ephemerals: list["EphemeralPost"] = field(default_factory=list)
    # (channel, user) of users who left a channel: an ephemeral to them there is refused.
    left_channel: set[tuple[str, str]] = field(default_factory=set)
    _clock: Any = field(default_factory=lambda: itertools.count(1))

    def workspace(self, token: str) -> "FakeWorkspace":
        return FakeWorkspace(self, token)

    def roots(self) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts is None]

    def thread(self, thread_ts: str) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts == thread_ts]


def refused_as_slack_does(method: str, refusal: dict[str, Any] | None) -> None:
    """Raises what slack_sdk's WebClient raises when Slack refuses a call (`ok: false`)."""
    if refusal is None:
        return
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url=f"https://slack.com/api/{method}",
        req_args={},
        data=refusal,
        headers={},
        status_code=200,
    )
    raise SlackApiError(f"The request to the Slack API failed. ({method})", response)  # type: ignore[no-untyped-call]


def direct_messages(destination: str) -> str:
    """Where Slack puts a message posted to a user: the bot's direct messages with them,
    a channel of its own (D…)."""
    return "D" + destination[1:] if destination[:1] in ("U", "W") else destination


def message_params(channel: str, message: SlackMessage) -> dict[str, Any]:
    """What SlackWorkspace sends for a message."""
    return {"channel": channel, "text": message.text, "blocks": message.blocks}


@dataclass
class FakeWorkspace:
    """One workspace of FakeSlack: it refuses, as Slack does, what Slack would refuse
    (blocks past Block Kit's limits, a text too long), with slack_sdk's error."""

    slack: FakeSlack
    token: str

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        if self.slack.failures:
            raise self.slack.failures.pop(0)
        refused_as_slack_does("chat.postMessage", message_refusal(message_params(channel, message)))
        ts = f"1764000000.{next(self.slack._clock):06d}"
        self.slack.posts.append(SlackPost(self.token, channel, message, thread_ts, ts))
        return ts

    def post_to(self, destination: str, message: SlackMessage) -> tuple[str, str]:
        return direct_messages(destination), self.post(destination, message)

    def find_posted(
        self, channel: str, thread_ts: str, metadata: dict[str, Any], since: datetime
    ) -> str | None:
        # The fake's clock is not the messages' clock: `since` narrows nothing here.
        return next(
            (
                p.ts
                for p in self.slack.posts
                if (p.channel, p.thread_ts) == (channel, thread_ts)
                and p.message.metadata == metadata
            ),
            None,
        )

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        refused_as_slack_does("chat.update", message_refusal(message_params(channel, message)))
        self.slack.updates.append(SlackPost(self.token, channel, message, None, ts))

    def delete(self, channel: str, ts: str) -> None:
        if self.slack.delete_failures:
            raise self.slack.delete_failures.pop(0)
        if direct_messages(channel) != channel:
            # A user id names no channel: their direct messages have an id of their own.
            refused_as_slack_does("chat.delete", {"ok": False, "error": "channel_not_found"})
        if (channel, ts) in self.slack.deleted:
            return
        self.slack.deleted.append((channel, ts))

    def display_name(self, user_id: str) -> str | None:
        return self.slack.names.get(user_id)

    def join(self, channel: str) -> None:
        self.slack.joined.append((self.token, channel))

    def permalink(self, channel: str, ts: str) -> str:
        return f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        refused_as_slack_does("views.open", view_refusal(view))
        self.slack.views.append((trigger_id, view))

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[MediaFile]
    ) -> list[str]:
        if self.slack.upload_failures:
            raise self.slack.upload_failures.pop(0)
        self.slack.uploads.append((channel, thread_ts, files))
        ids = [f"F{len(self.slack.shared_files) + n:08d}" for n in range(1, len(files) + 1)]
        self.slack.shared_files.update(zip(ids, files, strict=True))
        return ids

    def delete_file(self, file_id: str) -> None:
        if self.slack.delete_file_failures:
            raise self.slack.delete_file_failures.pop(0)
        if file_id not in self.slack.deleted_files:
            self.slack.deleted_files.append(file_id)

    def download_file(self, file: SlackFile) -> MediaFile | None:
        content = self.slack.files.get(file.url)
        if content is None:
            return None
        return MediaFile(filename=file.name, content_type=file.mimetype, content=content)

    # Like SlackWorkspace: adding a reaction twice or removing a missing one is harmless.
    def react(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name not in shown:
            shown.append(name)

    def unreact(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name in shown:
            shown.remove(name)

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        return list(self.slack.user_groups.get(usergroup_id, []))

    def post_ephemeral(
        self, channel: str, user_id: str, message: SlackMessage, thread_ts: str | None = None
    ) -> bool:
        params = {**message_params(channel, message), "user": user_id}
        refused_as_slack_does("chat.postEphemeral", message_refusal(params))
        if user_id[:1] not in ("U", "W"):
            refused_as_slack_does("chat.postEphemeral", {"ok": False, "error": "user_not_found"})
        if (channel, user_id) in self.slack.left_channel:
            # As the Slack adapter answers Slack's user_not_in_channel.
            return False
        self.slack.ephemerals.append(
            EphemeralPost(self.token, channel, user_id, message, thread_ts)
        )
        return True


@dataclass
class SentMessage:
    to: str
    from_: str
    text: str
    status_callback: str
    sid: str
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


class RecordingTwilio(TwilioChannel):
    """The real Twilio adapter (signatures, parsing), with sending recorded instead of made.

    Queue exceptions in `failures` to make the next sends fail before sending; count
    `lost_answers` to make the next sends go out but time out before Twilio's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentMessage] = []
        self.failures: list[Retryable | DeliveryRefused] = []
        self.lost_answers = 0
        # Customers' attachments Twilio holds, by media URL.
        self.media: dict[str, MediaFile] = {}

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        return self.media.get(item.url)

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        if self.failures:
            raise self.failures.pop(0)
        sid = f"SM{len(self.sent) + 1:032x}"
        self.sent.append(
            SentMessage(
                message.to,
                message.from_,
                message.text,
                status_callback,
                sid,
                media_urls,
                message.content_sid,
                message.content_variables,
            )
        )
        if self.lost_answers:
            self.lost_answers -= 1
            raise Retryable("Twilio unreachable: ReadTimeout")
        return SendReceipt(provider_message_id=sid, status=DeliveryStatus.QUEUED)

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        return [
            SendReceipt(provider_message_id=sent.sid, status=DeliveryStatus.QUEUED)
            for sent in self.sent
            if (sent.to, sent.from_, sent.text) == (message.to, message.from_, message.text)
        ]


# Linked records: shops, customer messages, conversations, replies, profiles

_Model = TypeVar("_Model", bound=BaseModel)


def _fresh(model: _Model) -> _Model:
    """A model handed in or out as DynamoDB would: a copy, so that no side shares it."""
    return model.model_copy(deep=True)


def _message_id_of(shop_id: str, message_key: str) -> str:
    """A stored message's identity as its readers see it (`PK`)."""
    return fitted(f"SHOP#{shop_id}#MSG#{message_key}", PARTITION_KEY_BYTES)


def _key_of_item(item: StoredItem) -> tuple[str, str]:
    """(shop, message key) of a stored message, a customer's or an agent's reply."""
    key = item.get("message_key") or f"{item['provider']}:{item['provider_message_id']}"
    return str(item["shop_id"]), str(key)


def _stored_values(model: BaseModel) -> StoredItem:
    """A model's fields as the table stores them: JSON values, none for a missing one."""
    return {k: v for k, v in model.model_dump(mode="json").items() if v is not None}


def _write_fields(item: StoredItem, conversation: Conversation, writer: Writer) -> None:
    """What `writer` stores of the conversation, as `CONVERSATION_FIELDS` declares it for
    the real repository."""
    for stored in CONVERSATION_FIELDS:
        how = stored.writes.get(writer)
        if how is None:
            continue
        value = stored.value_of(conversation)
        absent = value is None or value == [] or value == {}
        if how is Write.SET or (how is Write.SET_OR_REMOVE and not absent):
            item[stored.name] = value
        elif how is Write.SET_OR_REMOVE or (how is Write.REMOVE_EMPTY and value is None):
            item.pop(stored.name, None)
        elif how is Write.SET_GIVEN and value:
            item[stored.name] = value
        elif how is Write.SET_FIRST and value:
            item.setdefault(stored.name, value)


@dataclass
class _Pointer:
    """A pointer item: what it names, and when it expires."""

    conversation_id: str
    shop_id: str = ""
    expires_at: int | None = None


@dataclass
class _Placement:
    """Where a stored message is filed besides its own item: waiting to be queued again
    (`due`), left to operators, or on its conversation's timeline (`on_timeline`, sorted
    by `at`)."""

    due: datetime | None = None
    stranded: bool = False
    on_timeline: str | None = None
    at: str = ""


@dataclass
class _Revision:
    values: StoredItem
    thread: tuple[str, str, str] | None


@dataclass
class FakeRecords:
    """The table's linked items in memory, one world for every repository over it: shops and
    their address claims, customer messages and agents' replies (one item each, as in the
    table), conversations and their pointers, edits of replies, the bot's posts, profiles.

    Each repository protocol is a property (`shops`, `inbound`, `conversations`, `listings`,
    `replies`, `profiles`, `erasures`), all over this one state. Models and items go in and
    out as copies; conditional writes, version checks and transactions behave as the real
    repositories' do."""

    shop_configs: dict[str, Shop] = field(default_factory=dict)
    deleted_shops: dict[str, int] = field(default_factory=dict)
    address_owners: dict[str, str] = field(default_factory=dict)
    messages: dict[tuple[str, str], StoredItem] = field(default_factory=dict)
    placements: dict[tuple[str, str], _Placement] = field(default_factory=dict)
    conversation_items: dict[tuple[str, str], StoredItem] = field(default_factory=dict)
    open_pointers: dict[tuple[str, str], _Pointer] = field(default_factory=dict)
    thread_pointers: dict[tuple[str, str, str], _Pointer] = field(default_factory=dict)
    mail_pointers: dict[tuple[str, str], _Pointer] = field(default_factory=dict)
    provider_pointers: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)
    revisions: dict[tuple[str, str, str], _Revision] = field(default_factory=dict)
    bot_posts: dict[tuple[str, str], tuple[str, str, int | None]] = field(default_factory=dict)
    profile_items: dict[tuple[str, str], tuple[CustomerProfile, int | None]] = field(
        default_factory=dict
    )
    identity_pointers: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)
    erasure_receipts: dict[str, list[StoredItem]] = field(default_factory=dict)

    @property
    def shops(self) -> "FakeShops":
        return FakeShops(self)

    @property
    def inbound(self) -> "FakeInbound":
        return FakeInbound(self)

    @property
    def conversations(self) -> "FakeConversations":
        return FakeConversations(self)

    @property
    def listings(self) -> "FakeListings":
        return FakeListings(self)

    @property
    def replies(self) -> "FakeReplies":
        return FakeReplies(self)

    @property
    def profiles(self) -> "FakeProfiles":
        return FakeProfiles(self)

    @property
    def erasures(self) -> "FakeErasures":
        return FakeErasures(self)


@dataclass
class FakeShops:
    """`ShopRecords`: configs (no cache: every read is fresh) and address claims."""

    world: FakeRecords

    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None:
        shop = self.world.shop_configs.get(shop_id)
        return _fresh(shop) if shop else None

    def put_shop(self, shop: Shop, previous: Shop | None) -> None:
        owners = self.world.address_owners
        claimed = sorted(shop.inbound_addresses())
        released = sorted(previous.inbound_addresses() - set(claimed)) if previous else []
        taken = [a for a in claimed if owners.get(a, shop.shop_id) != shop.shop_id]
        if taken or any(owners.get(a, shop.shop_id) != shop.shop_id for a in released):
            raise Conflict(f"already used by another shop: {', '.join(taken)}")
        self.world.shop_configs[shop.shop_id] = _fresh(shop)
        owners.update(dict.fromkeys(claimed, shop.shop_id))
        for address in released:
            owners.pop(address, None)

    def delete_shop(self, shop: Shop, now: datetime, recreate_after: timedelta) -> None:
        self.world.shop_configs.pop(shop.shop_id, None)
        self.world.deleted_shops[shop.shop_id] = int((now + recreate_after).timestamp())
        for address in shop.inbound_addresses():
            if self.world.address_owners.get(address) == shop.shop_id:
                del self.world.address_owners[address]

    def shop_deleted_until(self, shop_id: str, now: datetime) -> datetime | None:
        until = self.world.deleted_shops.get(shop_id, 0)
        return datetime.fromtimestamp(until, UTC) if until > now.timestamp() else None

    def shops(self) -> list[Shop]:
        return [_fresh(shop) for _, shop in sorted(self.world.shop_configs.items())]

    def shops_of_team(self, team_id: str) -> list[Shop]:
        return [shop for shop in self.shops() if shop.slack and shop.slack.team_id == team_id]

    def addresses_taken(self, shop: Shop) -> list[str]:
        owners = self.world.address_owners
        return sorted(
            a for a in shop.inbound_addresses() if owners.get(a, shop.shop_id) != shop.shop_id
        )

    def shop_for_address(self, address: str) -> str | None:
        return self.world.address_owners.get(address)


def _unprocessed_sort(key: str, due: datetime) -> str:
    return f"{due.astimezone(UTC).isoformat()}#{fitted(key, 512)}"


@dataclass
class FakeInbound:
    """`InboundRecords`: customer messages stored once, followed through their processing."""

    world: FakeRecords

    def _stored(self, message: InboundMessage) -> StoredItem | None:
        return self.world.messages.get((message.shop_id, message.message_key))

    def save_inbound(
        self, message: InboundMessage, *, expires_at: int | None = None
    ) -> tuple[InboundMessage, InboundStatus] | None:
        key = (message.shop_id, message.message_key)
        stored = self.world.messages.get(key)
        if stored is not None:
            return InboundMessage.model_validate(stored), InboundStatus(stored["status"])
        self.world.messages[key] = {
            "PK": _message_id_of(*key),
            "SK": "MESSAGE",
            **_stored_values(message),
            "status": InboundStatus.RECEIVED.value,
            **({} if expires_at is None else {"expires_at": expires_at}),
        }
        self.world.placements[key] = _Placement(due=message.received_at + FIRST_REQUEUE_AFTER)
        return None

    def begin_inbound_attempt(self, message: InboundMessage) -> InboundProgress:
        stored = self._stored(message)
        if stored is None:
            return InboundProgress(None, None, files_posted=False, attempt=1)
        stored["attempts"] = stored.get("attempts", 0) + 1
        posted = stored.get("slack_ts")
        return InboundProgress(
            InboundStatus(stored["status"]),
            str(posted) if posted else None,
            files_posted=bool(stored.get("files_posted")),
            attempt=int(stored["attempts"]),
            files_shared=int(stored.get("files_shared", 0)),
            opt_out_noted=bool(stored.get("opt_out_noted")),
        )

    def _set_if_stored(self, message: InboundMessage, values: StoredItem) -> bool:
        stored = self._stored(message)
        if stored is None:
            return False
        stored.update(copy.deepcopy(values))
        return True

    def mark_posted(
        self,
        message: InboundMessage,
        slack_ts: str,
        channel_id: str,
        *,
        while_current: Conversation | None = None,
    ) -> str | None:
        if while_current is not None:
            self._check_current(while_current)
        stored = self._stored(message)
        if stored is None or stored.get("slack_ts"):
            return None if stored is None else str(stored["slack_ts"])
        stored.update({"slack_ts": slack_ts, "slack_channel_id": channel_id})
        return slack_ts

    def _check_current(self, conversation: Conversation) -> None:
        """As the store checks it: at its version, and its customer's open one."""
        key = (conversation.shop_id, conversation.conversation_id)
        item = self.world.conversation_items.get(key)
        pointer = self.world.open_pointers.get(
            (conversation.shop_id, conversation.customer_address)
        )
        if pointer is None or pointer.conversation_id != conversation.conversation_id:
            raise ConversationChanged(None)
        if item is None or item.get("version", 0) != conversation.version:
            stored = Conversation.model_validate(copy.deepcopy(item)) if item else None
            raise ConversationChanged(stored)

    def mark_files_posted(self, message: InboundMessage) -> None:
        self._set_if_stored(message, {"files_posted": True})

    def mark_opt_out_noted(self, message: InboundMessage) -> None:
        self._set_if_stored(message, {"opt_out_noted": True})

    def mark_files_shared(self, message: InboundMessage, shared: int, file_ids: list[str]) -> bool:
        stored = self._stored(message)
        if stored is None:
            return False
        stored["files_shared"] = shared
        stored["slack_file_ids"] = [*stored.get("slack_file_ids", []), *file_ids]
        return True

    def note_post_about_message(
        self, shop_id: str, message_key: str, channel_id: str, ts: str
    ) -> bool:
        stored = self.world.messages.get((shop_id, message_key))
        if stored is None:
            return False
        stored["slack_posts_about"] = [*stored.get("slack_posts_about", []), [channel_id, ts]]
        return True

    def due_for_requeue(self, now: datetime, limit: int = 100) -> list[InboundMessage]:
        """As the real one: at most `limit` a shard, and when a shard is cut, nothing due
        after its last is taken."""
        shards: dict[int, list[tuple[str, tuple[str, str]]]] = {}
        for key, placement in self.world.placements.items():
            if placement.due is None or placement.stranded:
                continue
            sort_key = _unprocessed_sort(key[1], placement.due)
            if sort_key < now.astimezone(UTC).isoformat():
                shard = zlib.crc32(key[1].encode("utf-8")) % UNPROCESSED_SHARDS
                shards.setdefault(shard, []).append((sort_key, key))
        found: list[tuple[str, tuple[str, str]]] = []
        bound: str | None = None
        for waiting in shards.values():
            taken = sorted(waiting)[:limit]
            found += taken
            # DynamoDB tells of more whenever a page stops at its limit.
            if len(taken) == limit:
                bound = taken[-1][0] if bound is None else min(bound, taken[-1][0])
        due = [
            InboundMessage.model_validate(self.world.messages[key])
            for sort_key, key in found
            if bound is None or sort_key <= bound
        ]
        return sorted(due, key=lambda message: (message.received_at, message.message_key))

    def _while_unprocessed(self, message: InboundMessage) -> _Placement | None:
        stored = self._stored(message)
        if stored is None or stored["status"] != InboundStatus.RECEIVED.value:
            return None
        return self.world.placements.setdefault(
            (message.shop_id, message.message_key), _Placement()
        )

    def note_requeued(self, message: InboundMessage, next_due: datetime) -> None:
        placement = self._while_unprocessed(message)
        if placement is not None:
            placement.due, placement.stranded = next_due, False
            stored = self.world.messages[(message.shop_id, message.message_key)]
            stored["requeue_count"] = stored.get("requeue_count", 0) + 1

    def strand(self, message: InboundMessage) -> None:
        placement = self._while_unprocessed(message)
        if placement is not None:
            placement.due, placement.stranded = message.received_at, True

    def discard_inbound(self, message: InboundMessage, reason: str) -> None:
        if self._set_if_stored(
            message, {"status": InboundStatus.PROCESSED.value, "discarded": reason}
        ):
            self.world.placements.pop((message.shop_id, message.message_key), None)

    def stored_messages(
        self, shop_id: str, addresses: Iterable[str] | None = None
    ) -> list[StoredItem]:
        wanted = None if addresses is None else {a.strip().lower() for a in addresses}
        return [
            copy.deepcopy(item)
            for (shop, _), item in self.world.messages.items()
            if shop == shop_id
            and "provider" in item
            and (wanted is None or str(item["customer_address"]).strip().lower() in wanted)
        ]

    def stored_message(self, shop_id: str, message_key: str) -> StoredItem | None:
        item = self.world.messages.get((shop_id, message_key))
        return copy.deepcopy(item) if item is not None else None

    def erase_messages(self, items: list[StoredItem]) -> int:
        for item in items:
            key = _key_of_item(item)
            self.world.messages.pop(key, None)
            self.world.placements.pop(key, None)
            email = item.get("email")
            conversation_id = item.get("conversation_id")
            if isinstance(email, dict) and email.get("message_id") and conversation_id:
                pointer_key = (key[0], mail_key(str(email["message_id"])))
                pointer = self.world.mail_pointers.get(pointer_key)
                if pointer is not None and pointer.conversation_id == conversation_id:
                    del self.world.mail_pointers[pointer_key]
        return len(items)


def _cancelled(operation: str) -> ClientError:
    """What a transaction whose conditions failed raises, as botocore raises it."""
    error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
    return ClientError(error, operation)  # type: ignore[arg-type]


@dataclass
class FakeConversations:
    """`ConversationRecords`: a conversation, its three writers, and the pointers to it."""

    world: FakeRecords

    def _item(self, shop_id: str, conversation_id: str) -> StoredItem | None:
        return self.world.conversation_items.get((shop_id, conversation_id))

    def get_conversation(self, shop_id: str, conversation_id: str) -> Conversation | None:
        item = self._item(shop_id, conversation_id)
        return Conversation.model_validate(copy.deepcopy(item)) if item else None

    def find_open_conversation(self, shop_id: str, customer_address: str) -> Conversation | None:
        pointer = self.world.open_pointers.get((shop_id, customer_address))
        return self.get_conversation(shop_id, pointer.conversation_id) if pointer else None

    def find_open_conversations(self, shop_id: str, addresses: list[str]) -> list[Conversation]:
        found = (self.find_open_conversation(shop_id, address) for address in set(addresses))
        return [conversation for conversation in found if conversation is not None]

    def find_open_conversations_and_link(
        self, shop_id: str, addresses: list[str], linked: str
    ) -> tuple[list[Conversation], str | None]:
        pointer = self.world.identity_pointers.get((shop_id, identity(linked)))
        return self.find_open_conversations(shop_id, addresses), pointer[0] if pointer else None

    def find_conversation_by_thread(
        self, team_id: str, channel_id: str, thread_ts: str
    ) -> Conversation | None:
        pointer = self.world.thread_pointers.get((team_id, channel_id, thread_ts))
        if pointer is None:
            return None
        return self.get_conversation(pointer.shop_id, pointer.conversation_id)

    def find_conversation_by_mail(
        self, shop_id: str, message_ids: tuple[str, ...]
    ) -> Conversation | None:
        """The conversation of the nearest of `message_ids` we know (the first 50 read)."""
        for local in list(dict.fromkeys(map(mail_key, message_ids)))[:50]:
            pointer = self.world.mail_pointers.get((shop_id, local))
            if pointer is not None:
                return self.get_conversation(shop_id, pointer.conversation_id)
        return None

    def posts_about_conversation(self, conversation: Conversation) -> list[tuple[str, str]]:
        item = self._item(conversation.shop_id, conversation.conversation_id) or {}
        return [(str(c), str(ts)) for c, ts in item.get("slack_posts_about", [])]

    def point_mail(
        self,
        shop_id: str,
        conversation_id: str,
        message_ids: list[str],
        *,
        expires_at: int | None = None,
    ) -> None:
        for message_id in message_ids:
            pointer = _Pointer(conversation_id, shop_id, expires_at)
            self.world.mail_pointers[(shop_id, mail_key(message_id))] = pointer

    def create_conversation(
        self,
        conversation: Conversation,
        replacing: Conversation | None = None,
        *,
        expires_at: int | None = None,
        while_stored: InboundMessage | None = None,
    ) -> Conversation:
        """The customer's open pointer is taken first writer wins (an expired one counts as
        gone), or moved over from `replacing` unless another worker moved it already; with
        `while_stored`, only while that message is stored."""
        gone = while_stored and (while_stored.shop_id, while_stored.message_key)
        if gone and gone not in self.world.messages:
            raise Retryable("the message was erased before its conversation opened")
        pointer_key = (conversation.shop_id, conversation.customer_address)
        pointer = self.world.open_pointers.get(pointer_key)
        if replacing is not None:
            free = pointer is not None and pointer.conversation_id == replacing.conversation_id
        else:
            expired = pointer is not None and pointer.expires_at is not None
            free = pointer is None or (
                expired and (pointer.expires_at or 0) < int(conversation.created_at.timestamp())
            )
        key = (conversation.shop_id, conversation.conversation_id)
        if not free or key in self.world.conversation_items:
            existing = self.find_open_conversation(*pointer_key)
            if existing is None:
                raise _cancelled("TransactWriteItems")
            return existing
        self.world.conversation_items[key] = {
            **_stored_values(conversation),
            **({} if expires_at is None else {"expires_at": expires_at}),
        }
        self.world.open_pointers[pointer_key] = _Pointer(
            conversation.conversation_id, conversation.shop_id, expires_at
        )
        return _fresh(conversation)

    def record_inbound(
        self,
        message: InboundMessage,
        conversation: Conversation,
        slack_ts: str,
        *,
        expires_at: int | None = None,
        triage: Triage | None = None,
    ) -> None:
        """All or nothing: the message processed, onto its timeline, and counted."""
        message_key = (message.shop_id, message.message_key)
        stored = self.world.messages.get(message_key)
        item = self._item(message.shop_id, conversation.conversation_id)
        if stored is None or item is None:
            raise Retryable("the message or its conversation was erased meanwhile")
        stored.update(
            status=InboundStatus.PROCESSED.value,
            conversation_id=conversation.conversation_id,
            slack_ts=slack_ts,
        )
        if triage is not None:
            stored["triage"] = triage.model_dump_json()
        self.world.placements[message_key] = _Placement(
            on_timeline=conversation.conversation_id,
            at=f"{message.received_at.isoformat()}#{fitted(message.message_key, 512)}",
        )
        counted = conversation.model_copy(
            update={
                "customer_name": message.customer_name,
                "last_customer_message_at": message.received_at,
                "shop_address": message.shop_address,
            }
        )
        _write_fields(item, counted, Writer.CUSTOMER)
        item["message_count"] = item.get("message_count", 0) + 1
        item["version"] = item.get("version", 0) + 1
        if expires_at is not None:
            item["expires_at"] = expires_at
        if message.email and message.email.message_id:
            self.point_mail(
                message.shop_id,
                conversation.conversation_id,
                [message.email.message_id],
                expires_at=expires_at,
            )
        if expires_at is not None:
            self._extend_pointers(conversation, expires_at)

    def save_state(
        self, conversation: Conversation, *, expires_at: int | None = None
    ) -> Conversation | None:
        """Only over the version it was read at: None when another write came first or the
        conversation is gone."""
        item = self._item(conversation.shop_id, conversation.conversation_id)
        if item is None:
            return None
        unversioned = conversation.version == 0 and "version" not in item
        if item.get("version") != conversation.version and not unversioned:
            return None
        _write_fields(item, conversation, Writer.AGENTS)
        item["version"] = conversation.version + 1
        if expires_at is not None:
            item["expires_at"] = expires_at
            self._extend_pointers(conversation, expires_at)
        return conversation.model_copy(update={"version": conversation.version + 1}, deep=True)

    def attach_slack_thread(
        self,
        conversation: Conversation,
        team_id: str,
        channel_id: str,
        thread_ts: str,
        *,
        expires_at: int | None = None,
    ) -> Conversation | None:
        """Once: None when another worker attached its thread first, or it is gone."""
        item = self._item(conversation.shop_id, conversation.conversation_id)
        if item is None or "slack_thread_ts" in item:
            return None
        threaded = conversation.model_copy(
            update={
                "slack_team_id": team_id,
                "slack_channel_id": channel_id,
                "slack_thread_ts": thread_ts,
            }
        )
        _write_fields(item, threaded, Writer.THREAD)
        item["version"] = item.get("version", 0) + 1
        if expires_at is not None:
            item["expires_at"] = expires_at
        self.world.thread_pointers[(team_id, channel_id, thread_ts)] = _Pointer(
            conversation.conversation_id, conversation.shop_id, expires_at
        )
        return threaded.model_copy(update={"version": conversation.version + 1}, deep=True)

    def touch_conversation(self, conversation: Conversation, expires_at: int | None) -> None:
        if expires_at is None:
            return
        item = self._item(conversation.shop_id, conversation.conversation_id)
        if item is not None:
            item["expires_at"] = expires_at
            self._extend_pointers(conversation, expires_at)

    def _extend_pointers(self, conversation: Conversation, expires_at: int) -> None:
        """The open pointer (while it is this conversation's) and the thread pointer."""
        pointers = [
            self.world.open_pointers.get((conversation.shop_id, conversation.customer_address))
        ]
        team, thread = conversation.slack_team_id, conversation.slack_thread
        if team and thread:
            pointers.append(self.world.thread_pointers.get((team, *thread)))
        for pointer in pointers:
            if pointer is not None and pointer.conversation_id == conversation.conversation_id:
                pointer.expires_at = expires_at

    def note_post_about_conversation(
        self, conversation: Conversation, channel_id: str, ts: str
    ) -> bool:
        item = self._item(conversation.shop_id, conversation.conversation_id)
        if item is None:
            return False
        item["slack_posts_about"] = [*item.get("slack_posts_about", []), [channel_id, ts]]
        return True

    def thread_owner(self, team_id: str, channel_id: str, thread_ts: str) -> tuple[str, str] | None:
        pointer = self.world.thread_pointers.get((team_id, channel_id, thread_ts))
        return (pointer.shop_id, pointer.conversation_id) if pointer else None


@dataclass
class FakeListings:
    """`ConversationLists`: a shop's conversations by creation (newest first, the key as
    the real index sorts it), and a conversation's timeline."""

    world: FakeRecords

    def _newest_first(self, shop_id: str) -> list[tuple[tuple[str, str], StoredItem]]:
        found = [
            ((str(item["created_at_key"]), item["conversation_id"]), item)
            for item in self._keyed(shop_id)
        ]
        return sorted(found, key=lambda pair: pair[0], reverse=True)

    def _keyed(self, shop_id: str) -> list[StoredItem]:
        """The shop's conversations, each with its creation instant as the index sorts it
        (`datetime.isoformat`, not JSON's form)."""
        return [
            {
                **item,
                "created_at_key": Conversation.model_validate(item).created_at.isoformat(),
            }
            for (shop, _), item in self.world.conversation_items.items()
            if shop == shop_id
        ]

    def recent_conversations(self, shop_id: str, limit: int) -> list[Conversation]:
        newest = self._newest_first(shop_id)[:limit]
        return [Conversation.model_validate(copy.deepcopy(item)) for _, item in newest]

    def conversations_page(
        self, shop_id: str, filters: dict[str, str], limit: int, after: StoredItem | None
    ) -> tuple[list[Conversation], StoredItem | None]:
        """As DynamoDB pages a filtered query: `limit` items read, those the filters keep
        returned, and the last one read as where the next page starts."""
        newest = self._newest_first(shop_id)
        if after is not None:
            start = (str(after["GSI1SK"]), str(after["PK"]).rpartition("#CONV#")[2])
            newest = [(key, item) for key, item in newest if key < start]
        read = newest[:limit]
        kept = [
            Conversation.model_validate(copy.deepcopy(item))
            for _, item in read
            if _matches(item, filters)
        ]
        if len(read) < limit or not read:
            return kept, None
        (created, conversation_id), _ = read[-1]
        last = {
            "PK": f"SHOP#{shop_id}#CONV#{conversation_id}",
            "SK": "CONVERSATION",
            "GSI1PK": f"SHOP#{shop_id}#CONVERSATIONS",
            "GSI1SK": created,
        }
        return kept, last

    def conversations_created(
        self, shop_id: str, start: datetime, end: datetime
    ) -> list[Conversation]:
        oldest = reversed(self._newest_first(shop_id))
        found = (Conversation.model_validate(copy.deepcopy(item)) for _, item in oldest)
        return [c for c in found if start <= c.created_at < end]

    def conversations_of(self, shop_id: str, addresses: tuple[str, ...]) -> list[Conversation]:
        return [
            Conversation.model_validate(copy.deepcopy(item))
            for _, item in self._newest_first(shop_id)
            if item.get("customer_address") in set(addresses)
        ]

    def timeline(self, shop_id: str, conversation_id: str) -> Iterator[StoredItem]:
        on_it = sorted(
            (placement.at, key)
            for key, placement in self.world.placements.items()
            if key[0] == shop_id and placement.on_timeline == conversation_id
        )
        return iter([copy.deepcopy(self.world.messages[key]) for _, key in on_it])


def _matches(item: StoredItem, filters: dict[str, str]) -> bool:
    clock = item.get("response_clock")
    checks = [
        "status" not in filters or item.get("status") == filters["status"],
        "channel" not in filters or item.get("channel") == filters["channel"],
        "assignee" not in filters or item.get("assignee_user_id") == filters["assignee"],
        filters.get("sla") != "running" or clock is not None,
        filters.get("sla") != "overdue"
        or (isinstance(clock, dict) and clock.get("stage") in ("breached", "second_level")),
    ]
    return all(checks)


@dataclass
class FakeReplies:
    """`ReplyRecords`: agents' replies and their delivery, edits, the bot's posts."""

    world: FakeRecords

    def record_revision(self, revision: ReplyRevision) -> None:
        """A deletion always lands; an edit only over an older edit."""
        key = (revision.team_id, revision.channel_id, revision.ts)
        at = Decimal(revision.revised_ts)
        stored = self.world.revisions.get(key)
        newer = stored is not None and (
            stored.values["deleted"] or not stored.values["revised_at"] < at
        )
        if not revision.deleted and newer:
            return
        values: StoredItem = {"revised_at": at, "deleted": revision.deleted}
        if revision.text is not None:
            values["text"] = revision.text
        thread = None
        if revision.thread_ts is not None:
            thread = (revision.team_id, revision.channel_id, revision.thread_ts)
        self.world.revisions[key] = _Revision(values, thread)

    def reply_revision(self, team_id: str, channel_id: str, ts: str) -> ReplyRevision | None:
        stored = self.world.revisions.get((team_id, channel_id, ts))
        if stored is None:
            return None
        values = stored.values
        return ReplyRevision(
            team_id=team_id,
            channel_id=channel_id,
            ts=ts,
            text=None if values["deleted"] else str(values.get("text", "")),
            revised_ts=str(values["revised_at"]),
        )

    def bot_post(self, team_id: str, post_id: str) -> tuple[str, str] | None:
        post = self.world.bot_posts.get((team_id, post_id))
        return (post[0], post[1]) if post else None

    def record_bot_post(
        self, team_id: str, post_id: str, ts: str, text: str, *, expires_at: int | None = None
    ) -> None:
        self.world.bot_posts[(team_id, post_id)] = (ts, text, expires_at)

    def claim_outbound(
        self, message: OutboundMessage, *, expires_at: int | None = None
    ) -> OutboundMessage | None:
        key = (message.shop_id, message.message_key)
        stored = self.world.messages.get(key)
        if stored is not None:
            return OutboundMessage.model_validate(copy.deepcopy(stored))
        self.world.messages[key] = {
            "PK": _message_id_of(*key),
            "SK": "MESSAGE",
            **_stored_values(message),
            "status_rank": delivery_rank(message.status),
            **({} if expires_at is None else {"expires_at": expires_at}),
        }
        self.world.placements[key] = _Placement(
            on_timeline=message.conversation_id,
            at=f"{message.created_at.isoformat()}#{fitted(message.message_key, 512)}",
        )
        return None

    def advance_outbound(
        self,
        message: OutboundMessage,
        status: DeliveryStatus,
        *,
        provider_message_id: str | None = None,
        error_code: str | None = None,
        error_reason: str | None = None,
        expires_at: int | None = None,
    ) -> bool:
        """Only forward; a provider message belongs to one reply only."""
        stored = self.world.messages.get((message.shop_id, message.message_key))
        rank = delivery_rank(status)
        behind = stored is not None and "status_rank" in stored and stored["status_rank"] < rank
        pointer_key = (message.shop_id, provider_message_id or "")
        if provider_message_id:
            pointer = self.world.provider_pointers.get(pointer_key)
            if pointer is not None and pointer[0] != message.message_key:
                raise Retryable("that provider message belongs to another reply")
        if stored is None or not behind:
            return False
        stored.update(status=status.value, status_rank=rank)
        for name, value in (
            ("provider_message_id", provider_message_id),
            ("error_code", error_code),
            ("error_reason", error_reason),
        ):
            if value:
                stored[name] = value
        if provider_message_id:
            self.world.provider_pointers[pointer_key] = (message.message_key, expires_at)
        return True

    def mark_shown(self, message: OutboundMessage) -> None:
        stored = self.world.messages.get((message.shop_id, message.message_key))
        rank = delivery_rank(message.status)
        if stored is not None and stored.get("shown_rank", -1) < rank:
            stored.update(shown_status=message.status.value, shown_rank=rank)

    def get_outbound(self, shop_id: str, message_key: str) -> OutboundMessage | None:
        stored = self.world.messages.get((shop_id, message_key))
        return OutboundMessage.model_validate(copy.deepcopy(stored)) if stored else None

    def provider_id_taken(self, shop_id: str, provider_message_id: str) -> bool:
        return (shop_id, provider_message_id) in self.world.provider_pointers

    def advance_by_provider_id(
        self,
        shop_id: str,
        provider_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
    ) -> DeliveryAdvance | None:
        pointer = self.world.provider_pointers.get((shop_id, provider_message_id))
        stored = self.world.messages.get((shop_id, pointer[0])) if pointer else None
        if stored is None:
            return None
        before = OutboundMessage.model_validate(copy.deepcopy(stored))
        rank = delivery_rank(status)
        if "status_rank" not in stored or stored["status_rank"] >= rank:
            return DeliveryAdvance(before, display_taken=False)
        stored.update(status=status.value, status_rank=rank)
        stored.update(shown_status=status.value, shown_rank=rank)
        changed = {"status": status} | ({"error_code": error_code} if error_code else {})
        if error_code:
            stored["error_code"] = error_code
        return DeliveryAdvance(before.model_copy(update=changed), display_taken=True)

    def give_back_display(self, advance: DeliveryAdvance) -> None:
        reply = advance.reply
        stored = self.world.messages.get((reply.shop_id, reply.message_key))
        if stored is not None and stored.get("shown_rank") == delivery_rank(reply.status):
            rank = delivery_rank(reply.shown_status)
            stored.update(shown_status=reply.shown_status.value, shown_rank=rank)

    def replies_up_to(
        self, shop_id: str, conversation_id: str, up_to: datetime, limit: int
    ) -> list[OutboundMessage]:
        after = f"{up_to.isoformat()}$"
        on_it = sorted(
            (
                (placement.at, key)
                for key, placement in self.world.placements.items()
                if key[0] == shop_id
                and placement.on_timeline == conversation_id
                and placement.at < after
            ),
            reverse=True,
        )[:limit]
        items = [self.world.messages[key] for _, key in on_it]
        return [
            OutboundMessage.model_validate(copy.deepcopy(i)) for i in items if "agent_user_id" in i
        ]

    def reply_reading(
        self,
        shop_id: str,
        conversation_id: str,
        message_key: str,
        revision_of: tuple[str, str, str] | None,
    ) -> tuple[Conversation | None, OutboundMessage | None, ReplyRevision | None]:
        item = self.world.conversation_items.get((shop_id, conversation_id))
        conversation = Conversation.model_validate(copy.deepcopy(item)) if item else None
        revision = self.reply_revision(*revision_of) if revision_of else None
        return conversation, self.get_outbound(shop_id, message_key), revision

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
        """The reply moved and the conversation saved together; a conversation that changed
        meanwhile leaves the reply moved alone."""
        moved = self.advance_outbound(
            message, status, provider_message_id=provider_message_id, expires_at=expires_at
        )
        if not moved or saving is None:
            return moved, None
        item = self.world.conversation_items.get((saving.shop_id, saving.conversation_id))
        if item is None or item.get("version", 0) != saving.version:
            return True, None
        _write_fields(item, saving, Writer.AGENTS)
        item["version"] = saving.version + 1
        if saving_expires_at is not None:
            item["expires_at"] = saving_expires_at
        return True, saving.model_copy(update={"version": saving.version + 1}, deep=True)


@dataclass
class FakeProfiles:
    """`ProfileRecords`: linked identities, changed all at once or not at all."""

    world: FakeRecords

    def customer_profile(self, shop_id: str, address: str) -> CustomerProfile | None:
        pointer = self.world.identity_pointers.get((shop_id, identity(address)))
        return self.linked_profile(shop_id, pointer[0]) if pointer else None

    def linked_profile(self, shop_id: str, customer_id: str) -> CustomerProfile | None:
        stored = self.world.profile_items.get((shop_id, customer_id))
        return _fresh(stored[0]) if stored else None

    def save_profile(
        self,
        profile: CustomerProfile | None,
        replaced: list[CustomerProfile],
        released: tuple[str, ...] = (),
        *,
        expires_at: int | None = None,
    ) -> None:
        shop_id = (profile or replaced[0]).shop_id
        owners = {p.customer_id for p in replaced} | ({profile.customer_id} if profile else set())
        kept = set(profile.identities) if profile else set()
        dropped = {i for p in replaced for i in p.identities} | set(released)
        pointers = self.world.identity_pointers
        # An identity is written or released only while it points at one of these profiles.
        moved = [
            value
            for value in dropped | kept
            if (shop_id, value) in pointers and pointers[(shop_id, value)][0] not in owners
        ]
        if moved:
            raise Conflict("the customer's links changed meanwhile; try again")
        for gone in replaced:
            self.world.profile_items.pop((shop_id, gone.customer_id), None)
        for value in dropped - kept:
            pointers.pop((shop_id, value), None)
        if profile is not None:
            self.world.profile_items[(shop_id, profile.customer_id)] = (_fresh(profile), expires_at)
            for value in profile.identities:
                pointers[(shop_id, value)] = (profile.customer_id, expires_at)

    def erase_profiles(self, shop_id: str) -> int:
        profiles = [p for (shop, _), (p, _) in self.world.profile_items.items() if shop == shop_id]
        for profile in profiles:
            del self.world.profile_items[(shop_id, profile.customer_id)]
            for value in profile.identities:
                self.world.identity_pointers.pop((shop_id, value), None)
        return len(profiles)


@dataclass
class FakeErasures:
    """`ErasureRecords`: a conversation and everything that points at it or repeats it."""

    world: FakeRecords

    def erase_conversation(self, conversation: Conversation, items: list[StoredItem]) -> int:
        world, shop_id = self.world, conversation.shop_id
        world.conversation_items.pop((shop_id, conversation.conversation_id), None)
        team, thread = conversation.slack_team_id, conversation.slack_thread
        if team and thread:
            world.thread_pointers.pop((team, *thread), None)
            for ts_key, revision in list(world.revisions.items()):
                if revision.thread == (team, *thread):
                    del world.revisions[ts_key]
        for mail, named in list(world.mail_pointers.items()):
            if mail[0] == shop_id and named.conversation_id == conversation.conversation_id:
                del world.mail_pointers[mail]
        for item in items:
            self._erase_message(conversation, item)
        if team:
            for post_id in _automatic_post_ids(conversation, items):
                world.bot_posts.pop((team, post_id), None)
        pointer_key = (shop_id, conversation.customer_address)
        pointer = world.open_pointers.get(pointer_key)
        if pointer is not None and pointer.conversation_id == conversation.conversation_id:
            del world.open_pointers[pointer_key]
        return len(items)

    def _erase_message(self, conversation: Conversation, item: StoredItem) -> None:
        world, shop_id, team = self.world, conversation.shop_id, conversation.slack_team_id
        key = _key_of_item(item)
        world.messages.pop(key, None)
        world.placements.pop(key, None)
        reply = "agent_user_id" in item
        if item.get("provider_message_id") and reply:
            world.provider_pointers.pop((shop_id, str(item["provider_message_id"])), None)
            if item.get("channel") == "email":
                world.mail_pointers.pop((shop_id, str(item["provider_message_id"])), None)
        email = item.get("email")
        if isinstance(email, dict) and email.get("message_id"):
            world.mail_pointers.pop((shop_id, mail_key(str(email["message_id"]))), None)
        if item.get("post_id") and team:
            world.bot_posts.pop((team, str(item["post_id"])), None)
        if item.get("slack_ts") and team and reply:
            world.revisions.pop((team, str(item["slack_channel_id"]), str(item["slack_ts"])), None)

    def record_erasure(self, shop_id: str, receipt: StoredItem) -> None:
        self.world.erasure_receipts.setdefault(shop_id, []).append(copy.deepcopy(receipt))


def _automatic_post_ids(conversation: Conversation, items: list[StoredItem]) -> list[str]:
    """The automatic replies' posts the real erasure deletes with the conversation."""
    ref = conversation_ref(conversation)
    posts = [auto_reply_post_id(ref, survey_key(conversation), SURVEY_KEY)]
    for message in (i for i in items if "provider" in i):
        message_key = f"{message['provider']}:{message['provider_message_id']}"
        posts += [
            auto_reply_post_id(ref, message_key, key)
            for key in [*conversation.auto_replies_sent, THANKS_KEY]
        ]
    return posts


# Linked records' infrastructure: queues, schedules, metrics, workspaces

_Job = TypeVar("_Job", bound=BaseModel)


@dataclass
class Queued(Generic[_Job]):
    group: str
    deduplication_id: str
    body: _Job


@dataclass
class FakeFifoQueue(Generic[_Job]):
    """A FIFO queue as SQS keeps one: in order per message group, and a message whose
    deduplication id was sent before is accepted and dropped (SQS remembers ids for five
    minutes; this queue, for good)."""

    waiting: list[Queued[_Job]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def send(self, group: str, deduplication_id: str, body: _Job) -> None:
        if deduplication_id in self.seen:
            return
        self.seen.add(deduplication_id)
        self.waiting.append(Queued(group, deduplication_id, _fresh(body)))

    def take(self) -> list[_Job]:
        """Everything waiting, in the order it was sent (so in order within each group)."""
        taken, self.waiting = self.waiting, []
        return [queued.body for queued in taken]

    def group(self, group: str) -> list[_Job]:
        return [queued.body for queued in self.waiting if queued.group == group]


def _outbound_group(job: OutboundWork) -> tuple[str, str]:
    """(message group, deduplication id) of an outbound job, as `Queues.send_outbound`."""
    if isinstance(job, AgentReply):
        return job.thread_key, f"{job.team_id}:{job.event_id}"
    if isinstance(job, CannedReply):
        return job.thread_key, f"{job.team_id}:view:{job.view_id}"
    if isinstance(job, AutoReplyJob | ShopMessageJob):
        return job.thread_key, job.post_id
    if isinstance(job, ConversationAction):
        return f"{job.thread_key}:card", f"{job.thread_key}:{job.action_ts}:{job.user_id}"
    if isinstance(job, OrdersLookup):
        return job.group, f"{job.conversation_ref}:orders:{job.cause}"
    if isinstance(job, RefundRequested):
        return job.group, f"refund:{job.plan.submission_key}"
    if isinstance(job, RefundApproval):
        return job.group, f"{job.conversation_ref}:approve:{job.action_ts}:{job.user_id}"
    if isinstance(job, CancelRequested):
        return job.group, f"cancel:{job.plan.submission_key}"
    if isinstance(job, CancelApproval):
        return job.group, f"{job.conversation_ref}:approve-cancel:{job.action_ts}:{job.user_id}"
    if isinstance(job, ReturnRequested):
        return job.group, f"return:{job.plan.submission_key}"
    if isinstance(job, DeliveryWatermark):
        return job.group, f"{job.group}:{job.status.value}:{job.watermark.isoformat()}"
    group = f"{job.shop_id}:{job.provider_message_id}"
    return group, f"{group}:{job.status.value}"


@dataclass
class FakeQueues:
    """`InboundQueue` and `OutboundQueue`: customers' messages in one FIFO group a
    customer, replies and actions in their thread's."""

    inbound: FakeFifoQueue[InboundMessage | ShopMessage] = field(default_factory=FakeFifoQueue)
    outbound: FakeFifoQueue[OutboundWork] = field(default_factory=FakeFifoQueue)

    def send_inbound(self, message: InboundMessage | ShopMessage) -> None:
        deduplication_id = f"{message.shop_id}:{message.message_key}"
        self.inbound.send(message.customer_key, deduplication_id, message)

    def send_outbound(self, job: OutboundWork) -> None:
        self.outbound.send(*_outbound_group(job), job)


@dataclass
class FakeSchedules:
    """`SchedulesPort`: one-time alarms; setting the same alarm twice sets it once."""

    alarms: dict[str, TimerWork] = field(default_factory=dict)

    def set_alarm(self, job: TimerWork) -> None:
        seed = f"{job.kind}:{job.conversation_ref}@{job.due_at.astimezone(UTC).isoformat()}"
        if isinstance(job, SlaAlarm):
            seed += f":{job.target.value}:{job.started_at.isoformat()}:{job.stage.value}"
        self.alarms.setdefault(seed, _fresh(job))

    def due(self, now: datetime) -> list[TimerWork]:
        """The alarms due by `now`, taken off (a schedule deletes itself once delivered)."""
        due = {seed: job for seed, job in self.alarms.items() if job.due_at <= now}
        for seed in due:
            del self.alarms[seed]
        return sorted(due.values(), key=lambda job: job.due_at)


@dataclass
class FakeMetrics:
    """`MetricsPort`: what was counted, timed and measured, in order."""

    counted: list[tuple[str, str | None]] = field(default_factory=list)
    measured: list[tuple[str, float, str | None]] = field(default_factory=list)

    def count(self, name: str, channel: str | None = None) -> None:
        self.counted.append((name, channel))

    def seconds(self, name: str, value: float, channel: str | None = None) -> None:
        self.measured.append((name, value, channel))

    def value(self, name: str, value: float, channel: str | None = None) -> None:
        self.measured.append((name, value, channel))

    def counts(self, name: str) -> int:
        return sum(1 for counted, _ in self.counted if counted == name)


@dataclass
class FakeWorkspaces:
    """`Workspaces`: each shop's workspace of a FakeSlack, by the bot token in `tokens`."""

    slack: FakeSlack
    tokens: dict[str, str] = field(default_factory=dict)

    def slack_for(self, shop_id: str) -> SlackPort:
        token = self.tokens.get(shop_id)
        if token is None:
            raise WorkspaceUnavailable(f"shop {shop_id} has no Slack bot token")
        return self.slack.workspace(token)


# Independent records and secrets: counters, installs, digests, claims, the vault


def condition_check_failed(operation: str) -> ClientError:
    """What botocore raises when a conditional write of DynamoDB's finds its condition false."""
    return ClientError(
        {
            "Error": {
                "Code": "ConditionalCheckFailedException",
                "Message": "The conditional request failed",
            }
        },
        operation,
    )


def epoch_seconds(moment: datetime) -> int:
    """A time as the table stores it for comparisons (`expires_at`, `lease_until`)."""
    return int(moment.timestamp())


@dataclass
class FakeCounters:
    """A shop's counters, as `store.counters.Counters` keeps them."""

    values: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, shop_id: str, name: str) -> None:
        counters = self.values.setdefault(shop_id, {})
        counters[name] = counters.get(name, 0) + 1

    def counters(self, shop_id: str) -> dict[str, int]:
        return dict(self.values.get(shop_id, {}))


@dataclass
class FakeInstallations:
    """Slack installations and OAuth states, as `store.installs.Installations` keeps them: a
    state is consumed once and only before its expiry; an expired state stays (DynamoDB's
    TTL deletes it later), so its value cannot be issued again either."""

    # state -> (shop id, expiry in epoch seconds)
    states: dict[str, tuple[str, int]] = field(default_factory=dict)
    # (enterprise id or "-", team id) -> the installation as stored, in DynamoDB's types
    installations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def issue_oauth_state(self, state: str, shop_id: str, expires_at: datetime) -> None:
        if state in self.states:
            raise condition_check_failed("PutItem")
        self.states[state] = (shop_id, epoch_seconds(expires_at))

    def consume_oauth_state(self, state: str, now: datetime) -> str | None:
        issued = self.states.get(state)
        if issued is None or issued[1] <= epoch_seconds(now):
            return None
        del self.states[state]
        return issued[0]

    def put_installation(self, values: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        # Through DynamoDB's types, as the table does: numbers come back as Decimals.
        serializer = TypeSerializer()
        key = _installation_key(values.get("enterprise_id"), str(values["team_id"]))
        self.installations[key] = {
            name: serializer.serialize(value) for name, value in values.items() if value is not None
        }

    def get_installation(self, enterprise_id: str | None, team_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        stored = self.installations.get(_installation_key(enterprise_id, team_id))
        if stored is None:
            return None
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in stored.items()}

    def delete_installation(self, enterprise_id: str | None, team_id: str) -> None:
        self.installations.pop(_installation_key(enterprise_id, team_id), None)


def _installation_key(enterprise_id: str | None, team_id: str) -> tuple[str, str]:
    # No enterprise (None or "") is one key, as in the table's.
    return enterprise_id or "-", team_id


@dataclass
class StoredDigest:
    """One day's digest record: the lease of the run holding it and its progress."""

    lease_token: str
    lease_until: int | None
    expires_at: int
    posted_ts: str | None = None
    done_at: str | None = None


@dataclass
class FakeDigests:
    """Daily digest leases, as `store.digests.Digests` keeps them: one holder at a time, a
    lease that ran out taken over, a day done never leased again; a step by a run that lost
    its lease raises DynamoDB's conditional-check error (its release is silent)."""

    days: dict[tuple[str, date], StoredDigest] = field(default_factory=dict)

    def lease_digest(
        self, shop_id: str, day: date, token: str, now: datetime, lease: timedelta
    ) -> DigestLease | None:
        stored = self.days.get((shop_id, day))
        if stored is not None and (
            stored.done_at is not None
            or stored.lease_until is None
            or stored.lease_until >= epoch_seconds(now)
        ):
            return None
        posted_ts = stored.posted_ts if stored else None
        self.days[(shop_id, day)] = StoredDigest(
            lease_token=token,
            lease_until=epoch_seconds(now + lease),
            expires_at=epoch_seconds(now + DIGEST_RECORD_LIFETIME),
            posted_ts=posted_ts,
        )
        return DigestLease(shop_id, day, token, posted_ts)

    def _held(self, lease: DigestLease) -> StoredDigest:
        stored = self.days.get((lease.shop_id, lease.day))
        if stored is None or stored.lease_token != lease.token:
            raise condition_check_failed("UpdateItem")
        return stored

    def digest_posted(self, lease: DigestLease, ts: str) -> None:
        self._held(lease).posted_ts = ts

    def digest_done(self, lease: DigestLease, now: datetime) -> None:
        stored = self._held(lease)
        stored.done_at = now.isoformat()
        stored.lease_until = None

    def release_digest(self, lease: DigestLease) -> None:
        stored = self.days.get((lease.shop_id, lease.day))
        if stored is not None and stored.lease_token == lease.token:
            stored.lease_until = 0

    def erase_digests(self, shop_id: str) -> None:
        for key in [key for key in self.days if key[0] == shop_id]:
            del self.days[key]


@dataclass
class FakeDeadLetterClaims:
    """Dead letters told, by SQS message id, as `store.claims.DeadLetterClaims` keeps
    them: the first claimer wins until the claim is released."""

    # message id -> when it was claimed
    told: dict[str, datetime] = field(default_factory=dict)

    def claim_dead_letter(self, message_id: str, now: datetime) -> bool:
        if message_id in self.told:
            return False
        self.told[message_id] = now
        return True

    def release_dead_letter(self, message_id: str) -> None:
        self.told.pop(message_id, None)


@dataclass
class FakeWebhookClaims:
    """Platform webhooks acted on, by (shop, webhook id), as `store.webhooks.WebhookClaims`
    keeps them: the first claimer wins until the claim is released."""

    received: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # When each claim is forgotten (the store's expiry).
    forgotten_at: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def claim_webhook(
        self, shop_id: str, webhook_id: str, now: datetime, remember: timedelta | None = None
    ) -> bool:
        key = (shop_id, webhook_id)
        if key in self.received and now < self.forgotten_at[key]:
            return False
        self.received[key] = now
        self.forgotten_at[key] = now + (remember or WEBHOOK_MEMORY)
        return True

    def release_webhook(self, shop_id: str, webhook_id: str) -> None:
        self.received.pop((shop_id, webhook_id), None)


@dataclass
class StoredShopMessageClaim:
    request_id: str
    fingerprint: str
    queued: bool
    incarnation: str
    expires_at: int


@dataclass
class FakeShopMessageClaims:
    """Shop messages by their caller's id, as `store.claims.ShopMessageClaims` keeps them:
    the first claim answers every later one, unless it expired or its shop's incarnation
    is not the claimer's (a shop deleted since whose id another took)."""

    claims: dict[tuple[str, str], StoredShopMessageClaim] = field(default_factory=dict)

    def claim_shop_message(
        self, claim: ShopMessageClaim, *, now: datetime, expires_at: int
    ) -> ShopMessageClaim:
        key = (claim.shop_id, claim.caller_id)
        filed = self.claims.get(key)
        incarnation = claim.incarnation or ""
        if (
            filed is None
            or filed.expires_at <= epoch_seconds(now)
            or filed.incarnation != incarnation
        ):
            self.claims[key] = StoredShopMessageClaim(
                request_id=claim.request_id,
                fingerprint=claim.fingerprint,
                queued=False,
                incarnation=incarnation,
                expires_at=expires_at,
            )
            return claim
        return ShopMessageClaim(
            shop_id=claim.shop_id,
            caller_id=claim.caller_id,
            request_id=filed.request_id,
            fingerprint=filed.fingerprint,
            queued=filed.queued,
            incarnation=claim.incarnation,
        )

    def shop_message_queued(self, claim: ShopMessageClaim) -> None:
        filed = self.claims.get((claim.shop_id, claim.caller_id))
        if filed is not None:
            filed.queued = True


@dataclass
class FakeVault:
    """The shops' secrets, as `secrets.SecretVault` keeps them in Secrets Manager: each write
    a new version; a deleted secret is kept, unreadable and, as AWS does (moto does not),
    unwritable until revived; an undo takes back only the current version. Reads are never
    stale (the real vault clears its cache on its own writes)."""

    # shop id -> (current version id, the secrets of that version)
    current: dict[str, tuple[str, ShopSecrets]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    _versions: Any = field(default_factory=lambda: itertools.count(1))

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets:
        if shop_id in self.deleted:
            from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

            # As powertools wraps the SDK's refusal, which the real vault lets through.
            try:
                raise _secret_refused("GetSecretValue")
            except ClientError as refusal:
                raise GetParameterError(str(refusal)) from refusal
        stored = self.current.get(shop_id)
        return stored[1].model_copy() if stored else ShopSecrets()

    def put(self, shop_id: str, secrets: ShopSecrets) -> str:
        if shop_id in self.deleted:
            raise _secret_refused("PutSecretValue")
        version = f"{next(self._versions):08d}-0000-4000-8000-000000000000"
        self.current[shop_id] = (version, secrets.model_copy())
        return version

    def revive(self, shop_id: str) -> None:
        self.deleted.discard(shop_id)

    def delete(self, shop_id: str) -> None:
        if shop_id in self.current:
            self.deleted.add(shop_id)

    def undo(self, shop_id: str, version_id: str, previous: ShopSecrets | None) -> None:
        stored = self.current.get(shop_id)
        if stored is None or stored[0] != version_id:
            return
        if previous is None:
            del self.current[shop_id]
            self.deleted.discard(shop_id)
        else:
            self.put(shop_id, previous)


def _secret_refused(operation: str) -> ClientError:
    """What Secrets Manager answers about a secret scheduled for deletion."""
    return ClientError(
        {"Error": {"Code": "InvalidRequestException", "Message": "marked for deletion"}},
        operation,
    )


@dataclass
class FakeOrderDirectory:
    """`OrderDirectory`: a platform's customers (by email or phone) and their orders, as the
    Shopify adapter answers; `down` makes it fail as an outage does (`Retryable`),
    `refusing` as a refused token does."""

    # customer id -> (addresses, orders, lifetime spend)
    customers: dict[str, tuple[set[str], list[Order], Money | None]] = field(default_factory=dict)
    down: bool = False
    refusing: str | None = None
    asked: list[CustomerKeys] = field(default_factory=list)

    def add_customer(
        self, customer_id: str, addresses: set[str], orders: list[Order], spent: Money | None
    ) -> None:
        self.customers[customer_id] = (addresses, orders, spent)

    def customer_orders(
        self, shop: Shop, secrets: ShopSecrets, customer: CustomerKeys, now: datetime
    ) -> OrderSummary:
        self.asked.append(customer)
        if self.down:
            raise Retryable("Shopify did not answer")
        if self.refusing is not None:
            raise CommerceRefused(self.refusing)
        keys = set(customer.emails) | set(customer.phones)
        found = [entry for entry in self.customers.values() if entry[0] & keys]
        if not found:
            return not_a_customer(now)
        orders = [order for _, owned, _ in found for order in owned]
        spent = next((entry[2] for entry in found if entry[2] is not None), None)
        return summary(
            orders,
            order_count=len(orders),
            total_spent=spent,
            checked_at=now,
            quoted_number=customer.quoted_number,
        )


# Meta's Graph API


class RecordingGraph(GraphApi):
    """The Graph API as the real Meta adapter calls it, with calls recorded and answered as
    Meta answers them: a wamid for WhatsApp sends, a mid for the Send API. Queue exceptions
    in `failures` to make the next sends fail; `media` maps media ids to their answers."""

    def __init__(self) -> None:
        super().__init__("https://graph.facebook.com")
        self.posted: list[tuple[str, str, dict[str, Any]]] = []
        self.failures: list[Retryable | DeliveryRefused] = []
        self.media: dict[str, dict[str, Any]] = {}

    def post(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append((path, token, payload))
        n = len(self.posted)
        if payload.get("messaging_product") == "whatsapp":
            return {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.SENT{n:04d}"}]}
        return {"recipient_id": payload["recipient"]["id"], "message_id": f"m_SENT{n:04d}"}

    def get(self, path: str, token: str) -> dict[str, Any]:
        return self.media.get(path, {})


@dataclass
class FakeRefundClaims:
    """Refunds by (shop, submission key), as `store.refunds.RefundClaims` keeps them: filed
    once, moved forward only from the state expected."""

    records: dict[tuple[str, str], RefundRecord] = field(default_factory=dict)

    def claim_refund(self, plan: RefundPlan, now: datetime, expires_at: int) -> RefundRecord:
        return self.records.setdefault((plan.shop_id, plan.submission_key), RefundRecord(plan=plan))

    def refund_record(self, shop_id: str, submission_key: str) -> RefundRecord | None:
        return self.records.get((shop_id, submission_key))

    def move_refund(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        quote: RefundQuote | None = None,
        approved_by: str | None = None,
    ) -> bool:
        record = self.records.get((shop_id, submission_key))
        if record is None or record.state is not before:
            return False
        changes: dict[str, object] = {"state": after}
        if quote is not None:
            changes["quote"] = quote
        if approved_by is not None:
            changes["approved_by"] = approved_by
        self.records[(shop_id, submission_key)] = record.model_copy(update=changes)
        return True


@dataclass
class FakeOptOuts:
    """Customers' STOP for order updates, by (shop, person-address), as
    `store.opt_outs.OptOuts` keeps them."""

    opted_out: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def record_opt_out(self, shop_id: str, address: str, at: datetime) -> None:
        self.opted_out[(shop_id, identity(address))] = at

    def record_opt_in(self, shop_id: str, address: str) -> None:
        self.opted_out.pop((shop_id, identity(address)), None)

    def opted_out_at(self, shop_id: str, addresses: tuple[str, ...]) -> datetime | None:
        for address in addresses:
            at = self.opted_out.get((shop_id, identity(address)))
            if at is not None:
                return at
        return None

    def erase_opt_outs(self, shop_id: str) -> int:
        gone = [key for key in self.opted_out if key[0] == shop_id]
        for key in gone:
            del self.opted_out[key]
        return len(gone)


@dataclass
class FakeOrderContacts:
    """`OrderContacts`: orders' contacts by order id, and the ids asked for."""

    orders: dict[str, OrderContact] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def order_contact(self, shop: Shop, secrets: ShopSecrets, order_id: str) -> OrderContact | None:
        self.asked.append(order_id)
        return self.orders.get(order_id)


@dataclass
class FakeCancelClaims:
    """Cancellations by (shop, submission key), as `store.cancellations.CancelClaims` keeps
    them: filed once, moved forward only from the state expected."""

    records: dict[tuple[str, str], CancelRecord] = field(default_factory=dict)

    def claim_cancel(self, plan: CancelPlan, now: datetime, expires_at: int) -> CancelRecord:
        return self.records.setdefault((plan.shop_id, plan.submission_key), CancelRecord(plan=plan))

    def cancel_record(self, shop_id: str, submission_key: str) -> CancelRecord | None:
        return self.records.get((shop_id, submission_key))

    def move_cancel(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        approved_by: str | None = None,
    ) -> bool:
        record = self.records.get((shop_id, submission_key))
        if record is None or record.state is not before:
            return False
        changes: dict[str, object] = {"state": after}
        if approved_by is not None:
            changes["approved_by"] = approved_by
        self.records[(shop_id, submission_key)] = record.model_copy(update=changes)
        return True


@dataclass
class FakeReturnClaims:
    """Returns by (shop, submission key), as `store.returns.ReturnClaims` keeps them: filed
    once, moved forward only from the state expected."""

    records: dict[tuple[str, str], ReturnRecord] = field(default_factory=dict)

    def claim_return(self, plan: ReturnPlan, now: datetime, expires_at: int) -> ReturnRecord:
        return self.records.setdefault((plan.shop_id, plan.submission_key), ReturnRecord(plan=plan))

    def move_return(
        self, shop_id: str, submission_key: str, before: RefundState, after: RefundState
    ) -> bool:
        record = self.records.get((shop_id, submission_key))
        if record is None or record.state is not before:
            return False
        self.records[(shop_id, submission_key)] = record.model_copy(update={"state": after})
        return True
