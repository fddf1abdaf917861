"""What lets the local stack keep up with 20 messages a second: concurrent workers per queue
that still never hold one FIFO message group twice, an emulator whose SQS calls do not slow
down with the queue's backlog, and the emulator in a process of its own."""

import socket
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.emulator import start_emulator
from local_stack.moto_patches import patch_emulator
from local_stack.pump import pumps_for

REGION = "eu-west-1"


def _fifo(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "VisibilityTimeout": "30", **attributes}
    )["QueueUrl"]
    return url


def _send(sqs: Any, url: str, n: int, group: str = "g") -> None:
    sqs.send_message(
        QueueUrl=url, MessageBody=f"m{n}", MessageGroupId=group, MessageDeduplicationId=str(n)
    )


def test_concurrent_receivers_never_hold_one_message_group_twice() -> None:
    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        for attempt in range(10):
            url = _fifo(sqs, f"group{attempt}.fifo")
            for n in range(8):
                _send(sqs, url, n)
            got: list[str] = []
            start = threading.Barrier(6)

            def receive(url: str = url, got: list[str] = got, start: Any = start) -> None:
                client = boto3.client("sqs", region_name=REGION)
                start.wait()
                answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
                got.extend(m["Body"] for m in answer.get("Messages", []))

            receivers = [threading.Thread(target=receive) for _ in range(6)]
            for receiver in receivers:
                receiver.start()
            for receiver in receivers:
                receiver.join()
            assert got == ["m0"]


def test_a_send_does_not_look_at_every_message_the_queue_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.sqs.models import Message

    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = _fifo(sqs, "backlog.fifo")
        for n in range(200):
            _send(sqs, url, n, group=f"g{n}")
        visible = Message.visible
        looked = 0

        def counted(message: Message) -> bool:
            nonlocal looked
            looked += 1
            return bool(visible.fget(message))  # type: ignore[attr-defined]

        monkeypatch.setattr(Message, "visible", property(counted))
        _send(sqs, url, 200, group="g200")
        assert looked < 10

        # Where the counts are asked for, they are still counted.
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "201"


def test_a_message_older_than_the_retention_period_is_not_received() -> None:
    from moto.sqs.models import sqs_backends

    patch_emulator()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = _fifo(sqs, "retention.fifo", MessageRetentionPeriod="60")
        _send(sqs, url, 1)
        [message] = sqs_backends["123456789012"][REGION].get_queue("retention.fifo")._messages
        assert message.sent_timestamp is not None
        message.sent_timestamp -= 120_000
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_the_emulator_lists_its_services_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from moto import backends

    patch_emulator()

    def refused(path: str) -> list[str]:
        raise AssertionError(f"listed {path} again")

    monkeypatch.setattr(os, "listdir", refused)
    assert {"sqs", "dynamodb"} <= set(backends.list_of_moto_modules())


def test_pumps_for_runs_as_many_workers_per_queue_as_asked() -> None:
    from app import app

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queues = [getattr(source, "queue", None) for source in app.event_sources]
        for queue in filter(None, queues):
            sqs.create_queue(QueueName=queue, Attributes={"FifoQueue": "true"})
        one, four = pumps_for(app, sqs), pumps_for(app, sqs, concurrency=4)
    assert len(one) == len(list(filter(None, queues)))
    assert len(four) == 4 * len(one)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_emulator_runs_patched_in_its_own_process_until_stopped() -> None:
    port = _free_port()
    stop = start_emulator("127.0.0.1", port)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        s3.create_bucket(Bucket="media")
        # Only the patched emulator refuses a key longer than S3 takes.
        with pytest.raises(ClientError, match="KeyTooLongError"):
            s3.put_object(Bucket="media", Key="k" * 1025, Body=b"")
    finally:
        stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
