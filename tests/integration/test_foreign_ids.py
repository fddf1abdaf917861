"""Ids chosen by senders and providers, too long for a key or a deduplication id, against the
real (emulated) DynamoDB and SQS: hashed, never cut, so none is lost or taken for another."""

from datetime import UTC, datetime

import boto3

from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel
from tests.integration.conftest import PUBLIC_URL
from tests.signing import form, twilio_headers, twilio_message

# Two Message-IDs sharing their first 118 characters, as one mailer's ids can.
SHARED = "CAKx7Hq2" * 14 + "mail12"
LONG_IDS = (f"{SHARED}-0001@mail.gmail.com", f"{SHARED}-0002@mail.gmail.com")


def inbound(provider_message_id: str) -> InboundMessage:
    return InboundMessage(
        shop_id="ana",
        channel=Channel.EMAIL,
        provider="email",
        provider_message_id=provider_message_id,
        customer_address="ana.souza@gmail.com",
        shop_address="support@lojadaana.com.br",
        text="Olá",
        received_at=datetime.now(UTC),
    )


def queued_bodies() -> list[str]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="threadline-inbound.fifo")["QueueUrl"]
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_two_messages_whose_ids_share_a_long_start_are_both_queued_at_once(container):
    # When two mails arrive whose Message-IDs differ only after SQS's 128 characters
    for message_id in LONG_IDS:
        container.queues.send_inbound(inbound(message_id))

    # Then SQS takes both now (before, the second was dropped as a duplicate of the first
    # and came only with the requeue sweep, minutes late and out of order)
    bodies = queued_bodies()
    assert len(bodies) == 2
    assert {InboundMessage.model_validate_json(b).provider_message_id for b in bodies} == set(
        LONG_IDS
    )


def test_a_message_id_longer_than_a_key_still_threads_its_replies(
    client, shop, container, run_workers
):
    # Given a conversation, and a Message-ID too long for a DynamoDB key as it is
    params = twilio_message(1)
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200
    run_workers()
    conversation = container.store.conversations.find_open_conversation("ana", "+5511987654321")
    long_id = "ç" * 1100 + "@mail.example"
    other = "ç" * 1100 + "@other.example"

    # When it is filed under its conversation
    container.store.conversations.point_mail("ana", conversation.conversation_id, [long_id])

    # Then a reply naming it finds the conversation, and one naming another id does not
    found = container.store.conversations.find_conversation_by_mail("ana", (long_id,))
    assert found is not None
    assert found.conversation_id == conversation.conversation_id
    assert container.store.conversations.find_conversation_by_mail("ana", (other,)) is None
