"""The local stack's emulator hands a FIFO group back in order, as SQS does."""

import time
from typing import Any

import boto3
from moto import mock_aws

from chalicelib.local.moto_fifo import keep_fifo_group_order


def _bodies(sqs: Any, url: str) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [message["Body"] for message in answer.get("Messages", [])]


def test_a_group_handed_back_whole_comes_back_from_its_first_message() -> None:
    keep_fifo_group_order()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(
            QueueName="order.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
        )["QueueUrl"]
        for n in range(3):
            sqs.send_message(
                QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="g", MessageDeduplicationId=f"{n}"
            )
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in received] == ["m0", "m1", "m2"]
        assert _bodies(sqs, url) == []  # the group is in flight

        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 1}
                for n, m in enumerate(received)
            ],
        )
        time.sleep(1.2)

        assert _bodies(sqs, url) == ["m0", "m1", "m2"]


def test_applying_the_fix_twice_wraps_the_receive_once() -> None:
    from moto.sqs.models import SQSBackend

    keep_fifo_group_order()
    once = SQSBackend.receive_message
    keep_fifo_group_order()
    assert SQSBackend.receive_message is once
