"""Shops: their configs, the inbound addresses they claim, the record of a deletion."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.parameters.base import BaseProvider
from botocore.exceptions import ClientError

from chalicelib.documents import ValidatedDocuments
from chalicelib.domain.errors import Conflict
from chalicelib.domain.shop import Shop
from chalicelib.store._table import (
    SHOPS_PARTITION,
    DynamoDBClient,
    Item,
    Table,
    address_key,
    cancelled_by_condition,
    counters_key,
    deleted_shop_key,
    from_attributes,
    shop_index_keys,
    shop_key,
    team_partition,
    to_attributes,
)

# An address claim is written or released only by the shop that owns it.
_OWNED = "attribute_not_exists(PK) OR shop_id = :shop"


class ShopConfigProvider(BaseProvider):
    """Shop configs through powertools Parameters, so a warm Lambda reads each shop once per
    `max_age` instead of on every webhook."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        # Not handed to powertools, which would touch it now to tag its user agent: the
        # client may be one made on first use (bootstrap.ClientOnFirstUse).
        super().__init__()  # type: ignore[no-untyped-call]
        self._client = client
        self._table_name = table_name

    def _get(self, name: str, **sdk_options: Any) -> str:
        response = self._client.get_item(
            TableName=self._table_name, Key=shop_key(name), ConsistentRead=True
        )
        item = response.get("Item")
        # "null" transforms to None, which powertools does not cache: unknown shops stay unknown
        # only until they are created.
        return str(from_attributes(item)["config"]) if item else "null"

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError("shop configs are read one by one")


class Shops:
    def __init__(self, client: DynamoDBClient, table_name: str, cache_seconds: int) -> None:
        self._table = Table(client, table_name)
        self._cache_seconds = cache_seconds
        self._configs = ShopConfigProvider(client, table_name)
        self._shops = ValidatedDocuments(Shop)

    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None:
        config = self._configs.get(
            shop_id, max_age=self._cache_seconds, transform="json", force_fetch=fresh
        )
        return self._shops(shop_id, config) if config else None

    def put_shop(self, shop: Shop, previous: Shop | None) -> None:
        """Stores the shop and claims its inbound addresses, atomically; an address that
        another shop already owns is a Conflict."""
        claimed = sorted(shop.inbound_addresses())
        released = sorted(previous.inbound_addresses() - set(claimed)) if previous else []
        owner = shop.shop_id
        team = (
            {"GSI1PK": team_partition(shop.slack.team_id), "GSI1SK": shop.shop_id}
            if shop.slack
            else {}
        )
        config = {"config": shop.model_dump_json()} | shop_index_keys(shop.shop_id) | team
        actions = [self._table.put_action({**shop_key(shop.shop_id), **to_attributes(config)})]
        actions += [
            self._table.put_action(
                {**address_key(a), **to_attributes({"shop_id": owner})}, _OWNED, {":shop": owner}
            )
            for a in claimed
        ]
        actions += [
            self._table.delete_action(address_key(a), _OWNED, {":shop": owner}) for a in released
        ]
        try:
            self._table.transact(actions)
        except ClientError as error:
            failed = cancelled_by_condition(error)
            taken = [a for a, bad in zip(claimed, failed[1:], strict=False) if bad]
            raise Conflict(f"already used by another shop: {', '.join(taken)}") from error
        self._configs.clear_cache()  # type: ignore[no-untyped-call]

    def delete_shop(self, shop: Shop, now: datetime, recreate_after: timedelta) -> None:
        """Removes a shop's configuration, its counters and its claims on addresses, at once
        (its conversations are erased before, customer by customer), leaving a record of the
        deletion that keeps its id from being used again before `recreate_after`."""
        until = int((now + recreate_after).timestamp())
        record = {"deleted_at": now.isoformat(), "until": until, "expires_at": until}
        actions = [
            self._table.delete_action(shop_key(shop.shop_id)),
            self._table.put_action({**deleted_shop_key(shop.shop_id), **to_attributes(record)}),
            self._table.delete_action(counters_key(shop.shop_id)),
        ]
        actions += [
            self._table.delete_action(address_key(address), _OWNED, {":shop": shop.shop_id})
            for address in sorted(shop.inbound_addresses())
        ]
        self._table.transact(actions)
        self._configs.clear_cache()  # type: ignore[no-untyped-call]

    def shop_deleted_until(self, shop_id: str, now: datetime) -> datetime | None:
        """Until when a shop deleted a moment ago keeps its id from being used again; None
        when it may be (TTL deletes the record some time after)."""
        record = self._table.get(deleted_shop_key(shop_id))
        until = int(record["until"]) if record else 0
        return datetime.fromtimestamp(until, UTC) if until > now.timestamp() else None

    def shops(self) -> list[Shop]:
        """Every shop: the SHOPS partition of GSI2 (keys only), then the configs it names
        (read consistently; a shop deleted in between is left out)."""
        keys = self._table.keys_in("GSI2", "GSI2PK", SHOPS_PARTITION)
        configs = self._table.read_all(keys)
        found = [Shop.model_validate_json(str(item["config"])) for item in configs]
        return sorted(found, key=lambda shop: shop.shop_id)

    def shops_of_team(self, team_id: str) -> list[Shop]:
        """The shops whose conversations live in a Slack workspace."""
        response = self._table.client.query(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_attributes({":pk": team_partition(team_id)}),
        )
        return [
            Shop.model_validate_json(str(from_attributes(item)["config"]))
            for item in response.get("Items", [])
        ]

    def addresses_taken(self, shop: Shop) -> list[str]:
        """Inbound addresses of this shop that another shop already owns."""
        addresses = sorted(shop.inbound_addresses())
        if not addresses:
            return []
        owners: list[Item] = self._table.read_all([address_key(a) for a in addresses])
        return sorted(
            str(owner["PK"]).removeprefix("ADDRESS#")
            for owner in owners
            if owner["shop_id"] != shop.shop_id
        )

    def shop_for_address(self, address: str) -> str | None:
        """The shop that receives at an address (a number, or an email address)."""
        response = self._table.client.get_item(TableName=self._table.name, Key=address_key(address))
        item = response.get("Item")
        return str(from_attributes(item)["shop_id"]) if item else None
