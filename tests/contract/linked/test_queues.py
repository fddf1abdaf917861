"""InboundQueue, OutboundQueue and SchedulesPort: FIFO order within a group, a repeat of a
deduplication id dropped, the same alarm set once."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import boto3
import pytest

from chalicelib.domain.jobs import (
    AutoReplyJob,
    DeliveryUpdate,
    DeliveryWatermark,
    OutboundWork,
    SlaAlarm,
    Wakeup,
)
from chalicelib.domain.messages import DeliveryStatus, InboundMessage, ShopMessage
from chalicelib.domain.vocabulary import SlaStage, SlaTarget
from chalicelib.queues import Queues, Schedules, parse_inbound, parse_outbound
from chalicelib.services.ports import InboundQueue, OutboundQueue, SchedulesPort
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, SCHEDULE_GROUP, TIMERS_QUEUE
from tests.contract.linked.conftest import CHANNEL, SHOP, T0, TEAM, message
from tests.fakes import FakeQueues, FakeSchedules


class Queue(InboundQueue, OutboundQueue, Protocol):
    pass


@dataclass
class Wiring:
    """The queues and schedules under test, and how a test reads what they hold."""

    queues: Queue
    received_inbound: Callable[[], list[InboundMessage | ShopMessage]]
    received_outbound: Callable[[], list[OutboundWork]]
    schedules: SchedulesPort
    alarms_set: Callable[[], int]


def _drained(queue: str) -> list[str]:
    """Every body a queue holds, received in order and deleted."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies: list[str] = []
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for received in answer:
            bodies.append(received["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    return bodies


@pytest.fixture
def wiring(backend: str, request: pytest.FixtureRequest) -> Wiring:
    if backend == "fake":
        queues, schedules = FakeQueues(), FakeSchedules()
        return Wiring(
            queues,
            queues.inbound.take,
            queues.outbound.take,
            schedules,
            lambda: len(schedules.alarms),
        )
    request.getfixturevalue("aws")
    real = Queues(boto3.client("sqs"), INBOUND_QUEUE, OUTBOUND_QUEUE)
    scheduler = boto3.client("scheduler")

    def alarms_set() -> int:
        return len(scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"])

    return Wiring(
        real,
        lambda: [parse_inbound(body) for body in _drained(INBOUND_QUEUE)],
        lambda: [parse_outbound(body) for body in _drained(OUTBOUND_QUEUE)],
        Schedules(scheduler, boto3.client("sqs"), SCHEDULE_GROUP, TIMERS_QUEUE),
        alarms_set,
    )


def test_a_customers_messages_keep_their_order_and_a_repeat_is_dropped(wiring: Wiring) -> None:
    first, second = message(1), message(2, at=T0 + timedelta(seconds=1))
    elsewhere = message(3, customer="+15550100009")

    for sent in (first, elsewhere, second, first):
        wiring.queues.send_inbound(sent)

    received = wiring.received_inbound()
    assert [m for m in received if m.customer_address == first.customer_address] == [
        first,
        second,
    ]
    assert elsewhere in received
    assert len(received) == 3


def _auto_reply(reply_key: str) -> AutoReplyJob:
    return AutoReplyJob(
        conversation_ref=f"{SHOP}:01CONV",
        team_id=TEAM,
        channel_id=CHANNEL,
        thread_ts="1764000000.000001",
        message_key="twilio:SM1",
        reply_key=reply_key,
        language="en",
        text="We got your message",
    )


def test_jobs_keep_their_order_and_a_repeat_is_dropped(wiring: Wiring) -> None:
    jobs: list[OutboundWork] = [
        _auto_reply("acknowledgement"),
        DeliveryUpdate(shop_id=SHOP, provider_message_id="SM9", status=DeliveryStatus.SENT),
        _auto_reply("faq:returns"),
        _auto_reply("acknowledgement"),
        DeliveryUpdate(shop_id=SHOP, provider_message_id="SM9", status=DeliveryStatus.SENT),
    ]

    for job in jobs:
        wiring.queues.send_outbound(job)

    received = wiring.received_outbound()
    assert [j for j in received if isinstance(j, AutoReplyJob)] == [jobs[0], jobs[2]]
    assert [j for j in received if isinstance(j, DeliveryUpdate)] == [jobs[1]]


def test_a_repeated_watermark_is_dropped_and_a_later_one_kept(wiring: Wiring) -> None:
    def read_up_to(minutes: int) -> DeliveryWatermark:
        return DeliveryWatermark(
            shop_id=SHOP,
            customer_address="messenger:PSID1",
            status=DeliveryStatus.READ,
            watermark=T0 + timedelta(minutes=minutes),
        )

    for job in (read_up_to(1), read_up_to(1), read_up_to(2)):
        wiring.queues.send_outbound(job)

    assert wiring.received_outbound() == [read_up_to(1), read_up_to(2)]


def test_the_same_alarm_is_set_once(wiring: Wiring) -> None:
    wakeup = Wakeup(shop_id=SHOP, conversation_id="01CONV", due_at=T0 + timedelta(hours=2))
    alarm = SlaAlarm(
        shop_id=SHOP,
        conversation_id="01CONV",
        due_at=T0 + timedelta(hours=1),
        target=SlaTarget.FIRST_RESPONSE,
        started_at=T0,
        stage=SlaStage.BREACHED,
    )

    for job in (wakeup, alarm, wakeup, alarm, wakeup.model_copy(update={"due_at": T0})):
        wiring.schedules.set_alarm(job)

    assert wiring.alarms_set() == 3
