"""Slack installations (what a workspace granted, tokens left out) and the states of an
"Add to Slack" in progress."""

from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    condition_failed,
    from_attributes,
    installation_key,
    oauth_state_key,
    to_attributes,
)


class Installations:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def issue_oauth_state(self, state: str, shop_id: str, expires_at: datetime) -> None:
        self._table.client.put_item(
            TableName=self._table.name,
            Item={
                **oauth_state_key(state),
                **to_attributes({"shop_id": shop_id, "expires_at": int(expires_at.timestamp())}),
            },
            ConditionExpression="attribute_not_exists(PK)",
        )

    def consume_oauth_state(self, state: str, now: datetime) -> str | None:
        """The shop an unexpired state was issued for; a state is good for one use only."""
        try:
            response = self._table.client.delete_item(
                TableName=self._table.name,
                Key=oauth_state_key(state),
                ConditionExpression="attribute_exists(PK) AND expires_at > :now",
                ExpressionAttributeValues=to_attributes({":now": int(now.timestamp())}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return str(from_attributes(response["Attributes"])["shop_id"])

    def put_installation(self, values: Item) -> None:
        """A workspace's installation as Slack granted it, tokens left out (they are secrets)."""
        key = installation_key(values.get("enterprise_id"), str(values["team_id"]))
        self._table.client.put_item(
            TableName=self._table.name,
            Item={**key, **to_attributes({k: v for k, v in values.items() if v is not None})},
        )

    def get_installation(self, enterprise_id: str | None, team_id: str) -> Item | None:
        item = self._table.get(installation_key(enterprise_id, team_id))
        if not item:
            return None
        return {k: v for k, v in item.items() if k not in ("PK", "SK")}

    def delete_installation(self, enterprise_id: str | None, team_id: str) -> None:
        self._table.client.delete_item(
            TableName=self._table.name, Key=installation_key(enterprise_id, team_id)
        )
