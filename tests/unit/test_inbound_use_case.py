"""The inbound worker's decisions on fakes: a customer's message opens or joins its
conversation's thread, once, and a message no longer wanted is dropped."""

from datetime import timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable
from chalicelib.domain.jobs import ShopMessageJob
from chalicelib.domain.messages import InboundStatus, ShopMessage
from chalicelib.domain.vocabulary import Channel, Priority
from chalicelib.services.ports import Metric
from tests.unit.use_cases import CHANNEL, CUSTOMER, SHOP, SHOP_NUMBER, World, acme


def _only_conversation(world: World) -> Conversation:
    conversation = world.records.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None
    return conversation


def test_a_first_message_opens_a_conversation_and_posts_its_card() -> None:
    world = World()
    message = world.arrives()

    world.inbound().process(message)

    conversation = _only_conversation(world)
    [card] = world.slack.roots()
    assert (card.channel, card.token) == (CHANNEL, "xoxb-acme")
    assert conversation.slack_thread == (CHANNEL, card.ts)
    [post] = world.slack.thread(card.ts)
    assert "Where is my order?" in post.message.text
    assert (conversation.message_count, conversation.version) == (1, 2)
    assert world.records.inbound.begin_inbound_attempt(message).status is InboundStatus.PROCESSED
    assert world.metrics.counts(Metric.CUSTOMER_MESSAGE_PROCESSED) == 1


def test_a_follow_up_joins_the_thread() -> None:
    world = World()
    world.inbound().process(world.arrives(1))
    world.clock.advance(60)

    world.inbound().process(world.arrives(2, text="Any news?"))

    conversation = _only_conversation(world)
    [card] = world.slack.roots()
    assert [p.message.text for p in world.slack.thread(card.ts)][-1].count("Any news?") == 1
    assert len(world.slack.thread(card.ts)) == 2
    assert conversation.message_count == 2


def test_a_duplicate_changes_nothing() -> None:
    world = World()
    message = world.arrives()
    world.inbound().process(message)
    posts, before = len(world.slack.posts), _only_conversation(world)

    world.inbound().process(message)

    assert len(world.slack.posts) == posts
    assert _only_conversation(world) == before
    assert world.metrics.counts(Metric.CUSTOMER_MESSAGE_PROCESSED) == 1


def test_a_change_stored_meanwhile_is_drawn_on_the_card() -> None:
    world = World()
    world.inbound().process(world.arrives(1))
    first = _only_conversation(world)
    world.conversations.after_record.append(first.model_copy(update={"priority": Priority.URGENT}))

    world.inbound().process(world.arrives(2, text="Hello?"))

    stored = _only_conversation(world)
    assert (stored.priority, stored.message_count) == (Priority.URGENT, 2)
    # The card is drawn as stored, the urgent change included, not as the worker left it.
    drawn = world.slack.updates[-1]
    assert drawn.ts == first.slack_thread_ts
    assert "urgent" in str(drawn.message.blocks).lower()


def test_a_message_for_a_deleted_shops_incarnation_is_dropped() -> None:
    world = World()
    world.records.shops.put_shop(acme(incarnation="second"), acme())
    message = world.arrives(shop_incarnation="first")

    world.inbound().process(message)

    assert world.slack.posts == []
    assert world.records.conversations.find_open_conversation(SHOP, CUSTOMER) is None
    assert world.metrics.counts(Metric.CUSTOMER_MESSAGE_DROPPED) == 1
    stored = world.records.inbound.stored_message(SHOP, message.message_key)
    assert stored is not None
    assert stored["status"] == InboundStatus.RECEIVED.value


def test_a_message_erased_while_it_waited_is_dropped() -> None:
    world = World()
    message = world.arrives()
    world.records.inbound.erase_messages(world.records.inbound.stored_messages(SHOP))

    world.inbound().process(message)

    assert world.slack.posts == []
    assert world.metrics.counts(Metric.CUSTOMER_MESSAGE_DROPPED) == 1


def test_a_retry_after_the_post_does_not_post_again() -> None:
    world = World()
    message = world.arrives()
    # The first attempt posts the message, then fails before it is counted.
    world.conversations.record_failures.append(Retryable("DynamoDB throttled"))
    with pytest.raises(Retryable):
        world.inbound().process(message)

    world.inbound().process(message)

    [card] = world.slack.roots()
    assert len(world.slack.thread(card.ts)) == 1
    assert _only_conversation(world).message_count == 1


def test_a_shop_with_targets_sets_their_alarms_once() -> None:
    world = World()
    shop = acme(sla={"business_hours_only": False})
    world.records.shops.put_shop(shop, acme())
    message = world.arrives()

    world.inbound().process(message)

    alarms = world.schedules.due(world.clock() + timedelta(days=1))
    assert alarms
    assert {alarm.conversation_id for alarm in alarms} == {
        _only_conversation(world).conversation_id
    }


def test_a_shop_message_opens_a_thread_once_and_queues_its_post_once() -> None:
    world = World()
    job = ShopMessage(
        shop_id=SHOP,
        message_id="order-1001-shipped",
        channel=Channel.SMS,
        customer_address=CUSTOMER,
        shop_address=SHOP_NUMBER,
        text="Your order has shipped",
        requested_at=world.clock(),
    )

    world.inbound().open_for_shop(job)
    world.inbound().open_for_shop(job)

    conversation = _only_conversation(world)
    [card] = world.slack.roots()
    assert conversation.slack_thread == (CHANNEL, card.ts)
    [queued] = world.queues.outbound.take()
    assert isinstance(queued, ShopMessageJob)
    assert (queued.thread_ts, queued.text) == (card.ts, "Your order has shipped")
