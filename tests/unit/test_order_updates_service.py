"""Order updates sent first, decided over in-memory fakes: the channel the customer last
wrote on when it can carry a message the shop writes first, else another of theirs, else
email, else nothing (counted); the events the shop chose; the customer's language; a
customer who asked to stop."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import ShopMessage
from chalicelib.domain.order_updates import OrderContact, OrderEvent, OrderUpdate
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.order_updates import OrderUpdates
from chalicelib.services.ports import Metric
from tests.fakes import (
    FakeConversations,
    FakeMetrics,
    FakeOptOuts,
    FakeOrderContacts,
    FakeProfiles,
    FakeQueues,
    FakeRecords,
    FakeVault,
    FakeWebhookClaims,
)
from tests.unit.use_cases import CUSTOMER, SHOP_NUMBER, acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WHATSAPP = f"whatsapp:{CUSTOMER}"
EMAIL = "ana@example.com"
SHIPPED = OrderUpdate(
    OrderEvent.FULFILMENT_CREATED,
    "shopify:fulfilment:1",
    "#1042",
    (EMAIL, CUSTOMER, WHATSAPP),
    "https://t.example/1",
)


class Sending:
    def __init__(self) -> None:
        self.records = FakeRecords()
        self.conversations = FakeConversations(self.records)
        self.queues = FakeQueues()
        self.metrics = FakeMetrics()
        self.opt_outs = FakeOptOuts()
        self.contacts = FakeOrderContacts()
        self.claims = FakeWebhookClaims()
        self.updates = OrderUpdates(
            self.conversations,
            FakeProfiles(self.records),
            self.opt_outs,
            self.claims,
            self.queues,
            self.metrics,
            lambda: NOW,
            FakeVault(),
            self.contacts,
        )

    def wrote(
        self, channel: Channel, address: str, shop_address: str, ago: timedelta, text: str
    ) -> None:
        conversation = Conversation(
            shop_id="acme",
            conversation_id=f"c-{len(self.records.conversation_items)}",
            channel=channel,
            customer_address=address,
            shop_address=shop_address,
            created_at=NOW - ago,
            last_customer_message_at=NOW - ago,
            message_count=1,
            first_message_preview=text,
        )
        self.conversations.create_conversation(conversation)

    def sent(self) -> list[ShopMessage]:
        return [job for job in self.queues.inbound.take() if isinstance(job, ShopMessage)]


def sending_shop(**changes: object) -> Shop:
    return acme(order_updates={"send_updates": True}, **changes)


@pytest.fixture
def sending() -> Sending:
    return Sending()


def test_the_update_goes_on_the_channel_last_written_on_in_its_language(
    sending: Sending,
) -> None:
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(days=3), "Hello there")
    sending.wrote(
        Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(hours=2), "Hola, ¿qué tal?"
    )

    sending.updates.tell(sending_shop(), SHIPPED)

    [job] = sending.sent()
    assert (job.channel, job.customer_address, job.shop_address) == (
        Channel.WHATSAPP,
        WHATSAPP,
        "whatsapp:+1555",
    )
    assert (
        job.text
        == "Buenas noticias: tu pedido #1042 ha sido enviado.\nSíguelo aquí: https://t.example/1"
    )
    assert (job.reply_key, job.language) == ("order_update:fulfilment_created", "es")
    assert (Metric.ORDER_UPDATE_QUEUED, Channel.WHATSAPP) in sending.metrics.counted


def test_whatsapp_past_its_window_without_a_template_gives_way_to_another_channel(
    sending: Sending,
) -> None:
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(days=9), "Hello there")
    sending.wrote(Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(days=2), "Hello!")

    sending.updates.tell(sending_shop(), SHIPPED)

    [job] = sending.sent()
    assert (job.channel, job.customer_address) == (Channel.SMS, CUSTOMER)


def test_with_the_shops_template_whatsapp_past_its_window_is_kept(sending: Sending) -> None:
    sending.wrote(Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(days=2), "Hello!")
    template = {"name": "new_message", "content_sid": "HX" + "a" * 32}
    twilio = {
        "account_sid": "AC" + "0" * 32,
        "sms_numbers": [SHOP_NUMBER],
        "whatsapp_template": template,
    }

    sending.updates.tell(sending_shop(twilio=twilio), SHIPPED)

    [job] = sending.sent()
    assert job.channel is Channel.WHATSAPP


def test_with_no_chat_channel_usable_the_update_goes_by_email_or_not_at_all(
    sending: Sending,
) -> None:
    sending.wrote(Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(days=2), "Hello!")

    sending.updates.tell(sending_shop(), SHIPPED)
    assert sending.sent() == []
    assert (Metric.ORDER_UPDATE_UNREACHABLE, None) in sending.metrics.counted

    # Not claimed: the shop given an email address, the same event goes by email.
    sending.updates.tell(sending_shop(email={"address": "help@acme.example"}), SHIPPED)
    [job] = sending.sent()
    assert (job.channel, job.customer_address, job.shop_address) == (
        Channel.EMAIL,
        EMAIL,
        "help@acme.example",
    )
    assert job.subject == "Acme"


def test_only_the_events_the_shop_chose_are_told(sending: Sending) -> None:
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(hours=1), "Hello there")
    shop = acme(order_updates={"send_updates": True, "events": ["delivered"]})

    sending.updates.tell(shop, SHIPPED)
    sending.updates.tell(acme(order_updates={"answer_status_questions": True}), SHIPPED)

    assert sending.sent() == []


def test_a_customer_who_asked_to_stop_is_told_nothing_from_any_address(
    sending: Sending,
) -> None:
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(hours=1), "Hello there")
    sending.opt_outs.record_opt_out("acme", WHATSAPP, NOW)

    sending.updates.tell(sending_shop(), SHIPPED)

    assert sending.sent() == []
    assert (Metric.ORDER_UPDATE_OPTED_OUT, None) in sending.metrics.counted


def test_a_refund_naming_no_customer_asks_the_platform_and_a_gone_order_tells_no_one(
    sending: Sending,
) -> None:
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(hours=1), "Hello there")
    sending.contacts.orders["77"] = OrderContact("#1042", (CUSTOMER,))
    refund = OrderUpdate(OrderEvent.REFUND_CREATED, "shopify:refund:5", "", (), order_id="77")

    sending.updates.tell(sending_shop(), refund)
    sending.updates.tell(
        sending_shop(),
        OrderUpdate(OrderEvent.REFUND_CREATED, "shopify:refund:6", "", (), order_id="78"),
    )

    [job] = sending.sent()
    assert job.text == "We have refunded your order #1042."
    assert (Metric.ORDER_UPDATE_UNKNOWN_CUSTOMER, None) in sending.metrics.counted


def test_a_fulfilment_naming_only_the_orders_email_reaches_the_customer_who_writes_by_phone(
    sending: Sending,
) -> None:
    # Shopify's fulfilment names the order's email, never the customer's phone; Ana writes
    # on WhatsApp and Threadline has never seen her email.
    sending.wrote(Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(hours=1), "Oi, tudo bem?")
    sending.contacts.orders["1042"] = OrderContact("#1042", (EMAIL, CUSTOMER, WHATSAPP))
    shipped = OrderUpdate(
        OrderEvent.FULFILMENT_CREATED,
        "shopify:fulfilment:2",
        "#1042",
        (EMAIL,),
        "https://t.example/2",
        order_id="1042",
    )

    sending.updates.tell(sending_shop(), shipped)

    [job] = sending.sent()
    assert (job.channel, job.customer_address) == (Channel.WHATSAPP, WHATSAPP)
    assert (
        job.text
        == "Boa notícia: seu pedido #1042 foi enviado.\nAcompanhe aqui: https://t.example/2"
    )
    assert sending.contacts.asked == ["1042"]


def test_a_customer_known_by_the_payloads_address_costs_no_question_to_the_platform(
    sending: Sending,
) -> None:
    sending.wrote(Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(hours=1), "Oi, tudo bem?")
    shipped = OrderUpdate(
        OrderEvent.FULFILMENT_CREATED, "shopify:fulfilment:3", "#1042", (WHATSAPP,), order_id="9"
    )

    sending.updates.tell(sending_shop(), shipped)

    [job] = sending.sent()
    assert job.customer_address == WHATSAPP
    assert sending.contacts.asked == []
