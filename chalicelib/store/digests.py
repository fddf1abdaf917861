"""Daily digests: each day's item is a run's lease and the record of its progress."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    condition_failed,
    digest_key,
    digests_partition,
    from_attributes,
    to_attributes,
)

DIGEST_RECORD_LIFETIME = timedelta(days=40)


@dataclass(frozen=True)
class DigestLease:
    """A run's hold on one day's digest: `posted_ts` when an earlier run already posted
    it (only the chart is missing)."""

    shop_id: str
    day: date
    token: str
    posted_ts: str | None


class Digests:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def lease_digest(
        self, shop_id: str, day: date, token: str, now: datetime, lease: timedelta
    ) -> DigestLease | None:
        """Takes the day's digest for one run; None when it is done, or another run holds it."""
        try:
            response = self._table.client.update_item(
                TableName=self._table.name,
                Key=digest_key(shop_id, day),
                UpdateExpression="SET lease_token = :token, lease_until = :until, "
                "expires_at = :expires",
                ConditionExpression="attribute_not_exists(PK) "
                "OR (attribute_not_exists(done_at) AND lease_until < :now)",
                ExpressionAttributeValues=to_attributes(
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
            if condition_failed(error):
                return None
            raise
        values = from_attributes(response["Attributes"])
        posted = values.get("posted_ts")
        return DigestLease(shop_id, day, token, str(posted) if posted else None)

    def _advance_digest(self, lease: DigestLease, update: str, values: Item) -> None:
        """Changes a digest this run still holds (a run slower than its lease has lost it)."""
        self._table.client.update_item(
            TableName=self._table.name,
            Key=digest_key(lease.shop_id, lease.day),
            UpdateExpression=update,
            ConditionExpression="lease_token = :token",
            ExpressionAttributeValues=to_attributes({":token": lease.token, **values}),
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
            if not condition_failed(error):
                raise

    def erase_digests(self, shop_id: str) -> None:
        """Deletes a shop's daily digest records (a shop created again with its id starts
        its digests afresh)."""
        pages = self._table.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ProjectionExpression="PK, SK",
            ExpressionAttributeValues=to_attributes({":pk": digests_partition(shop_id)}),
        )
        self._table.delete_all([item for page in pages for item in page.get("Items", [])])
