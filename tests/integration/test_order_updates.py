"""Order updates sent first: a signed Shopify webhook about a customer Threadline knows tells
them once, on the channel they last wrote on, in their language, with the tracking link,
posted in their thread marked automatic; a customer who wrote STOP is told nothing until
they write START; a customer Threadline does not know is acknowledged and not written to."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.order_updates import OrderContact
from chalicelib.services.ports import Metric
from chalicelib.settings import Settings
from tests.fakes import (
    FakeMetrics,
    FakeOrderContacts,
    FakeOrderDirectory,
    FakeSlack,
    RecordingTwilio,
)
from tests.integration import test_commerce
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock, stored_item
from tests.integration.test_commerce import SHOPIFY, shopify_webhook
from tests.integration.test_woocommerce import WOOCOMMERCE, woocommerce_webhook
from tests.signing import WHATSAPP_NUMBER, form, shop_document, twilio_headers, twilio_message

directory = test_commerce.directory
CUSTOMER = "+5511987654321"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRACKING = "https://rastreio.example/BR987654321"
FULFILMENT = {
    "id": 5501,
    "order_id": 1042000,
    "name": "#1042.1",
    "status": "success",
    "email": None,
    "destination": {"phone": CUSTOMER},
    "phone": CUSTOMER,
    "tracking_company": "Correios",
    "tracking_number": "BR987654321",
    "tracking_url": TRACKING,
}


class WorkerMetrics(FakeMetrics):
    """What the services count, kept for the test; the workers flush after each batch."""

    def flush(self) -> None:
        return None


@pytest.fixture
def metrics() -> FakeMetrics:
    return WorkerMetrics()


@pytest.fixture
def contacts() -> FakeOrderContacts:
    # Shopify's answer about Ana's order #1042, asked by its id.
    ana = ("+5511987654321", "whatsapp:+5511987654321", "wa:+5511987654321")
    return FakeOrderContacts({"1042000": OrderContact("#1042", ana, {"5501": TRACKING})})


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    directory: FakeOrderDirectory,
    metrics: FakeMetrics,
    contacts: FakeOrderContacts,
) -> Iterator[bootstrap.Container]:
    built = bootstrap.Container(
        settings, twilio=twilio, slack=slack.workspace, clock=clock, orders=directory
    )
    # What the services count, seen by the tests (cached_property keeps the first value).
    built.__dict__["metrics"] = metrics
    built.__dict__["order_contacts"] = contacts
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def shop(put_shop: Callable[..., Any]) -> str:
    document = shop_document(commerce=SHOPIFY, order_updates={"send_updates": True})
    response = put_shop("ana", document)
    assert response.status_code == 201, response.body
    return "ana"


def customer_writes_on_whatsapp(client: Client, n: int, body: str) -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(
        n, Body=body, From=f"whatsapp:{CUSTOMER}", To=f"whatsapp:{WHATSAPP_NUMBER}"
    )
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200


def thread_posts(slack: FakeSlack) -> list[str]:
    [root] = slack.roots()
    return [json.dumps(post.message.blocks, ensure_ascii=False) for post in slack.thread(root.ts)]


def updates_sent(twilio: RecordingTwilio) -> list[str]:
    return [sent.text for sent in twilio.sent if "#1042" in sent.text]


def test_a_fulfilment_reaches_the_customer_once_on_their_channel_in_their_language(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, metrics: FakeMetrics
):
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()

    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()

    [sent] = [s for s in twilio.sent if "#1042" in s.text]
    assert sent.to == f"whatsapp:{CUSTOMER}"
    assert sent.text == f"Boa notícia: seu pedido #1042 foi enviado.\nAcompanhe aqui: {TRACKING}"
    [post] = [p for p in thread_posts(slack) if "foi enviado" in p]
    assert "Automatic reply (order update:fulfilment created, pt)" in post
    assert (Metric.ORDER_UPDATE_QUEUED.value, "whatsapp") in metrics.counted

    # The same webhook delivered again, and the same event under another delivery id: once.
    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-2").status_code == 200
    run_workers()
    assert len(updates_sent(twilio)) == 1

    # Its later event is another update: Shopify's event names the order, not its customer,
    # who is asked of Shopify by the order's id.
    delivered = {"id": 8801, "fulfillment_id": 5501, "order_id": 1042000, "status": "delivered"}
    assert shopify_webhook(client, "fulfillment_events/create", delivered, "w-3").status_code == 200
    run_workers()
    assert twilio.sent[-1].text == f"Seu pedido #1042 foi entregue.\nAcompanhe aqui: {TRACKING}"


def test_a_refund_names_no_customer_and_is_told_to_the_one_shopify_says_placed_it(
    client, shop, run_workers, twilio: RecordingTwilio, contacts: FakeOrderContacts
):
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()

    refund = {"id": 9901, "order_id": 1042000, "note": "arrived torn"}
    assert shopify_webhook(client, "refunds/create", refund, "w-1").status_code == 200
    run_workers()
    assert twilio.sent[-1].text == "Reembolsamos seu pedido #1042."

    # A refund of an order Shopify no longer has: acknowledged, nobody written to.
    gone = {"id": 9902, "order_id": 5550000}
    assert shopify_webhook(client, "refunds/create", gone, "w-2").status_code == 200
    run_workers()
    assert contacts.asked == ["1042000", "5550000"]
    assert len(twilio.sent) == 1


def test_an_opted_out_customer_gets_no_update_until_they_write_start(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, metrics: FakeMetrics
):
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    customer_writes_on_whatsapp(client, 2, "PARAR")
    run_workers()

    [confirmation] = twilio.sent
    assert confirmation.text.startswith("Você não receberá mais atualizações de pedidos")
    assert "INICIAR" in confirmation.text
    assert any("asked to stop order updates" in p for p in thread_posts(slack))

    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()
    assert updates_sent(twilio) == []
    assert (Metric.ORDER_UPDATE_OPTED_OUT.value, None) in metrics.counted

    # A word two languages share is answered in the conversation's.
    customer_writes_on_whatsapp(client, 3, "Iniciar")
    run_workers()
    assert "Responda PARAR" in twilio.sent[-1].text
    assert (
        shopify_webhook(
            client, "fulfillments/create", {**FULFILMENT, "id": 5502}, "w-2"
        ).status_code
        == 200
    )
    run_workers()
    assert len(updates_sent(twilio)) == 1


def test_a_stop_on_sms_is_recorded_and_left_to_twilio_to_confirm(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Twilio's Advanced Opt-Out answers STOP on SMS itself: Threadline records it only.
    test_commerce.customer_writes(client, 1, "STOP")
    run_workers()

    assert twilio.sent == []
    assert any("Twilio confirmed it to them" in p for p in thread_posts(slack))
    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()
    assert updates_sent(twilio) == []


def test_an_update_about_a_customer_threadline_does_not_know_is_acknowledged_and_not_sent(
    client, shop, run_workers, twilio: RecordingTwilio, metrics: FakeMetrics
):
    stranger = {**FULFILMENT, "phone": "+5521998877665", "destination": {}}

    assert shopify_webhook(client, "fulfillments/create", stranger, "w-1").status_code == 200
    run_workers()

    assert twilio.sent == []
    assert (Metric.ORDER_UPDATE_UNKNOWN_CUSTOMER.value, None) in metrics.counted


def test_a_shop_that_does_not_send_updates_sends_none(
    client, put_shop, run_workers, twilio: RecordingTwilio
):
    assert put_shop("ana", shop_document(commerce=SHOPIFY)).status_code == 201
    customer_writes_on_whatsapp(client, 1, "Oi!")
    run_workers()

    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()
    assert updates_sent(twilio) == []


def test_a_woocommerce_order_completed_is_told_once_however_often_it_is_updated(
    client, put_shop, run_workers, twilio: RecordingTwilio
):
    document = shop_document(commerce=WOOCOMMERCE, order_updates={"send_updates": True})
    assert put_shop("ana", document).status_code == 201
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()
    completed = {
        "id": 2042,
        "number": "2042",
        "status": "completed",
        "billing": {"phone": CUSTOMER},
    }

    assert woocommerce_webhook(client, completed, "d-1").status_code == 200
    # The store's later change of something else: another delivery, the same status.
    assert woocommerce_webhook(client, completed, "d-2").status_code == 200
    run_workers()

    assert [s.text for s in twilio.sent if "#2042" in s.text] == [
        "Boa notícia: seu pedido #2042 foi enviado."
    ]


def test_a_customers_erasure_and_the_shops_deletion_take_their_stop_with_them(
    client, shop, run_workers
):
    customer_writes_on_whatsapp(client, 1, "STOP")
    run_workers()
    assert stored_item(f"SHOP#ana#OPTOUT#{CUSTOMER}", "OPTOUT") is not None

    erased = client.http.delete(f"/admin/shops/ana/customers/{quote(CUSTOMER)}", headers=ADMIN)
    assert erased.status_code == 200
    assert stored_item(f"SHOP#ana#OPTOUT#{CUSTOMER}", "OPTOUT") is None

    # A STOP left behind by a customer with nothing else stored goes with the shop.
    bootstrap.container().store.opt_outs.record_opt_out("ana", "ana@example.com", NOW)
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200
    assert stored_item("SHOP#ana#OPTOUT#ana@example.com", "OPTOUT") is None


def test_a_shopify_store_the_shop_left_tells_its_customers_nothing(
    client, shop, put_shop, run_workers, twilio: RecordingTwilio
):
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()
    # The shop moves to WooCommerce; Shopify's webhook secret stays stored (left out, kept),
    # and the old store's app still delivers.
    moved = shop_document(commerce=WOOCOMMERCE, order_updates={"send_updates": True})
    assert put_shop("ana", moved).status_code == 200

    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()
    assert updates_sent(twilio) == []
