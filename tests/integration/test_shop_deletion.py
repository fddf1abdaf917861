"""A deleted shop leaves nothing its customers wrote, and a shop created again with its id
never receives what was meant for the one before: not what waited queued, in the dead-letter
queue or for the requeue, nor what a container still caching the old shop accepted."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.channels.base import MediaFile
from chalicelib.domain.messages import InboundMessage, ShopMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.settings import INBOUND_QUEUE, TABLE_NAME, dead_letter_queue
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, MEDIA_BUCKET, PUBLIC_URL, Clock, stored_item
from tests.integration.test_email import deliver, mime
from tests.signing import SMS_NUMBER, form, shop_document, twilio_headers, twilio_message

PHONE = "+5511987654321"
PHOTO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
SHOP_MAIL = "support@lojadaana.com.br"
NOW = datetime(2025, 11, 24, 17, 0, tzinfo=UTC)


def write(client: Client, n: int, **fields: str) -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(n, **fields)
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200, response.body


def table_dump() -> str:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=TABLE_NAME)
    return json.dumps([item for page in pages for item in page["Items"]], ensure_ascii=False)


def bucket_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


def queued_anywhere() -> int:
    """Messages in the inbound queue and its dead-letter queue, visible or not."""
    sqs = boto3.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    total = 0
    for queue in (INBOUND_QUEUE, dead_letter_queue(INBOUND_QUEUE)):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        total += sum(int(value) for value in attributes.values())
    return total


def every_path_to_the_workers(container: Any, run_workers: Callable[[], int]) -> None:
    """Whatever is queued, the dead letters redriven, and the requeue once all is due."""
    run_workers()
    container.queues.redrive(INBOUND_QUEUE)
    run_workers()
    container.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)
    run_workers()


@pytest.fixture
def deleted_with_waiting_messages(
    client: Client,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    twilio: RecordingTwilio,
) -> dict[str, Any]:
    """Shop `ana`, Slack never connected, deleted while its customers' messages wait: two
    in the dead-letter queue after their attempts, one still queued. Returns the answer."""
    assert put_shop("ana", shop_document(slack=None, email={"address": SHOP_MAIL})).status_code
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    write(client, 1, From=PHONE, Body="Meu CPF é 123", NumMedia="1", MediaUrl0=PHOTO_URL)
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    deliver(
        mime("Segue a nota", to=SHOP_MAIL, attachment=("nota.pdf", "application/pdf", b"%PDF")),
        to=SHOP_MAIL,
    )
    run_workers()
    write(client, 2, From=PHONE, Body="Alguém aí?")
    assert queued_anywhere() == 3
    response = client.http.delete("/admin/shops/ana", headers=ADMIN)
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


def test_deleting_a_shop_erases_its_customers_waiting_messages_and_their_files(
    deleted_with_waiting_messages: dict[str, Any],
) -> None:
    # Then the answer counts three messages, and the mail's attachment and raw copy
    assert deleted_with_waiting_messages == {
        "deleted": "ana",
        "messages": 3,
        "files": 2,
        "profiles": 0,
    }
    # And nothing they wrote is left in the table or the bucket
    dump = table_dump()
    for trace in (PHONE, "Meu CPF", "Segue a nota", "Alguém aí"):
        assert trace not in dump, trace
    assert bucket_keys() == []


def test_a_shop_created_again_with_the_same_id_receives_nothing_of_the_one_before(
    deleted_with_waiting_messages: dict[str, Any],
    client: Client,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    clock: Clock,
) -> None:
    # When a shop is created again with the same id, this time with Slack, and every way a
    # message reaches the workers runs
    document = shop_document(email={"address": SHOP_MAIL})
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    assert put_shop("ana", document).status_code == 201
    every_path_to_the_workers(container, run_workers)
    # Then nothing of the old shop's customers reaches the new shop
    assert slack.posts == []
    assert container.store.listings.recent_conversations("ana", 10) == []
    assert queued_anywhere() == 0
    # While the new shop's own customers reach it
    write(client, 3, From="+5511900000000", Body="Olá, loja nova!")
    run_workers()
    [root] = slack.roots()
    assert [post.message.text for post in slack.thread(root.ts)] == ["Olá, loja nova!"]


def old_shops_message(shop_incarnation: str | None, received_at: datetime) -> InboundMessage:
    return InboundMessage(
        shop_id="ana",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM" + "9" * 32,
        customer_address=PHONE,
        shop_address=SMS_NUMBER,
        text="Meu CPF é 123",
        received_at=received_at,
        shop_incarnation=shop_incarnation,
    )


def test_what_a_container_caching_the_deleted_shop_accepted_never_reaches_the_new_one(
    shop: str,
    put_shop: Callable[..., Any],
    client: Client,
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    clock: Clock,
) -> None:
    # Given shop ana deleted and created again with its id, while a warm container still
    # held the old shop's config: it stored and queued a message stamped with the old shop
    before = container.store.shops.get_shop("ana", fresh=True).incarnation
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    assert put_shop("ana").status_code == 201
    assert container.store.shops.get_shop("ana", fresh=True).incarnation not in (None, before)
    late = old_shops_message(before, datetime.now(UTC))
    container.store.inbound.save_inbound(late)
    container.queues.send_inbound(late)

    # When the workers and the requeue run
    every_path_to_the_workers(container, run_workers)

    # Then the new shop never sees it, and the requeue erased its stored copy
    assert slack.posts == []
    assert container.store.listings.recent_conversations("ana", 10) == []
    assert stored_item(f"SHOP#ana#MSG#{late.message_key}", "MESSAGE") is None


def test_a_deleted_shops_id_is_free_again_only_once_no_container_caches_the_shop(
    shop: str, put_shop: Callable[..., Any], client: Client, clock: Clock
) -> None:
    # Given shop ana deleted
    clock.now = NOW
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200
    # Then a shop with its id is refused for ten minutes (a container may still cache the
    # deleted one's config for a minute, and stamp what it accepts with it)...
    clock.now = NOW + timedelta(minutes=9)
    refused = put_shop("ana")
    assert refused.status_code == 409
    assert "2025-11-24T17:10:00+00:00" in json.loads(refused.body)["error"]
    # ... and accepted after
    clock.now = NOW + timedelta(minutes=10)
    assert put_shop("ana").status_code == 201


def test_a_shops_incarnation_stays_through_changes_and_is_never_shown(
    shop: str, put_shop: Callable[..., Any], client: Client, container: Any
) -> None:
    first = container.store.shops.get_shop("ana", fresh=True).incarnation
    assert first is not None
    shown = client.http.get("/admin/shops/ana", headers=ADMIN)
    assert "incarnation" not in json.loads(shown.body)
    # Sent back as shown, the shop keeps its incarnation
    again = client.http.put("/admin/shops/ana", headers=ADMIN, body=shown.body)
    assert again.status_code == 200, again.body
    assert container.store.shops.get_shop("ana", fresh=True).incarnation == first


def test_a_deleted_shops_customer_links_and_digests_go_with_it(
    shop: str,
    put_shop: Callable[..., Any],
    client: Client,
    container: Any,
    clock: Clock,
) -> None:
    # Given shop ana linked a customer's number and email (no conversation yet), and
    # recorded a day's digest
    linked = client.http.post(
        f"/admin/shops/ana/customers/{quote(PHONE)}/links",
        headers=ADMIN,
        body=json.dumps({"address": "ana.souza@gmail.com"}),
    )
    assert linked.status_code == 200, linked.body
    lease = container.store.digests.lease_digest(
        "ana", NOW.date(), "run-1", NOW, timedelta(minutes=5)
    )
    assert lease is not None
    container.store.digests.digest_done(lease, NOW)
    # When the shop is deleted
    deleted = client.http.delete("/admin/shops/ana", headers=ADMIN)
    assert json.loads(deleted.body)["profiles"] == 1
    # Then neither the profile, its identity pointers nor the digest record are left
    dump = table_dump()
    for trace in (PHONE, "ana.souza@gmail.com", "#DIGEST"):
        assert trace not in dump, trace
    # And a shop created again with its id knows no link between the two
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    assert put_shop("ana").status_code == 201
    assert container.store.profiles.customer_profile("ana", PHONE) is None


def test_a_shop_message_asked_of_the_deleted_shop_never_goes_out_from_the_new_one(
    shop: str,
    put_shop: Callable[..., Any],
    client: Client,
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
) -> None:
    # Given a message shop ana asked to send, still queued (a dead letter redriven, say)
    # when the shop is deleted and created again with its id
    before = container.store.shops.get_shop("ana", fresh=True).incarnation
    asked = ShopMessage(
        shop_id="ana",
        message_id="order-1042-shipped",
        channel=Channel.SMS,
        customer_address=PHONE,
        shop_address=SMS_NUMBER,
        text="Seu pedido 1042 saiu para entrega, Rua das Flores 12",
        requested_at=datetime.now(UTC),
        shop_incarnation=before,
    )
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    assert put_shop("ana").status_code == 201
    container.queues.send_inbound(asked)
    # When the workers run
    run_workers()
    # Then the new shop neither posts nor sends it
    assert slack.posts == []
    assert twilio.sent == []
    assert container.store.listings.recent_conversations("ana", 10) == []
