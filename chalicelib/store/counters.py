"""A shop's counters: mail quarantined or dropped, by reason."""

from chalicelib.store._table import DynamoDBClient, Table, counters_key, to_attributes


class Counters:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def count(self, shop_id: str, name: str) -> None:
        """Adds one to a shop's counter (quarantined spam, discarded automated mail, ...)."""
        self._table.client.update_item(
            TableName=self._table.name,
            Key=counters_key(shop_id),
            UpdateExpression="ADD #name :one",
            ExpressionAttributeNames={"#name": name},
            ExpressionAttributeValues=to_attributes({":one": 1}),
        )

    def counters(self, shop_id: str) -> dict[str, int]:
        values = self._table.get(counters_key(shop_id)) or {}
        return {k: int(v) for k, v in values.items() if k not in ("PK", "SK")}
