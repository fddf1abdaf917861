"""An order update is told once for as long as its event can come back: Shopify's events
have ids of their own and are redelivered for two days, while a WooCommerce order's status
comes back in every later `order.updated` of the order (a note, an edit), weeks later."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import InboundMessage, ShopMessage
from chalicelib.domain.order_updates import woocommerce_update
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.order_updates import OrderUpdates
from tests.fakes import (
    FakeConversations,
    FakeMetrics,
    FakeOptOuts,
    FakeOrderContacts,
    FakeProfiles,
    FakeRecords,
    FakeVault,
    FakeWebhookClaims,
)
from tests.unit.use_cases import CUSTOMER, SHOP, SHOP_NUMBER, acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
COMPLETED = {
    "id": 727,
    "number": "727",
    "status": "completed",
    "billing": {"email": "ana@example.com", "phone": CUSTOMER},
}


class SentInbound:
    """The inbound queue, every message sent kept (SQS forgets a deduplication id after five
    minutes: a month later the same id is queued again)."""

    def __init__(self) -> None:
        self.sent: list[InboundMessage | ShopMessage] = []

    def send_inbound(self, message: InboundMessage | ShopMessage) -> None:
        self.sent.append(message)


def test_a_woocommerce_order_edited_weeks_after_it_shipped_is_not_told_again() -> None:
    records = FakeRecords()
    conversations = FakeConversations(records)
    inbound = SentInbound()
    clock = [NOW]
    updates = OrderUpdates(
        conversations,
        FakeProfiles(records),
        FakeOptOuts(),
        FakeWebhookClaims(),
        inbound,
        FakeMetrics(),
        lambda: clock[0],
        FakeVault(),
        FakeOrderContacts(),
    )
    conversations.create_conversation(
        Conversation(
            shop_id=SHOP,
            conversation_id="c-1",
            channel=Channel.SMS,
            customer_address=CUSTOMER,
            shop_address=SHOP_NUMBER,
            created_at=NOW,
            last_customer_message_at=NOW,
            message_count=1,
            first_message_preview="Where is my order?",
        )
    )
    shop = acme(order_updates={"send_updates": True})
    shipped = woocommerce_update("order.updated", COMPLETED)
    assert shipped is not None

    updates.tell(shop, shipped)
    # The shop adds a note to the order a month later: WooCommerce sends it whole again.
    clock[0] = NOW + timedelta(days=30)
    updates.tell(shop, shipped)

    assert len(inbound.sent) == 1


def test_a_claim_is_taken_again_once_its_memory_is_past() -> None:
    claims = FakeWebhookClaims()
    assert claims.claim_webhook("ana", "w-1", NOW)
    assert not claims.claim_webhook("ana", "w-1", NOW + timedelta(days=6))
    assert claims.claim_webhook("ana", "w-1", NOW + timedelta(days=8))
    assert claims.claim_webhook("ana", "w-2", NOW, remember=timedelta(days=400))
    assert not claims.claim_webhook("ana", "w-2", NOW + timedelta(days=399))


def test_an_update_held_for_a_stop_is_not_told_once_the_customer_starts_again() -> None:
    records = FakeRecords()
    conversations = FakeConversations(records)
    opt_outs = FakeOptOuts()
    inbound = SentInbound()
    updates = OrderUpdates(
        conversations,
        FakeProfiles(records),
        opt_outs,
        FakeWebhookClaims(),
        inbound,
        FakeMetrics(),
        lambda: NOW,
        FakeVault(),
        FakeOrderContacts(),
    )
    conversations.create_conversation(
        Conversation(
            shop_id=SHOP,
            conversation_id="c-1",
            channel=Channel.SMS,
            customer_address=CUSTOMER,
            shop_address=SHOP_NUMBER,
            created_at=NOW,
            last_customer_message_at=NOW,
            message_count=1,
            first_message_preview="Where is my order?",
        )
    )
    shop = acme(order_updates={"send_updates": True})
    shipped = woocommerce_update("order.updated", COMPLETED)
    assert shipped is not None
    opt_outs.record_opt_out(SHOP, CUSTOMER, NOW)
    updates.tell(shop, shipped)

    opt_outs.record_opt_in(SHOP, CUSTOMER)
    # A later change of the order carries the status it reached while they had stopped.
    updates.tell(shop, shipped)

    assert inbound.sent == []
