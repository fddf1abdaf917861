"""The WooCommerce stand-in's webhooks, as WooCommerce sends them: created through the REST
API (the unsigned ping first), then each order change signed with the webhook's secret (what
Threadline's own check accepts) with WooCommerce's headers, never retried, and the webhook
disabled after five failures in a row."""

import base64
import json
from collections.abc import Iterator

import pytest
import requests

from chalicelib.domain.shopify_webhooks import signature_valid
from chalicelib.domain.woocommerce_webhooks import is_ping, order_addresses
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.woocommerce import API_ROOT, WooCommerceStandIn, demo_customers
from tests.integration import test_shopify_stand_in_webhooks

# An endpoint that answers the statuses it is given, keeping each POST.
receiver = test_shopify_stand_in_webhooks.receiver
KEY, SECRET = "ck_" + "w" * 40, "cs_" + "w" * 40
WEBHOOK_SECRET = "woo-segredo-ç"


@pytest.fixture
def store() -> Iterator[tuple[WooCommerceStandIn, str]]:
    woocommerce = WooCommerceStandIn(Outbox())
    woocommerce.provision(KEY, SECRET, demo_customers())
    base = woocommerce.start()
    yield woocommerce, base
    woocommerce.stop()


def auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}


def create_webhook(base: str, url: str) -> requests.Response:
    return requests.post(
        f"{base}{API_ROOT}/webhooks",
        json={
            "name": "Threadline",
            "topic": "order.updated",
            "delivery_url": url,
            "secret": WEBHOOK_SECRET,
        },
        headers=auth(),
        timeout=5,
    )


def change_status(base: str, order_id: int, status: str) -> requests.Response:
    return requests.post(
        f"{base}/_sandbox/orders/{order_id}/status",
        json={"status": status},
        headers=auth(),
        timeout=5,
    )


def test_a_created_webhook_is_pinged_then_sent_each_order_change_signed(store, receiver):
    _, base = store
    kept, url = receiver
    created = create_webhook(base, url)
    assert created.status_code == 201
    assert "secret" not in created.json()
    [(_, ping)] = kept.wait(1)
    assert is_ping(ping)

    assert change_status(base, 2043, "completed").json() == {"id": 2043, "status": "completed"}
    _, (headers, body) = kept.wait(2)
    assert signature_valid(body, headers["X-WC-Webhook-Signature"], WEBHOOK_SECRET)
    assert not signature_valid(body, headers["X-WC-Webhook-Signature"], "another")
    assert headers["X-WC-Webhook-Topic"] == "order.updated"
    assert (headers["X-WC-Webhook-Resource"], headers["X-WC-Webhook-Event"]) == ("order", "updated")
    assert headers["X-WC-Webhook-Source"] == base + "/"
    assert headers["X-WC-Webhook-ID"] == str(created.json()["id"])
    assert headers["X-WC-Webhook-Delivery-ID"]
    order = json.loads(body)
    assert (order["id"], order["status"]) == (2043, "completed")
    assert "whatsapp:+5521998877665" in order_addresses(order)


def test_failures_are_not_retried_and_five_in_a_row_disable_the_webhook(store, receiver):
    woocommerce, base = store
    kept, url = receiver
    kept.statuses = [200] + [500] * 5
    webhook_id = create_webhook(base, url).json()["id"]
    kept.wait(1)
    for _ in range(5):
        change_status(base, 2043, "processing")
    kept.wait(6)
    woocommerce._outbox.wait_for(
        lambda e: e.method == "webhook" and e.payload["webhook_status"] == "disabled"
    )
    change_status(base, 2043, "completed")
    with kept.arrived:
        kept.arrived.wait_for(lambda: len(kept.received) > 6, timeout=0.5)
    assert len(kept.received) == 6
    listed = requests.get(f"{base}{API_ROOT}/webhooks", headers=auth(), timeout=5).json()
    assert [(w["id"], w["status"]) for w in listed] == [(webhook_id, "disabled")]


def test_the_routes_are_as_strict_as_the_api(store, receiver):
    _, base = store
    _, url = receiver
    anonymous = requests.post(
        f"{base}/_sandbox/orders/2043/status", json={"status": "completed"}, timeout=5
    )
    assert anonymous.status_code == 401
    assert change_status(base, 9999, "completed").status_code == 404
    assert change_status(base, 2043, "teleported").json()["code"] == "rest_invalid_param"
    bad_topic = requests.post(
        f"{base}{API_ROOT}/webhooks",
        json={"topic": "order.teleported", "delivery_url": url},
        headers=auth(),
        timeout=5,
    )
    assert bad_topic.status_code == 400
