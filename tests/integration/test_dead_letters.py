"""Dead letters told in Slack: a customer message or a reply that ran out of tries waits in
its dead-letter queue for the operators, and the agents hear of it, once, in the thread (or
the shop's channel) it was for."""

import json
import time
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib.domain.errors import Retryable
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, dead_letter_queue
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.signing import form, slack_headers, slack_thread_reply, twilio_headers, twilio_message

CUSTOMER = "+5511987654321"


def depth(queue: str) -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_a_customer_message_that_could_not_be_posted_is_told_in_the_shops_channel_once(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    # Given Slack refuses every try of a customer's first message
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    params = twilio_message(1, From=CUSTOMER, Body="Socorro, meu pedido sumiu")
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 1
    slack.failures.clear()

    # When the watcher runs, twice
    told = container.dead_letters.tell_new()
    again = container.dead_letters.tell_new()

    # Then the shop's channel hears of it once, naming the customer, and the message is still
    # in the dead-letter queue for the operators to send again
    assert (told, again) == (1, 0)
    [note] = slack.posts
    assert (note.channel, note.thread_ts) == ("C0SUPPORT", None)
    assert f"could not post a message from {CUSTOMER}" in note.message.text
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 1


def test_a_reply_that_could_not_be_sent_is_told_in_its_thread(
    client: Any,
    shop: str,
    open_thread: Any,
    container: Any,
    run_workers: Any,
    slack: FakeSlack,
    twilio: RecordingTwilio,
) -> None:
    thread_ts = open_thread()
    twilio.failures.extend(Retryable("Twilio is down") for _ in range(12))
    body = slack_thread_reply(thread_ts, "1764000900.000100", "Já verifico!")
    client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    assert depth(dead_letter_queue(OUTBOUND_QUEUE)) == 1

    assert container.dead_letters.tell_new() == 1

    note = slack.thread(thread_ts)[-1]
    assert "could not send a reply or apply a button" in note.message.text


def test_a_failed_note_is_told_at_the_next_run(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    params = twilio_message(1, From=CUSTOMER)
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()
    slack.failures[:] = [Retryable("still down")]

    assert container.dead_letters.tell_new() == 0
    assert container.dead_letters.tell_new() == 1
    assert len(slack.posts) == 1


def _dead_letter(inbound: Any, sqs: Any, url: str, customer: int, n: int) -> None:
    """A customer message stored, as every customer message is before it is queued, and in
    the inbound dead-letter queue, in its customer's group."""
    from datetime import UTC, datetime

    from chalicelib.domain.messages import InboundMessage
    from chalicelib.domain.vocabulary import Channel

    message = InboundMessage(
        shop_id="ana",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id=f"SM{customer:016x}{n:016x}",
        customer_address=f"+5511987654{customer:03d}",
        shop_address="+14155550100",
        text="Onde está meu pedido?",
        received_at=datetime.now(UTC),
    )
    inbound.save_inbound(message)
    sqs.send_message(
        QueueUrl=url,
        MessageBody=message.model_dump_json(),
        MessageGroupId=message.customer_address,
        MessageDeduplicationId=f"{message.provider_message_id}:{time.time_ns()}",
    )


@pytest.fixture
def inbound_dead_letters(aws: None) -> tuple[Any, str]:
    """An SQS client and the inbound dead-letter queue's URL."""
    sqs = boto3.client("sqs")
    return sqs, sqs.get_queue_url(QueueName=dead_letter_queue(INBOUND_QUEUE))["QueueUrl"]


def test_more_dead_letters_than_a_receive_returns_are_all_told_and_left_visible(
    shop: str, container: Any, slack: FakeSlack, inbound_dead_letters: tuple[Any, str]
) -> None:
    # Given 120 customers' messages in the dead-letter queue, one message group each (a
    # Slack outage holds every customer who wrote meanwhile)
    sqs, url = inbound_dead_letters
    for customer in range(120):
        _dead_letter(container.store.inbound, sqs, url, customer, 0)

    # When the watcher runs
    told = container.dead_letters.tell_new()

    # Then every one is told, and all wait visible for the operators, none held
    assert told == 120 == len(slack.posts)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "120",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_a_customer_whose_messages_are_held_is_told_once_until_they_are_held_anew(
    shop: str, container: Any, slack: FakeSlack, inbound_dead_letters: tuple[Any, str]
) -> None:
    # Given three messages of one customer held (one FIFO group) and one of another
    sqs, url = inbound_dead_letters
    for n in range(3):
        _dead_letter(container.store.inbound, sqs, url, 1, n)
    _dead_letter(container.store.inbound, sqs, url, 2, 0)

    # When the watcher runs twice, one note per customer, the first time only
    assert container.dead_letters.tell_new() == 2
    assert container.dead_letters.tell_new() == 0
    assert sorted(p.message.text.split("from ")[1].split(",")[0] for p in slack.posts) == [
        "+5511987654001",
        "+5511987654002",
    ]

    # When the operators redrive the first customer's messages and they are held again
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    for message in held["Messages"]:
        if "+5511987654001" in message["Body"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    for n in range(3):
        _dead_letter(container.store.inbound, sqs, url, 1, n)

    # Then that customer is told anew, once
    assert container.dead_letters.tell_new() == 1
    assert "+5511987654001" in slack.posts[-1].message.text


def write(client: Any, n: int, **fields: str) -> None:
    params = twilio_message(n, **{"From": CUSTOMER, **fields})
    path = "/webhooks/twilio/ana"
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200, response.body


def erase(client: Any, customer: str = CUSTOMER) -> dict[str, Any]:
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(customer)}", headers=ADMIN)
    assert response.status_code == 200, response.body
    receipt: dict[str, Any] = json.loads(response.body)
    return receipt


def dead_lettered_during_an_outage(client: Any, run_workers: Any, slack: FakeSlack) -> None:
    """A customer's first message that Slack refused until it was dead-lettered."""
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    write(client, 1, Body="Meu CPF é 123")
    run_workers()
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 1
    slack.failures.clear()


def test_a_dead_letter_of_a_customer_erased_before_it_is_told_is_never_told(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    # Given a customer's message dead-lettered during a Slack outage
    dead_lettered_during_an_outage(client, run_workers, slack)
    # When the customer is erased before the watcher (every 5 minutes) runs
    receipt = erase(client)
    assert receipt["messages_outside_conversations"] == 1
    told = container.dead_letters.tell_new()
    # Then nothing is told of it: the note would name a customer who is gone
    assert told == 0
    assert slack.posts == []


def test_a_note_naming_a_customer_is_deleted_by_their_erasure(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    # Given a customer's message dead-lettered, and told in the shop's channel by number
    dead_lettered_during_an_outage(client, run_workers, slack)
    assert container.dead_letters.tell_new() == 1
    [note] = slack.posts
    assert CUSTOMER in note.message.text
    # When the customer is erased
    receipt = erase(client)
    # Then the note is deleted from Slack too, and counted
    assert slack.deleted == [(note.channel, note.ts)]
    assert (receipt["slack_messages_deleted"], receipt["slack_messages_left"]) == (1, 0)
    assert receipt["slack_posts_left"] == []


def test_a_note_told_while_its_customer_is_erased_is_taken_back(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack, monkeypatch: Any
) -> None:
    # Given a customer's message dead-lettered, and the customer erased just after the
    # watcher found it stored, as it tells of it
    dead_lettered_during_an_outage(client, run_workers, slack)
    note_post = container.store.inbound.note_post_about_message

    def erased_first(*args: Any) -> bool:
        erase(client)
        return bool(note_post(*args))

    monkeypatch.setattr(container.store.inbound, "note_post_about_message", erased_first)
    # When the watcher runs
    container.dead_letters.tell_new()
    # Then the note, which the erasure could not find, is deleted at once
    [note] = slack.posts
    assert slack.deleted == [(note.channel, note.ts)]


def test_a_customers_message_held_in_their_thread_is_told_there_without_their_number(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    # Given a customer's conversation in its thread, and their next message dead-lettered
    write(client, 1, Body="Oi")
    run_workers()
    [root] = slack.roots()
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    write(client, 2, Body="Meu CPF é 123")
    run_workers()
    slack.failures.clear()
    # When the watcher runs
    assert container.dead_letters.tell_new() == 1
    # Then the thread hears of it, which names the conversation; the note names no one
    note = slack.posts[-1]
    assert (note.channel, note.thread_ts) == (root.channel, root.ts)
    assert "could not post a message from the customer" in note.message.text
    assert CUSTOMER.removeprefix("+") not in note.message.text


def test_a_shop_message_held_before_its_thread_is_told_without_the_customers_number(
    client: Any, shop: str, container: Any, run_workers: Any, slack: FakeSlack
) -> None:
    # Given a message the shop wrote to a customer with no conversation, held while Slack
    # refused the conversation's card
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    body = {"channel": "sms", "to": CUSTOMER, "text": "Seu pedido 1042 foi enviado."}
    response = client.http.post("/admin/shops/ana/messages", headers=ADMIN, body=json.dumps(body))
    assert response.status_code == 202, response.body
    run_workers()
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 1
    slack.failures.clear()
    # When the watcher runs
    assert container.dead_letters.tell_new() == 1
    # Then the shop's channel hears of it by its channel and time, naming no one
    [note] = slack.posts
    assert (note.channel, note.thread_ts) == ("C0SUPPORT", None)
    assert "could not send a message the shop wrote (sms, asked for at" in note.message.text
    assert CUSTOMER.removeprefix("+") not in note.message.text


def test_a_dead_letter_of_a_deleted_shop_is_not_told_to_the_shop_created_again_with_its_id(
    shop: str,
    put_shop: Any,
    client: Any,
    container: Any,
    slack: FakeSlack,
    clock: Any,
    inbound_dead_letters: tuple[Any, str],
) -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.domain.messages import InboundMessage
    from chalicelib.domain.vocabulary import Channel

    # Given shop ana deleted and created again with its id, while a message of the deleted
    # shop (stored by a container that still held its config) waits in the dead-letter queue
    before = container.store.shops.get_shop("ana", fresh=True).incarnation
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 200
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    assert put_shop("ana").status_code == 201
    late = InboundMessage(
        shop_id="ana",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM" + "9" * 32,
        customer_address=CUSTOMER,
        shop_address="+14155550100",
        text="Meu CPF é 123",
        received_at=datetime.now(UTC),
        shop_incarnation=before,
    )
    container.store.inbound.save_inbound(late)
    sqs, url = inbound_dead_letters
    sqs.send_message(
        QueueUrl=url,
        MessageBody=late.model_dump_json(),
        MessageGroupId=late.customer_address,
        MessageDeduplicationId=late.provider_message_id,
    )
    # When the watcher runs
    told = container.dead_letters.tell_new()
    # Then the new shop hears nothing of the old shop's customer
    assert told == 0
    assert slack.posts == []


def test_an_alarm_of_a_conversation_gone_is_not_told(
    shop: str, container: Any, slack: FakeSlack
) -> None:
    from datetime import UTC, datetime

    from chalicelib.domain.jobs import Wakeup
    from chalicelib.settings import TIMERS_QUEUE

    # Given a snooze alarm held in the dead-letter queue, whose conversation is gone (its
    # customer erased, or its shop deleted and created again with the id)
    alarm = Wakeup(shop_id="ana", conversation_id="01JGONE", due_at=datetime.now(UTC))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=dead_letter_queue(TIMERS_QUEUE))["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=alarm.model_dump_json(),
        MessageGroupId=alarm.conversation_ref,
        MessageDeduplicationId="wakeup",
    )
    # When the watcher runs
    told = container.dead_letters.tell_new()
    # Then the shop hears nothing of a conversation it no longer has
    assert told == 0
    assert slack.posts == []
