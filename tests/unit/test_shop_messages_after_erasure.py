"""A message the shop writes first names the conversation it was decided from: gone when
the worker opens it, its customer was erased meanwhile, and it is dropped (counted); an
address Threadline never saw (an order update's email fallback) still gets its message."""

from datetime import timedelta

import pytest

from chalicelib.domain.messages import ShopMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.ports import Metric
from tests.unit.test_order_updates_service import SHIPPED, Sending, sending_shop
from tests.unit.use_cases import CUSTOMER, SHOP, SHOP_NUMBER, World

pytestmark = pytest.mark.unit
NEVER_SEEN = "ana@example.com"


def _shop_message(world: World, decided_from: str | None, to: str = CUSTOMER) -> ShopMessage:
    return ShopMessage(
        shop_id=SHOP,
        message_id="update-1",
        channel=Channel.SMS if to == CUSTOMER else Channel.EMAIL,
        customer_address=to,
        shop_address=SHOP_NUMBER,
        text="Your order has shipped",
        requested_at=world.clock(),
        decided_from=decided_from,
    )


def test_an_order_update_names_the_conversation_it_was_decided_from() -> None:
    sending = Sending()
    sending.wrote(Channel.SMS, CUSTOMER, SHOP_NUMBER, timedelta(days=1), "Hello there")

    sending.updates.tell(sending_shop(), SHIPPED)

    [job] = sending.sent()
    assert job.decided_from == "c-0"


def test_a_message_whose_conversation_was_erased_while_it_waited_is_dropped() -> None:
    # Given a customer's conversation, and a message queued from it
    world = World()
    world.inbound().process(world.arrives())
    conversation = world.records.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None
    job = _shop_message(world, conversation.conversation_id)
    posts = len(world.slack.posts)

    # When the customer is erased before the worker opens it
    world.records.erasures.erase_conversation(conversation, [])
    world.inbound().open_for_shop(job)

    # Then no conversation, thread or send comes of it, and the drop is counted
    assert world.records.conversations.find_open_conversation(SHOP, CUSTOMER) is None
    assert len(world.slack.posts) == posts
    assert world.queues.outbound.take() == []
    assert world.metrics.counts(Metric.SHOP_MESSAGE_DROPPED) == 1


def test_a_fallback_to_an_address_never_seen_opens_its_conversation() -> None:
    world = World()
    world.inbound().process(world.arrives())
    conversation = world.records.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None

    world.inbound().open_for_shop(_shop_message(world, conversation.conversation_id, NEVER_SEEN))

    assert world.records.conversations.find_open_conversation(SHOP, NEVER_SEEN) is not None
    assert len(world.queues.outbound.take()) == 1
    assert world.metrics.counts(Metric.SHOP_MESSAGE_DROPPED) == 0
