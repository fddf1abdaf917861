"""Claims of each kind in a namespace of their own: a Shopify delivery's id (a header its
signature does not cover) can never claim what an order update claims internally, so a
replayed signed body under a crafted id pre-claims nothing."""

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.test_commerce import shopify_webhook
from tests.integration.test_order_updates import (
    FULFILMENT,
    contacts,
    container,
    customer_writes_on_whatsapp,
    directory,
    metrics,
    shop,
    updates_sent,
)

# Fixtures of the order updates' tests, used here as there.
__all__ = ["contacts", "container", "directory", "metrics", "shop"]


def test_a_delivery_id_crafted_as_an_updates_claim_does_not_hold_the_update_back(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a customer who wrote, and a signed body of another topic replayed under the id
    # the fulfilment's update claims
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()
    crafted = f"update:shopify:fulfilment:{FULFILMENT['id']}"
    assert shopify_webhook(client, "orders/updated", {"id": 1}, crafted).status_code == 200
    run_workers()

    # When the fulfilment arrives
    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200
    run_workers()

    # Then the customer is told
    assert len(updates_sent(twilio)) == 1
