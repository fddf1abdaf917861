"""A customer's STOP is noted in their thread once: a retry of the message after a later
step failed finds the note posted and does not post it again."""

import pytest

from chalicelib.domain.errors import Retryable
from chalicelib.services.opt_outs import OptOutKeeper
from tests.fakes import FakeOptOuts
from tests.unit.use_cases import World, acme

pytestmark = pytest.mark.unit


def test_a_retried_stop_posts_its_note_once() -> None:
    # Given a shop that sends order updates, and a customer's STOP whose first attempt
    # fails once its note is in the thread
    world = World()
    world.records.shops.put_shop(acme(order_updates={"send_updates": True}), acme())
    keeper = OptOutKeeper(FakeOptOuts(), world.records.profiles)
    message = world.arrives(text="STOP")
    world.conversations.record_failures.append(Retryable("DynamoDB throttled"))
    with pytest.raises(Retryable):
        world.inbound(keeper).process(message)

    # When it is retried
    world.inbound(keeper).process(message)

    # Then the thread has the note once
    [card] = world.slack.roots()
    notes = [p for p in world.slack.thread(card.ts) if "asked to stop" in p.message.text]
    assert len(notes) == 1
