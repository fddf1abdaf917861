"""A customer's rights over their data: everything about them in one export, or erased.

A customer is named by one address, and covers every address linked to it: a phone number
both SMS and WhatsApp (the same person on two channels), and whatever the shop linked into
the customer's profile.

Their conversations hold most of it; the messages no conversation holds (waiting for the
shop to connect Slack, unprocessed, stranded, automated mail discarded) are found through
the store's index of every stored customer message by shop and address. A message erased
while queued is dropped by the worker, which finds its stored copy gone.

Erasure also deletes what the bot posted about the customer in Slack (each conversation's
card and the customer's messages in its thread, canned and automatic replies posted for
agents). Agents' own messages stay: a bot token cannot delete them, so the receipt counts
them for the workspace's admin (docs/OPERATIONS.md). Slack failing never stops the erasure
of our own data.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Channel, Conversation
from chalicelib.domain.customers import CustomerProfile, addresses_of
from chalicelib.domain.errors import NotFound
from chalicelib.domain.shop import Shop
from chalicelib.media import MediaStore
from chalicelib.secrets import SecretVault
from chalicelib.services.customers import address_in
from chalicelib.services.ports import Clock, SlackFactory, SlackPort
from chalicelib.store import Store

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


class CustomerData:
    def __init__(
        self,
        store: Store,
        media: MediaStore,
        clock: Clock,
        vault: SecretVault,
        slack: SlackFactory,
    ) -> None:
        self._store = store
        self._media = media
        self._clock = clock
        self._vault = vault
        self._slack = slack

    def _customer(self, shop_id: str, customer: str) -> _Found:
        shop = self._store.get_shop(shop_id)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        address = address_in(customer)
        profile = self._store.customer_profile(shop_id, address)
        addresses = addresses_of(address, profile)
        # Read first: a message processed meanwhile is then on a timeline read after it.
        stored = self._store.stored_messages(shop_id, addresses)
        conversations = self._store.conversations_of(shop_id, addresses)
        timelines = [
            (conversation, list(self._store.timeline(shop_id, conversation.conversation_id)))
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
        messages = files = slack_deleted = slack_left = 0
        threads_left: list[dict[str, str]] = []
        # A message outside the timelines may be in a thread already: posted by an attempt
        # that failed after posting it (its files, say), so never recorded.
        strays = _stray_posts(found.shop, found.outside)
        workspace = self._workspace(shop_id) if found.timelines or strays else None
        for conversation, items in found.timelines:
            deleted, left = self._erase_slack_posts(workspace, conversation, items)
            slack_deleted += deleted
            slack_left += left
            if left and conversation.slack_channel_id and conversation.slack_thread_ts:
                threads_left.append(
                    {
                        "channel_id": conversation.slack_channel_id,
                        "thread_ts": conversation.slack_thread_ts,
                    }
                )
            files += self._erase_files(shop_id, items)
            messages += self._store.erase_conversation(conversation, items)
        deleted = self._delete_posts(workspace, strays, "no conversation")
        slack_deleted += deleted
        slack_left += len(strays) - deleted
        files += self._erase_files(shop_id, found.outside)
        outside = self._store.erase_messages(found.outside)
        if profile is not None:
            self._store.save_profile(None, [profile])
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
            "slack_messages_deleted": slack_deleted,
            # Agents' own messages, and the bot's that Slack would not delete.
            "slack_messages_left": slack_left,
            "slack_threads_left": threads_left,
        }
        self._store.record_erasure(shop_id, receipt)
        logger.info(
            "customer erased",
            shop_id=shop_id,
            conversations=len(found.timelines),
            messages_outside_conversations=outside,
        )
        return receipt

    def _workspace(self, shop_id: str) -> SlackPort | None:
        try:
            token = self._vault.get(shop_id).slack_bot_token
        except Exception:
            logger.exception("no Slack token to erase the shop's posts", shop_id=shop_id)
            return None
        return self._slack(token.get_secret_value()) if token else None

    def _erase_slack_posts(
        self, workspace: SlackPort | None, conversation: Conversation, items: list[dict[str, Any]]
    ) -> tuple[int, int]:
        """Deletes the bot's posts about a conversation; returns how many went and how many
        of its thread's messages stay."""
        posts, agents = _slack_posts(conversation, items)
        deleted = self._delete_posts(workspace, posts, conversation.conversation_id)
        return deleted, len(posts) - deleted + agents

    def _delete_posts(
        self, workspace: SlackPort | None, posts: list[tuple[str, str]], about: str
    ) -> int:
        """Deletes (channel, ts) posts of the bot; returns how many went."""
        if workspace is None:
            return 0
        deleted = 0
        for channel, ts in posts:
            try:
                workspace.delete(channel, ts)
            except Exception:
                logger.exception("Slack post not deleted", conversation_id=about)
                continue
            deleted += 1
        return deleted

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


def erase_orphans(store: Store, media: MediaStore, items: list[dict[str, Any]]) -> tuple[int, int]:
    """Deletes stored customer messages of a shop that is gone (deleted, maybe created again
    since) with their files; returns how many messages and files went."""
    files = sum(erase_files(media, str(item["shop_id"]), [item]) for item in items)
    return store.erase_messages(items), files
