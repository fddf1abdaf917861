"""The Shopify stand-in's webhooks, as Shopify sends them: signed with the app's secret (what
Threadline's own check accepts), with Shopify's headers, the same webhook id on every retry
of a non-2xx answer, once per change (a refund replayed under its idempotency key sends
nothing more), and the sandbox's control routes that fulfil, track and cancel an order."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from chalicelib.commerce.shopify_refunds import ShopifyRefunds
from chalicelib.domain.order_updates import shopify_update
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import RefundLine, RefundPlan
from chalicelib.domain.shopify_webhooks import customer_addresses, signature_valid
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from local_stack.sandbox.shopify_contacts import order_contact
from local_stack.sandbox.shopify_webhooks import WebhookSubscription
from tests.unit.test_shopify_adapter import SECRETS, SHOP, STAND_IN_URL, TOKEN, InProcess

SECRET = "app-secret-ação"
DOMAIN = "loja-demo.myshopify.com"


@dataclass
class Receiver:
    """An HTTP endpoint answering the given statuses in turn (then 200), keeping each POST."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    kept = Receiver(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with kept.arrived:
                kept.received.append((dict(self.headers), body))
                status = kept.statuses.pop(0) if kept.statuses else 200
                kept.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield kept, f"http://127.0.0.1:{server.server_address[1]}/webhooks/shopify/demo"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stand_in(receiver: tuple[Receiver, str]) -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox(), retry_waits=(0.01, 0.01, 0.01))
    shopify.provision(TOKEN, demo_customers())
    shopify.subscribe(TOKEN, WebhookSubscription(receiver[1], SECRET, DOMAIN))
    return shopify


def test_a_fulfilment_is_sent_signed_with_shopifys_headers(stand_in, receiver):
    kept, _ = receiver
    stand_in.fulfil(TOKEN, "#1043", "BR555", "https://track.example/BR555", "Correios")
    [(headers, body)] = [
        (h, b) for h, b in kept.wait(2) if h["X-Shopify-Topic"] == "fulfillments/create"
    ]
    assert signature_valid(body, headers["X-Shopify-Hmac-Sha256"], SECRET)
    assert not signature_valid(body, headers["X-Shopify-Hmac-Sha256"], "another secret")
    assert headers["X-Shopify-Topic"] == "fulfillments/create"
    assert headers["X-Shopify-Shop-Domain"] == DOMAIN
    assert headers["X-Shopify-API-Version"] == "2026-07"
    assert headers["X-Shopify-Webhook-Id"]
    payload = json.loads(body)
    assert (payload["order_id"], payload["tracking_number"]) == (1043, "BR555")
    assert payload["tracking_url"] == "https://track.example/BR555"
    # And the order's own webhook follows, naming the customer as Threadline finds them
    [(_, order)] = [(h, b) for h, b in kept.wait(2) if h["X-Shopify-Topic"] == "orders/fulfilled"]
    assert "whatsapp:+5521998877665" in customer_addresses(json.loads(order))


def test_a_non_2xx_answer_is_retried_under_the_same_webhook_id_until_accepted(stand_in, receiver):
    kept, _ = receiver
    kept.statuses = [503, 500]
    stand_in.cancel(TOKEN, "#1043")
    received = kept.wait(3)
    assert len({headers["X-Shopify-Webhook-Id"] for headers, _ in received}) == 1
    assert len({body for _, body in received}) == 1
    stand_in._outbox.wait_for(lambda e: e.method == "webhook" and e.payload["status"] == 200)
    attempts = [e.payload for e in stand_in._own if e.method == "webhook"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 503), (2, 500), (3, 200)]


def test_retries_stop_after_a_few_attempts(stand_in, receiver):
    kept, _ = receiver
    kept.statuses = [500] * 10
    stand_in.cancel(TOKEN, "#1043")
    kept.wait(4)
    with kept.arrived:
        kept.arrived.wait_for(lambda: len(kept.received) > 4, timeout=0.3)
    assert len(kept.received) == 4
    [(headers, body)] = kept.received[:1]
    assert headers["X-Shopify-Topic"] == "orders/cancelled"
    assert json.loads(body)["cancelled_at"]


def test_a_refund_sends_refunds_create_once_even_when_replayed(stand_in, receiver):
    kept, _ = receiver
    desk = ShopifyRefunds(STAND_IN_URL)
    desk._session.mount(STAND_IN_URL, InProcess(stand_in))
    order = desk.refundable_order(SHOP, SECRETS, "1042")
    assert order is not None
    shirt = "gid://shopify/LineItem/10421"
    plan = RefundPlan(
        shop_id="acme",
        conversation_ref="acme:c1",
        order_number="1042",
        order_id=order.order_id,
        lines=(RefundLine(line_item_id=shirt, title="Camiseta básica", quantity=1),),
        amount=Money(amount=Decimal("64.95"), currency="BRL"),
        reason="arrived torn",
        notify_customer=True,
        requested_by="U0ALICE",
        submission_key="submission-1",
    )
    quote = desk.quote(SHOP, SECRETS, plan.order_id, [(shirt, 1)])
    desk.refund(SHOP, SECRETS, plan, quote)
    desk.refund(SHOP, SECRETS, plan, quote)
    kept.wait(2)
    with kept.arrived:
        kept.arrived.wait_for(lambda: len(kept.received) > 2, timeout=0.3)
    topics = sorted(headers["X-Shopify-Topic"] for headers, _ in kept.received)
    assert topics == ["orders/updated", "refunds/create"]
    [refund] = [json.loads(b) for h, b in kept.received if h["X-Shopify-Topic"] == "refunds/create"]
    assert refund["order_id"] == 1042
    assert refund["transactions"][0]["amount"] == "64.95"


def test_the_control_routes_fulfil_track_and_show_an_order(stand_in, receiver):
    kept, _ = receiver
    base = stand_in.start()
    try:
        headers = {"X-Shopify-Access-Token": TOKEN}
        fulfilled = requests.post(
            f"{base}/_sandbox/orders/1043/fulfil",
            json={"tracking_number": "BR777", "carrier": "Correios"},
            headers=headers,
            timeout=5,
        )
        assert fulfilled.status_code == 200
        assert fulfilled.json()["fulfillment_status"] == "FULFILLED"
        tracked = requests.post(
            f"{base}/_sandbox/orders/1043/events",
            json={"status": "out_for_delivery"},
            headers=headers,
            timeout=5,
        )
        assert tracked.json()["shipment_status"] == "OUT_FOR_DELIVERY"
        topics = [h["X-Shopify-Topic"] for h, _ in kept.wait(3)]
        assert sorted(topics) == [
            "fulfillment_events/create",
            "fulfillments/create",
            "orders/fulfilled",
        ]
        shown = requests.get(f"{base}/_sandbox/orders/1042", headers=headers, timeout=5)
        assert shown.json()["refunds"] == []
        # As strict as the API: a wrong token, an unknown order, a bad status are refused
        assert requests.get(f"{base}/_sandbox/orders/1042", timeout=5).status_code == 401
        unknown = requests.get(f"{base}/_sandbox/orders/9999", headers=headers, timeout=5)
        assert unknown.status_code == 404
        bad = requests.post(
            f"{base}/_sandbox/orders/1043/events",
            json={"status": "teleported"},
            headers=headers,
            timeout=5,
        )
        assert bad.status_code == 400
    finally:
        stand_in.stop()


def test_a_past_delivery_is_sent_again_on_demand_under_its_own_id_or_a_new_one(stand_in, receiver):
    kept, _ = receiver
    base = stand_in.start()
    try:
        headers = {"X-Shopify-Access-Token": TOKEN}
        stand_in.cancel(TOKEN, "#1043")
        [(first, body)] = kept.wait(1)
        webhook_id = first["X-Shopify-Webhook-Id"]
        route = f"{base}/_sandbox/webhooks/{webhook_id}/redeliver"

        again = requests.post(route, headers=headers, timeout=5)
        assert again.json() == {"webhook_id": webhook_id}
        fresh = requests.post(route, json={"same_id": False}, headers=headers, timeout=5)
        assert fresh.json()["webhook_id"] != webhook_id

        received = kept.wait(3)
        assert [b for _, b in received] == [body] * 3
        ids = [h["X-Shopify-Webhook-Id"] for h, _ in received]
        assert ids[:2] == [webhook_id, webhook_id]
        assert ids[2] == fresh.json()["webhook_id"]
        # Each signed as the first was
        assert all(signature_valid(b, h["X-Shopify-Hmac-Sha256"], SECRET) for h, b in received)
        # As strict as the other control routes
        assert requests.post(route, timeout=5).status_code == 401
        unknown = f"{base}/_sandbox/webhooks/no-such-id/redeliver"
        assert requests.post(unknown, headers=headers, timeout=5).status_code == 404
        bad = requests.post(route, json={"same_id": "yes"}, headers=headers, timeout=5)
        assert bad.status_code == 400
    finally:
        stand_in.stop()


def test_the_payloads_have_shopifys_shape_only_the_orders_name_the_customer(stand_in, receiver):
    kept, _ = receiver
    stand_in.fulfil(TOKEN, "#1043", "BR555", "https://track.example/BR555", "Correios")
    stand_in.add_event(TOKEN, "#1043", "delivered")
    payloads = {h["X-Shopify-Topic"]: json.loads(b) for h, b in kept.wait(3)}

    shipped = payloads["fulfillments/create"]
    assert shipped["order_id"] == 1043
    assert (shipped["tracking_company"], shipped["tracking_urls"]) == (
        "Correios",
        ["https://track.example/BR555"],
    )
    # A fulfilment names the order's email and a shipping address, not the customer's phone
    assert "phone" not in shipped
    assert customer_addresses(shipped) == ("bruno@example.com",)
    told = shopify_update("fulfillments/create", shipped)
    assert told is not None
    assert told.order_id == "1043"
    # A shipment's event names the order and the fulfilment (as the API names it too, so its
    # tracking link is found), never the customer
    event = payloads["fulfillment_events/create"]
    assert (event["order_id"], event["fulfillment_id"], event["status"]) == (
        1043,
        shipped["id"],
        "delivered",
    )
    store = stand_in._stores[TOKEN]
    asked = order_contact(store, {"id": "gid://shopify/Order/1043"})
    [shipment] = asked["order"]["fulfillments"]
    assert shipment["id"] == f"gid://shopify/Fulfillment/{event['fulfillment_id']}"
    assert customer_addresses(event) == ()
    tracked = shopify_update("fulfillment_events/create", event)
    assert tracked is not None
    assert tracked.incomplete
    # The order's own webhook names the customer's addresses
    assert "whatsapp:+5521998877665" in customer_addresses(payloads["orders/fulfilled"])


def test_a_refunds_payload_names_the_order_and_never_the_customer(stand_in, receiver):
    kept, _ = receiver
    desk = ShopifyRefunds(STAND_IN_URL)
    desk._session.mount(STAND_IN_URL, InProcess(stand_in))
    order = desk.refundable_order(SHOP, SECRETS, "1042")
    assert order is not None
    desk.refund(
        SHOP,
        SECRETS,
        RefundPlan(
            shop_id="acme",
            conversation_ref="acme:c1",
            order_number="1042",
            order_id=order.order_id,
            lines=(
                RefundLine(
                    line_item_id="gid://shopify/LineItem/10422", title="Jaqueta jeans", quantity=1
                ),
            ),
            amount=Money(amount=Decimal("130.00"), currency="BRL"),
            reason="no longer wanted",
            notify_customer=False,
            requested_by="U0ALICE",
            submission_key="submission-shape",
        ),
        desk.quote(SHOP, SECRETS, order.order_id, [("gid://shopify/LineItem/10422", 1)]),
    )
    [refund] = [json.loads(b) for h, b in kept.wait(2) if h["X-Shopify-Topic"] == "refunds/create"]
    assert refund["order_id"] == 1042
    assert refund["refund_line_items"][0]["line_item_id"] == 10422
    assert customer_addresses(refund) == ()
    update = shopify_update("refunds/create", refund)
    assert update is not None
    assert update.incomplete
