"""Order updates sent first: which Shopify event is an update (and its id), and its words in
each shipped language, with the tracking link."""

import pytest

from chalicelib.domain.order_updates import (
    ALL_EVENTS,
    WOOCOMMERCE_STATUS_MEMORY,
    OrderContact,
    OrderEvent,
    OrderUpdate,
    OrderUpdatesConfig,
    shopify_update,
    update_text,
    woocommerce_update,
)

FULFILMENT = {
    "id": 4455,
    "order_id": 1042000,
    "name": "#1042.1",
    "email": "Ana@Example.com",
    "tracking_url": "https://rastreio.example/BR987654321",
    "destination": {"phone": "+5511987654321"},
}


def test_a_fulfilment_is_an_update_with_its_tracking_link_and_the_orders_addresses() -> None:
    update = shopify_update("fulfillments/create", FULFILMENT)

    assert update == OrderUpdate(
        OrderEvent.FULFILMENT_CREATED,
        "shopify:fulfilment:4455",
        "#1042",
        ("ana@example.com",),
        "https://rastreio.example/BR987654321",
        order_id="1042000",
        fulfilment_id="4455",
    )


def test_a_fulfilment_and_its_later_event_are_two_updates() -> None:
    event = {"id": 4455, "fulfillment_id": 4455, "status": "delivered", "email": "a@b.co"}

    shipped = shopify_update("fulfillments/create", FULFILMENT)
    delivered = shopify_update("fulfillment_events/create", event)

    assert shipped is not None
    assert delivered is not None
    assert delivered.event is OrderEvent.DELIVERED
    assert shipped.event_id != delivered.event_id


@pytest.mark.parametrize("status", ["in_transit", "confirmed", "label_printed", ""])
def test_a_shipment_event_other_than_out_for_delivery_or_delivered_tells_nothing(
    status: str,
) -> None:
    assert shopify_update("fulfillment_events/create", {"id": 1, "status": status}) is None


def test_topics_that_are_no_update_and_payloads_without_an_id_tell_nothing() -> None:
    assert shopify_update("orders/updated", {"id": 1, "email": "a@b.co"}) is None
    assert shopify_update("orders/cancelled", {"name": "#1042", "email": "a@b.co"}) is None


def test_a_cancellation_and_a_refund_are_updates() -> None:
    cancelled = shopify_update(
        "orders/cancelled", {"id": 9, "name": "#1042", "phone": "+5511987654321"}
    )
    refunded = shopify_update("refunds/create", {"id": 77, "order_id": 9})

    assert cancelled is not None
    assert cancelled.event is OrderEvent.ORDER_CANCELLED
    assert "+5511987654321" in cancelled.addresses
    assert refunded is not None
    assert refunded.event is OrderEvent.REFUND_CREATED


def test_a_tracking_link_that_is_no_web_link_is_not_passed_on() -> None:
    update = shopify_update("fulfillments/create", {**FULFILMENT, "tracking_url": "javascript:x"})

    assert update is not None
    assert update.tracking_url is None


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "has shipped"),
        ("pt", "foi enviado"),
        ("es", "ha sido enviado"),
        ("hu", "feladtuk"),
        ("id", "telah dikirim"),
        ("hi", "भेज दिया गया"),
        ("ar", "تم شحن"),
    ],
)
def test_the_update_speaks_the_customers_language_with_the_tracking_link(
    language: str, words: str
) -> None:
    update = shopify_update("fulfillments/create", FULFILMENT)
    assert update is not None

    text = update_text(update, language)

    assert words in text
    assert "#1042" in text
    assert text.endswith("https://rastreio.example/BR987654321")


def test_every_event_has_words_in_every_language_and_an_unnamed_order_reads_well() -> None:
    for event in OrderEvent:
        for language in ("en", "pt", "es", "hu", "id", "hi", "ar"):
            text = update_text(OrderUpdate(event, "e", "", ()), language)
            assert "{" not in text
            assert "  " not in text
            assert " ." not in text
    assert update_text(OrderUpdate(OrderEvent.DELIVERED, "e", "", ()), "xx") == (
        "Your order has been delivered."
    )


def test_updates_are_off_by_default_and_every_event_is_chosen_when_on() -> None:
    assert not OrderUpdatesConfig().send_updates
    assert OrderUpdatesConfig(send_updates=True).events == ALL_EVENTS
    chosen = OrderUpdatesConfig.model_validate({"send_updates": True, "events": ["delivered"]})
    assert chosen.events == (OrderEvent.DELIVERED,)


def test_an_update_naming_no_customer_is_completed_from_the_platforms_answer() -> None:
    event = {"id": 8801, "fulfillment_id": 4455, "order_id": 1042000, "status": "delivered"}
    update = shopify_update("fulfillment_events/create", event)
    assert update is not None
    assert update.incomplete
    contact = OrderContact("#1042", ("+5511987654321",), {"4455": "https://t.example/1"})

    completed = update.completed(contact)

    assert not completed.incomplete
    assert completed.order_name == "#1042"
    assert completed.addresses == ("+5511987654321",)
    assert completed.tracking_url == "https://t.example/1"
    # What the payload said itself is kept; an update naming its customer asks nothing.
    shipped = shopify_update("fulfillments/create", FULFILMENT)
    assert shipped is not None
    assert not shipped.incomplete
    assert shipped.completed(contact).addresses == ("ana@example.com",)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("completed", OrderEvent.FULFILMENT_CREATED),
        ("refunded", OrderEvent.REFUND_CREATED),
        ("cancelled", OrderEvent.ORDER_CANCELLED),
    ],
)
def test_a_woocommerce_order_reaching_a_told_status_is_an_update(
    status: str, event: OrderEvent
) -> None:
    order = {"id": 2042, "number": "2042", "status": status, "billing": {"email": "A@B.co"}}

    update = woocommerce_update("order.updated", order)

    # Remembered as told past a redelivery's days: every later change of the order says it.
    assert update == OrderUpdate(
        event,
        f"woocommerce:2042:{event.value}",
        "#2042",
        ("a@b.co",),
        remembered_for=WOOCOMMERCE_STATUS_MEMORY,
    )


def test_other_woocommerce_statuses_and_topics_tell_nothing() -> None:
    order = {"id": 2042, "status": "processing", "billing": {"email": "a@b.co"}}
    assert woocommerce_update("order.updated", order) is None
    assert woocommerce_update("order.created", {**order, "status": "completed"}) is None
    assert woocommerce_update("order.updated", {"status": "completed"}) is None
