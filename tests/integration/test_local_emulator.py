"""The local stack's emulator behaves as AWS does where Threadline's runs depend on it."""

import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.moto_patches import patch_emulator

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default


def _bodies(sqs: Any, url: str) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [message["Body"] for message in answer.get("Messages", [])]


def test_a_group_handed_back_whole_comes_back_from_its_first_message() -> None:
    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(
            QueueName="order.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
        )["QueueUrl"]
        _send_group(sqs, url, 3)
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


def test_a_long_poll_waiting_out_a_group_gets_it_from_its_first_message() -> None:
    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="poll.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        _send_group(sqs, url, 2)
        # The group in flight for a second, as a worker's failed records are
        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)
        assert [m["Body"] for m in first["Messages"]] == ["m0", "m1"]

        # A long poll begun while it is in flight waits for it, and gets it in order
        polled = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3)

        assert [m["Body"] for m in polled["Messages"]] == ["m0", "m1"]


class _CountingLock:
    """The emulator's receive lock, counting the passes that receivers make over a queue."""

    def __init__(self) -> None:
        self.passes = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()
        self.passes += 1

    def __exit__(self, *_: object) -> None:
        self._lock.release()


@pytest.fixture
def receive_passes(monkeypatch: pytest.MonkeyPatch) -> _CountingLock:
    from local_stack import moto_patches

    patch_emulator()
    lock = _CountingLock()
    monkeypatch.setattr(moto_patches, "_receive_lock", lock)
    return lock


@pytest.fixture
def no_timed_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a signal can wake a waiting poll before its end."""
    from local_stack import moto_patches

    monkeypatch.setattr(moto_patches, "LONG_POLL_PASS_SECONDS", 10.0)


def _start_polling(
    poll: Callable[[], None], polls: int, receive_passes: _CountingLock
) -> list[threading.Thread]:
    """Starts the polls, and returns once each has looked at its queue and waits."""
    looked = receive_passes.passes + polls
    threads = [threading.Thread(target=poll) for _ in range(polls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while receive_passes.passes < looked:
        assert time.monotonic() < deadline, "the polls never looked"
        time.sleep(0.01)
    time.sleep(0.05)  # from its pass to its wait
    return threads


def _send_group(sqs: Any, url: str, messages: int) -> None:
    for n in range(messages):
        sqs.send_message(
            QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="g", MessageDeduplicationId=f"{n}"
        )


def test_a_send_wakes_one_waiting_poll_not_every_one(receive_passes: _CountingLock) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="herd")["QueueUrl"]
        received: list[str] = []

        def poll() -> None:
            answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
            received.extend(message["Body"] for message in answer.get("Messages", []))

        # Sixteen workers wait on one queue, as the local stack's pumps do
        waiting = _start_polling(poll, 16, receive_passes)
        for n in range(8):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
            time.sleep(0.02)
        for thread in waiting:
            thread.join()

        assert sorted(received) == [f"m{n}" for n in range(8)]
        # A pass per receiver to start, one per send, one a second per waiter: waking every
        # poll on every send, and looking ten times a second, makes hundreds.
        assert receive_passes.passes <= 16 + 8 + 16 * 2 + 8


@pytest.mark.usefixtures("no_timed_pass")
@pytest.mark.parametrize("freeing", ["delete", "visibility"])
def test_freeing_a_group_wakes_a_poll_waiting_for_it(
    freeing: str, receive_passes: _CountingLock
) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(
            QueueName="freed.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
        )["QueueUrl"]
        _send_group(sqs, url, 2)
        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        polled: list[tuple[str, float]] = []

        def poll() -> None:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=4)
            polled.extend((m["Body"], time.monotonic()) for m in answer.get("Messages", []))

        # The poll finds the group in flight, and waits
        (waiting,) = _start_polling(poll, 1, receive_passes)
        freed_at = time.monotonic()
        if freeing == "delete":
            sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
            )
        waiting.join()

        expected = ["m1"] if freeing == "delete" else ["m0", "m1"]
        assert [body for body, _ in polled] == expected
        # At once, not at the poll's end four seconds after it began
        assert polled[0][1] - freed_at < 1.5


@pytest.mark.usefixtures("no_timed_pass")
def test_a_poll_that_took_a_wake_for_an_older_message_passes_it_on(
    receive_passes: _CountingLock,
) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="handover")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="older")
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)
        polled: dict[str, float] = {}

        def poll() -> None:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=4)
            polled.update((m["Body"], time.monotonic()) for m in answer.get("Messages", []))

        waiting = _start_polling(poll, 2, receive_passes)
        time.sleep(1.1)  # "older" is visible again, which signals nobody
        sent_at = time.monotonic()
        sqs.send_message(QueueUrl=url, MessageBody="newer")
        for thread in waiting:
            thread.join()

        # The send woke one poll, which took "older" and woke the other for "newer"
        assert sorted(polled) == ["newer", "older"]
        assert polled["newer"] - sent_at < 1.5


def test_a_deduplication_id_is_remembered_after_its_message_was_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from local_stack import moto_patches

    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="dedup.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

        def send(body: str) -> None:
            sqs.send_message(
                QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId="same"
            )

        send("original")
        [original] = sqs.receive_message(QueueUrl=url)["Messages"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=original["ReceiptHandle"])

        send("copy within the window")
        assert _bodies(sqs, url) == []

        monkeypatch.setattr(moto_patches, "DEDUPLICATION_SECONDS", 0)
        send("copy after the window")
        assert _bodies(sqs, url) == ["copy after the window"]


def test_applying_the_patches_twice_wraps_each_call_once() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend
    from moto.sqs.models import Queue, SQSBackend

    patch_emulator()

    def patched() -> tuple[object, ...]:
        return (
            SQSBackend.receive_message,
            SQSBackend.send_message,
            Queue.add_message,
            SQSBackend.delete_message,
            SQSBackend.change_message_visibility,
            DynamoDBBackend.transact_write_items,
            S3Backend.put_object,
        )

    once = patched()
    patch_emulator()
    assert patched() == once


@pytest.fixture
def table() -> Any:
    patch_emulator()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item=_item("a", "1", count="1"))
        dynamodb.put_item(TableName="t", Item=_item("b", "1", count="5"))
        yield dynamodb


def _item(pk: str, sk: str, **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}} | {n: {"N": v} for n, v in attributes.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _stored(dynamodb: Any) -> dict[tuple[str, str], str]:
    items = dynamodb.scan(TableName="t")["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i.get("count", {}).get("N", "") for i in items}


def _moto_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION].tables["t"]


def _increment(pk: str, sk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "t",
            "Key": _key(pk, sk),
            "UpdateExpression": "ADD #c :one",
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_a_transaction_that_fails_late_leaves_every_item_as_it_was(table: Any) -> None:
    before = _moto_table()
    with pytest.raises(ClientError) as refused:
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": _item("c", "1", count="9")}},
                _increment("a", "1"),
                {"Delete": {"TableName": "t", "Key": _key("b", "1")}},
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": _key("a", "2"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _stored(table) == {("a", "1"): "1", ("b", "1"): "5"}
    # Rolled back in place: the table was not replaced by a whole copy of itself.
    assert _moto_table() is before


def test_a_transaction_that_succeeds_writes_every_item(table: Any) -> None:
    table.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": _item("c", "1", count="9")}},
            _increment("a", "1"),
            {"Delete": {"TableName": "t", "Key": _key("b", "1")}},
        ]
    )

    assert _stored(table) == {("a", "1"): "2", ("c", "1"): "9"}


def test_a_transaction_naming_an_item_twice_is_refused_and_changes_nothing(table: Any) -> None:
    with pytest.raises(ClientError) as refused:
        table.transact_write_items(TransactItems=[_increment("a", "1"), _increment("a", "1")])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert _stored(table) == {("a", "1"): "1", ("b", "1"): "5"}


def test_an_object_key_longer_than_s3_takes_is_refused() -> None:
    patch_emulator()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="ç" * 512, Body=b"fits: 1,024 bytes")
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket="media", Key="ç" * 512 + "x", Body=b"one byte too many")
        assert refused.value.response["Error"]["Code"] == "KeyTooLongError"
