"""The repository over Threadline's single DynamoDB table: the only module that knows keys.

Access patterns and their keys (every item has PK and SK; GSI1 is a sparse, overloaded
index):

| pattern                                | PK / GSI1PK                         | SK / GSI1SK      |
|----------------------------------------|-------------------------------------|------------------|
| shop config by id                      | SHOP#{shop}                         | SHOP             |
| ... every shop (digests, listings)     | GSI2: SHOPS                         | {shop}           |
| a shop deleted a moment ago (its id    | SHOP#{shop}                         | DELETED          |
| waits till no container caches it)     |                                     |                  |
| shop by inbound address (number, email)| ADDRESS#{address}                   | ADDRESS          |
| shops of a Slack workspace             | GSI1: TEAM#{team}                   | {shop}           |
| message by provider delivery (dedupe)  | SHOP#{shop}#MSG#{message key}       | MESSAGE          |
| outbound message by provider message id| SHOP#{shop}#PROVIDER#{provider id}  | POINTER          |
| conversation by id                     | SHOP#{shop}#CONV#{conversation}     | CONVERSATION     |
| open conversation by (shop, customer)  | SHOP#{shop}#OPEN#{customer address} | POINTER          |
| conversation by Slack thread           | SLACK#{team}#{channel}#{thread ts}  | POINTER          |
| conversation by an email's Message-ID  | SHOP#{shop}#MAILID#{message id}     | POINTER          |
| ... every Message-ID of a conversation | GSI1: MAILIDS#{shop}#{conversation} | {message id}     |
| mail quarantined or dropped, by reason | SHOP#{shop}                         | COUNTERS         |
| a customer's erasure, its receipt      | SHOP#{shop}#ERASURES                | {erased at}      |
| a customer's linked identities         | SHOP#{shop}#CUSTOMER#{customer id}  | PROFILE          |
| profile by identity (number or email)  | SHOP#{shop}#IDENTITY#{identity}     | POINTER          |
| latest edit/deletion of a Slack message| SLACK#{team}#{channel}#{ts}         | REVISION         |
| ... of every message of a thread       | GSI1: REVISIONS#{team}#{channel}#{thread ts} | {ts}    |
| a post made for an agent or by itself  | SLACK#{team}#POST#{job's post id}   | POST             |
| a shop message, by the caller's id     | SHOP#{shop}#SHOPMESSAGE#{caller id} | REQUEST          |
| a dead letter told in Slack (30 days)  | DEADLETTER#{SQS message id}         | TOLD             |
| an "Add to Slack" in progress (10 min) | OAUTHSTATE#{state}                  | STATE            |
| a shop's daily digest, by local day    | SHOP#{shop}#DIGEST                  | {local date}     |
| a workspace's installation (no tokens) | SLACKTEAM#{enterprise or -}#{team}  | INSTALLATION     |
| messages of a conversation, time order | GSI1: CONV#{shop}#{conversation}    | {iso time}#{key} |
| conversations of a shop, by start      | GSI1: SHOP#{shop}#CONVERSATIONS     | {created iso}    |
| customer messages not yet processed    | GSI1: UNPROCESSED#{shard 0-7}       | {due time}#{key} |
| ... left to operators after a day      | GSI1: STRANDED#{shard 0-7}          | {iso time}#{key} |
| a shop's stored customer messages, by  | GSI2: SHOP#{shop}#MESSAGES          | {address hash}#  |
| customer (erasure, export, deletion)   |                                     | {iso time}#{key} |
| a shop's customer profiles (deletion)  | GSI2: SHOP#{shop}#PROFILES          | {customer id}    |

A customer message is written into an UNPROCESSED partition of GSI1 by the same put that
stores it (no extra call on the ack path), sorted by when it is due to be queued again;
processing moves it onto its conversation's timeline, so the partition holds exactly what
still waits. Eight shards spread its writes.

The same put files every customer message under GSI2 too, for good: by shop, then by a
SHA-256 of the customer's address (fixed length, so a prefix query for one customer never
matches another's, whatever characters an address holds). Erasure and export find through it
what no conversation's timeline holds (messages waiting for Slack, unprocessed, stranded or
discarded), and a shop's deletion finds everything its customers left, their profiles too.
GSI2 projects keys only; its readers fetch the items themselves, consistently. Messages and
profiles stored before GSI2 existed lack its keys: `threadline index-customer-data`
(`Store.index_customer_data`) files them.

Every shop item is filed under GSI2's `SHOPS` partition, so listing the shops (the hourly
digest, the admin listing) queries that partition and reads the configs it names, however
many conversations and messages the table holds; no function scans the table. Shops stored
before the partition existed lack its keys: `threadline index-shops` (`Store.index_shops`)
files them.

Reports read a period of a shop's conversations with one key condition on the
CONVERSATIONS partition (`GSI1SK BETWEEN start AND end`), following every page: the sort
key is the creation instant in UTC ISO form, so a time range is a key range. BETWEEN
includes its upper end; a conversation created exactly at `end` is left out after reading.

A daily digest's item is a lease and a record of progress at once: a run takes the lease
(conditionally: none taken, or the last one expired without finishing), records the Slack
post's ts once posted, and `done_at` once the chart is up too. A failed run gives the lease
back, so the next run retries only what is missing; a finished digest is never taken again.
The item expires after 40 days.

A conversation carries a `version`, one more with every write that changes it (the customer's
messages counted, its Slack thread attached, agents' and timers' changes). Agents' and timers'
changes (`save_state`) are stored only if the conversation is still at the version they were
read at, so a change made from a stale read is refused instead of undoing another; the caller
reads again and applies its change anew. Moving the expiry alone is no change.

Message keys are `<provider>:<provider message id>` (customer messages) and
`slack:<channel>:<ts>` (agent replies), so a provider's retry always meets its first copy.
Every key holding an id that someone outside chose (a Message-ID, a caller's id, a
provider's message id) starts with the shop, and a post record's id with the conversation;
a partition key over 1,024 bytes, or a message key over 512 within a sort key, is replaced
by a digest of it (`foreign_ids.fitted`), never cut, identically for its write and reads.
Pointers are written in the same transaction as what they point to. Times are ISO-8601 UTC
strings, which sort as they should.

What the bot posts or uploads in Slack about a customer is noted where their erasure reads
anyway: a stored message carries the ids of the files shared after it (`slack_file_ids`,
with `files_shared`, how many of its files are in the thread, so a retry shares the rest)
and a dead-letter note about it; a conversation carries the escalations told outside its
thread (`slack_posts_about`, [channel, ts] pairs). Each note is conditional on its item
being there, so a post made while its customer is erased is taken back by its poster.

Retention: for a shop with `retention_days`, every item holding or pointing at customer data
carries `expires_at` (epoch seconds), which DynamoDB's TTL deletes some time after. A message,
a provider pointer, a Message-ID pointer and a post record expire that long after they were
written; the conversation and its open and Slack thread pointers that long after the
conversation's last activity: each write that touches the conversation moves them along. An
edit or deletion record of a Slack message expires after the shortest retention whatever the
shop: it only matters until the reply it changes is sent. Shop configs, counters, erasure
receipts and installations never expire; a customer profile and its identity pointers expire
that long after the shop last changed its links. The callers compute `expires_at` from the shop
(`Shop.expiry`), so no write reads the shop for it. The record of a shop's deletion expires
when its id may be used again.
"""

import hashlib
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters.base import BaseProvider
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.csat import SURVEY_KEY, THANKS_KEY, survey_key
from chalicelib.domain.customers import CustomerProfile, identity
from chalicelib.domain.errors import Conflict, Retryable
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import auto_reply_post_id
from chalicelib.domain.messages import (
    DeliveryStatus,
    InboundMessage,
    InboundProgress,
    InboundStatus,
    OutboundMessage,
    ReplyRevision,
    delivery_rank,
)
from chalicelib.domain.shop import RETENTION_DAYS, Shop

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_attributes(values: Item) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def _from_attributes(attributes: dict[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in attributes.items()}


# Partition keys hold ids chosen outside (Message-IDs, callers' ids) and DynamoDB takes 2,048
# bytes: one that would not fit is hashed, the same way for its write and every look-up.
PARTITION_KEY_BYTES = 1024


def _key(pk: str, sk: str) -> dict[str, Any]:
    return _to_attributes({"PK": fitted(pk, PARTITION_KEY_BYTES), "SK": sk})


def _stored_key(item: Item) -> dict[str, Any]:
    """The key of an item read back: as stored, not fitted again."""
    return _to_attributes({"PK": item["PK"], "SK": item["SK"]})


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def _cancelled_by_condition(error: ClientError) -> list[bool]:
    """For a cancelled transaction: which of its items failed their condition."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        raise error
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code") == "ConditionalCheckFailed" for reason in reasons]


def shop_key(shop_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}", "SHOP")


def _address_key(address: str) -> dict[str, Any]:
    return _key(f"ADDRESS#{address}", "ADDRESS")


def _message_key(shop_id: str, message_key: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#MSG#{message_key}", "MESSAGE")


def _provider_pointer_key(shop_id: str, provider_message_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#PROVIDER#{provider_message_id}", "POINTER")


def _conversation_key(shop_id: str, conversation_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#CONV#{conversation_id}", "CONVERSATION")


def _open_pointer_key(shop_id: str, customer_address: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#OPEN#{customer_address}", "POINTER")


def _thread_pointer_key(team_id: str, channel_id: str, thread_ts: str) -> dict[str, Any]:
    return _key(f"SLACK#{team_id}#{channel_id}#{thread_ts}", "POINTER")


def mail_key(message_id: str) -> str:
    """A Message-ID as threading looks it up. SES replaces the ids of what it sends with
    `<id>@<region>.amazonses.com`, the domain not guaranteed: its ids count by the local
    part."""
    local, _, domain = message_id.partition("@")
    return local if domain.endswith("amazonses.com") else message_id


def _mail_pointer_key(shop_id: str, message_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#MAILID#{mail_key(message_id)}", "POINTER")


def _mail_pointer(
    shop_id: str, conversation_id: str, message_id: str, expires_at: int | None
) -> dict[str, Any]:
    """A Message-ID pointer, filed under its conversation too, for its erasure."""
    return {
        **_mail_pointer_key(shop_id, message_id),
        **_to_attributes(
            {
                "conversation_id": conversation_id,
                "GSI1PK": f"MAILIDS#{shop_id}#{conversation_id}",
                "GSI1SK": _sort_part(mail_key(message_id)),
                **_expiry(expires_at),
            }
        ),
    }


def _profile_key(shop_id: str, customer_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#CUSTOMER#{customer_id}", "PROFILE")


def _identity_key(shop_id: str, identity_value: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#IDENTITY#{identity_value}", "POINTER")


def _thread_pointer_of(conversation: Conversation) -> list[dict[str, Any]]:
    """The key of the conversation's Slack thread pointer, once it has a thread."""
    team, channel, ts = (
        conversation.slack_team_id,
        conversation.slack_channel_id,
        conversation.slack_thread_ts,
    )
    return [_thread_pointer_key(team, channel, ts)] if team and channel and ts else []


def _shop_message_key(shop_id: str, caller_id: str) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#SHOPMESSAGE#{caller_id}", "REQUEST")


@dataclass(frozen=True)
class ShopMessageClaim:
    """A shop message filed under the id its caller gave it: `request_id` is Threadline's
    own id for it (its keys and post record use that, never the caller's), `fingerprint`
    what was asked (channel, recipient, sender, texts, template), `queued` once it is."""

    shop_id: str
    caller_id: str
    request_id: str
    fingerprint: str
    queued: bool = False
    # The shop's incarnation: a claim of a shop deleted since binds no shop given its id.
    incarnation: str | None = None


def _dead_letter_key(message_id: str) -> dict[str, Any]:
    return _key(f"DEADLETTER#{message_id}", "TOLD")


DEAD_LETTER_MEMORY = timedelta(days=30)


def _revision_key(team_id: str, channel_id: str, ts: str) -> dict[str, Any]:
    return _key(f"SLACK#{team_id}#{channel_id}#{ts}", "REVISION")


def _installation_key(enterprise_id: str | None, team_id: str) -> dict[str, Any]:
    return _key(f"SLACKTEAM#{enterprise_id or '-'}#{team_id}", "INSTALLATION")


UNPROCESSED_SHARDS = 8
# A batch read or write is repeated this often for what DynamoDB handed back unprocessed.
_BATCH_ATTEMPTS = 6


def _back_off(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0))


DIGEST_RECORD_LIFETIME = timedelta(days=40)


def _digest_key(shop_id: str, day: date) -> dict[str, Any]:
    return _key(f"SHOP#{shop_id}#DIGEST", day.isoformat())


@dataclass(frozen=True)
class DigestLease:
    """A run's hold on one day's digest: `posted_ts` when an earlier run already posted
    it (only the chart is missing)."""

    shop_id: str
    day: date
    token: str
    posted_ts: str | None


FIRST_REQUEUE_AFTER = timedelta(minutes=3)


def _sort_part(message_key: str) -> str:
    """A message key within a sort key (DynamoDB takes 1,024 bytes there): it only breaks
    ties between messages of the same instant, so a digest serves when it is long."""
    return fitted(message_key, 512)


def _unprocessed_keys(
    message: InboundMessage, due: datetime, partition: str = "UNPROCESSED"
) -> Item:
    shard = zlib.crc32(message.message_key.encode("utf-8")) % UNPROCESSED_SHARDS
    return {
        "GSI1PK": f"{partition}#{shard}",
        "GSI1SK": f"{due.astimezone(UTC).isoformat()}#{_sort_part(message.message_key)}",
    }


def customer_digest(address: str) -> str:
    """A customer's address as the MESSAGES index sorts it (emails compared in lower case,
    as intake stores them)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def _messages_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#MESSAGES"


def _profiles_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#PROFILES"


# Every shop, in GSI2 (keys only): shop ids sort the partition.
SHOPS_PARTITION = "SHOPS"


def _shop_index_keys(shop_id: str) -> Item:
    return {"GSI2PK": SHOPS_PARTITION, "GSI2SK": shop_id}


def _profile_index_keys(shop_id: str, customer_id: str) -> Item:
    return {"GSI2PK": _profiles_partition(shop_id), "GSI2SK": customer_id}


def _customer_index_keys(message: InboundMessage) -> Item:
    at = message.received_at.astimezone(UTC).isoformat()
    key = _sort_part(message.message_key)
    return {
        "GSI2PK": _messages_partition(message.shop_id),
        "GSI2SK": f"{customer_digest(message.customer_address)}#{at}#{key}",
    }


def _timeline_keys(shop_id: str, conversation_id: str, at: datetime, message_key: str) -> Item:
    return {
        "GSI1PK": f"CONV#{shop_id}#{conversation_id}",
        "GSI1SK": f"{at.isoformat()}#{_sort_part(message_key)}",
    }


# What the bot posted about a message or a conversation beyond the message's post and the
# conversation's thread (dead-letter notes, escalations), as [channel, ts] pairs; and the
# ids of the files it shared with a message. Erasure deletes them from Slack.
SLACK_POSTS_ABOUT = "slack_posts_about"
SLACK_FILE_IDS = "slack_file_ids"


def slack_posts_about(item: Item) -> list[tuple[str, str]]:
    """(channel, ts) of the posts filed on a stored message or conversation."""
    pairs = item.get(SLACK_POSTS_ABOUT) or []
    return [(str(pair[0]), str(pair[1])) for pair in pairs]


def slack_files_of(item: Item) -> list[str]:
    """The ids of the files the bot shared with a stored message."""
    return [str(file_id) for file_id in item.get(SLACK_FILE_IDS) or []]


def _expiry(expires_at: int | None) -> Item:
    return {} if expires_at is None else {"expires_at": expires_at}


def _model_values(model: Any) -> Item:
    return {
        name: value for name, value in model.model_dump(mode="json").items() if value is not None
    }


class ShopConfigProvider(BaseProvider):
    """Shop configs through powertools Parameters, so a warm Lambda reads each shop once per
    `max_age` instead of on every webhook."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        super().__init__(client=client)  # type: ignore[no-untyped-call]
        self._client = client
        self._table_name = table_name

    def _get(self, name: str, **sdk_options: Any) -> str:
        response = self._client.get_item(
            TableName=self._table_name, Key=shop_key(name), ConsistentRead=True
        )
        item = response.get("Item")
        # "null" transforms to None, which powertools does not cache: unknown shops stay unknown
        # only until they are created.
        return str(_from_attributes(item)["config"]) if item else "null"

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError("shop configs are read one by one")


# A conversation id as the id factory makes them (ULIDs), with room to spare.
_CONVERSATION_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_ISO_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.+Z-]{1,40}")


def conversations_page_start(shop_id: str, key: object) -> Item | None:
    """`key` as the start of a `conversations_page` of this shop, when it is what that query
    gives as its last key: exactly the table's and GSI1's keys, all strings, in the shop's
    own partitions. None for anything else (a cursor made up, or made for another shop),
    which DynamoDB would refuse or page through another shop's conversations with."""
    if not isinstance(key, dict) or set(key) != {"PK", "SK", "GSI1PK", "GSI1SK"}:
        return None
    if not all(isinstance(value, str) for value in key.values()):
        return None
    prefix = f"SHOP#{shop_id}#CONV#"
    valid = (
        key["GSI1PK"] == f"SHOP#{shop_id}#CONVERSATIONS"
        and key["SK"] == "CONVERSATION"
        and key["PK"].startswith(prefix)
        and _CONVERSATION_ID.fullmatch(key["PK"].removeprefix(prefix)) is not None
        and _ISO_INSTANT.fullmatch(key["GSI1SK"]) is not None
    )
    return dict(key) if valid else None


class Store:
    def __init__(self, client: DynamoDBClient, table_name: str, shop_cache_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._shop_cache_seconds = shop_cache_seconds
        self._shops = ShopConfigProvider(client, table_name)

    # Shops -------------------------------------------------------------------------------

    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None:
        config = self._shops.get(
            shop_id, max_age=self._shop_cache_seconds, transform="json", force_fetch=fresh
        )
        return Shop.model_validate(config) if config else None

    def put_shop(self, shop: Shop, previous: Shop | None) -> None:
        """Stores the shop and claims its inbound addresses, atomically; an address that
        another shop already owns is a Conflict."""
        claimed = sorted(shop.inbound_addresses())
        released = sorted(previous.inbound_addresses() - set(claimed)) if previous else []
        owner = _to_attributes({":shop": shop.shop_id})
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **shop_key(shop.shop_id),
                        **_to_attributes(
                            {"config": shop.model_dump_json()}
                            | _shop_index_keys(shop.shop_id)
                            | (
                                {"GSI1PK": f"TEAM#{shop.slack.team_id}", "GSI1SK": shop.shop_id}
                                if shop.slack
                                else {}
                            )
                        ),
                    },
                }
            }
        ]
        actions += [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**_address_key(a), **_to_attributes({"shop_id": shop.shop_id})},
                    "ConditionExpression": "attribute_not_exists(PK) OR shop_id = :shop",
                    "ExpressionAttributeValues": owner,
                }
            }
            for a in claimed
        ]
        actions += [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _address_key(a),
                    "ConditionExpression": "attribute_not_exists(PK) OR shop_id = :shop",
                    "ExpressionAttributeValues": owner,
                }
            }
            for a in released
        ]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            failed = _cancelled_by_condition(error)
            taken = [a for a, bad in zip(claimed, failed[1:], strict=False) if bad]
            raise Conflict(f"already used by another shop: {', '.join(taken)}") from error
        self._shops.clear_cache()  # type: ignore[no-untyped-call]

    def delete_shop(self, shop: Shop, now: datetime, recreate_after: timedelta) -> None:
        """Removes a shop's configuration, its counters and its claims on addresses, at once
        (its conversations are erased before, customer by customer), leaving a record of the
        deletion that keeps its id from being used again before `recreate_after`."""
        owner = _to_attributes({":shop": shop.shop_id})
        until = int((now + recreate_after).timestamp())
        actions: list[dict[str, Any]] = [
            {"Delete": {"TableName": self._table, "Key": shop_key(shop.shop_id)}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **_key(f"SHOP#{shop.shop_id}", "DELETED"),
                        **_to_attributes(
                            {"deleted_at": now.isoformat(), "until": until, "expires_at": until}
                        ),
                    },
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _key(f"SHOP#{shop.shop_id}", "COUNTERS"),
                }
            },
        ]
        actions += [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _address_key(address),
                    "ConditionExpression": "attribute_not_exists(PK) OR shop_id = :shop",
                    "ExpressionAttributeValues": owner,
                }
            }
            for address in sorted(shop.inbound_addresses())
        ]
        self._client.transact_write_items(TransactItems=actions)
        self._shops.clear_cache()  # type: ignore[no-untyped-call]

    def shop_deleted_until(self, shop_id: str, now: datetime) -> datetime | None:
        """Until when a shop deleted a moment ago keeps its id from being used again; None
        when it may be (TTL deletes the record some time after)."""
        item = self._client.get_item(
            TableName=self._table, Key=_key(f"SHOP#{shop_id}", "DELETED"), ConsistentRead=True
        ).get("Item")
        until = int(_from_attributes(item)["until"]) if item else 0
        return datetime.fromtimestamp(until, UTC) if until > now.timestamp() else None

    def shops(self) -> list[Shop]:
        """Every shop: the SHOPS partition of GSI2 (keys only), then the configs it names
        (read consistently; a shop deleted in between is left out)."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": SHOPS_PARTITION}),
        )
        keys = [{"PK": i["PK"], "SK": i["SK"]} for page in pages for i in page.get("Items", [])]
        found = [Shop.model_validate_json(str(item["config"])) for item in self._read_all(keys)]
        return sorted(found, key=lambda shop: shop.shop_id)

    def shops_of_team(self, team_id: str) -> list[Shop]:
        """The shops whose conversations live in a Slack workspace."""
        response = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": f"TEAM#{team_id}"}),
        )
        return [
            Shop.model_validate_json(str(_from_attributes(item)["config"]))
            for item in response.get("Items", [])
        ]

    def addresses_taken(self, shop: Shop) -> list[str]:
        """Inbound addresses of this shop that another shop already owns."""
        addresses = sorted(shop.inbound_addresses())
        if not addresses:
            return []
        response = self._client.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [_address_key(a) for a in addresses],
                    "ConsistentRead": True,
                }
            }
        )
        owners = [_from_attributes(item) for item in response["Responses"].get(self._table, [])]
        return sorted(
            str(owner["PK"]).removeprefix("ADDRESS#")
            for owner in owners
            if owner["shop_id"] != shop.shop_id
        )

    # Customer messages -------------------------------------------------------------------

    def save_inbound(
        self, message: InboundMessage, *, expires_at: int | None = None
    ) -> tuple[InboundMessage, InboundStatus] | None:
        """Stores a customer message once. Returns None when it is new, or the copy an earlier
        delivery of the same provider message stored, with its status."""
        values = {
            **_model_values(message),
            **_unprocessed_keys(message, due=message.received_at + FIRST_REQUEUE_AFTER),
            **_customer_index_keys(message),
            "status": InboundStatus.RECEIVED.value,
            **_expiry(expires_at),
        }
        item = {**_message_key(message.shop_id, message.message_key), **_to_attributes(values)}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            stored = _from_attributes(error.response["Item"])
            return InboundMessage.model_validate(stored), InboundStatus(stored["status"])
        return None

    def begin_inbound_attempt(self, message: InboundMessage) -> InboundProgress:
        """Counts one more attempt at a customer message and tells how far it got. Not
        stored (erased meanwhile): nothing is written, and the status is None."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_message_key(message.shop_id, message.message_key),
                UpdateExpression="ADD attempts :one",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=_to_attributes({":one": 1}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return InboundProgress(None, None, files_posted=False, attempt=1)
        values = _from_attributes(response["Attributes"])
        posted = values.get("slack_ts")
        return InboundProgress(
            InboundStatus(values["status"]),
            str(posted) if posted else None,
            files_posted=bool(values.get("files_posted")),
            attempt=int(values["attempts"]),
            files_shared=int(values.get("files_shared", 0)),
        )

    def mark_posted(self, message: InboundMessage, slack_ts: str, channel_id: str) -> bool:
        """Notes that the message is in its thread (and in which channel, for an erasure
        before it is recorded), before the rest of its processing: a retry after a later
        failure goes on from there. False (nothing noted) when it was erased meanwhile."""
        key = _message_key(message.shop_id, message.message_key)
        return self._set_all_if_stored(key, {"slack_ts": slack_ts, "slack_channel_id": channel_id})

    def mark_files_posted(self, message: InboundMessage) -> None:
        """Notes that the message's files followed it into its thread."""
        key = _message_key(message.shop_id, message.message_key)
        self._set_if_stored(key, "files_posted", True)

    def mark_files_shared(self, message: InboundMessage, shared: int, file_ids: list[str]) -> bool:
        """Notes, after each upload, how many of the message's files are in its thread (a
        retry shares only the rest) and the ids Slack gave them (its erasure deletes them).
        False (nothing written) when the message was erased meanwhile."""
        return self._update_if_stored(
            _message_key(message.shop_id, message.message_key),
            "SET files_shared = :shared, "
            f"{SLACK_FILE_IDS} = list_append(if_not_exists({SLACK_FILE_IDS}, :none), :ids)",
            {":shared": shared, ":ids": file_ids, ":none": []},
        )

    def note_post_about_message(
        self, shop_id: str, message_key: str, channel_id: str, ts: str
    ) -> bool:
        """Files a post of the bot about a customer message, besides the message's own post
        (a dead-letter note naming its sender), where the customer's erasure finds it.
        False (nothing written) when the message is not stored (erased)."""
        return self._append_post(_message_key(shop_id, message_key), channel_id, ts)

    def note_post_about_conversation(
        self, conversation: Conversation, channel_id: str, ts: str
    ) -> bool:
        """Files a post of the bot about a conversation outside its thread (the second
        level told to a lead or an escalation channel) where the customer's erasure finds
        it. False (nothing written) when the conversation is gone (erased)."""
        key = _conversation_key(conversation.shop_id, conversation.conversation_id)
        return self._append_post(key, channel_id, ts)

    def posts_about_conversation(self, conversation: Conversation) -> list[tuple[str, str]]:
        """(channel, ts) of the posts filed by `note_post_about_conversation`."""
        response = self._client.get_item(
            TableName=self._table,
            Key=_conversation_key(conversation.shop_id, conversation.conversation_id),
            ProjectionExpression=SLACK_POSTS_ABOUT,
            ConsistentRead=True,
        )
        return slack_posts_about(_from_attributes(response.get("Item") or {}))

    def _append_post(self, key: dict[str, Any], channel_id: str, ts: str) -> bool:
        return self._update_if_stored(
            key,
            f"SET {SLACK_POSTS_ABOUT} = list_append(if_not_exists({SLACK_POSTS_ABOUT}, :none), "
            ":post)",
            {":post": [[channel_id, ts]], ":none": []},
        )

    def _update_if_stored(self, key: dict[str, Any], update: str, values: Item) -> bool:
        """An update of an item that exists; False (nothing written) when it is gone."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=_to_attributes(values),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return False
        return True

    def _set_if_stored(self, key: dict[str, Any], name: str, value: object) -> bool:
        """Sets one attribute of an item that exists; False (and nothing written) when the
        item is gone, so an update never brings back a half of an erased item."""
        return self._set_all_if_stored(key, {name: value})

    def _set_all_if_stored(self, key: dict[str, Any], values: Item) -> bool:
        """`_set_if_stored` for several attributes at once."""
        names = {f"#n{n}": name for n, name in enumerate(values)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET " + ", ".join(f"{name} = :v{name[2:]}" for name in names),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_attributes(
                    {f":v{n}": value for n, value in enumerate(values.values())}
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return False
        return True

    def due_for_requeue(self, now: datetime, limit: int = 100) -> list[InboundMessage]:
        """Unprocessed customer messages whose next requeue is due, in the order they
        arrived: the shards split a customer's messages, and they must go back to their
        FIFO group in order. At most `limit` a shard; when a shard has more, nothing due
        after its last is taken, so the most overdue go first. (Messages requeued in one
        run share a due time; at a shard's limit those are cut by key, not arrival.)"""
        found: list[tuple[str, InboundMessage]] = []
        bound: str | None = None
        for shard in range(UNPROCESSED_SHARDS):
            response = self._client.query(
                TableName=self._table,
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk AND GSI1SK < :now",
                ExpressionAttributeValues=_to_attributes(
                    {":pk": f"UNPROCESSED#{shard}", ":now": now.astimezone(UTC).isoformat()}
                ),
                Limit=limit,
            )
            items = [_from_attributes(item) for item in response.get("Items", [])]
            found.extend(
                (str(item["GSI1SK"]), InboundMessage.model_validate(item)) for item in items
            )
            if items and "LastEvaluatedKey" in response:
                last = str(items[-1]["GSI1SK"])
                bound = last if bound is None else min(bound, last)
        due = [message for sort_key, message in found if bound is None or sort_key <= bound]
        return sorted(due, key=lambda message: (message.received_at, message.message_key))

    def note_requeued(self, message: InboundMessage, next_due: datetime) -> None:
        """Counts a requeue of a message still unprocessed and sets when the next is due."""
        self._set_unprocessed_keys(
            message,
            _unprocessed_keys(message, due=next_due),
            extra="requeue_count = if_not_exists(requeue_count, :zero) + :one",
            values={":zero": 0, ":one": 1},
        )

    def strand(self, message: InboundMessage) -> None:
        """Stops requeueing a message that stayed unprocessed too long; operators find it
        under STRANDED."""
        self._set_unprocessed_keys(
            message, _unprocessed_keys(message, message.received_at, partition="STRANDED")
        )

    def _set_unprocessed_keys(
        self,
        message: InboundMessage,
        keys: Item,
        extra: str = "",
        values: Item | None = None,
    ) -> None:
        assignments = ", ".join(filter(None, ["GSI1PK = :pk, GSI1SK = :sk", extra]))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_message_key(message.shop_id, message.message_key),
                UpdateExpression=f"SET {assignments}",
                # A message processed meanwhile is on its timeline; it stays there.
                ConditionExpression="#status = :received",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_to_attributes(
                    {
                        ":pk": keys["GSI1PK"],
                        ":sk": keys["GSI1SK"],
                        ":received": InboundStatus.RECEIVED.value,
                        **(values or {}),
                    }
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def record_inbound(
        self,
        message: InboundMessage,
        conversation: Conversation,
        slack_ts: str,
        *,
        expires_at: int | None = None,
    ) -> None:
        """Marks the message processed and counts it on its conversation, in one transaction;
        with `expires_at`, the conversation and its pointers expire then."""
        timeline = _timeline_keys(
            message.shop_id, conversation.conversation_id, message.received_at, message.message_key
        )
        message_values = {
            ":processed": InboundStatus.PROCESSED.value,
            ":conversation": conversation.conversation_id,
            ":slack_ts": slack_ts,
            ":timeline_pk": timeline["GSI1PK"],
            ":timeline_sk": timeline["GSI1SK"],
        }
        conversation_values: Item = {
            ":one": 1,
            ":zero": 0,
            ":at": message.received_at.isoformat(),
            ":to": message.shop_address,
            ":status": conversation.status.value,
        }
        extra_update = ""
        if message.customer_name:
            conversation_values[":name"] = message.customer_name
            extra_update = ", customer_name = :name"
        if conversation.order_number:
            conversation_values[":order"] = conversation.order_number
            extra_update += ", order_number = :order"
        if conversation.subject:
            conversation_values[":subject"] = conversation.subject
            extra_update += ", subject = if_not_exists(subject, :subject)"
        if conversation.email_references:
            conversation_values[":chain"] = list(conversation.email_references)
            extra_update += ", email_references = :chain"
        if expires_at is not None:
            conversation_values[":expires"] = expires_at
            extra_update += ", expires_at = :expires"
        pointers: list[dict[str, Any]] = []
        if message.email and message.email.message_id:
            # Later mail that answers this one finds the conversation by it.
            pointers.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _mail_pointer(
                            message.shop_id,
                            conversation.conversation_id,
                            message.email.message_id,
                            expires_at,
                        ),
                    }
                }
            )
        if conversation.response_clock is not None:
            conversation_values[":clock"] = conversation.response_clock.model_dump(mode="json")
            extra_update += ", response_clock = :clock"
        if conversation.resolution_clock is not None:
            conversation_values[":resolve"] = conversation.resolution_clock.model_dump(mode="json")
            extra_update += ", resolution_clock = :resolve"
        if conversation.auto_replies_sent:
            conversation_values[":auto"] = conversation.model_dump(
                mode="json", include={"auto_replies_sent"}
            )["auto_replies_sent"]
            extra_update += ", auto_replies_sent = :auto"
        if conversation.csat is not None:
            conversation_values[":csat"] = conversation.csat.model_dump(mode="json")
            extra_update += ", csat = :csat"
        removals = [
            # A customer's message ends a snooze and a resolution.
            name
            for name in ("snoozed_until", "resolved_at")
            if getattr(conversation, name) is None
        ]
        if removals:
            extra_update += " REMOVE " + ", ".join(removals)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _message_key(message.shop_id, message.message_key),
                            "UpdateExpression": "SET #status = :processed, "
                            "conversation_id = :conversation, slack_ts = :slack_ts, "
                            "GSI1PK = :timeline_pk, GSI1SK = :timeline_sk",
                            # An update of an erased item would bring a half of it back.
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _to_attributes(message_values),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _conversation_key(message.shop_id, conversation.conversation_id),
                            # Replies go from the number the customer last wrote to.
                            "UpdateExpression": "SET message_count = if_not_exists("
                            "message_count, :zero) + :one, last_customer_message_at = :at, "
                            "shop_address = :to, version = if_not_exists(version, :zero) + :one, "
                            "#status = :status" + extra_update,
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _to_attributes(conversation_values),
                        }
                    },
                    *pointers,
                ]
            )
        except ClientError as error:
            if any(_cancelled_by_condition(error)):
                # The retry finds the message gone and drops it.
                raise Retryable("the message or its conversation was erased meanwhile") from error
            raise
        if expires_at is not None:
            self._extend_pointers(conversation, expires_at)

    def discard_inbound(self, message: InboundMessage, reason: str) -> None:
        """Marks a stored message processed without a conversation (automated mail that
        answers nothing), and counts it; one erased meanwhile stays erased."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_message_key(message.shop_id, message.message_key),
                UpdateExpression="SET #status = :processed, discarded = :reason "
                "REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_to_attributes(
                    {":processed": InboundStatus.PROCESSED.value, ":reason": reason}
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return
        self.count(message.shop_id, reason)

    def stored_messages(self, shop_id: str, addresses: Iterable[str] | None = None) -> list[Item]:
        """Every stored customer message from `addresses` (None: from any customer of the
        shop), as stored now: the index finds them, the table is read for them, so one
        erased meanwhile is left out."""
        partition = {":pk": _messages_partition(shop_id)}
        conditions = [("GSI2PK = :pk", partition)]
        if addresses is not None:
            conditions = [
                ("GSI2PK = :pk AND begins_with(GSI2SK, :prefix)", partition | {":prefix": prefix})
                for prefix in sorted({customer_digest(address) + "#" for address in addresses})
            ]
        keys: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("query")
        for condition, values in conditions:
            pages = paginator.paginate(
                TableName=self._table,
                IndexName="GSI2",
                KeyConditionExpression=condition,
                ExpressionAttributeValues=_to_attributes(values),
            )
            keys += [
                {"PK": item["PK"], "SK": item["SK"]}
                for page in pages
                for item in page.get("Items", [])
            ]
        return self._read_all(keys)

    def stored_message(self, shop_id: str, message_key: str) -> Item | None:
        """A customer message as stored, read consistently."""
        response = self._client.get_item(
            TableName=self._table, Key=_message_key(shop_id, message_key), ConsistentRead=True
        )
        item = response.get("Item")
        return _from_attributes(item) if item else None

    def _read_all(self, keys: list[dict[str, Any]]) -> list[Item]:
        """The items of `keys` that exist, read consistently, in no particular order."""
        found: list[Item] = []
        pending = list({(k["PK"]["S"], k["SK"]["S"]): k for k in keys}.values())
        for attempt in range(_BATCH_ATTEMPTS):
            left: list[dict[str, Any]] = []
            for start in range(0, len(pending), 100):
                response = self._client.batch_get_item(
                    RequestItems={
                        self._table: {"Keys": pending[start : start + 100], "ConsistentRead": True}
                    }
                )
                found += map(_from_attributes, response["Responses"].get(self._table, []))
                left += response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not left:
                return found
            pending = left
            _back_off(attempt)
        raise Retryable("DynamoDB kept some items of a batch read unread")

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        """Deletes every item of `keys`, batch by batch, until DynamoDB has taken them all
        (a batch write may hand some back unprocessed when throttled)."""
        pending = list({(k["PK"]["S"], k["SK"]["S"]): k for k in keys}.values())
        for attempt in range(_BATCH_ATTEMPTS):
            left: list[dict[str, Any]] = []
            for start in range(0, len(pending), 25):
                response = self._client.batch_write_item(
                    RequestItems={
                        self._table: [
                            {"DeleteRequest": {"Key": key}} for key in pending[start : start + 25]
                        ]
                    }
                )
                unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
                left += [request["DeleteRequest"]["Key"] for request in unprocessed]
            if not left:
                return
            pending = left
            _back_off(attempt)
        raise Retryable("DynamoDB kept some items of an erasure undeleted; erase again")

    def erase_messages(self, items: list[Item]) -> int:
        """Deletes stored customer messages that no conversation's erasure covers (waiting,
        unprocessed, stranded, discarded) and the Message-ID pointer a processed one left,
        while it still names that message's conversation; returns how many went."""
        self._delete_all([_stored_key(item) for item in items])
        for item in items:
            email = item.get("email")
            conversation_id = item.get("conversation_id")
            if not (isinstance(email, dict) and email.get("message_id") and conversation_id):
                continue
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=_mail_pointer_key(str(item["shop_id"]), str(email["message_id"])),
                    ConditionExpression="conversation_id = :id",
                    ExpressionAttributeValues=_to_attributes({":id": conversation_id}),
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise
        return len(items)

    def index_customer_data(self) -> int:
        """Files the customer messages and profiles stored before GSI2 existed under it (a
        scan of the whole table, run once by an operator after upgrading); returns how
        many."""
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            FilterExpression="((SK = :message AND attribute_exists(provider)) OR SK = :profile) "
            "AND attribute_not_exists(GSI2PK)",
            ExpressionAttributeValues=_to_attributes(
                {":message": "MESSAGE", ":profile": "PROFILE"}
            ),
        )
        indexed = 0
        for page in pages:
            for item in map(_from_attributes, page.get("Items", [])):
                if item["SK"] == "PROFILE":
                    keys = _profile_index_keys(str(item["shop_id"]), str(item["customer_id"]))
                else:
                    keys = _customer_index_keys(InboundMessage.model_validate(item))
                indexed += self._file_under_gsi2(item, keys)
        return indexed

    def _file_under_gsi2(self, item: Item, keys: Item) -> bool:
        """Gives a stored item its GSI2 keys; False when it was erased or deleted meanwhile
        (an update must not bring part of it back)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_stored_key(item),
                UpdateExpression="SET GSI2PK = :pk, GSI2SK = :sk",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=_to_attributes(
                    {":pk": keys["GSI2PK"], ":sk": keys["GSI2SK"]}
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return False
        return True

    def index_shops(self) -> int:
        """Files the shops stored before the SHOPS partition existed under it (a scan of the
        whole table, run once by an operator after upgrading); returns how many."""
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            FilterExpression="SK = :shop AND begins_with(PK, :prefix) "
            "AND attribute_not_exists(GSI2PK)",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=_to_attributes({":shop": "SHOP", ":prefix": "SHOP#"}),
        )
        indexed = 0
        for page in pages:
            for item in map(_from_attributes, page.get("Items", [])):
                keys = _shop_index_keys(str(item["PK"]).removeprefix("SHOP#"))
                indexed += self._file_under_gsi2(item, keys)
        return indexed

    def erase_profiles(self, shop_id: str) -> int:
        """Deletes every customer profile of a shop and the identity pointers to it (a
        deleted shop's links, which a shop created again with its id must not inherit);
        returns how many profiles went."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": _profiles_partition(shop_id)}),
        )
        keys = [{"PK": i["PK"], "SK": i["SK"]} for page in pages for i in page.get("Items", [])]
        profiles = [CustomerProfile.model_validate(item) for item in self._read_all(keys)]
        self._delete_all(
            [_profile_key(shop_id, profile.customer_id) for profile in profiles]
            + [_identity_key(shop_id, i) for profile in profiles for i in profile.identities]
        )
        return len(profiles)

    def erase_digests(self, shop_id: str) -> None:
        """Deletes a shop's daily digest records (a shop created again with its id starts
        its digests afresh)."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=_to_attributes({":pk": f"SHOP#{shop_id}#DIGEST"}),
        )
        self._delete_all([item for page in pages for item in page.get("Items", [])])

    def count(self, shop_id: str, name: str) -> None:
        """Adds one to a shop's counter (quarantined spam, discarded automated mail, ...)."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(f"SHOP#{shop_id}", "COUNTERS"),
            UpdateExpression="ADD #name :one",
            ExpressionAttributeNames={"#name": name},
            ExpressionAttributeValues=_to_attributes({":one": 1}),
        )

    def counters(self, shop_id: str) -> dict[str, int]:
        response = self._client.get_item(
            TableName=self._table, Key=_key(f"SHOP#{shop_id}", "COUNTERS"), ConsistentRead=True
        )
        values = _from_attributes(response.get("Item", {}))
        return {k: int(v) for k, v in values.items() if k not in ("PK", "SK")}

    def shop_for_address(self, address: str) -> str | None:
        """The shop that receives at an address (a number, or an email address)."""
        response = self._client.get_item(TableName=self._table, Key=_address_key(address))
        item = response.get("Item")
        return str(_from_attributes(item)["shop_id"]) if item else None

    # Conversations -----------------------------------------------------------------------

    def find_conversation_by_mail(
        self, shop_id: str, message_ids: tuple[str, ...]
    ) -> Conversation | None:
        """The conversation of the nearest of `message_ids` we know."""
        keys = list({mail_key(m): _mail_pointer_key(shop_id, m) for m in message_ids}.values())
        keys = keys[:50]
        if not keys:
            return None
        response = self._client.batch_get_item(
            RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
        )
        found = {
            str(item["PK"]): str(item["conversation_id"])
            for item in map(_from_attributes, response["Responses"].get(self._table, []))
        }
        for key in keys:
            if key["PK"]["S"] in found:
                return self.get_conversation(shop_id, found[key["PK"]["S"]])
        return None

    def point_mail(
        self,
        shop_id: str,
        conversation_id: str,
        message_ids: list[str],
        *,
        expires_at: int | None = None,
    ) -> None:
        """Files our own sent mail's ids under its conversation, for the replies to them."""
        for message_id in message_ids:
            self._client.put_item(
                TableName=self._table,
                Item=_mail_pointer(shop_id, conversation_id, message_id, expires_at),
            )

    def get_conversation(self, shop_id: str, conversation_id: str) -> Conversation | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_conversation_key(shop_id, conversation_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Conversation.model_validate(_from_attributes(item)) if item else None

    def find_open_conversation(self, shop_id: str, customer_address: str) -> Conversation | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_open_pointer_key(shop_id, customer_address),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return self.get_conversation(shop_id, str(_from_attributes(item)["conversation_id"]))

    def create_conversation(
        self,
        conversation: Conversation,
        replacing: Conversation | None = None,
        *,
        expires_at: int | None = None,
    ) -> Conversation:
        """Opens the conversation unless the customer already has an open one, which wins.
        With `replacing`, the new one takes over the customer's pointer from that one (after
        a quiet period), unless another worker already moved it. A pointer past its expiry
        counts as gone: TTL deletes it days later, maybe after its conversation."""
        pointer_condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(PK) OR expires_at < :now",
            "ExpressionAttributeValues": _to_attributes(
                {":now": int(conversation.created_at.timestamp())}
            ),
        }
        if replacing is not None:
            pointer_condition = {
                "ConditionExpression": "conversation_id = :previous",
                "ExpressionAttributeValues": _to_attributes(
                    {":previous": replacing.conversation_id}
                ),
            }
        values = {
            **_model_values(conversation),
            "GSI1PK": f"SHOP#{conversation.shop_id}#CONVERSATIONS",
            "GSI1SK": conversation.created_at.isoformat(),
            **_expiry(expires_at),
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_open_pointer_key(
                                    conversation.shop_id, conversation.customer_address
                                ),
                                **_to_attributes(
                                    {
                                        "conversation_id": conversation.conversation_id,
                                        **_expiry(expires_at),
                                    }
                                ),
                            },
                            **pointer_condition,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_conversation_key(
                                    conversation.shop_id, conversation.conversation_id
                                ),
                                **_to_attributes(values),
                            },
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if not any(_cancelled_by_condition(error)):
                raise
            existing = self.find_open_conversation(
                conversation.shop_id, conversation.customer_address
            )
            if existing is None:
                raise
            return existing
        return conversation

    def save_state(
        self, conversation: Conversation, *, expires_at: int | None = None
    ) -> Conversation | None:
        """Stores what agents and timers change on a conversation: status, snooze, priority,
        assignee, and its service-level state; with `expires_at`, it and its pointers expire
        then. Only if it is still at the version it was read at: returns it as stored (its
        next version), or None when another write came first or it was erased."""
        values: Item = {
            ":status": conversation.status.value,
            ":priority": conversation.priority.value,
            ":read": conversation.version,
            ":next": conversation.version + 1,
        }
        assignments = ["#status = :status", "priority = :priority", "version = :next"]
        removals = []
        state = conversation.model_dump(
            mode="json",
            include={
                "response_clock",
                "resolution_clock",
                "first_response_at",
                "sla_history",
                "resolved_at",
                "csat_asked_at",
                "csat",
            },
        )
        optional = {
            "assignee_user_id": conversation.assignee_user_id,
            "snoozed_until": (
                conversation.snoozed_until.isoformat() if conversation.snoozed_until else None
            ),
            "response_clock": state["response_clock"],
            "resolution_clock": state["resolution_clock"],
            "first_response_at": state["first_response_at"],
            "sla_history": state["sla_history"] or None,
            "resolved_at": state["resolved_at"],
            "csat_asked_at": state["csat_asked_at"],
            "csat": state["csat"],
        }
        for name, value in optional.items():
            if value is None:
                removals.append(name)
            else:
                values[f":{name}"] = value
                assignments.append(f"{name} = :{name}")
        if expires_at is not None:
            values[":expires_at"] = expires_at
            assignments.append("expires_at = :expires_at")
        # Conversations stored before versions existed read as version 0.
        unversioned = " OR (attribute_exists(PK) AND attribute_not_exists(version))"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_conversation_key(conversation.shop_id, conversation.conversation_id),
                UpdateExpression="SET "
                + ", ".join(assignments)
                + (" REMOVE " + ", ".join(removals) if removals else ""),
                ConditionExpression="version = :read"
                + (unversioned if conversation.version == 0 else ""),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_to_attributes(values),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return None
        if expires_at is not None:
            self._extend_pointers(conversation, expires_at)
        return conversation.model_copy(update={"version": conversation.version + 1})

    def touch_conversation(self, conversation: Conversation, expires_at: int | None) -> None:
        """Moves a conversation's expiry (and its pointers') to `expires_at`, for activity
        that changes nothing else on it (an agent's reply)."""
        if expires_at is None:
            return
        key = _conversation_key(conversation.shop_id, conversation.conversation_id)
        if self._set_if_stored(key, "expires_at", expires_at):
            self._extend_pointers(conversation, expires_at)

    def _extend_pointers(self, conversation: Conversation, expires_at: int) -> None:
        """The customer's open pointer (while it is this conversation's) and the Slack thread
        pointer expire with the conversation."""
        keys = [_open_pointer_key(conversation.shop_id, conversation.customer_address)]
        keys += _thread_pointer_of(conversation)
        for key in keys:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET expires_at = :expires",
                    ConditionExpression="conversation_id = :id",
                    ExpressionAttributeValues=_to_attributes(
                        {":expires": expires_at, ":id": conversation.conversation_id}
                    ),
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise

    def attach_slack_thread(
        self,
        conversation: Conversation,
        team_id: str,
        channel_id: str,
        thread_ts: str,
        *,
        expires_at: int | None = None,
    ) -> Conversation | None:
        """Gives the conversation its Slack thread, unless it has one already (another worker
        attached its own first: None) or was erased meanwhile (None too)."""
        expiry = _expiry(expires_at)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _conversation_key(
                                conversation.shop_id, conversation.conversation_id
                            ),
                            "UpdateExpression": "SET slack_team_id = :team, "
                            "slack_channel_id = :channel, slack_thread_ts = :ts, "
                            "version = if_not_exists(version, :zero) + :one"
                            + (", expires_at = :expires_at" if expiry else ""),
                            "ConditionExpression": "attribute_exists(PK) AND "
                            "attribute_not_exists(slack_thread_ts)",
                            "ExpressionAttributeValues": _to_attributes(
                                {":team": team_id, ":channel": channel_id, ":ts": thread_ts}
                                | {":zero": 0, ":one": 1}
                                | {f":{name}": value for name, value in expiry.items()}
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_thread_pointer_key(team_id, channel_id, thread_ts),
                                **_to_attributes(
                                    {
                                        "shop_id": conversation.shop_id,
                                        "conversation_id": conversation.conversation_id,
                                        **expiry,
                                    }
                                ),
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if not any(_cancelled_by_condition(error)):
                raise
            return None
        return conversation.model_copy(
            update={
                "slack_team_id": team_id,
                "slack_channel_id": channel_id,
                "slack_thread_ts": thread_ts,
                "version": conversation.version + 1,
            }
        )

    def find_conversation_by_thread(
        self, team_id: str, channel_id: str, thread_ts: str
    ) -> Conversation | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_thread_pointer_key(team_id, channel_id, thread_ts),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        pointer = _from_attributes(item)
        return self.get_conversation(str(pointer["shop_id"]), str(pointer["conversation_id"]))

    def recent_conversations(self, shop_id: str, limit: int) -> list[Conversation]:
        """A shop's conversations, newest first."""
        response = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": f"SHOP#{shop_id}#CONVERSATIONS"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            Conversation.model_validate(_from_attributes(item))
            for item in response.get("Items", [])
        ]

    def conversations_page(
        self, shop_id: str, filters: dict[str, str], limit: int, after: Item | None
    ) -> tuple[list[Conversation], Item | None]:
        """One page of a shop's conversations, newest first, filtered by `status`,
        `channel`, `assignee` or `sla` (`running` or `overdue`); and where the next starts.
        A page may hold fewer than `limit` when filters skip some."""
        names: dict[str, str] = {}
        values: Item = {":pk": f"SHOP#{shop_id}#CONVERSATIONS"}
        conditions = []
        for field, attribute in (("status", "status"), ("channel", "channel")):
            if field in filters:
                names[f"#{field}"] = attribute
                values[f":{field}"] = filters[field]
                conditions.append(f"#{field} = :{field}")
        if "assignee" in filters:
            values[":assignee"] = filters["assignee"]
            conditions.append("assignee_user_id = :assignee")
        if filters.get("sla") == "running":
            conditions.append("attribute_exists(response_clock)")
        elif filters.get("sla") == "overdue":
            values |= {":breached": "breached", ":second": "second_level"}
            conditions.append("response_clock.stage IN (:breached, :second)")
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": _to_attributes(values),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if conditions:
            query["FilterExpression"] = " AND ".join(conditions)
        if names:
            query["ExpressionAttributeNames"] = names
        if after is not None:
            query["ExclusiveStartKey"] = _to_attributes(after)
        response = self._client.query(**query)
        found = [Conversation.model_validate(_from_attributes(i)) for i in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return found, (_from_attributes(last) if last else None)

    def conversations_created(
        self, shop_id: str, start: datetime, end: datetime
    ) -> list[Conversation]:
        """A shop's conversations created in [start, end), oldest first, every page read."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK BETWEEN :start AND :end",
            ExpressionAttributeValues=_to_attributes(
                {
                    ":pk": f"SHOP#{shop_id}#CONVERSATIONS",
                    ":start": start.astimezone(UTC).isoformat(),
                    ":end": end.astimezone(UTC).isoformat(),
                }
            ),
        )
        found = (
            Conversation.model_validate(_from_attributes(item))
            for page in pages
            for item in page.get("Items", [])
        )
        return [c for c in found if start <= c.created_at < end]

    def conversations_of(self, shop_id: str, addresses: tuple[str, ...]) -> list[Conversation]:
        """Every conversation a customer (any of their addresses) had with a shop, newest
        first: a read of the shop's whole index, for the admin's rare questions. Chosen
        here rather than by a filter: DynamoDB's IN takes 100 operands, a customer's
        addresses may be more, and a filter reads (and costs) the same items anyway."""
        wanted = set(addresses)
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": f"SHOP#{shop_id}#CONVERSATIONS"}),
            ScanIndexForward=False,
        )
        return [
            Conversation.model_validate(values)
            for page in pages
            for values in map(_from_attributes, page.get("Items", []))
            if values.get("customer_address") in wanted
        ]

    def erase_conversation(self, conversation: Conversation, items: list[Item]) -> int:
        """Deletes a conversation, its messages (`items`, from its timeline) and every
        record that points at them or repeats their text; returns how many went."""
        shop_id = conversation.shop_id
        keys = [_conversation_key(shop_id, conversation.conversation_id)]
        keys += _thread_pointer_of(conversation)
        # Every Message-ID filed under it (the customer's, ours, SES's), and every edit or
        # deletion of a message in its thread (agents' notes too, which are stored nowhere
        # else).
        keys += self._filed_under(f"MAILIDS#{shop_id}#{conversation.conversation_id}")
        if conversation.slack_team_id and conversation.slack_thread:
            channel, thread_ts = conversation.slack_thread
            thread = f"{conversation.slack_team_id}#{channel}#{thread_ts}"
            keys += self._filed_under(f"REVISIONS#{thread}")
        for item in items:
            keys.append(_stored_key(item))
            if item.get("provider_message_id") and "agent_user_id" in item:
                keys.append(_provider_pointer_key(shop_id, str(item["provider_message_id"])))
                if item.get("channel") == "email":
                    # SES's id of a reply, filed before pointers were filed by conversation.
                    ses_id = f"{item['provider_message_id']}@email.amazonses.com"
                    keys.append(_mail_pointer_key(shop_id, ses_id))
            email = item.get("email")
            if isinstance(email, dict) and email.get("message_id"):
                keys.append(_mail_pointer_key(shop_id, str(email["message_id"])))
            if item.get("post_id") and conversation.slack_team_id:
                post_key = f"SLACK#{conversation.slack_team_id}#POST#{item['post_id']}"
                keys.append(_key(post_key, "POST"))
            if item.get("slack_ts") and conversation.slack_team_id and "agent_user_id" in item:
                keys.append(
                    _revision_key(
                        conversation.slack_team_id,
                        str(item["slack_channel_id"]),
                        str(item["slack_ts"]),
                    )
                )
        # Automatic replies' posts repeat the customer's name: those answering a message,
        # and the satisfaction question.
        ref = conversation_ref(conversation)
        posts = [auto_reply_post_id(ref, survey_key(conversation), SURVEY_KEY)]
        reply_keys = [*conversation.auto_replies_sent, THANKS_KEY]
        for message in (i for i in items if "provider" in i):
            message_key = f"{message['provider']}:{message['provider_message_id']}"
            posts += [auto_reply_post_id(ref, message_key, key) for key in reply_keys]
        if conversation.slack_team_id:
            keys += [_key(f"SLACK#{conversation.slack_team_id}#POST#{p}", "POST") for p in posts]
        # A post record may be named twice: by its reply's item, and by the rule for posts.
        self._delete_all(keys)
        # The customer's pointer, only if it still points at this conversation.
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_open_pointer_key(shop_id, conversation.customer_address),
                ConditionExpression="conversation_id = :id",
                ExpressionAttributeValues=_to_attributes({":id": conversation.conversation_id}),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
        return len(items)

    def _filed_under(self, partition: str) -> list[dict[str, Any]]:
        """The keys of every item in a GSI1 partition."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=_to_attributes({":pk": partition}),
        )
        return [
            {"PK": item["PK"], "SK": item["SK"]} for page in pages for item in page.get("Items", [])
        ]

    def record_erasure(self, shop_id: str, receipt: Item) -> None:
        """Keeps an erasure's receipt: counts and a hash of the address, nothing personal."""
        self._client.put_item(
            TableName=self._table,
            Item={
                **_key(f"SHOP#{shop_id}#ERASURES", str(receipt["erased_at"])),
                **_to_attributes(receipt),
            },
        )

    def timeline(self, shop_id: str, conversation_id: str) -> Iterator[Item]:
        """Every message of a conversation, oldest first (customer and agent alike)."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=_to_attributes({":pk": f"CONV#{shop_id}#{conversation_id}"}),
        )
        for page in pages:
            for item in page.get("Items", []):
                yield _from_attributes(item)

    # Daily digests -------------------------------------------------------------------------

    def lease_digest(
        self, shop_id: str, day: date, token: str, now: datetime, lease: timedelta
    ) -> DigestLease | None:
        """Takes the day's digest for one run; None when it is done, or another run holds it."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_digest_key(shop_id, day),
                UpdateExpression="SET lease_token = :token, lease_until = :until, "
                "expires_at = :expires",
                ConditionExpression="attribute_not_exists(PK) "
                "OR (attribute_not_exists(done_at) AND lease_until < :now)",
                ExpressionAttributeValues=_to_attributes(
                    {
                        ":token": token,
                        ":until": int((now + lease).timestamp()),
                        ":now": int(now.timestamp()),
                        ":expires": int((now + DIGEST_RECORD_LIFETIME).timestamp()),
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        values = _from_attributes(response["Attributes"])
        posted = values.get("posted_ts")
        return DigestLease(shop_id, day, token, str(posted) if posted else None)

    def _advance_digest(self, lease: DigestLease, update: str, values: Item) -> None:
        """Changes a digest this run still holds (a run slower than its lease has lost it)."""
        self._client.update_item(
            TableName=self._table,
            Key=_digest_key(lease.shop_id, lease.day),
            UpdateExpression=update,
            ConditionExpression="lease_token = :token",
            ExpressionAttributeValues=_to_attributes({":token": lease.token, **values}),
        )

    def digest_posted(self, lease: DigestLease, ts: str) -> None:
        self._advance_digest(lease, "SET posted_ts = :ts", {":ts": ts})

    def digest_done(self, lease: DigestLease, now: datetime) -> None:
        self._advance_digest(
            lease, "SET done_at = :now REMOVE lease_until", {":now": now.isoformat()}
        )

    def release_digest(self, lease: DigestLease) -> None:
        """Gives the lease back after a failure, so the next run may try at once."""
        try:
            self._advance_digest(lease, "SET lease_until = :zero", {":zero": 0})
        except ClientError as error:
            if not _condition_failed(error):
                raise

    # Slack installations -----------------------------------------------------------------

    def issue_oauth_state(self, state: str, shop_id: str, expires_at: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **_key(f"OAUTHSTATE#{state}", "STATE"),
                **_to_attributes({"shop_id": shop_id, "expires_at": int(expires_at.timestamp())}),
            },
            ConditionExpression="attribute_not_exists(PK)",
        )

    def consume_oauth_state(self, state: str, now: datetime) -> str | None:
        """The shop an unexpired state was issued for; a state is good for one use only."""
        try:
            response = self._client.delete_item(
                TableName=self._table,
                Key=_key(f"OAUTHSTATE#{state}", "STATE"),
                ConditionExpression="attribute_exists(PK) AND expires_at > :now",
                ExpressionAttributeValues=_to_attributes({":now": int(now.timestamp())}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return str(_from_attributes(response["Attributes"])["shop_id"])

    def put_installation(self, values: Item) -> None:
        """A workspace's installation as Slack granted it, tokens left out (they are secrets)."""
        key = _installation_key(values.get("enterprise_id"), str(values["team_id"]))
        self._client.put_item(
            TableName=self._table,
            Item={**key, **_to_attributes({k: v for k, v in values.items() if v is not None})},
        )

    def get_installation(self, enterprise_id: str | None, team_id: str) -> Item | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_installation_key(enterprise_id, team_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return {k: v for k, v in _from_attributes(item).items() if k not in ("PK", "SK")}

    def delete_installation(self, enterprise_id: str | None, team_id: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key=_installation_key(enterprise_id, team_id)
        )

    # Agent replies -----------------------------------------------------------------------

    def record_revision(self, revision: ReplyRevision) -> None:
        """Keeps an agent's latest edit of a thread message, or its deletion, which no later
        edit undoes. Slack may deliver edits out of order: an older one changes nothing."""
        values: Item = {
            "team_id": revision.team_id,
            "channel_id": revision.channel_id,
            "ts": revision.ts,
            "revised_at": Decimal(revision.revised_ts),
            "deleted": revision.deleted,
            "expires_at": int(float(revision.revised_ts)) + min(RETENTION_DAYS) * 24 * 3600,
        }
        if revision.text is not None:
            values["text"] = revision.text
        if revision.thread_ts is not None:
            thread = f"{revision.team_id}#{revision.channel_id}#{revision.thread_ts}"
            values |= {"GSI1PK": f"REVISIONS#{thread}", "GSI1SK": revision.ts}
        # A deletion always lands; an edit only over an older edit.
        only_newer: dict[str, Any] = {}
        if not revision.deleted:
            only_newer = {
                "ConditionExpression": "attribute_not_exists(PK) "
                "OR (deleted = :false AND revised_at < :at)",
                "ExpressionAttributeValues": _to_attributes(
                    {":false": False, ":at": values["revised_at"]}
                ),
            }
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_revision_key(revision.team_id, revision.channel_id, revision.ts),
                    **_to_attributes(values),
                },
                **only_newer,
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def claim_shop_message(
        self, claim: ShopMessageClaim, *, now: datetime, expires_at: int
    ) -> ShopMessageClaim:
        """Files a shop message under the caller's id, unless the shop used that id already:
        then the claim filed first, for the caller to compare with its own. A claim past its
        expiry (DynamoDB's TTL deletes it days later), or filed by a shop deleted since whose
        id this one took, is no claim: it is replaced."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_shop_message_key(claim.shop_id, claim.caller_id),
                    **_to_attributes(
                        {
                            "request_id": claim.request_id,
                            "fingerprint": claim.fingerprint,
                            "queued": False,
                            "incarnation": claim.incarnation or "",
                            "expires_at": expires_at,
                        }
                    ),
                },
                ConditionExpression=(
                    "attribute_not_exists(PK) OR expires_at <= :now OR incarnation <> :incarnation"
                ),
                ExpressionAttributeValues=_to_attributes(
                    {":now": int(now.timestamp()), ":incarnation": claim.incarnation or ""}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            filed = _from_attributes(error.response["Item"])
            return ShopMessageClaim(
                shop_id=claim.shop_id,
                caller_id=claim.caller_id,
                request_id=str(filed["request_id"]),
                fingerprint=str(filed["fingerprint"]),
                queued=bool(filed.get("queued")),
                incarnation=claim.incarnation,
            )
        return claim

    def shop_message_queued(self, claim: ShopMessageClaim) -> None:
        """The claimed message is queued: asked again, it is answered without a second send."""
        self._set_if_stored(_shop_message_key(claim.shop_id, claim.caller_id), "queued", True)

    def bot_post(self, team_id: str, post_id: str) -> tuple[str, str] | None:
        """(ts, text) of the thread message a job (a canned response's modal, an automatic
        reply) was posted as, so a retried job posts nothing again."""
        response = self._client.get_item(
            TableName=self._table,
            Key=_key(f"SLACK#{team_id}#POST#{post_id}", "POST"),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        values = _from_attributes(item)
        return str(values["ts"]), str(values["text"])

    def record_bot_post(
        self, team_id: str, post_id: str, ts: str, text: str, *, expires_at: int | None = None
    ) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **_key(f"SLACK#{team_id}#POST#{post_id}", "POST"),
                **_to_attributes({"ts": ts, "text": text, **_expiry(expires_at)}),
            },
        )

    def reply_revision(self, team_id: str, channel_id: str, ts: str) -> ReplyRevision | None:
        response = self._client.get_item(
            TableName=self._table, Key=_revision_key(team_id, channel_id, ts), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        values = _from_attributes(item)
        return ReplyRevision(
            team_id=team_id,
            channel_id=channel_id,
            ts=ts,
            text=None if values["deleted"] else str(values.get("text", "")),
            revised_ts=str(values["revised_at"]),
        )

    def claim_outbound(
        self, message: OutboundMessage, *, expires_at: int | None = None
    ) -> OutboundMessage | None:
        """Stores a reply before it is sent. Returns None when it is new, or the copy an
        earlier delivery of the same Slack message stored."""
        values = {
            **_model_values(message),
            "status_rank": delivery_rank(message.status),
            **_timeline_keys(
                message.shop_id, message.conversation_id, message.created_at, message.message_key
            ),
            **_expiry(expires_at),
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_message_key(message.shop_id, message.message_key),
                    **_to_attributes(values),
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return OutboundMessage.model_validate(_from_attributes(error.response["Item"]))
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
        """Moves a reply's delivery status forward; False if it already was as far or further.

        The first time a provider id is recorded, its pointer is written with it (expiring at
        `expires_at`, with the reply), so status callbacks can find the reply."""
        names = {"#status": "status"}
        values: Item = {":status": status.value, ":rank": delivery_rank(status)}
        assignments = ["#status = :status", "status_rank = :rank"]
        if provider_message_id:
            values[":provider_id"] = provider_message_id
            assignments.append("provider_message_id = :provider_id")
        if error_code:
            values[":error"] = error_code
            assignments.append("error_code = :error")
        if error_reason:
            values[":reason"] = error_reason
            assignments.append("error_reason = :reason")
        update = {
            "TableName": self._table,
            "Key": _message_key(message.shop_id, message.message_key),
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": "status_rank < :rank",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_attributes(values),
        }
        try:
            if provider_message_id:
                pointer = {
                    **_provider_pointer_key(message.shop_id, provider_message_id),
                    **_to_attributes({"message_key": message.message_key, **_expiry(expires_at)}),
                }
                # A provider message belongs to one reply only.
                self._client.transact_write_items(
                    TransactItems=[
                        {"Update": update},
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": pointer,
                                "ConditionExpression": "attribute_not_exists(PK) "
                                "OR message_key = :key",
                                "ExpressionAttributeValues": _to_attributes(
                                    {":key": message.message_key}
                                ),
                            }
                        },
                    ]
                )
            else:
                self._client.update_item(**update)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                return False
            if code == "TransactionCanceledException":
                update_failed, *pointer_failed = _cancelled_by_condition(error)
                if any(pointer_failed):
                    raise Retryable("that provider message belongs to another reply") from error
                if update_failed:
                    return False
            raise
        return True

    def mark_shown(self, message: OutboundMessage) -> None:
        """Records that the agent's Slack message now shows the reply's status."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_message_key(message.shop_id, message.message_key),
                UpdateExpression="SET shown_status = :status, shown_rank = :rank",
                # An erased reply stays erased.
                ConditionExpression="attribute_exists(PK) AND "
                "(attribute_not_exists(shown_rank) OR shown_rank < :rank)",
                ExpressionAttributeValues=_to_attributes(
                    {":status": message.status.value, ":rank": delivery_rank(message.status)}
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def get_outbound(self, shop_id: str, message_key: str) -> OutboundMessage | None:
        response = self._client.get_item(
            TableName=self._table, Key=_message_key(shop_id, message_key), ConsistentRead=True
        )
        stored = response.get("Item")
        return OutboundMessage.model_validate(_from_attributes(stored)) if stored else None

    def provider_id_taken(self, shop_id: str, provider_message_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._table,
            Key=_provider_pointer_key(shop_id, provider_message_id),
            ConsistentRead=True,
        )
        return "Item" in response

    def find_outbound_by_provider_id(
        self, shop_id: str, provider_message_id: str
    ) -> OutboundMessage | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_provider_pointer_key(shop_id, provider_message_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return self.get_outbound(shop_id, str(_from_attributes(item)["message_key"]))

    # Customer profiles ---------------------------------------------------------------------

    def customer_profile(self, shop_id: str, address: str) -> CustomerProfile | None:
        """The profile an address was linked into, if any."""
        pointer = self._client.get_item(
            TableName=self._table,
            Key=_identity_key(shop_id, identity(address)),
            ConsistentRead=True,
        ).get("Item")
        if not pointer:
            return None
        customer_id = str(_from_attributes(pointer)["customer_id"])
        item = self._client.get_item(
            TableName=self._table, Key=_profile_key(shop_id, customer_id), ConsistentRead=True
        ).get("Item")
        return CustomerProfile.model_validate(_from_attributes(item)) if item else None

    def save_profile(
        self,
        profile: CustomerProfile | None,
        replaced: list[CustomerProfile],
        released: tuple[str, ...] = (),
        *,
        expires_at: int | None = None,
    ) -> None:
        """Stores a profile (None: none left) in place of the `replaced` ones, pointing its
        identities at it and releasing `released`, in one transaction; fails with Conflict
        when any identity moved meanwhile."""
        shop_id = (profile or replaced[0]).shop_id
        owners = {p.customer_id for p in replaced} | ({profile.customer_id} if profile else set())
        owner_values = {f":owner{n}": owner for n, owner in enumerate(sorted(owners))}
        unchanged = {
            "ConditionExpression": "attribute_not_exists(PK) OR customer_id IN ("
            + ", ".join(owner_values)
            + ")",
            "ExpressionAttributeValues": _to_attributes(owner_values),
        }
        writes: list[dict[str, Any]] = []
        kept = set(profile.identities) if profile else set()
        for gone in replaced:
            if profile is None or gone.customer_id != profile.customer_id:
                writes.append(
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": _profile_key(shop_id, gone.customer_id),
                        }
                    }
                )
        previous = {i for p in replaced for i in p.identities}
        for identity_value in sorted((previous | set(released)) - kept):
            writes.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _identity_key(shop_id, identity_value),
                        **unchanged,
                    }
                }
            )
        if profile is not None:
            values = profile.model_dump(mode="json")
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **_profile_key(shop_id, profile.customer_id),
                            **_to_attributes(
                                {
                                    **values,
                                    **_profile_index_keys(shop_id, profile.customer_id),
                                    **_expiry(expires_at),
                                }
                            ),
                        },
                    }
                }
            )
            for identity_value in profile.identities:
                writes.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_identity_key(shop_id, identity_value),
                                **_to_attributes(
                                    {"customer_id": profile.customer_id, **_expiry(expires_at)}
                                ),
                            },
                            **unchanged,
                        }
                    }
                )
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if any(_cancelled_by_condition(error)):
                raise Conflict("the customer's links changed meanwhile; try again") from error
            raise

    # Dead letters told in Slack -------------------------------------------------------------

    def claim_dead_letter(self, message_id: str, now: datetime) -> bool:
        """Claims the telling of one dead letter; False when it was told (or is being told)
        already. Kept 30 days, longer than a dead-letter queue keeps a message (14)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_dead_letter_key(message_id),
                    **_to_attributes(
                        {
                            "told_at": now.isoformat(),
                            "expires_at": int((now + DEAD_LETTER_MEMORY).timestamp()),
                        }
                    ),
                },
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def release_dead_letter(self, message_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_dead_letter_key(message_id))
