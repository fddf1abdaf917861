"""The channel an update goes by is the one the customer last wrote on: a conversation the
shop opened (an earlier update sent by email, a shop's message) and the customer never
answered is no sign of where they write."""

from datetime import timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.vocabulary import Channel
from tests.unit.test_order_updates_service import (
    EMAIL,
    NOW,
    SHIPPED,
    WHATSAPP,
    Sending,
    sending_shop,
)

pytestmark = pytest.mark.unit


def test_a_conversation_the_shop_opened_and_nobody_answered_does_not_choose_the_channel() -> None:
    sending = Sending()
    sending.wrote(
        Channel.WHATSAPP, WHATSAPP, "whatsapp:+1555", timedelta(hours=2), "Hola, ¿qué tal?"
    )
    # An hour ago an earlier update went by email, opening a conversation there.
    sending.conversations.create_conversation(
        Conversation(
            shop_id="acme",
            conversation_id="c-shop",
            channel=Channel.EMAIL,
            customer_address=EMAIL,
            shop_address="hola@acme.example",
            started_by_shop=True,
            created_at=NOW - timedelta(hours=1),
            last_customer_message_at=NOW - timedelta(hours=1),
            first_message_preview="Buenas noticias: tu pedido #1041 ha sido enviado.",
        )
    )

    sending.updates.tell(sending_shop(email={"address": "hola@acme.example"}), SHIPPED)

    [job] = sending.sent()
    assert (job.channel, job.customer_address) == (Channel.WHATSAPP, WHATSAPP)
    assert job.language == "es"
