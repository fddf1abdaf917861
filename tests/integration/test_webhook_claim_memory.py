"""A claim is kept as long as asked: DynamoDB's expiry of a WooCommerce status told is the
order's talked-about lifetime, of a Shopify delivery the days Shopify redelivers."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.settings import TABLE_NAME
from chalicelib.store._table import webhook_key
from chalicelib.store.webhooks import WEBHOOK_MEMORY

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def expires_at(client: Any, webhook_id: str) -> int:
    item = client.get_item(TableName=TABLE_NAME, Key=webhook_key("ana", webhook_id))["Item"]
    return int(item["expires_at"]["N"])


def test_a_claim_expires_when_asked_else_after_the_platforms_retries(aws: None) -> None:
    client = boto3.client("dynamodb")
    claims = Repositories(client, TABLE_NAME, shop_cache_seconds=0).webhook_claims

    assert claims.claim_webhook("ana", "w-1", NOW)
    assert claims.claim_webhook("ana", "update:woocommerce:7:delivered", NOW, timedelta(days=400))

    assert expires_at(client, "w-1") == int((NOW + WEBHOOK_MEMORY).timestamp())
    assert expires_at(client, "update:woocommerce:7:delivered") == int(
        (NOW + timedelta(days=400)).timestamp()
    )
