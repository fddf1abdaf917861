"""Customer messages: stored once on the ack path, followed through their processing,
queued again while they wait, found by shop and customer for erasure and export."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import ConversationChanged
from chalicelib.domain.messages import InboundMessage, InboundProgress, InboundStatus
from chalicelib.domain.triage.record import Triage
from chalicelib.store._table import (
    SLACK_FILE_IDS,
    UNPROCESSED_SHARDS,
    Attributes,
    DynamoDBClient,
    Item,
    Table,
    Update,
    cancelled_by_condition,
    condition_failed,
    conversation_key,
    customer_digest,
    customer_index_keys,
    expiry,
    from_attributes,
    mail_pointer_key,
    message_item_key,
    messages_partition,
    model_values,
    open_pointer_key,
    stored_key,
    timeline_keys,
    to_attributes,
    unprocessed_keys,
)
from chalicelib.store.counters import Counters

FIRST_REQUEUE_AFTER = timedelta(minutes=3)


def processed_action(
    table: Table,
    message: InboundMessage,
    conversation_id: str,
    slack_ts: str,
    triage: Triage | None = None,
) -> Item:
    """The transaction item that marks a stored message processed and moves it onto its
    conversation's timeline (written with the conversation's count), with its triage (as
    JSON: DynamoDB takes no floats)."""
    timeline = timeline_keys(
        message.shop_id, conversation_id, message.received_at, message.message_key
    )
    update = (
        Update()
        .set("status", InboundStatus.PROCESSED.value)
        .set("conversation_id", conversation_id)
        .set("slack_ts", slack_ts)
        .set("GSI1PK", timeline["GSI1PK"])
        .set("GSI1SK", timeline["GSI1SK"])
    )
    if triage is not None:
        update.set("triage", triage.model_dump_json())
    # An update of an erased item would bring a half of it back.
    key = message_item_key(message.shop_id, message.message_key)
    return table.update_action(key, update, "attribute_exists(PK)")


class InboundMessages:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)
        self._counters = Counters(client, table_name)

    def save_inbound(
        self, message: InboundMessage, *, expires_at: int | None = None
    ) -> tuple[InboundMessage, InboundStatus] | None:
        """Stores a customer message once. Returns None when it is new, or the copy an earlier
        delivery of the same provider message stored, with its status."""
        values = {
            **model_values(message),
            **unprocessed_keys(message, due=message.received_at + FIRST_REQUEUE_AFTER),
            **customer_index_keys(message),
            "status": InboundStatus.RECEIVED.value,
            **expiry(expires_at),
        }
        item = {**message_item_key(message.shop_id, message.message_key), **to_attributes(values)}
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item=item,
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = from_attributes(error.response["Item"])
            return InboundMessage.model_validate(stored), InboundStatus(stored["status"])
        return None

    def begin_inbound_attempt(self, message: InboundMessage) -> InboundProgress:
        """Counts one more attempt at a customer message and tells how far it got. Not
        stored (erased meanwhile): nothing is written, and the status is None."""
        try:
            response = self._table.client.update_item(
                TableName=self._table.name,
                Key=message_item_key(message.shop_id, message.message_key),
                UpdateExpression="ADD attempts :one",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=to_attributes({":one": 1}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return InboundProgress(None, None, files_posted=False, attempt=1)
        values = from_attributes(response["Attributes"])
        posted = values.get("slack_ts")
        return InboundProgress(
            InboundStatus(values["status"]),
            str(posted) if posted else None,
            files_posted=bool(values.get("files_posted")),
            attempt=int(values["attempts"]),
            files_shared=int(values.get("files_shared", 0)),
            opt_out_noted=bool(values.get("opt_out_noted")),
        )

    def mark_posted(
        self,
        message: InboundMessage,
        slack_ts: str,
        channel_id: str,
        *,
        while_current: Conversation | None = None,
    ) -> str | None:
        """Notes that the message is in its thread (and in which channel, for an erasure
        before it is recorded), before the rest of its processing: a retry after a later
        failure goes on from there. Returns the post the message has in its thread: this
        one, or an earlier attempt's that was noted first (this one is then spare); None
        (nothing noted) when it was erased meanwhile. With `while_current`, only while that
        conversation is stored at its version and is its customer's open one; else raises
        ConversationChanged, with it as stored now, nothing noted."""
        update = Update().set("slack_ts", slack_ts).set("slack_channel_id", channel_id)
        key = message_item_key(message.shop_id, message.message_key)
        condition = "attribute_exists(PK) AND attribute_not_exists(slack_ts)"
        try:
            if while_current is None:
                self._table.client.update_item(
                    TableName=self._table.name,
                    Key=key,
                    **update.request(condition),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            else:
                self._table.transact(
                    [
                        self._returning(self._table.update_action(key, update, condition)),
                        *self._current_checks(while_current),
                    ]
                )
        except ClientError as error:
            old = self._refused_item(error, while_current)
            earlier = old.get("slack_ts")
            return str(earlier) if earlier else None
        return slack_ts

    def _current_checks(self, conversation: Conversation) -> list[Item]:
        """That the conversation is at its version, and its customer's open one."""
        stored = conversation_key(conversation.shop_id, conversation.conversation_id)
        pointer = open_pointer_key(conversation.shop_id, conversation.customer_address)
        checks: list[tuple[Attributes, str, Item]] = [
            (stored, "version = :version", {":version": conversation.version}),
            (pointer, "conversation_id = :id", {":id": conversation.conversation_id}),
        ]
        return [
            self._returning(
                {
                    "ConditionCheck": {
                        "TableName": self._table.name,
                        "Key": item_key,
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": to_attributes(values),
                    }
                }
            )
            for item_key, condition, values in checks
        ]

    @staticmethod
    def _returning(action: Item) -> Item:
        """A transaction item whose refusal carries the item as it was."""
        [(kind, request)] = action.items()
        return {kind: {**request, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}

    @staticmethod
    def _refused_item(error: ClientError, while_current: Conversation | None) -> Item:
        """The message as it was when noting its post was refused; raises
        ConversationChanged when the conversation's checks refused it."""
        if while_current is None:
            if not condition_failed(error):
                raise error
            return from_attributes(error.response.get("Item") or {})
        refused = cancelled_by_condition(error)
        if not any(refused):
            raise error
        reasons = error.response.get("CancellationReasons", [])
        if any(refused[1:]):
            stored = from_attributes(reasons[1].get("Item") or {})
            current = Conversation.model_validate(stored) if stored and not refused[2] else None
            raise ConversationChanged(current) from error
        return from_attributes(reasons[0].get("Item") or {})

    def mark_files_posted(self, message: InboundMessage) -> None:
        """Notes that the message's files followed it into its thread."""
        key = message_item_key(message.shop_id, message.message_key)
        self._table.set_if_stored(key, {"files_posted": True})

    def mark_opt_out_noted(self, message: InboundMessage) -> None:
        """Notes that the thread has the note of the customer's STOP or START."""
        key = message_item_key(message.shop_id, message.message_key)
        self._table.set_if_stored(key, {"opt_out_noted": True})

    def mark_files_shared(self, message: InboundMessage, shared: int, file_ids: list[str]) -> bool:
        """Notes, after each upload, how many of the message's files are in its thread (a
        retry shares only the rest) and the ids Slack gave them (its erasure deletes them).
        False (nothing written) when the message was erased meanwhile."""
        update = Update().set("files_shared", shared).append(SLACK_FILE_IDS, file_ids)
        return self._table.update_if_stored(
            message_item_key(message.shop_id, message.message_key), update
        )

    def note_post_about_message(
        self, shop_id: str, message_key: str, channel_id: str, ts: str
    ) -> bool:
        """Files a post of the bot about a customer message, besides the message's own post
        (a dead-letter note naming its sender), where the customer's erasure finds it.
        False (nothing written) when the message is not stored (erased)."""
        return self._table.append_post(message_item_key(shop_id, message_key), channel_id, ts)

    def due_for_requeue(self, now: datetime, limit: int = 100) -> list[InboundMessage]:
        """Unprocessed customer messages whose next requeue is due, in the order they
        arrived: the shards split a customer's messages, and they must go back to their
        FIFO group in order. At most `limit` a shard; when a shard has more, nothing due
        after its last is taken, so the most overdue go first. (Messages requeued in one
        run share a due time; at a shard's limit those are cut by key, not arrival.)"""
        found: list[tuple[str, InboundMessage]] = []
        bound: str | None = None
        for shard in range(UNPROCESSED_SHARDS):
            response = self._table.client.query(
                TableName=self._table.name,
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk AND GSI1SK < :now",
                ExpressionAttributeValues=to_attributes(
                    {":pk": f"UNPROCESSED#{shard}", ":now": now.astimezone(UTC).isoformat()}
                ),
                Limit=limit,
            )
            items = [from_attributes(item) for item in response.get("Items", [])]
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
        update = self._unprocessed_keys(unprocessed_keys(message, due=next_due))
        self._set_while_unprocessed(message, update.count("requeue_count"))

    def strand(self, message: InboundMessage) -> None:
        """Stops requeueing a message that stayed unprocessed too long; operators find it
        under STRANDED."""
        keys = unprocessed_keys(message, message.received_at, partition="STRANDED")
        self._set_while_unprocessed(message, self._unprocessed_keys(keys))

    @staticmethod
    def _unprocessed_keys(keys: Item) -> Update:
        return Update().set("GSI1PK", keys["GSI1PK"]).set("GSI1SK", keys["GSI1SK"])

    def _set_while_unprocessed(self, message: InboundMessage, update: Update) -> None:
        # A message processed meanwhile is on its timeline; it stays there.
        condition = f"{update.name('status')} = :received"
        self._table.update(
            message_item_key(message.shop_id, message.message_key),
            update,
            condition,
            {":received": InboundStatus.RECEIVED.value},
        )

    def discard_inbound(self, message: InboundMessage, reason: str) -> None:
        """Marks a stored message processed without a conversation (automated mail that
        answers nothing), and counts it; one erased meanwhile stays erased."""
        update = (
            Update()
            .set("status", InboundStatus.PROCESSED.value)
            .set("discarded", reason)
            .remove("GSI1PK")
            .remove("GSI1SK")
        )
        key = message_item_key(message.shop_id, message.message_key)
        if self._table.update_if_stored(key, update):
            self._counters.count(message.shop_id, reason)

    def stored_messages(self, shop_id: str, addresses: Iterable[str] | None = None) -> list[Item]:
        """Every stored customer message from `addresses` (None: from any customer of the
        shop), as stored now: the index finds them, the table is read for them, so one
        erased meanwhile is left out."""
        partition = {":pk": messages_partition(shop_id)}
        conditions = [("GSI2PK = :pk", partition)]
        if addresses is not None:
            conditions = [
                ("GSI2PK = :pk AND begins_with(GSI2SK, :prefix)", partition | {":prefix": prefix})
                for prefix in sorted({customer_digest(address) + "#" for address in addresses})
            ]
        keys: list[Attributes] = []
        paginator = self._table.client.get_paginator("query")
        for condition, values in conditions:
            pages = paginator.paginate(
                TableName=self._table.name,
                IndexName="GSI2",
                KeyConditionExpression=condition,
                ExpressionAttributeValues=to_attributes(values),
            )
            keys += [
                {"PK": item["PK"], "SK": item["SK"]}
                for page in pages
                for item in page.get("Items", [])
            ]
        return self._table.read_all(keys)

    def stored_message(self, shop_id: str, message_key: str) -> Item | None:
        """A customer message as stored, read consistently."""
        return self._table.get(message_item_key(shop_id, message_key))

    def erase_messages(self, items: list[Item]) -> int:
        """Deletes stored customer messages that no conversation's erasure covers (waiting,
        unprocessed, stranded, discarded) and the Message-ID pointer a processed one left,
        while it still names that message's conversation; returns how many went."""
        self._table.delete_all([stored_key(item) for item in items])
        for item in items:
            email = item.get("email")
            conversation_id = item.get("conversation_id")
            if not (isinstance(email, dict) and email.get("message_id") and conversation_id):
                continue
            self._table.delete_if(
                mail_pointer_key(str(item["shop_id"]), str(email["message_id"])),
                "conversation_id = :id",
                {":id": conversation_id},
            )
        return len(items)
