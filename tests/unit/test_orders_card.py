"""The orders section of a conversation's card: latest first, at most three, each with its
status and tracking link, lifetime figures, and Refresh orders; within Block Kit's limits
whatever the platform answered; nothing of an order that is not the customer's."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.orders import Money, Order, not_a_customer, refused, summary, unavailable
from chalicelib.domain.shop import CommerceConfig, ShopifyConfig
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.card import root_card
from local_stack.slack_limits import message_refusal
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SHOPIFY = acme(commerce=CommerceConfig(shopify=ShopifyConfig(domain="acme.myshopify.com")))


def order(number: str, day: int, **fields: Any) -> Order:
    return Order(
        number=number,
        placed_at=datetime(2026, 11, day, 12, tzinfo=UTC),
        total=Money(amount=Decimal("10"), currency="EUR"),
        payment_status=fields.pop("payment_status", "paid"),
        fulfilment_status="fulfilled",
        **fields,
    )


def conversation(**fields: Any) -> Conversation:
    return Conversation(
        shop_id="acme",
        conversation_id="C1",
        channel=Channel.SMS,
        customer_address="+5511987654321",
        shop_address="+15550199999",
        created_at=NOW,
        last_customer_message_at=NOW,
        message_count=1,
        **fields,
    )


def card_text(card_of: Conversation, shop: Any = SHOPIFY) -> str:
    card = root_card(card_of, shop)
    assert message_refusal({"text": card.text, "blocks": card.blocks}) is None
    for block in card.blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    return json.dumps(card.blocks, ensure_ascii=False)


def test_the_card_shows_the_three_latest_orders_with_tracking_and_lifetime_figures() -> None:
    orders = [
        order("1001", 1),
        order("1002", 2),
        order(
            "1003",
            3,
            delivery_status="out_for_delivery",
            carrier="DHL",
            tracking_number="JD1",
            tracking_url="https://track.example/?id=JD1&x=1",
        ),
        order("1004", 4, delivery_status="delivered"),
    ]
    spent = Money(amount=Decimal("40"), currency="EUR")
    found = summary(orders, order_count=4, total_spent=spent, checked_at=NOW)

    text = card_text(conversation(orders=found))

    assert "#1001" not in text
    assert text.index("#1004") < text.index("#1003") < text.index("#1002")
    assert "<https://track.example/?id=JD1&amp;x=1|JD1>" in text
    assert "Out for delivery" in text
    assert "*Lifetime:* 4 orders · 40.00 EUR" in text
    assert '"action_id": "refresh_orders"' in text


@pytest.mark.parametrize(
    ("orders", "shown"),
    [
        (None, "Looking up the customer's orders"),
        (unavailable(None, NOW), "Orders unavailable"),
        (refused("Shopify refused the access token (HTTP 401)", NOW), "HTTP 401"),
        (not_a_customer(NOW), "No customer of the shop"),
    ],
)
def test_the_card_says_why_there_are_no_orders(orders: Any, shown: str) -> None:
    assert shown in card_text(conversation(orders=orders))


def test_a_quoted_number_that_is_not_the_customers_is_only_said_to_be_not_theirs() -> None:
    found = summary([order("1042", 20)], order_count=1, total_spent=None, checked_at=NOW)

    text = card_text(conversation(orders=found, order_number="1043"))

    assert "#1043 is not one of their orders" in text


def test_what_the_platform_answered_stays_within_slacks_limits_and_escaped() -> None:
    hostile = "<!channel> & " + "x" * 5000
    orders = [
        order(
            str(2000 + n),
            1 + n,
            carrier=hostile,
            tracking_number=hostile,
            payment_status=hostile,
            delivery_status="in_transit_" + "y" * 3000,
            estimated_delivery=NOW + timedelta(days=n),
        )
        for n in range(5)
    ]
    found = summary(orders, order_count=10**9, total_spent=None, checked_at=NOW)

    text = card_text(conversation(orders=found, customer_name="A" * 3000))

    assert "<!channel>" not in text
    assert '"action_id": "refresh_orders"' in text


def test_a_shop_without_a_commerce_platform_has_no_orders_section() -> None:
    text = card_text(conversation(), acme())
    assert "Orders" not in text
    assert "refresh_orders" not in text
