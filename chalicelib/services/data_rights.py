"""A customer's rights over their data: everything about them in one export, or erased.

A customer is named by one address, and covers every address linked to it: a phone number
both SMS and WhatsApp (the same person on two channels), and whatever the shop linked into
the customer's profile.

Their conversations hold most of it; the messages no conversation holds (waiting for the
shop to connect Slack, unprocessed, stranded, automated mail discarded) are found through
the store's index of every stored customer message by shop and address. A message erased
while queued is dropped by the worker, which finds its stored copy gone.

Erasure also deletes what the bot posted or uploaded about the customer in Slack: each
conversation's card and the customer's messages in its thread, canned and automatic replies
posted for agents, the files it shared after a message (attachments, a long text whole),
and what it said of them elsewhere (the second level of a response target told to a lead
and an escalation channel, a dead-letter note naming them): each is filed where this
erasure finds it (on the stored message or conversation) as it is posted. Agents' own
messages stay: a bot token cannot delete them, so the receipt counts them, and lists where
anything is left, for the workspace's admin (docs/OPERATIONS.md). Slack failing never stops
the erasure of our own data.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import CustomerProfile, addresses_of
from chalicelib.domain.errors import NotFound, WorkspaceUnavailable
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel
from chalicelib.media import MediaStore
from chalicelib.services.customers import address_in
from chalicelib.services.ports import (
    Clock,
    ConversationLists,
    ConversationRecords,
    ErasureRecords,
    InboundRecords,
    OptOutRecords,
    ProfileRecords,
    ShopLookup,
    SlackPort,
    Workspaces,
)
from chalicelib.store.erasure import slack_files_of, slack_posts_about

logger = Logger(service="threadline", child=True)

# What a stored message carries for the table's sake, not the customer's.
_KEYS = {
    *("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"),
    *("status_rank", "shown_rank", "shop_incarnation"),
}


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (the table's numbers are Decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def _shown(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages as an export shows them: the customer's data, not the table's."""
    return [{k: _plain(v) for k, v in item.items() if k not in _KEYS} for item in items]


@dataclass(frozen=True)
class _Found:
    """What is stored about a customer: their profile, each conversation with its timeline,
    and their messages on no timeline."""

    shop: Shop
    profile: CustomerProfile | None
    timelines: list[tuple[Conversation, list[dict[str, Any]]]]
    outside: list[dict[str, Any]]


def _stray_posts(shop: Shop, outside: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (channel, ts) of customer messages posted in a thread but never recorded there:
    in the channel noted with the post, or (noted before channels were) the shop's channel
    for the message's."""
    posts = []
    for item in outside:
        ts = item.get("slack_ts")
        if not ts:
            continue
        channel = item.get("slack_channel_id")
        if channel is None and shop.slack is not None:
            channel = shop.slack.channel_for(Channel(str(item["channel"])))
        if channel is not None:
            posts.append((str(channel), str(ts)))
    return posts


def _slack_posts(
    conversation: Conversation, items: list[dict[str, Any]]
) -> tuple[list[tuple[str, str]], int]:
    """The (channel, ts) of what the bot posted for a conversation, and how many of its
    thread's messages that we know of agents posted themselves."""
    channel, thread_ts = conversation.slack_channel_id, conversation.slack_thread_ts
    if not channel or not thread_ts:
        return [], 0
    posts = [(channel, thread_ts)]
    agents = 0
    for item in items:
        if not item.get("slack_ts"):
            continue
        if "agent_user_id" not in item:
            posts.append((channel, str(item["slack_ts"])))
        elif item.get("posted_for_agent") or item.get("automatic"):
            posts.append((str(item["slack_channel_id"]), str(item["slack_ts"])))
        else:
            agents += 1
    return posts, agents


def _posts_about(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [post for item in items for post in slack_posts_about(item)]


def _files_of(items: list[dict[str, Any]]) -> list[str]:
    return [file_id for item in items for file_id in slack_files_of(item)]


@dataclass
class _SlackErasure:
    """What an erasure deletes in the shop's workspace, and what Slack kept, for the
    receipt."""

    workspace: SlackPort | None
    messages_deleted: int = 0
    messages_left: int = 0
    files_deleted: int = 0
    files_left: list[str] = field(default_factory=list)
    threads_left: list[dict[str, str]] = field(default_factory=list)
    posts_left: list[dict[str, str]] = field(default_factory=list)

    def delete_posts(self, posts: list[tuple[str, str]], about: str) -> list[tuple[str, str]]:
        """Deletes (channel, ts) posts of the bot; returns those Slack kept."""
        workspace = self.workspace
        kept = [
            (channel, ts)
            for channel, ts in posts
            if workspace is None
            or not _tried(partial(workspace.delete, channel, ts), "Slack post", about)
        ]
        self.messages_deleted += len(posts) - len(kept)
        self.messages_left += len(kept)
        return kept

    def delete_posts_about(self, posts: list[tuple[str, str]], about: str) -> None:
        """Deletes posts about the customer beyond their threads' own messages; those Slack
        kept are listed one by one, as no thread names them."""
        for channel, ts in self.delete_posts(posts, about):
            self.posts_left.append({"channel_id": channel, "ts": ts})

    def delete_files(self, file_ids: list[str], about: str) -> list[str]:
        """Deletes files the bot shared; returns (and lists) those Slack kept."""
        workspace = self.workspace
        kept = [
            file_id
            for file_id in file_ids
            if workspace is None
            or not _tried(partial(workspace.delete_file, file_id), "Slack file", about)
        ]
        self.files_deleted += len(file_ids) - len(kept)
        self.files_left += kept
        return kept


def _tried(deletion: Callable[[], None], what: str, about: str) -> bool:
    """Whether a deletion in Slack went through; a failure is logged, never raised."""
    try:
        deletion()
    except Exception:
        logger.exception(f"{what} not deleted", conversation_id=about)
        return False
    return True


class CustomerData:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        listings: ConversationLists,
        inbound: InboundRecords,
        profiles: ProfileRecords,
        erasures: ErasureRecords,
        media: MediaStore,
        clock: Clock,
        workspaces: Workspaces,
        opt_outs: OptOutRecords | None = None,
    ) -> None:
        self._opt_outs = opt_outs
        self._shops = shops
        self._conversations = conversations
        self._listings = listings
        self._inbound = inbound
        self._profiles = profiles
        self._erasures = erasures
        self._media = media
        self._clock = clock
        self._workspaces = workspaces

    def _customer(self, shop_id: str, customer: str) -> _Found:
        shop = self._shops.get_shop(shop_id)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        address = address_in(customer)
        profile = self._profiles.customer_profile(shop_id, address)
        addresses = addresses_of(address, profile)
        # Read first: a message processed meanwhile is then on a timeline read after it.
        stored = self._inbound.stored_messages(shop_id, addresses)
        conversations = self._listings.conversations_of(shop_id, addresses)
        # A customer message as read consistently rather than through the timeline's index,
        # which may lag behind what its worker noted last (the files it shared).
        fresh = {str(item["PK"]): item for item in stored}
        timelines = [
            (
                conversation,
                [
                    fresh.get(str(item["PK"]), item)
                    for item in self._listings.timeline(shop_id, conversation.conversation_id)
                ],
            )
            for conversation in conversations
        ]
        on_timelines = {str(item["PK"]) for _, items in timelines for item in items}
        outside = [item for item in stored if str(item["PK"]) not in on_timelines]
        outside.sort(key=lambda item: str(item.get("received_at", "")))
        return _Found(shop, profile, timelines, outside)

    def export(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Every conversation with the customer, each with every message as stored, and the
        customer's messages that belong to no conversation (yet)."""
        found = self._customer(shop_id, customer)
        if not found.timelines and not found.outside and found.profile is None:
            raise NotFound("nothing stored about this customer")
        return {
            "customer": unquote(customer),
            "linked_identities": list(found.profile.identities) if found.profile else [],
            "exported_at": self._clock().isoformat(),
            "conversations": [
                {"conversation": conversation.model_dump(mode="json"), "messages": _shown(items)}
                for conversation, items in found.timelines
            ],
            "messages_outside_conversations": _shown(found.outside),
        }

    def erase(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Deletes the customer's conversations, messages, files and raw mail, every record
        pointing at them and the bot's posts about them in Slack; returns (and keeps) a
        receipt without personal data."""
        found = self._customer(shop_id, customer)
        profile = found.profile
        messages = files = 0
        # A message outside the timelines may be in a thread already: posted by an attempt
        # that failed after posting it (its files, say), so never recorded.
        strays = _stray_posts(found.shop, found.outside)
        in_slack = strays or _posts_about(found.outside) or _files_of(found.outside)
        workspace = self._workspace(shop_id) if found.timelines or in_slack else None
        slack = _SlackErasure(workspace)
        for conversation, items in found.timelines:
            self._erase_from_slack(slack, conversation, items)
            files += self._erase_files(shop_id, items)
            messages += self._erasures.erase_conversation(conversation, items)
        slack.delete_posts(strays, "no conversation")
        slack.delete_posts_about(_posts_about(found.outside), "no conversation")
        slack.delete_files(_files_of(found.outside), "no conversation")
        files += self._erase_files(shop_id, found.outside)
        outside = self._inbound.erase_messages(found.outside)
        if profile is not None:
            self._profiles.save_profile(None, [profile])
        if self._opt_outs is not None:
            # The STOP is about the person too (an erased customer is known to no thread, so
            # is sent no order update either).
            for address in addresses_of(address_in(customer), profile):
                self._opt_outs.record_opt_in(shop_id, address)
        erased_at: datetime = self._clock()
        receipt = {
            "erased_at": erased_at.isoformat(),
            # Proves which customer was erased to whoever knows the address, to nobody else.
            "customer_sha256": hashlib.sha256(
                f"{shop_id}:{unquote(customer)}".encode()
            ).hexdigest(),
            "conversations": len(found.timelines),
            "messages": messages + outside,
            # Of those, the ones no conversation held (waiting, unprocessed, discarded).
            "messages_outside_conversations": outside,
            "files": files,
            "slack_messages_deleted": slack.messages_deleted,
            # Agents' own messages, and the bot's that Slack would not delete.
            "slack_messages_left": slack.messages_left,
            "slack_threads_left": slack.threads_left,
            # Of the bot's posts beyond the threads' own messages (escalations, dead-letter
            # notes), those Slack would not delete, each by its channel and ts.
            "slack_posts_left": slack.posts_left,
            "slack_files_deleted": slack.files_deleted,
            # The ids of files the bot shared that Slack would not delete.
            "slack_files_left": slack.files_left,
        }
        self._erasures.record_erasure(shop_id, receipt)
        logger.info(
            "customer erased",
            shop_id=shop_id,
            conversations=len(found.timelines),
            messages_outside_conversations=outside,
        )
        return receipt

    def _workspace(self, shop_id: str) -> SlackPort | None:
        """The shop's Slack, or None: the erasure goes on without it, and its receipt says
        what Slack kept."""
        try:
            return self._workspaces.slack_for(shop_id)
        except WorkspaceUnavailable:
            return None
        except Exception:
            logger.exception("no Slack token to erase the shop's posts", shop_id=shop_id)
            return None

    def _erase_from_slack(
        self, slack: _SlackErasure, conversation: Conversation, items: list[dict[str, Any]]
    ) -> None:
        """Deletes the bot's posts and files about a conversation; a thread where anything
        stays (agents' messages, what Slack would not delete) is listed for the admin."""
        about = conversation.conversation_id
        posts, agents = _slack_posts(conversation, items)
        slack.messages_left += agents
        posts_kept = slack.delete_posts(posts, about)
        files_kept = slack.delete_files(_files_of(items), about)
        elsewhere = self._conversations.posts_about_conversation(conversation) + _posts_about(items)
        slack.delete_posts_about(elsewhere, about)
        if (agents or posts_kept or files_kept) and conversation.slack_thread is not None:
            channel, thread_ts = conversation.slack_thread
            slack.threads_left.append({"channel_id": channel, "thread_ts": thread_ts})

    def _erase_files(self, shop_id: str, items: list[dict[str, Any]]) -> int:
        return erase_files(self._media, shop_id, items)


def erase_files(media: MediaStore, shop_id: str, items: list[dict[str, Any]]) -> int:
    """Deletes the files of stored messages (attachments, agents' files, raw mail); returns
    how many."""
    own: list[str] = []
    raw: list[tuple[str, str]] = []
    for item in items:
        if "agent_user_id" in item:
            own += [str(key) for key in item.get("media_keys") or []]
        else:
            own.append(f"{shop_id}/inbound/{item['provider']}:{item['provider_message_id']}/")
            email = item.get("email")
            location = email.get("raw_location") if isinstance(email, dict) else None
            if location:
                raw.append((str(location[0]), str(location[1])))
    erased = media.erase(media.bucket, own)
    for bucket, key in raw:
        erased += media.erase(bucket, [key])
    return erased


def erase_orphans(
    inbound: InboundRecords, media: MediaStore, items: list[dict[str, Any]]
) -> tuple[int, int]:
    """Deletes stored customer messages of a shop that is gone (deleted, maybe created again
    since) with their files; returns how many messages and files went."""
    files = sum(erase_files(media, str(item["shop_id"]), [item]) for item in items)
    return inbound.erase_messages(items), files
