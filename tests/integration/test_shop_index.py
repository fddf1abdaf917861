"""Shops are listed (the hourly digest, the admin listing) by a query of their own index
partition: what DynamoDB reads and returns grows with the shops, never with conversations
or messages. Shops stored before the index are filed under it by an upgrade step."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client
from typer.testing import CliRunner

from app import app
from chalicelib import bootstrap
from chalicelib.settings import TABLE_NAME
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.signing import CHANNEL_ID, form, shop_document, twilio_headers, twilio_message
from threadline_cli.cli import app as cli


@pytest.fixture
def shops(put_shop: Callable[..., Any]) -> list[str]:
    """Ana, with a daily digest at midnight, and bob, on numbers of his own."""
    assert put_shop("ana", shop_document(digest={"hour": 0})).status_code == 201
    bob = shop_document(name="Bob's Bikes", slack=None)
    bob["twilio"] = {**bob["twilio"], "sms_numbers": ["+14155550199"], "whatsapp_numbers": []}
    assert put_shop("bob", bob).status_code == 201
    return ["ana", "bob"]


@pytest.fixture
def busy(shops: list[str], client: Client, run_workers: Callable[[], int]) -> None:
    """Ana's table full of customers' conversations and messages."""
    path = "/webhooks/twilio/ana"
    for n in range(1, 30):
        params = twilio_message(n, From=f"+55119876{n:05d}")
        response = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        )
        assert response.status_code == 200
    run_workers()


@pytest.fixture
def dynamodb_reads(container: bootstrap.Container) -> list[tuple[str, int]]:
    """Each DynamoDB call the container makes, with how many items it returned."""
    calls: list[tuple[str, int]] = []

    def returned(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        items = len(parsed.get("Items", []))
        items += sum(len(found) for found in parsed.get("Responses", {}).values())
        calls.append((model.name, items))

    container.store.client.meta.events.register("after-call.dynamodb", returned)
    return calls


def table_size() -> int:
    return int(boto3.client("dynamodb").scan(TableName=TABLE_NAME, Select="COUNT")["Count"])


def test_listing_the_shops_reads_the_shops_alone(
    busy: None, container: bootstrap.Container, dynamodb_reads: list[tuple[str, int]]
) -> None:
    # Given a table of far more items than shops
    assert table_size() > 100
    # When the shops are listed
    listed = container.store.shops.shops()
    # Then both are, by a query of their partition and a read of their two configs: four
    # items returned in all, and no scan
    assert [shop.shop_id for shop in listed] == ["ana", "bob"]
    assert dynamodb_reads == [("Query", 2), ("BatchGetItem", 2)]


def test_the_hourly_digest_lists_the_shops_without_scanning(
    busy: None, container: bootstrap.Container, clock: Clock, slack: FakeSlack
) -> None:
    # Given a table a scan would cost the digest dearly
    def refuse_scans(**_: Any) -> None:
        raise AssertionError("the table was scanned")

    container.store.client.meta.events.register("before-call.dynamodb.Scan", refuse_scans)
    posted = len(slack.posts)
    # When the hourly schedule runs past ana's digest hour
    clock.now = datetime.now(UTC).replace(hour=5)
    app.handler_map["post_digests"](scheduled_event("post_digests"), None)
    # Then ana's digest is posted in her channel (bob has none)
    [digest] = slack.posts[posted:]
    assert digest.channel == CHANNEL_ID
    assert digest.message.blocks[0]["text"]["text"].startswith("Loja da Ana: ")


def test_shops_stored_before_the_index_are_filed_under_it_by_the_upgrade_step(
    shops: list[str], container: bootstrap.Container
) -> None:
    # Given shops stored before the index existed (no GSI2 keys)
    for shop_id in shops:
        boto3.client("dynamodb").update_item(
            TableName=TABLE_NAME,
            Key={"PK": {"S": f"SHOP#{shop_id}"}, "SK": {"S": "SHOP"}},
            UpdateExpression="REMOVE GSI2PK, GSI2SK",
        )
    assert container.store.shops.shops() == []
    # When the operator runs the upgrade step (twice: the second finds nothing to do)
    first = CliRunner().invoke(cli, ["index-shops"])
    second = CliRunner().invoke(cli, ["index-shops"])
    # Then both shops are listed again
    assert (first.exit_code, first.output) == (0, "Indexed 2 shops.\n")
    assert (second.exit_code, second.output) == (0, "Indexed 0 shops.\n")
    assert [shop.shop_id for shop in container.store.shops.shops()] == shops
