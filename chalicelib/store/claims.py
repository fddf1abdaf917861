"""Work done once, claimed first: a dead letter told in Slack, a shop message filed under
the id its caller gave it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib.store._table import (
    DynamoDBClient,
    Table,
    condition_failed,
    dead_letter_key,
    from_attributes,
    shop_message_key,
    to_attributes,
)

DEAD_LETTER_MEMORY = timedelta(days=30)


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


class DeadLetterClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_dead_letter(self, message_id: str, now: datetime) -> bool:
        """Claims the telling of one dead letter; False when it was told (or is being told)
        already. Kept 30 days, longer than a dead-letter queue keeps a message (14)."""
        told = {
            "told_at": now.isoformat(),
            "expires_at": int((now + DEAD_LETTER_MEMORY).timestamp()),
        }
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={**dead_letter_key(message_id), **to_attributes(told)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def release_dead_letter(self, message_id: str) -> None:
        self._table.client.delete_item(TableName=self._table.name, Key=dead_letter_key(message_id))


class ShopMessageClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_shop_message(
        self, claim: ShopMessageClaim, *, now: datetime, expires_at: int
    ) -> ShopMessageClaim:
        """Files a shop message under the caller's id, unless the shop used that id already:
        then the claim filed first, for the caller to compare with its own. A claim past its
        expiry (DynamoDB's TTL deletes it days later), or filed by a shop deleted since whose
        id this one took, is no claim: it is replaced."""
        values = {
            "request_id": claim.request_id,
            "fingerprint": claim.fingerprint,
            "queued": False,
            "incarnation": claim.incarnation or "",
            "expires_at": expires_at,
        }
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={**shop_message_key(claim.shop_id, claim.caller_id), **to_attributes(values)},
                ConditionExpression=(
                    "attribute_not_exists(PK) OR expires_at <= :now OR incarnation <> :incarnation"
                ),
                ExpressionAttributeValues=to_attributes(
                    {":now": int(now.timestamp()), ":incarnation": claim.incarnation or ""}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            filed = from_attributes(error.response["Item"])
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
        key = shop_message_key(claim.shop_id, claim.caller_id)
        self._table.set_if_stored(key, {"queued": True})
