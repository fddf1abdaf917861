"""The in-process responder behind the ack figure's boto3-only floor: botocore parses its
answers as DynamoDB's and SQS's, and a call it cannot answer fails instead of going out."""

import hashlib

import boto3
import pytest

from bench.in_process_aws import InProcessAws, UnansweredCall

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/threadline-inbound.fifo"


Answered = tuple[boto3.Session, InProcessAws]


@pytest.fixture
def answered() -> Answered:
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    responder = InProcessAws()
    responder.install(session)
    return session, responder


def test_put_item_and_send_message_are_answered_as_the_services_answer(
    answered: Answered,
) -> None:
    session, responder = answered
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    with responder.answering():
        put = dynamodb.put_item(TableName="threadline", Item={"PK": {"S": "SHOP#ana"}})
        sent = sqs.send_message(
            QueueUrl=QUEUE_URL,
            MessageBody="Onde está meu pedido? مرحبا",
            MessageGroupId="ana#conversation",
            MessageDeduplicationId="ana#SM1",
        )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Attributes" not in put
    expected_md5 = hashlib.md5(
        "Onde está meu pedido? مرحبا".encode(), usedforsecurity=False
    ).hexdigest()
    assert sent["MD5OfMessageBody"] == expected_md5
    assert sent["MessageId"]
    assert sent["SequenceNumber"].isdigit()
    assert responder.answered == 2


def test_a_call_without_an_answer_fails_rather_than_leaving_the_process(
    answered: Answered,
) -> None:
    session, responder = answered
    with responder.answering(), pytest.raises(UnansweredCall, match=r"dynamodb\.GetItem"):
        session.client("dynamodb").get_item(TableName="threadline", Key={"PK": {"S": "x"}})
    assert responder.answered == 0
