"""A message the shop writes first to a customer erased while it waited in the queue is
dropped: it never opens a conversation or a thread for them again, nor is it sent."""

from urllib.parse import quote

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN
from tests.integration.test_shop_messages import PHONE, customer_writes, send


def test_a_message_queued_before_its_customer_is_erased_brings_them_back_nowhere(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a customer who wrote, and a message the shop wrote them, still queued
    customer_writes(client, 1, From=PHONE, Body="Cadê meu pedido?")
    run_workers()
    status, _ = send(client, {"channel": "sms", "to": PHONE, "text": "Atrasou um dia!"})
    assert status == 202

    # When the customer is erased before the worker takes the message
    erased = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert erased.status_code == 200
    posts = len(slack.posts)
    run_workers()

    # Then nothing of them comes back: no conversation, no thread, nothing sent
    assert container.store.conversations.find_open_conversation("ana", PHONE) is None
    assert len(slack.posts) == posts
    assert twilio.sent == []


def test_a_message_to_an_address_never_seen_still_opens_its_conversation(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    status, _ = send(client, {"channel": "sms", "to": PHONE, "text": "Seu pedido saiu!"})
    assert status == 202
    run_workers()

    assert container.store.conversations.find_open_conversation("ana", PHONE) is not None
    assert [s.text for s in twilio.sent] == ["Seu pedido saiu!"]
