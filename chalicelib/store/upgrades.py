"""The operator's steps after an upgrade: items stored before an index existed filed under
it (each a scan of the whole table, run once)."""

from chalicelib.domain.messages import InboundMessage
from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    Update,
    customer_index_keys,
    profile_index_keys,
    shop_index_keys,
    stored_key,
    to_attributes,
)


class Upgrades:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def index_customer_data(self) -> int:
        """Files the customer messages and profiles stored before GSI2 existed under it;
        returns how many."""
        found = self._table.scan(
            FilterExpression="((SK = :message AND attribute_exists(provider)) OR SK = :profile) "
            "AND attribute_not_exists(GSI2PK)",
            ExpressionAttributeValues=to_attributes({":message": "MESSAGE", ":profile": "PROFILE"}),
        )
        indexed = 0
        for item in found:
            if item["SK"] == "PROFILE":
                keys = profile_index_keys(str(item["shop_id"]), str(item["customer_id"]))
            else:
                keys = customer_index_keys(InboundMessage.model_validate(item))
            indexed += self._file_under_gsi2(item, keys)
        return indexed

    def index_shops(self) -> int:
        """Files the shops stored before the SHOPS partition existed under it; returns how
        many."""
        found = self._table.scan(
            FilterExpression="SK = :shop AND begins_with(PK, :prefix) "
            "AND attribute_not_exists(GSI2PK)",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=to_attributes({":shop": "SHOP", ":prefix": "SHOP#"}),
        )
        indexed = 0
        for item in found:
            keys = shop_index_keys(str(item["PK"]).removeprefix("SHOP#"))
            indexed += self._file_under_gsi2(item, keys)
        return indexed

    def _file_under_gsi2(self, item: Item, keys: Item) -> bool:
        """Gives a stored item its GSI2 keys; False when it was erased or deleted meanwhile
        (an update must not bring part of it back)."""
        update = Update().set("GSI2PK", keys["GSI2PK"]).set("GSI2SK", keys["GSI2SK"])
        return self._table.update_if_stored(stored_key(item), update)
