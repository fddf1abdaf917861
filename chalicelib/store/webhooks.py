"""Commerce platforms' webhooks acted on once: Shopify delivers a webhook again when it is
unsure of the first delivery, with the same `X-Shopify-Webhook-Id`."""

from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib.store._table import (
    DynamoDBClient,
    Table,
    condition_failed,
    to_attributes,
    webhook_key,
)

# Longer than Shopify keeps retrying a delivery (about 48 hours).
WEBHOOK_MEMORY = timedelta(days=7)


class WebhookClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_webhook(
        self, shop_id: str, webhook_id: str, now: datetime, remember: timedelta | None = None
    ) -> bool:
        """Claims acting on one delivery of the shop's platform; False when it was claimed
        already (a redelivery). The id is namespaced by the shop: another shop's platform
        may choose the same. Kept `remember` long (by default, past the platform's retries)."""
        values = {
            "received_at": now.isoformat(),
            "expires_at": int((now + (remember or WEBHOOK_MEMORY)).timestamp()),
        }
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                # The key hashes an id too long for it, never cuts it (`_table.key`).
                Item={**webhook_key(shop_id, webhook_id), **to_attributes(values)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def release_webhook(self, shop_id: str, webhook_id: str) -> None:
        """Gives a claim back when acting on the webhook failed, so the platform's retry is
        acted on."""
        self._table.client.delete_item(
            TableName=self._table.name, Key=webhook_key(shop_id, webhook_id)
        )
