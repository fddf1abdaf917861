"""A customer message's first attempt, taken without counting it (issue 20): a copy the
queue hands out for the first time, moments after the message arrived, is the first
attempt at it; every write it makes before its post is noted checks the message is still
stored, and a wrong guess is caught where the post is noted."""

from typing import Any

from app import app
from tests.fakes import FakeSlack
from tests.integration.conftest import stored_item
from tests.integration.test_conversations import CUSTOMER, received_batch, texts
from tests.integration.test_data_rights import (
    PHONE,
    erase_before_next,
    items_of_shop_customers,
    write,
)

MESSAGE_PK = "SHOP#ana#MSG#twilio:SM00000000000000000000000000000001"


def test_a_first_receive_counts_no_attempt(client: Any, shop: str, run_workers, slack: FakeSlack):
    # Given a customer's message, handed to the worker for the first time
    write(client, 1, From=CUSTOMER, Body="Oi!")

    # When the worker processes it
    run_workers()

    # Then it is in its thread and processed, and no attempt was counted on it
    [root] = slack.roots()
    assert texts(slack.thread(root.ts)) == ["Oi!"]
    stored = stored_item(MESSAGE_PK, "MESSAGE")
    assert stored is not None
    assert stored["status"] == "processed"
    assert "attempts" not in stored


def test_a_message_erased_before_its_first_receive_opens_nothing(
    client: Any, shop: str, container: Any, run_workers, monkeypatch, slack: FakeSlack
):
    # Given a new customer's first message, erased while it waits in the queue (just before
    # its worker would open their conversation)
    erase_before_next(
        monkeypatch, client, container.store.conversations, "create_conversation", PHONE
    )
    write(client, 1, From=PHONE, Body="Meu CPF é 123")

    # When the workers go on (and retry what failed)
    run_workers()

    # Then no conversation was opened, no card posted, and nothing of it is stored
    assert slack.posts == []
    assert items_of_shop_customers() == []


def test_a_processed_message_handed_out_again_as_new_is_neither_posted_nor_counted_twice(
    client: Any, shop: str, container: Any, slack: FakeSlack
):
    # Given a customer's message processed from its record (the record kept, as if its
    # delete were lost)
    write(client, 1, From=CUSTOMER, Body="Só uma vez")
    event = received_batch()
    assert app.handler_map["process_inbound"](event, None) == {"batchItemFailures": []}
    before = container.store.conversations.find_open_conversation("ana", CUSTOMER)

    # When the same record comes again, still marked as its first receive
    assert app.handler_map["process_inbound"](event, None) == {"batchItemFailures": []}

    # Then the post it made again is taken back, and the conversation is as it was
    after = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert after == before
    assert after.message_count == 1
    posts = slack.thread(after.slack_thread_ts)
    kept = [p for p in posts if (p.channel, p.ts) not in slack.deleted]
    assert texts(posts) == ["Só uma vez", "Só uma vez"]
    assert texts(kept) == ["Só uma vez"]
