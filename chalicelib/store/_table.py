"""The table as every repository sees it: keys, (de)serialisation, conditional writes,
transaction items and update expressions. Nothing outside this package imports it."""

import hashlib
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.messages import InboundMessage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient as DynamoDBClient
else:
    DynamoDBClient = Any

Item = dict[str, Any]
# A key or an item in DynamoDB's attribute-value form.
Attributes = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attributes(values: Item) -> Attributes:
    # Most values are plain strings: written directly, as boto3's serializer writes them,
    # without its walk through every other type first.
    return {
        name: {"S": value} if type(value) is str else _serializer.serialize(value)
        for name, value in values.items()
    }


def from_attributes(attributes: Attributes) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in attributes.items()}


# Keys -------------------------------------------------------------------------------------

# Partition keys hold ids chosen outside (Message-IDs, callers' ids) and DynamoDB takes 2,048
# bytes: one that would not fit is hashed, the same way for its write and every look-up.
PARTITION_KEY_BYTES = 1024


def key(pk: str, sk: str) -> Attributes:
    return to_attributes({"PK": fitted(pk, PARTITION_KEY_BYTES), "SK": sk})


def stored_key(item: Item) -> Attributes:
    """The key of an item read back: as stored, not fitted again."""
    return to_attributes({"PK": item["PK"], "SK": item["SK"]})


def shop_key(shop_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}", "SHOP")


def deleted_shop_key(shop_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}", "DELETED")


def counters_key(shop_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}", "COUNTERS")


def address_key(address: str) -> Attributes:
    return key(f"ADDRESS#{address}", "ADDRESS")


def message_item_key(shop_id: str, message_key: str) -> Attributes:
    return key(f"SHOP#{shop_id}#MSG#{message_key}", "MESSAGE")


def provider_pointer_key(shop_id: str, provider_message_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#PROVIDER#{provider_message_id}", "POINTER")


def conversation_key(shop_id: str, conversation_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#CONV#{conversation_id}", "CONVERSATION")


def open_pointer_key(shop_id: str, customer_address: str) -> Attributes:
    return key(f"SHOP#{shop_id}#OPEN#{customer_address}", "POINTER")


def thread_pointer_key(team_id: str, channel_id: str, thread_ts: str) -> Attributes:
    return key(f"SLACK#{team_id}#{channel_id}#{thread_ts}", "POINTER")


def thread_pointer_of(conversation: Conversation) -> list[Attributes]:
    """The key of the conversation's Slack thread pointer, once it has a thread."""
    team, channel, ts = (
        conversation.slack_team_id,
        conversation.slack_channel_id,
        conversation.slack_thread_ts,
    )
    return [thread_pointer_key(team, channel, ts)] if team and channel and ts else []


def mail_key(message_id: str) -> str:
    """A Message-ID as threading looks it up. SES replaces the ids of what it sends with
    `<id>@<region>.amazonses.com`, the domain not guaranteed: its ids count by the local
    part."""
    local, _, domain = message_id.partition("@")
    return local if domain.endswith("amazonses.com") else message_id


def mail_pointer_key(shop_id: str, message_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#MAILID#{mail_key(message_id)}", "POINTER")


def mail_pointer(
    shop_id: str, conversation_id: str, message_id: str, expires_at: int | None
) -> Attributes:
    """A Message-ID pointer, filed under its conversation too, for its erasure."""
    return {
        **mail_pointer_key(shop_id, message_id),
        **to_attributes(
            {
                "conversation_id": conversation_id,
                "GSI1PK": mail_ids_partition(shop_id, conversation_id),
                "GSI1SK": sort_part(mail_key(message_id)),
                **expiry(expires_at),
            }
        ),
    }


def profile_key(shop_id: str, customer_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#CUSTOMER#{customer_id}", "PROFILE")


def identity_key(shop_id: str, identity_value: str) -> Attributes:
    return key(f"SHOP#{shop_id}#IDENTITY#{identity_value}", "POINTER")


def shop_message_key(shop_id: str, caller_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#SHOPMESSAGE#{caller_id}", "REQUEST")


def dead_letter_key(message_id: str) -> Attributes:
    return key(f"DEADLETTER#{message_id}", "TOLD")


def webhook_key(shop_id: str, webhook_id: str) -> Attributes:
    return key(f"SHOP#{shop_id}#WEBHOOK#{webhook_id}", "RECEIVED")


def refund_key(shop_id: str, submission_key: str) -> Attributes:
    return key(f"SHOP#{shop_id}#REFUND#{submission_key}", "REFUND")


def opt_out_key(shop_id: str, identity_value: str) -> Attributes:
    return key(f"SHOP#{shop_id}#OPTOUT#{identity_value}", "OPTOUT")


def cancel_key(shop_id: str, submission_key: str) -> Attributes:
    return key(f"SHOP#{shop_id}#CANCEL#{submission_key}", "CANCEL")


def return_key(shop_id: str, submission_key: str) -> Attributes:
    return key(f"SHOP#{shop_id}#RETURN#{submission_key}", "RETURN")


def revision_key(team_id: str, channel_id: str, ts: str) -> Attributes:
    return key(f"SLACK#{team_id}#{channel_id}#{ts}", "REVISION")


def post_key(team_id: str, post_id: str) -> Attributes:
    return key(f"SLACK#{team_id}#POST#{post_id}", "POST")


def installation_key(enterprise_id: str | None, team_id: str) -> Attributes:
    return key(f"SLACKTEAM#{enterprise_id or '-'}#{team_id}", "INSTALLATION")


def oauth_state_key(state: str) -> Attributes:
    return key(f"OAUTHSTATE#{state}", "STATE")


def digests_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#DIGEST"


def digest_key(shop_id: str, day: date) -> Attributes:
    return key(digests_partition(shop_id), day.isoformat())


def erasure_key(shop_id: str, erased_at: str) -> Attributes:
    return key(f"SHOP#{shop_id}#ERASURES", erased_at)


# Index keys -------------------------------------------------------------------------------

UNPROCESSED_SHARDS = 8


def sort_part(message_key: str) -> str:
    """A message key within a sort key (DynamoDB takes 1,024 bytes there): it only breaks
    ties between messages of the same instant, so a digest serves when it is long."""
    return fitted(message_key, 512)


def unprocessed_keys(
    message: InboundMessage, due: datetime, partition: str = "UNPROCESSED"
) -> Item:
    shard = zlib.crc32(message.message_key.encode("utf-8")) % UNPROCESSED_SHARDS
    return {
        "GSI1PK": f"{partition}#{shard}",
        "GSI1SK": f"{due.astimezone(UTC).isoformat()}#{sort_part(message.message_key)}",
    }


def customer_digest(address: str) -> str:
    """A customer's address as the MESSAGES index sorts it (emails compared in lower case,
    as intake stores them)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def messages_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#MESSAGES"


def opt_outs_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#OPTOUTS"


def profiles_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#PROFILES"


def conversations_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#CONVERSATIONS"


def timeline_partition(shop_id: str, conversation_id: str) -> str:
    return f"CONV#{shop_id}#{conversation_id}"


def mail_ids_partition(shop_id: str, conversation_id: str) -> str:
    return f"MAILIDS#{shop_id}#{conversation_id}"


def revisions_partition(team_id: str, channel_id: str, thread_ts: str) -> str:
    return f"REVISIONS#{team_id}#{channel_id}#{thread_ts}"


def team_partition(team_id: str) -> str:
    return f"TEAM#{team_id}"


# Every shop, in GSI2 (keys only): shop ids sort the partition.
SHOPS_PARTITION = "SHOPS"


def shop_index_keys(shop_id: str) -> Item:
    return {"GSI2PK": SHOPS_PARTITION, "GSI2SK": shop_id}


def profile_index_keys(shop_id: str, customer_id: str) -> Item:
    return {"GSI2PK": profiles_partition(shop_id), "GSI2SK": customer_id}


def customer_index_keys(message: InboundMessage) -> Item:
    at = message.received_at.astimezone(UTC).isoformat()
    key = sort_part(message.message_key)
    return {
        "GSI2PK": messages_partition(message.shop_id),
        "GSI2SK": f"{customer_digest(message.customer_address)}#{at}#{key}",
    }


def timeline_keys(shop_id: str, conversation_id: str, at: datetime, message_key: str) -> Item:
    return {
        "GSI1PK": timeline_partition(shop_id, conversation_id),
        "GSI1SK": f"{at.isoformat()}#{sort_part(message_key)}",
    }


# Values -----------------------------------------------------------------------------------

# What the bot posted about a message or a conversation beyond the message's post and the
# conversation's thread (dead-letter notes, escalations), as [channel, ts] pairs; and the
# ids of the files it shared with a message. Erasure deletes them from Slack.
SLACK_POSTS_ABOUT = "slack_posts_about"
SLACK_FILE_IDS = "slack_file_ids"


def expiry(expires_at: int | None) -> Item:
    return {} if expires_at is None else {"expires_at": expires_at}


def model_values(model: Any) -> Item:
    return {
        name: value for name, value in model.model_dump(mode="json").items() if value is not None
    }


def condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def cancelled_by_condition(error: ClientError) -> list[bool]:
    """For a cancelled transaction: which of its items failed their condition."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        raise error
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code") == "ConditionalCheckFailed" for reason in reasons]


# Update expressions -----------------------------------------------------------------------


@dataclass
class Update:
    """An update expression, built assignment by assignment: each attribute by a name
    placeholder (`#status`), each value by a value placeholder (`:status`)."""

    assignments: list[str] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: Item = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        """The attribute's placeholder, for the update and for its condition."""
        self.names[f"#{attribute}"] = attribute
        return f"#{attribute}"

    def set(self, attribute: str, value: object) -> "Update":
        self.assignments.append(f"{self.name(attribute)} = :{attribute}")
        self.values[f":{attribute}"] = value
        return self

    def set_first(self, attribute: str, value: object) -> "Update":
        """Sets the attribute only where the item has none yet."""
        name = self.name(attribute)
        self.assignments.append(f"{name} = if_not_exists({name}, :{attribute})")
        self.values[f":{attribute}"] = value
        return self

    def count(self, attribute: str) -> "Update":
        """One more (a missing attribute counts as 0)."""
        name = self.name(attribute)
        self.assignments.append(f"{name} = if_not_exists({name}, :zero) + :one")
        self.values |= {":zero": 0, ":one": 1}
        return self

    def append(self, attribute: str, entries: list[Any]) -> "Update":
        """Appends `entries` to a list attribute (made where there is none)."""
        name = self.name(attribute)
        self.assignments.append(f"{name} = list_append(if_not_exists({name}, :none), :{attribute})")
        self.values |= {f":{attribute}": entries, ":none": []}
        return self

    def remove(self, attribute: str) -> "Update":
        self.removals.append(self.name(attribute))
        return self

    def expires(self, expires_at: int | None) -> "Update":
        return self if expires_at is None else self.set("expires_at", expires_at)

    @property
    def expression(self) -> str:
        parts = []
        if self.assignments:
            parts.append("SET " + ", ".join(self.assignments))
        if self.removals:
            parts.append("REMOVE " + ", ".join(self.removals))
        return " ".join(parts)

    def request(self, condition: str, condition_values: Item | None = None) -> Item:
        """The update's part of an UpdateItem request (or of a transaction's Update)."""
        values = self.values | (condition_values or {})
        request: Item = {"UpdateExpression": self.expression, "ConditionExpression": condition}
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if values:
            request["ExpressionAttributeValues"] = to_attributes(values)
        return request


class Writer(Enum):
    """Who writes a stored item after it is created, each its own part of it."""

    # A customer's message counted (unconditional: it writes only what the message changes).
    CUSTOMER = auto()
    # Agents' and timers' changes (only over the version they were read at).
    AGENTS = auto()
    # The Slack thread attached, once.
    THREAD = auto()


class Write(Enum):
    """How a writer stores one field from the model it is given."""

    SET = auto()  # always set
    SET_OR_REMOVE = auto()  # set, or removed when the model has none (None or empty)
    SET_GIVEN = auto()  # set when the model has one, else left as stored
    SET_FIRST = auto()  # set when the model has one and the item none yet
    REMOVE_EMPTY = auto()  # removed when the model has none, else left as stored


# A field's value as stored, from the model (JSON form: what a create stores, too).
Value = Callable[[Any], object]


@dataclass(frozen=True)
class Stored:
    """A field of an item, how each writer stores it (a writer not named leaves it as
    stored) and, when not its JSON form, how its value is taken from the model."""

    name: str
    writes: Mapping[Writer, Write]
    value: Value | None = None

    def value_of(self, model: Any) -> object:
        if self.value is not None:
            return self.value(model)
        return model.model_dump(mode="json", include={self.name})[self.name]


def _absent(value: object) -> bool:
    return value is None or value == [] or value == {}


def apply_fields(update: Update, fields: Iterable[Stored], model: Any, writer: Writer) -> Update:
    """Adds to `update` what `writer` stores of `model`'s fields, as `fields` declare."""
    for stored in fields:
        how = stored.writes.get(writer)
        if how is None:
            continue
        value = stored.value_of(model)
        if how is Write.SET or (how is Write.SET_OR_REMOVE and not _absent(value)):
            update.set(stored.name, value)
        elif how is Write.SET_OR_REMOVE or (how is Write.REMOVE_EMPTY and value is None):
            update.remove(stored.name)
        elif how is Write.SET_GIVEN and value:
            update.set(stored.name, value)
        elif how is Write.SET_FIRST and value:
            update.set_first(stored.name, value)
    return update


# The table --------------------------------------------------------------------------------

# A batch read or write is repeated this often for what DynamoDB handed back unprocessed.
_BATCH_ATTEMPTS = 6


def _back_off(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0))


class Table:
    """One DynamoDB table through one client: the calls the repositories share."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, item_key: Attributes, *, projection: str | None = None) -> Item | None:
        """An item read consistently, or None."""
        options = {"ProjectionExpression": projection} if projection else {}
        response = self.client.get_item(
            TableName=self.name, Key=item_key, ConsistentRead=True, **options
        )
        item = response.get("Item")
        return from_attributes(item) if item else None

    def query(self, **query: Any) -> Iterator[Item]:
        """Every item a query finds, page after page."""
        pages = self.client.get_paginator("query").paginate(TableName=self.name, **query)
        for page in pages:
            yield from map(from_attributes, page.get("Items", []))

    def scan(self, **scan: Any) -> Iterator[Item]:
        pages = self.client.get_paginator("scan").paginate(TableName=self.name, **scan)
        for page in pages:
            yield from map(from_attributes, page.get("Items", []))

    def keys_in(self, index: str, partition_key: str, partition: str) -> list[Attributes]:
        """The keys of every item in an index's partition."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.name,
            IndexName=index,
            KeyConditionExpression=f"{partition_key} = :pk",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=to_attributes({":pk": partition}),
        )
        return [{"PK": i["PK"], "SK": i["SK"]} for page in pages for i in page.get("Items", [])]

    def update(
        self, item_key: Attributes, update: Update, condition: str, values: Item | None = None
    ) -> bool:
        """An update under a condition; False (nothing written) when the condition fails."""
        try:
            self.client.update_item(
                TableName=self.name, Key=item_key, **update.request(condition, values)
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def update_if_stored(self, item_key: Attributes, update: Update) -> bool:
        """An update of an item that exists; False (and nothing written) when it is gone, so
        an update never brings back a half of an erased item."""
        return self.update(item_key, update, "attribute_exists(PK)")

    def set_if_stored(self, item_key: Attributes, values: Item) -> bool:
        """Sets attributes of an item that exists; False when it is gone."""
        update = Update()
        for name, value in values.items():
            update.set(name, value)
        return self.update_if_stored(item_key, update)

    def append_post(self, item_key: Attributes, channel_id: str, ts: str) -> bool:
        """Files a post of the bot on a stored item; False when the item is gone."""
        post = [[channel_id, ts]]
        return self.update_if_stored(item_key, Update().append(SLACK_POSTS_ABOUT, post))

    def delete_if(self, item_key: Attributes, condition: str, values: Item) -> bool:
        """Deletes an item under a condition; False (nothing deleted) when it fails."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=item_key,
                ConditionExpression=condition,
                ExpressionAttributeValues=to_attributes(values),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def transact(self, actions: list[Item]) -> None:
        self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]

    # Transaction items, for one repository's writes in another's transaction.

    def put_action(
        self, item: Attributes, condition: str | None = None, values: Item | None = None
    ) -> Item:
        put: Item = {"TableName": self.name, "Item": item}
        if condition:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = to_attributes(values)
        return {"Put": put}

    def update_action(
        self, item_key: Attributes, update: Update, condition: str, values: Item | None = None
    ) -> Item:
        return {
            "Update": {
                "TableName": self.name,
                "Key": item_key,
                **update.request(condition, values),
            }
        }

    def check_action(self, item_key: Attributes, condition: str) -> Item:
        """A condition on an item the transaction does not write."""
        check: Item = {"TableName": self.name, "Key": item_key, "ConditionExpression": condition}
        return {"ConditionCheck": check}

    def delete_action(
        self, item_key: Attributes, condition: str | None = None, values: Item | None = None
    ) -> Item:
        delete: Item = {"TableName": self.name, "Key": item_key}
        if condition:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = to_attributes(values)
        return {"Delete": delete}

    # Batches.

    def read_all(self, keys: list[Attributes]) -> list[Item]:
        """The items of `keys` that exist, read consistently, in no particular order."""
        found: list[Item] = []
        pending = _distinct(keys)
        for attempt in range(_BATCH_ATTEMPTS):
            left: list[Attributes] = []
            for start in range(0, len(pending), 100):
                response = self.client.batch_get_item(
                    RequestItems={
                        self.name: {"Keys": pending[start : start + 100], "ConsistentRead": True}
                    }
                )
                found += map(from_attributes, response["Responses"].get(self.name, []))
                left += response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
            if not left:
                return found
            pending = left
            _back_off(attempt)
        raise Retryable("DynamoDB kept some items of a batch read unread")

    def delete_all(self, keys: list[Attributes]) -> None:
        """Deletes every item of `keys`, batch by batch, until DynamoDB has taken them all
        (a batch write may hand some back unprocessed when throttled)."""
        pending = _distinct(keys)
        for attempt in range(_BATCH_ATTEMPTS):
            left: list[Attributes] = []
            for start in range(0, len(pending), 25):
                response = self.client.batch_write_item(
                    RequestItems={
                        self.name: [
                            {"DeleteRequest": {"Key": key}} for key in pending[start : start + 25]
                        ]
                    }
                )
                unprocessed = response.get("UnprocessedItems", {}).get(self.name, [])
                left += [request["DeleteRequest"]["Key"] for request in unprocessed]
            if not left:
                return
            pending = left
            _back_off(attempt)
        raise Retryable("DynamoDB kept some items of an erasure undeleted; erase again")


def _distinct(keys: list[Attributes]) -> list[Attributes]:
    return list({(k["PK"]["S"], k["SK"]["S"]): k for k in keys}.values())
