"""An order update queued before the customer's STOP was heard is held when its job runs:
the opt-out is checked again at send time, and the hold counted."""

from chalicelib.services.ports import Metric
from tests.fakes import FakeMetrics, FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.integration.test_commerce import shopify_webhook
from tests.integration.test_order_updates import (
    CUSTOMER,
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


def test_an_update_queued_before_a_stop_is_held_when_it_would_go_out(
    client,
    shop,
    container,
    run_workers,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    metrics: FakeMetrics,
    clock: Clock,
):
    # Given a customer who wrote, and a fulfilment's update queued to them
    customer_writes_on_whatsapp(client, 1, "Oi, boa tarde! Comprei uma camiseta ontem.")
    run_workers()
    assert shopify_webhook(client, "fulfillments/create", FULFILMENT, "w-1").status_code == 200

    # When their STOP (written from their SMS number) is heard before the update's job runs
    container.store.opt_outs.record_opt_out("ana", CUSTOMER, clock())
    run_workers()

    # Then the update is not sent, and the hold is counted
    assert updates_sent(twilio) == []
    assert (Metric.ORDER_UPDATE_OPTED_OUT.value, None) in metrics.counted
