"""The customer's orders as pure rules: the bounded summary, who is looked up by what, the
order a conversation is about (only ever the customer's own), and the placeholders that quote
it, refused with the reason rather than filled with gaps or another customer's order."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.auto_replies import AutoReplyPolicy, plan
from chalicelib.domain.canned import CannedResponse
from chalicelib.domain.conversation import Conversation, open_conversation, with_customer_message
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.orders import (
    ORDERS_KEPT,
    LookupOutcome,
    Money,
    Order,
    OrderRefusal,
    customer_keys,
    fill_order,
    not_a_customer,
    order_in_question,
    refused,
    summary,
    unavailable,
)
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def order(number: str, day: int, **fields: Any) -> Order:
    return Order(
        number=number,
        placed_at=datetime(2026, 11, day, 12, tzinfo=UTC),
        total=Money(amount=Decimal("49.9"), currency="EUR"),
        payment_status="paid",
        fulfilment_status=fields.pop("fulfilment_status", "unfulfilled"),
        **fields,
    )


SHIPPED = order(
    "1042",
    20,
    fulfilment_status="fulfilled",
    delivery_status="in_transit",
    carrier="DHL",
    tracking_number="JD0001",
    tracking_url="https://track.example/JD0001",
    estimated_delivery=datetime(2026, 11, 26, tzinfo=UTC),
)
FOUND = summary([order("1041", 2), SHIPPED], order_count=2, total_spent=None, checked_at=NOW)


def test_a_summary_keeps_the_latest_orders_first_and_the_quoted_one_even_if_older() -> None:
    orders = [order(str(1000 + day), day) for day in range(1, 11)]

    kept = summary(orders, order_count=10, total_spent=None, checked_at=NOW, quoted_number="1001")

    numbers = [o.number for o in kept.orders]
    assert len(numbers) == ORDERS_KEPT
    assert numbers[:-1] == ["1010", "1009", "1008", "1007"]
    assert numbers[-1] == "1001"
    assert kept.order_count == 10


def test_a_customer_is_looked_up_by_emails_and_e164_numbers_only() -> None:
    keys = customer_keys(
        ["whatsapp:+5511987654321", "+5511987654321", "Ana@Example.COM", "Ana Souza", "12345"],
        "#1042",
    )

    assert keys.phones == ("+5511987654321",)
    assert keys.emails == ("ana@example.com",)
    assert keys.quoted_number == "1042"


def test_the_lookup_asks_about_a_bounded_number_of_addresses() -> None:
    keys = customer_keys([f"+5511900000{n:03d}" for n in range(50)], None)
    assert len(keys.phones) == 10


def test_the_order_in_question_is_the_quoted_one_if_it_is_the_customers() -> None:
    assert order_in_question(FOUND, "#1041") == FOUND.orders[1]
    assert order_in_question(FOUND, None) == SHIPPED


def test_another_customers_order_number_gets_a_refusal_that_tells_nothing_of_it() -> None:
    refusal = order_in_question(FOUND, "1043")

    assert isinstance(refusal, OrderRefusal)
    assert "#1043 is not one of this customer's orders" in refusal.reason


@pytest.mark.parametrize(
    ("orders", "reason"),
    [
        (None, "not been looked up"),
        (not_a_customer(NOW), "no customer"),
        (unavailable(None, NOW), "unavailable"),
        (refused("Shopify refused the access token", NOW), "refused the access token"),
    ],
)
def test_without_an_order_of_the_customers_there_is_a_refusal(orders: Any, reason: str) -> None:
    refusal = order_in_question(orders, None)
    assert isinstance(refusal, OrderRefusal)
    assert reason in refusal.reason


def test_an_outage_keeps_what_was_known_marked_unavailable() -> None:
    kept = unavailable(FOUND, NOW)
    assert kept.outcome is LookupOutcome.UNAVAILABLE
    assert kept.orders == FOUND.orders


def test_order_placeholders_are_filled_in_the_customers_language() -> None:
    values = fill_order({"order_status", "tracking_url", "eta", "order_total"}, FOUND, None, "pt")

    assert values == {
        "order_status": "enviado",
        "tracking_url": "https://track.example/JD0001",
        "eta": "2026-11-26",
        "order_total": "49.90 EUR",
    }


def test_a_template_quoting_what_the_order_lacks_is_refused() -> None:
    refusal = fill_order({"tracking_url"}, FOUND, "1041", "en")
    assert refusal == OrderRefusal("order #1041 has no tracking link yet")


def test_a_template_without_order_placeholders_needs_no_order() -> None:
    assert fill_order({"first_name", "shop"}, None, None, "en") == {}


def test_a_canned_response_quotes_the_order() -> None:
    canned = CannedResponse(name="tracking", text="Hi {first_name}, {carrier}: {tracking_url}")
    values = fill_order(canned.placeholders, FOUND, None, "en")
    assert not isinstance(values, OrderRefusal)

    text = canned.render(first_name="Ana", order_number="", agent="Bia", shop="Acme", **values)

    assert text == "Hi Ana, DHL: https://track.example/JD0001"


def _conversation_after(text: str, orders: Any) -> tuple[Conversation, InboundMessage]:
    message = InboundMessage(
        shop_id="acme",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM1",
        customer_address="+5511987654321",
        shop_address="+15550199999",
        text=text,
        received_at=NOW,
    )
    opened = open_conversation(message, "C1").model_copy(update={"orders": orders})
    return with_customer_message(opened, message), message


FAQ = AutoReplyPolicy.model_validate(
    {
        "acknowledgement": {"enabled": False},
        "faq": [
            {
                "name": "where",
                "phrases": ["pedido"],
                "answers": {"pt": "Seu pedido está {order_status}: {tracking_url}"},
            }
        ],
    }
)


def test_a_faq_answer_quotes_the_customers_own_order() -> None:
    conversation, message = _conversation_after("Cadê meu pedido #1042?", FOUND)

    [reply] = plan(conversation, message, FAQ, None, "Acme", "UTC", "pt")

    assert reply.text == "Seu pedido está enviado: https://track.example/JD0001"


@pytest.mark.parametrize("text", ["Cadê meu pedido #1043?", "Cadê meu pedido?"])
def test_a_faq_answer_with_no_order_of_the_customers_is_not_sent(text: str) -> None:
    orders = FOUND if "#1043" in text else None
    conversation, message = _conversation_after(text, orders)

    assert plan(conversation, message, FAQ, None, "Acme", "UTC", "pt") == []


def test_a_whatsapp_cloud_customer_is_looked_up_by_their_number() -> None:
    # A WhatsApp Cloud API conversation's address is `wa:` and the number
    keys = customer_keys(["wa:+5511987654321"], None)

    assert keys.phones == ("+5511987654321",)
