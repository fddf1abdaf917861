"""A customer's rights over their data: everything about them in one export, or erased.

A customer is named by one address, and covers every address linked to it: a phone number
both SMS and WhatsApp (the same person on two channels), and whatever the shop linked into
the customer's profile.

Erasure also deletes what the bot posted about the customer in Slack (each conversation's
card and the customer's messages in its thread, canned and automatic replies posted for
agents). Agents' own messages stay: a bot token cannot delete them, so the receipt counts
them for the workspace's admin (docs/OPERATIONS.md). Slack failing never stops the erasure
of our own data.
"""

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import CustomerProfile, addresses_of
from chalicelib.domain.errors import NotFound
from chalicelib.media import MediaStore
from chalicelib.secrets import SecretVault
from chalicelib.services.customers import address_in
from chalicelib.services.ports import Clock, SlackFactory, SlackPort
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# What a stored message carries for the table's sake, not the customer's.
_KEYS = {"PK", "SK", "GSI1PK", "GSI1SK", "status_rank", "shown_rank"}


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (the table's numbers are Decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


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

    def _customer(
        self, shop_id: str, customer: str
    ) -> tuple[CustomerProfile | None, list[Conversation]]:
        if self._store.get_shop(shop_id) is None:
            raise NotFound(f"no shop {shop_id}")
        address = address_in(customer)
        profile = self._store.customer_profile(shop_id, address)
        return profile, self._store.conversations_of(shop_id, addresses_of(address, profile))

    def export(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Every conversation with the customer, each with every message as stored."""
        profile, conversations = self._customer(shop_id, customer)
        if not conversations:
            raise NotFound("no conversations with this customer")
        return {
            "customer": unquote(customer),
            "linked_identities": list(profile.identities) if profile else [],
            "exported_at": self._clock().isoformat(),
            "conversations": [
                {
                    "conversation": conversation.model_dump(mode="json"),
                    "messages": [
                        {k: _plain(v) for k, v in item.items() if k not in _KEYS}
                        for item in self._store.timeline(shop_id, conversation.conversation_id)
                    ],
                }
                for conversation in conversations
            ],
        }

    def erase(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Deletes the customer's conversations, messages, files and raw mail, every record
        pointing at them and the bot's posts about them in Slack; returns (and keeps) a
        receipt without personal data."""
        profile, conversations = self._customer(shop_id, customer)
        messages = files = slack_deleted = slack_left = 0
        threads_left: list[dict[str, str]] = []
        workspace = self._workspace(shop_id) if conversations else None
        for conversation in conversations:
            items = list(self._store.timeline(shop_id, conversation.conversation_id))
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
        if profile is not None:
            self._store.save_profile(None, [profile])
        erased_at: datetime = self._clock()
        receipt = {
            "erased_at": erased_at.isoformat(),
            # Proves which customer was erased to whoever knows the address, to nobody else.
            "customer_sha256": hashlib.sha256(
                f"{shop_id}:{unquote(customer)}".encode()
            ).hexdigest(),
            "conversations": len(conversations),
            "messages": messages,
            "files": files,
            "slack_messages_deleted": slack_deleted,
            # Agents' own messages, and the bot's that Slack would not delete.
            "slack_messages_left": slack_left,
            "slack_threads_left": threads_left,
        }
        self._store.record_erasure(shop_id, receipt)
        logger.info("customer erased", shop_id=shop_id, conversations=len(conversations))
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
        if workspace is None:
            return 0, len(posts) + agents
        deleted = 0
        for channel, ts in posts:
            try:
                workspace.delete(channel, ts)
            except Exception:
                logger.exception(
                    "Slack post not deleted", conversation_id=conversation.conversation_id
                )
                continue
            deleted += 1
        return deleted, len(posts) - deleted + agents

    def _erase_files(self, shop_id: str, items: list[dict[str, Any]]) -> int:
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
        erased = self._media.erase(self._media.bucket, own)
        for bucket, key in raw:
            erased += self._media.erase(bucket, [key])
        return erased
