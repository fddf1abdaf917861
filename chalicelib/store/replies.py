"""Agents' replies: stored before they are sent, moved through their delivery, found by the
provider's id; the latest edit or deletion of each; the bot's own posts, made once."""

from datetime import datetime
from decimal import Decimal

from botocore.exceptions import ClientError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import (
    DeliveryAdvance,
    DeliveryStatus,
    OutboundMessage,
    ReplyRevision,
    delivery_rank,
)
from chalicelib.domain.shop import RETENTION_DAYS
from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    Update,
    cancelled_by_condition,
    condition_failed,
    conversation_key,
    expiry,
    from_attributes,
    message_item_key,
    model_values,
    post_key,
    provider_pointer_key,
    revision_key,
    revisions_partition,
    timeline_keys,
    timeline_partition,
    to_attributes,
)
from chalicelib.store.conversations import versioned_state


class Replies:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    # Edits and deletions -----------------------------------------------------------------

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
            thread = revisions_partition(revision.team_id, revision.channel_id, revision.thread_ts)
            values |= {"GSI1PK": thread, "GSI1SK": revision.ts}
        item = {
            **revision_key(revision.team_id, revision.channel_id, revision.ts),
            **to_attributes(values),
        }
        # A deletion always lands; an edit only over an older edit.
        only_newer: Item = {}
        if not revision.deleted:
            only_newer = {
                "ConditionExpression": "attribute_not_exists(PK) "
                "OR (deleted = :false AND revised_at < :at)",
                "ExpressionAttributeValues": to_attributes(
                    {":false": False, ":at": values["revised_at"]}
                ),
            }
        try:
            self._table.client.put_item(TableName=self._table.name, Item=item, **only_newer)
        except ClientError as error:
            if not condition_failed(error):
                raise

    def reply_revision(self, team_id: str, channel_id: str, ts: str) -> ReplyRevision | None:
        values = self._table.get(revision_key(team_id, channel_id, ts))
        return _revision(team_id, channel_id, ts, values) if values else None

    # The bot's posts -----------------------------------------------------------------------

    def bot_post(self, team_id: str, post_id: str) -> tuple[str, str] | None:
        """(ts, text) of the thread message a job (a canned response's modal, an automatic
        reply) was posted as, so a retried job posts nothing again."""
        values = self._table.get(post_key(team_id, post_id))
        return (str(values["ts"]), str(values["text"])) if values else None

    def record_bot_post(
        self, team_id: str, post_id: str, ts: str, text: str, *, expires_at: int | None = None
    ) -> None:
        self._table.client.put_item(
            TableName=self._table.name,
            Item={
                **post_key(team_id, post_id),
                **to_attributes({"ts": ts, "text": text, **expiry(expires_at)}),
            },
        )

    # Replies and their delivery ------------------------------------------------------------

    def claim_outbound(
        self, message: OutboundMessage, *, expires_at: int | None = None
    ) -> OutboundMessage | None:
        """Stores a reply before it is sent. Returns None when it is new, or the copy an
        earlier delivery of the same Slack message stored."""
        values = {
            **model_values(message),
            "status_rank": delivery_rank(message.status),
            **timeline_keys(
                message.shop_id, message.conversation_id, message.created_at, message.message_key
            ),
            **expiry(expires_at),
        }
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={
                    **message_item_key(message.shop_id, message.message_key),
                    **to_attributes(values),
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = error.response["Item"]
            return OutboundMessage.model_validate(from_attributes(stored))
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
        update = Update().set("status", status.value).set("status_rank", delivery_rank(status))
        for name, value in (
            ("provider_message_id", provider_message_id),
            ("error_code", error_code),
            ("error_reason", error_reason),
        ):
            if value:
                update.set(name, value)
        key = message_item_key(message.shop_id, message.message_key)
        condition, rank = "status_rank < :rank", {":rank": delivery_rank(status)}
        if not provider_message_id:
            return self._table.update(key, update, condition, rank)
        # A provider message belongs to one reply only.
        pointer = {
            **provider_pointer_key(message.shop_id, provider_message_id),
            **to_attributes({"message_key": message.message_key, **expiry(expires_at)}),
        }
        try:
            self._table.transact(
                [
                    self._table.update_action(key, update, condition, rank),
                    self._table.put_action(
                        pointer,
                        "attribute_not_exists(PK) OR message_key = :key",
                        {":key": message.message_key},
                    ),
                ]
            )
        except ClientError as error:
            update_failed, *pointer_failed = cancelled_by_condition(error)
            if any(pointer_failed):
                raise Retryable("that provider message belongs to another reply") from error
            if update_failed:
                return False
            raise
        return True

    def mark_shown(self, message: OutboundMessage) -> None:
        """Records that the agent's Slack message now shows the reply's status."""
        update = (
            Update()
            .set("shown_status", message.status.value)
            .set("shown_rank", delivery_rank(message.status))
        )
        self._table.update(
            message_item_key(message.shop_id, message.message_key),
            update,
            # An erased reply stays erased.
            "attribute_exists(PK) AND "
            "(attribute_not_exists(#shown_rank) OR #shown_rank < :shown_rank)",
        )

    def get_outbound(self, shop_id: str, message_key: str) -> OutboundMessage | None:
        stored = self._table.get(message_item_key(shop_id, message_key))
        return OutboundMessage.model_validate(stored) if stored else None

    def provider_id_taken(self, shop_id: str, provider_message_id: str) -> bool:
        return self._table.get(provider_pointer_key(shop_id, provider_message_id)) is not None

    def advance_by_provider_id(
        self,
        shop_id: str,
        provider_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
    ) -> DeliveryAdvance | None:
        """A provider's status callback: the reply its message belongs to moved forward and
        its display taken (see DeliveryAdvance), in one write that returns the reply as it
        was, so nothing is read again; when it already was as far or further, the reply as
        it is, display not taken. None when no reply claims the provider message (yet), or
        it was erased."""
        pointer = self._table.get(provider_pointer_key(shop_id, provider_message_id))
        if not pointer:
            return None
        rank = delivery_rank(status)
        update = Update().set("status", status.value).set("status_rank", rank)
        # What is shown never runs ahead of the status, so it is behind the new one.
        update.set("shown_status", status.value).set("shown_rank", rank)
        if error_code:
            update.set("error_code", error_code)
        request = update.request("attribute_exists(PK) AND status_rank < :rank", {":rank": rank})
        try:
            response = self._table.client.update_item(
                TableName=self._table.name,
                Key=message_item_key(shop_id, str(pointer["message_key"])),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request,
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = error.response.get("Item")  # type: ignore[typeddict-item]
            if not stored:
                return None
            return DeliveryAdvance(
                OutboundMessage.model_validate(from_attributes(stored)), display_taken=False
            )
        before = OutboundMessage.model_validate(from_attributes(response["Attributes"]))
        changed = {"status": status} | ({"error_code": error_code} if error_code else {})
        return DeliveryAdvance(before.model_copy(update=changed), display_taken=True)

    def give_back_display(self, advance: DeliveryAdvance) -> None:
        """Slack could not be brought up to a taken status: what is shown goes back to what
        Slack shows, unless another write moved it on meanwhile, so a retry shows it."""
        reply = advance.reply
        update = (
            Update()
            .set("shown_status", reply.shown_status.value)
            .set("shown_rank", delivery_rank(reply.shown_status))
        )
        self._table.update(
            message_item_key(reply.shop_id, reply.message_key),
            update,
            "attribute_exists(PK) AND shown_rank = :taken",
            {":taken": delivery_rank(reply.status)},
        )

    def replies_up_to(
        self, shop_id: str, conversation_id: str, up_to: datetime, limit: int
    ) -> list[OutboundMessage]:
        """The replies among a conversation's `limit` latest messages written by `up_to`,
        newest first: one query of one page, however long the conversation."""
        page = self._table.client.query(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK < :after",
            ExpressionAttributeValues=to_attributes(
                {
                    ":pk": timeline_partition(shop_id, conversation_id),
                    # "$" follows the "#" that ends a time in the sort key.
                    ":after": f"{up_to.isoformat()}$",
                }
            ),
            ScanIndexForward=False,
            Limit=limit,
        )
        items = map(from_attributes, page.get("Items", []))
        return [OutboundMessage.model_validate(i) for i in items if "agent_user_id" in i]

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
        """`advance_outbound` with the provider's id, and in the same transaction the
        conversation's state `saving` stored as `save_state` stores it (only over the
        version it was read at, expiring at `saving_expires_at`; its pointers are not
        touched). Returns whether the reply moved, and the conversation as stored (None
        when none was asked, or another write came first: the reply is then stored alone,
        and the caller changes the conversation as any writer would)."""
        if saving is None:
            moved = self.advance_outbound(
                message, status, provider_message_id=provider_message_id, expires_at=expires_at
            )
            return moved, None
        update = Update().set("status", status.value).set("status_rank", delivery_rank(status))
        update.set("provider_message_id", provider_message_id)
        pointer = {
            **provider_pointer_key(message.shop_id, provider_message_id),
            **to_attributes({"message_key": message.message_key, **expiry(expires_at)}),
        }
        try:
            self._table.transact(
                [
                    self._table.update_action(
                        message_item_key(message.shop_id, message.message_key),
                        update,
                        "status_rank < :rank",
                        {":rank": delivery_rank(status)},
                    ),
                    self._table.put_action(
                        pointer,
                        "attribute_not_exists(PK) OR message_key = :key",
                        {":key": message.message_key},
                    ),
                    self._table.update_action(*versioned_state(saving, saving_expires_at)),
                ]
            )
        except ClientError as error:
            update_failed, pointer_failed, conversation_failed = cancelled_by_condition(error)
            if pointer_failed:
                raise Retryable("that provider message belongs to another reply") from error
            if update_failed:
                return False, None
            if conversation_failed:
                moved = self.advance_outbound(
                    message, status, provider_message_id=provider_message_id, expires_at=expires_at
                )
                return moved, None
            raise
        return True, saving.model_copy(update={"version": saving.version + 1})

    def reply_reading(
        self,
        shop_id: str,
        conversation_id: str,
        message_key: str,
        revision_of: tuple[str, str, str] | None,
    ) -> tuple[Conversation | None, OutboundMessage | None, ReplyRevision | None]:
        """What the outbound worker reads of a reply, in one batch: its conversation, the
        reply as stored (if it was), and the latest revision of the thread message
        `revision_of` (team, channel, ts) when asked."""
        keys = {
            "conversation": conversation_key(shop_id, conversation_id),
            "outbound": message_item_key(shop_id, message_key),
        }
        if revision_of is not None:
            keys["revision"] = revision_key(*revision_of)
        found = {
            (str(item["PK"]), str(item["SK"])): item
            for item in self._table.read_all([*keys.values()])
        }
        items = {name: found.get((key["PK"]["S"], key["SK"]["S"])) for name, key in keys.items()}
        conversation, outbound, revision = (
            items["conversation"],
            items["outbound"],
            items.get("revision"),
        )
        return (
            Conversation.model_validate(conversation) if conversation else None,
            OutboundMessage.model_validate(outbound) if outbound else None,
            _revision(*revision_of, revision) if revision_of and revision else None,
        )


def _revision(team_id: str, channel_id: str, ts: str, values: Item) -> ReplyRevision:
    return ReplyRevision(
        team_id=team_id,
        channel_id=channel_id,
        ts=ts,
        text=None if values["deleted"] else str(values.get("text", "")),
        revised_ts=str(values["revised_at"]),
    )
