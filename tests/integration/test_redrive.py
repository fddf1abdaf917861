"""Dead letters sent back to their queue (`threadline dlq redrive`): moto has no
StartMessageMoveTask, so `Queues.redrive` moves them itself, as the task would: each in its
message group and in its order there, with its attributes, the dead-letter queue empty after,
and a run cut off midway not doubling anything when it is run again."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.queues import Queues
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, dead_letter_queue


def url(queue: str) -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"])


def dead_letters(*messages: tuple[str, str]) -> None:
    """(group, body) in the inbound dead-letter queue, in order, as SQS leaves them there."""
    sqs = boto3.client("sqs")
    for n, (group, body) in enumerate(messages):
        sqs.send_message(
            QueueUrl=url(dead_letter_queue(INBOUND_QUEUE)),
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=f"original-{n}",
            MessageAttributes={
                "origin": {"DataType": "String", "StringValue": f"test-{body}"},
                "attempt": {"DataType": "Number", "StringValue": str(n)},
            },
        )


def drain(queue: str) -> list[dict[str, Any]]:
    """Everything in `queue`, each message deleted as received, in the order FIFO gives."""
    sqs = boto3.client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url(queue),
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["MessageGroupId"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return received
        for message in batch:
            sqs.delete_message(QueueUrl=url(queue), ReceiptHandle=message["ReceiptHandle"])
        received += batch


def depth(queue: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def by_group(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for message in messages:
        groups.setdefault(message["Attributes"]["MessageGroupId"], []).append(message["Body"])
    return groups


def test_dead_letters_go_back_in_order_within_their_groups_with_their_attributes(
    aws: None,
) -> None:
    # Given five dead letters of two customers, written in turn
    dead_letters(("ana", "a1"), ("bia", "b1"), ("ana", "a2"), ("ana", "a3"), ("bia", "b2"))
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 5

    # When they are redriven
    redrive = Queues(boto3.client("sqs"), INBOUND_QUEUE, OUTBOUND_QUEUE).redrive(INBOUND_QUEUE)

    # Then all five moved (by hand: moto has no move task), the dead-letter queue is empty,
    # and the queue gives each customer's messages back in the order they were written
    assert (redrive.records, redrive.task_handle) == (5, None)
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 0
    back = drain(INBOUND_QUEUE)
    assert by_group(back) == {"ana": ["a1", "a2", "a3"], "bia": ["b1", "b2"]}
    # And each kept its attributes
    for message in back:
        attributes = message["MessageAttributes"]
        assert attributes["origin"] == {
            "DataType": "String",
            "StringValue": f"test-{message['Body']}",
        }
        assert attributes["attempt"]["DataType"] == "Number"


class CutOff:
    """An SQS client whose connection drops at the redrive's first delete: that dead letter
    is back in its queue but still in the dead-letter queue, and the rest of its batch is
    received but not sent."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.received: list[str] = []
        self.cut = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, **request: Any) -> Any:
        answer = self._client.receive_message(**request)
        self.received += [m["ReceiptHandle"] for m in answer.get("Messages", [])]
        return answer

    def delete_message(self, **request: Any) -> Any:
        if not self.cut:
            self.cut = True
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
        return self._client.delete_message(**request)


def test_a_redrive_cut_off_midway_and_run_again_sends_each_dead_letter_once(aws: None) -> None:
    dead_letters(("ana", "a1"), ("ana", "a2"), ("bia", "b1"))
    sqs = boto3.client("sqs")
    cut_off = CutOff(sqs)

    # Given a redrive cut off after its first send, before that dead letter was deleted
    with pytest.raises(EndpointConnectionError):
        Queues(cut_off, INBOUND_QUEUE, OUTBOUND_QUEUE).redrive(INBOUND_QUEUE)
    assert depth(INBOUND_QUEUE) == 1
    # (and its batch visible again, as once its visibility timeout has passed)
    for handle in cut_off.received:
        sqs.change_message_visibility(
            QueueUrl=url(dead_letter_queue(INBOUND_QUEUE)),
            ReceiptHandle=handle,
            VisibilityTimeout=0,
        )

    # When the operator runs it again
    redrive = Queues(sqs, INBOUND_QUEUE, OUTBOUND_QUEUE).redrive(INBOUND_QUEUE)

    # Then every dead letter is back once, in order, and none is left behind
    assert redrive.records == 3
    assert depth(dead_letter_queue(INBOUND_QUEUE)) == 0
    assert by_group(drain(INBOUND_QUEUE)) == {"ana": ["a1", "a2"], "bia": ["b1"]}
