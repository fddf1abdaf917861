"""A shop's conversations as lists: the newest, a page of them, those of a period or of a
customer, and a conversation's timeline of messages."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.conversation import Conversation
from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    conversations_partition,
    from_attributes,
    timeline_partition,
    to_attributes,
)

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


class ConversationListings:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def recent_conversations(self, shop_id: str, limit: int) -> list[Conversation]:
        """A shop's conversations, newest first."""
        response = self._table.client.query(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_attributes({":pk": conversations_partition(shop_id)}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            Conversation.model_validate(from_attributes(item)) for item in response.get("Items", [])
        ]

    def conversations_page(
        self, shop_id: str, filters: dict[str, str], limit: int, after: Item | None
    ) -> tuple[list[Conversation], Item | None]:
        """One page of a shop's conversations, newest first, filtered by `status`,
        `channel`, `assignee` or `sla` (`running` or `overdue`); and where the next starts.
        A page may hold fewer than `limit` when filters skip some."""
        names: dict[str, str] = {}
        values: Item = {":pk": conversations_partition(shop_id)}
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
            "TableName": self._table.name,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": to_attributes(values),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if conditions:
            query["FilterExpression"] = " AND ".join(conditions)
        if names:
            query["ExpressionAttributeNames"] = names
        if after is not None:
            query["ExclusiveStartKey"] = to_attributes(after)
        response = self._table.client.query(**query)
        found = [Conversation.model_validate(from_attributes(i)) for i in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return found, (from_attributes(last) if last else None)

    def conversations_created(
        self, shop_id: str, start: datetime, end: datetime
    ) -> list[Conversation]:
        """A shop's conversations created in [start, end), oldest first, every page read."""
        items = self._table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK BETWEEN :start AND :end",
            ExpressionAttributeValues=to_attributes(
                {
                    ":pk": conversations_partition(shop_id),
                    ":start": start.astimezone(UTC).isoformat(),
                    ":end": end.astimezone(UTC).isoformat(),
                }
            ),
        )
        found = (Conversation.model_validate(item) for item in items)
        return [c for c in found if start <= c.created_at < end]

    def conversations_of(self, shop_id: str, addresses: tuple[str, ...]) -> list[Conversation]:
        """Every conversation a customer (any of their addresses) had with a shop, newest
        first: a read of the shop's whole index, for the admin's rare questions. Chosen
        here rather than by a filter: DynamoDB's IN takes 100 operands, a customer's
        addresses may be more, and a filter reads (and costs) the same items anyway."""
        wanted = set(addresses)
        items = self._table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_attributes({":pk": conversations_partition(shop_id)}),
            ScanIndexForward=False,
        )
        return [
            Conversation.model_validate(item)
            for item in items
            if item.get("customer_address") in wanted
        ]

    def timeline(self, shop_id: str, conversation_id: str) -> Iterator[Item]:
        """Every message of a conversation, oldest first (customer and agent alike)."""
        return self._table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_attributes(
                {":pk": timeline_partition(shop_id, conversation_id)}
            ),
        )
