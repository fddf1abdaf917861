"""Customers' STOP for order updates, each kept under the person-address it came from (a
phone number stands for its WhatsApp twins, as profiles' identities do), with when."""

from datetime import datetime

from chalicelib.domain.customers import identity
from chalicelib.store._table import (
    DynamoDBClient,
    Table,
    opt_out_key,
    opt_outs_partition,
    to_attributes,
)


class OptOuts:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def record_opt_out(self, shop_id: str, address: str, at: datetime) -> None:
        person = identity(address)
        # Filed under the shop in GSI2 too, so the shop's deletion finds every one.
        values = {"opted_out_at": at.isoformat(), "GSI2PK": opt_outs_partition(shop_id)}
        self._table.client.put_item(
            TableName=self._table.name,
            Item={
                **opt_out_key(shop_id, person),
                **to_attributes({**values, "GSI2SK": person}),
            },
        )

    def record_opt_in(self, shop_id: str, address: str) -> None:
        self._table.client.delete_item(
            TableName=self._table.name, Key=opt_out_key(shop_id, identity(address))
        )

    def opted_out_at(self, shop_id: str, addresses: tuple[str, ...]) -> datetime | None:
        """When the customer behind these addresses asked to stop, from any of them; None
        when they did not (or asked to start again since)."""
        for person in dict.fromkeys(identity(address) for address in addresses):
            item = self._table.get(opt_out_key(shop_id, person))
            if item is not None:
                return datetime.fromisoformat(str(item["opted_out_at"]))
        return None

    def erase_opt_outs(self, shop_id: str) -> int:
        """Deletes every STOP a deleted shop's customers sent; returns how many."""
        keys = self._table.keys_in("GSI2", "GSI2PK", opt_outs_partition(shop_id))
        self._table.delete_all(keys)
        return len(keys)
