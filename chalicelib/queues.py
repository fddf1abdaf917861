"""The SQS FIFO queues between the webhook acks and the workers, and the one-time
EventBridge Scheduler schedules that put timed work (snooze alarms) on the timers queue.

Inbound: one message per customer message, or per message the shop sends first; group = the
customer within the shop (order per customer, customers in parallel), dedup id = the
provider's message id (the caller's message id for the shop's). Outbound: agent
replies and delivery updates; group = the conversation's Slack thread or the provider
message, dedup id = Slack's event id or the provider's message id and status.

Bodies are ASCII-only JSON: SQS refuses some characters a customer can send (U+FFFE,
U+FFFF), and escaped they travel safely while the stored copy keeps them as they are. Escaped,
one character takes up to 12 bytes, so a job is measured as sent, and one over the queues'
MaximumMessageSize is refused here (TooLarge), where the ack paths can check it before they
store anything, rather than by SQS after the write.

Dead letters go back with SQS's message move task; where the endpoint does not have it
(moto), `Queues.redrive` moves them itself. The mail ingester, started by SNS rather than a
queue, leaves Lambda's record of each notification it gave up on in an on-failure queue;
`replay_failed_notifications` publishes those notifications again.
"""

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, TypeAdapter

from chalicelib.domain.errors import NotYet, Retryable, TooLarge
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import (
    AgentReply,
    AutoReplyJob,
    CancelApproval,
    CancelRequested,
    CannedReply,
    CardAction,
    ConversationAction,
    DeliveryWatermark,
    OrdersLookup,
    OutboundJob,
    OutboundWork,
    RefundApproval,
    RefundRequested,
    ReturnRequested,
    ShopMessageJob,
    SlaAlarm,
    TimerJob,
    TimerWork,
)
from chalicelib.domain.messages import InboundMessage, ShopMessage
from chalicelib.settings import dead_letter_queue

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any
    EventBridgeSchedulerClient = Any

OUTBOUND_JOB = TypeAdapter[OutboundWork](OutboundJob, config=ConfigDict(defer_build=True))

# What a message attribute read from a queue is sent again with (not the reserved lists).
_ATTRIBUTE_PARTS = frozenset({"DataType", "StringValue", "BinaryValue"})

# SQS allows these characters in group and deduplication ids; anything else is replaced.
_ID_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)


# A record is started only with this much of the Lambda's time left; the rest of the batch
# is handed back rather than cut off mid-send when the function times out.
RECORD_TIME_BUDGET_MS = 15_000
RETRY_GROWTH = 3
RETRY_MAX_SECONDS = 900


def retry_delay(receive_count: int, retry_after: float | None, base_seconds: float) -> int:
    """How long a failed record waits: what the dependency asked for, else a backoff that
    retries soon at first and rarely later (10 s base: 10, 30, 90, 270, 810 s), so a short
    hiccup costs seconds while a long outage still spends its five tries over ~20 minutes."""
    if retry_after is not None:
        return min(math.ceil(retry_after), RETRY_MAX_SECONDS)
    exponent = max(receive_count, 1) - 1
    return int(min(base_seconds * RETRY_GROWTH**exponent, RETRY_MAX_SECONDS))


def _queue_id(value: str) -> str:
    """A group or deduplication id as SQS takes it (128 characters of its set): replacing
    or cutting characters would let two ids meet, and SQS drop one as a duplicate."""
    return fitted(value, 128, _ID_CHARACTERS)


# The queues' MaximumMessageSize (infra/template.json). The jobs carry no message
# attributes, so the body is all SQS counts.
MAX_MESSAGE_BYTES = 262_144


def _queue_body(job: BaseModel) -> str:
    body = job.model_dump_json(ensure_ascii=True)
    size = len(body.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise TooLarge(
            f"too large to queue: {size:,} bytes as sent, the queues take {MAX_MESSAGE_BYTES:,}"
        )
    return body


def fits_in_queue(job: BaseModel) -> bool:
    try:
        _queue_body(job)
    except TooLarge:
        return False
    return True


# How long a peek holds the messages it has seen, at most: they are let go at its end.
PEEK_HOLD_SECONDS = 30


class Peeked(NamedTuple):
    """A message seen in a queue and left there."""

    message_id: str
    group: str | None  # its FIFO message group
    body: str


# Long enough to send a batch of ten back, short enough that the dead letters of a run cut
# off midway are visible again well within SQS's 5-minute deduplication window.
REDRIVE_VISIBILITY_SECONDS = 60


@dataclass(frozen=True)
class Replayed:
    """What a replay of an on-failure queue did: records published again (and deleted),
    and records kept because they hold no notification to publish."""

    published: int
    kept: int


def replay_failed_notifications(sqs: SQSClient, sns: Any, queue_name: str) -> Replayed:
    """Publishes again each SNS notification a function gave up on, to the topic it came
    from: Lambda's record of a failed asynchronous invocation (its on-failure destination,
    `queue_name`) holds the event the function was invoked with. The function then runs as
    it did at first, with Lambda's retries and its on-failure destination behind it. A record
    is deleted once its notifications are published; one that holds none is kept (and
    counted) for an operator, and seen again after REDRIVE_VISIBILITY_SECONDS."""
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    published = kept = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not batch:
            return Replayed(published, kept)
        for message in batch:
            notifications = _failed_notifications(message["Body"])
            if not notifications:
                kept += 1
                continue
            for topic, notification in notifications:
                sns.publish(TopicArn=topic, Message=notification)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            published += 1


def _failed_notifications(record: str) -> list[tuple[str, str]]:
    """(topic ARN, message) of each SNS notification in a Lambda invocation record's
    `requestPayload`; none when it is not such a record."""
    try:
        event = json.loads(record)["requestPayload"]
        found = [(r["Sns"]["TopicArn"], r["Sns"]["Message"]) for r in event["Records"]]
    except (ValueError, KeyError, TypeError):
        return []
    return [
        (topic, message)
        for topic, message in found
        if isinstance(topic, str) and isinstance(message, str)
    ]


@dataclass(frozen=True)
class Redrive:
    """A dead-letter queue's records sent back: moved by Threadline itself (`task_handle`
    None), or being moved by SQS's move task, `records` being what waited when it started."""

    dead_letter_queue: str
    queue: str
    records: int
    task_handle: str | None = None


def _move_task_missing(error: Exception) -> bool:
    """Whether StartMessageMoveTask failed because the endpoint does not implement it, as
    opposed to SQS refusing it (a task already running, permissions), which must be seen.
    moto raises NotImplementedError in process; moto's server answers 500 with an HTML
    page, which botocore reports as the bare code "500" (SQS always answers with an error
    code of its own); other emulators answer 501 Not Implemented."""
    from botocore.exceptions import ClientError

    if isinstance(error, NotImplementedError):
        return True
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code")
    return bool(status == 501 or (status == 500 and code == "500"))


class Queues:
    def __init__(self, client: SQSClient, inbound_queue: str, outbound_queue: str) -> None:
        self._client = client
        self._inbound_name = inbound_queue
        self._outbound_name = outbound_queue
        self._urls: dict[str, str] = {}

    def _url(self, name: str) -> str:
        # Resolved once per container: a cold start pays for it, the warm ack path does not.
        if name not in self._urls:
            self._urls[name] = str(self._client.get_queue_url(QueueName=name)["QueueUrl"])
        return self._urls[name]

    def retry_later(self, queue_arn: str, delays: Iterable[tuple[str, int]]) -> None:
        """Makes failed records visible again, each after its (receipt handle, seconds)."""
        self._set_visibility(self._url(queue_arn.rsplit(":", 1)[-1]), delays)

    def _set_visibility(self, url: str, delays: Iterable[tuple[str, int]]) -> None:
        entries = [
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for n, (handle, seconds) in enumerate(delays)
        ]
        for start in range(0, len(entries), 10):
            self._client.change_message_visibility_batch(
                QueueUrl=url, Entries=entries[start : start + 10]
            )

    def peek(self, queue_name: str, limit: int = 100) -> list[Peeked]:
        """What waits in a queue, up to `limit`, left where it is: for watching dead-letter
        queues, never for processing. Each batch is held briefly so the next receive
        returns others (a FIFO queue would return its same first messages again), then all
        are made visible again at once. A FIFO message group is seen up to the messages of
        its first batch: the rest of it waits behind them."""
        url = self._url(queue_name)
        seen: dict[str, Peeked] = {}
        handles: list[str] = []
        try:
            while len(seen) < limit:
                answer = self._client.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=PEEK_HOLD_SECONDS,
                    WaitTimeSeconds=0,
                    MessageSystemAttributeNames=["MessageGroupId"],
                )
                batch = answer.get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    group = message.get("Attributes", {}).get("MessageGroupId")
                    seen[message["MessageId"]] = Peeked(
                        message["MessageId"], group, message["Body"]
                    )
                    handles.append(message["ReceiptHandle"])
        finally:
            if handles:
                self._set_visibility(url, [(handle, 0) for handle in handles])
        return list(seen.values())[:limit]

    def redrive(self, queue_name: str) -> Redrive:
        """Sends the records of `queue_name`'s dead-letter queue back to it: with SQS's move
        task, or, where the endpoint has none, by moving them itself."""
        dead_letters = dead_letter_queue(queue_name)
        dead_letter_attributes = self._client.get_queue_attributes(
            QueueUrl=self._url(dead_letters),
            AttributeNames=["QueueArn", "ApproximateNumberOfMessages"],
        )["Attributes"]
        queue_attributes = self._client.get_queue_attributes(
            QueueUrl=self._url(queue_name), AttributeNames=["QueueArn"]
        )["Attributes"]
        try:
            task = self._client.start_message_move_task(
                SourceArn=dead_letter_attributes["QueueArn"],
                DestinationArn=queue_attributes["QueueArn"],
            )
        except Exception as error:
            if not _move_task_missing(error):
                raise
        else:
            return Redrive(
                dead_letters,
                queue_name,
                int(dead_letter_attributes["ApproximateNumberOfMessages"]),
                str(task["TaskHandle"]),
            )
        return Redrive(dead_letters, queue_name, self._move_back(dead_letters, queue_name))

    def _move_back(self, dead_letters: str, queue_name: str) -> int:
        """What the move task does: each dead letter sent to its queue in the same message
        group (FIFO hands a group's messages out in order, one batch at a time), with its
        attributes, then deleted. Returns how many moved."""
        source, destination = self._url(dead_letters), self._url(queue_name)
        moved = 0
        while True:
            batch = self._client.receive_message(
                QueueUrl=source,
                MaxNumberOfMessages=10,
                VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["MessageGroupId"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return moved
            for message in batch:
                attributes = {
                    name: {k: v for k, v in value.items() if k in _ATTRIBUTE_PARTS}
                    for name, value in message.get("MessageAttributes", {}).items()
                }
                self._client.send_message(
                    QueueUrl=destination,
                    MessageBody=message["Body"],
                    MessageGroupId=message["Attributes"]["MessageGroupId"],
                    # Not the original id, which SQS may still hold for 5 minutes and would
                    # drop the message for; one derived from the dead letter, so that a
                    # run cut off between this send and the delete sends it once.
                    MessageDeduplicationId=f"redrive:{message['MessageId']}",
                    MessageAttributes=attributes,
                )
                self._client.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1

    def inbound_body(self, message: InboundMessage | ShopMessage) -> str:
        """The queue body of `message`, measured: raises TooLarge when no queue can carry it.
        Taken before a message is stored, so that one refused leaves nothing behind, and
        handed to `send_inbound` so the ack path encodes it once."""
        return _queue_body(message)

    def send_inbound(self, message: InboundMessage | ShopMessage, body: str | None = None) -> None:
        self._client.send_message(
            QueueUrl=self._url(self._inbound_name),
            MessageBody=body if body is not None else _queue_body(message),
            MessageGroupId=_queue_id(message.customer_key),
            MessageDeduplicationId=_queue_id(f"{message.shop_id}:{message.message_key}"),
        )

    def send_outbound(self, job: OutboundWork) -> None:
        if isinstance(job, AgentReply):
            group, dedup = job.thread_key, f"{job.team_id}:{job.event_id}"
        elif isinstance(job, CannedReply):
            group, dedup = job.thread_key, f"{job.team_id}:view:{job.view_id}"
        elif isinstance(job, AutoReplyJob | ShopMessageJob):
            group, dedup = job.thread_key, job.post_id
        elif isinstance(job, ConversationAction):
            # Its own group: a button must not wait behind a reply's grace period; a draft
            # (a model's seconds, changing nothing) not even behind the card's other buttons.
            drafting = job.action is CardAction.DRAFT_REPLY
            group = f"{job.thread_key}:draft" if drafting else f"{job.thread_key}:card"
            dedup = f"{job.thread_key}:{job.action_ts}:{job.user_id}"
        elif isinstance(job, OrdersLookup):
            group, dedup = job.group, f"{job.conversation_ref}:orders:{job.cause}"
        elif isinstance(job, RefundRequested):
            # The key of the modal's submission: a double click or Slack's retry is one job.
            group, dedup = job.group, f"refund:{job.plan.submission_key}"
        elif isinstance(job, RefundApproval):
            group = job.group
            dedup = f"{job.conversation_ref}:approve:{job.action_ts}:{job.user_id}"
        elif isinstance(job, CancelRequested):
            group, dedup = job.group, f"cancel:{job.plan.submission_key}"
        elif isinstance(job, CancelApproval):
            group = job.group
            dedup = f"{job.conversation_ref}:approve-cancel:{job.action_ts}:{job.user_id}"
        elif isinstance(job, ReturnRequested):
            group, dedup = job.group, f"return:{job.plan.submission_key}"
        elif isinstance(job, DeliveryWatermark):
            group = job.group
            dedup = f"{group}:{job.status.value}:{job.watermark.isoformat()}"
        else:
            group = f"{job.shop_id}:{job.provider_message_id}"
            dedup = f"{group}:{job.status.value}"
        self._client.send_message(
            QueueUrl=self._url(self._outbound_name),
            MessageBody=_queue_body(job),
            MessageGroupId=_queue_id(group),
            MessageDeduplicationId=_queue_id(dedup),
        )


class Schedules:
    """One-time schedules in Threadline's schedule group, each delivering a job to the timers
    queue at its moment and deleting itself after. A schedule's name is derived from its
    job, so setting the same alarm twice creates it once."""

    def __init__(
        self, client: EventBridgeSchedulerClient, sqs: SQSClient, group: str, timers_queue: str
    ) -> None:
        self._client = client
        self._sqs = sqs
        self._group = group
        self._timers_queue = timers_queue

    @cached_property
    def _target(self) -> tuple[str, str]:
        """The timers queue's ARN, and the role the scheduler sends to it with (same account
        and region, named by infra/template.json)."""
        url = self._sqs.get_queue_url(QueueName=self._timers_queue)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        _, partition, _, region, account, _ = arn.split(":", 5)
        return arn, f"arn:{partition}:iam::{account}:role/threadline-scheduler-{region}"

    def set_alarm(self, job: TimerWork) -> None:
        """Puts `job` on the timers queue at its `due_at`, once however often it is set."""
        queue_arn, role_arn = self._target
        due = job.due_at.astimezone(UTC)
        seed = f"{job.kind}:{job.conversation_ref}@{due.isoformat()}"
        if isinstance(job, SlaAlarm):
            seed += f":{job.target.value}:{job.started_at.isoformat()}:{job.stage.value}"
        name = f"{job.kind}-" + hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": queue_arn,
                    "RoleArn": role_arn,
                    "Input": job.model_dump_json(),
                    "SqsParameters": {"MessageGroupId": _queue_id(job.conversation_ref)},
                },
            )
        except self._client.exceptions.ConflictException:
            return


TIMER_JOB = TypeAdapter[TimerWork](TimerJob, config=ConfigDict(defer_build=True))


def parse_timer(body: str) -> TimerWork:
    return TIMER_JOB.validate_json(body)


def parse_inbound(body: str) -> InboundMessage | ShopMessage:
    """A customer's message, or a message the shop sends first (marked by its `kind`)."""
    if json.loads(body).get("kind") == ShopMessage.model_fields["kind"].default:
        return ShopMessage.model_validate_json(body)
    return InboundMessage.model_validate_json(body)


def parse_outbound(body: str) -> OutboundWork:
    return OUTBOUND_JOB.validate_json(body)


def process_batch(
    event: dict[str, Any],
    context: Any,
    handle: Callable[[str, int], None],
    queues: Queues,
    retry_base_seconds: float,
) -> dict[str, Any]:
    """Runs a worker over one SQS batch as a FIFO consumer should.

    `handle` takes a record's body and how many times SQS has handed that copy out (1 on
    its first receive). A failing record fails alone with the rest of its group (powertools'
    SqsFifoPartialProcessor); failed records come back after `retry_delay` instead of the
    queue's whole visibility timeout. A batch whose every record failed raises, so it is
    retried even where the event source does not report batch item failures."""
    from aws_lambda_powertools.utilities.batch import (
        SqsFifoPartialProcessor,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    asked: dict[str, float] = {}
    # Records that failed, as opposed to waiting or being held back behind one that waits.
    failed: set[str] = set()
    records = event.get("Records", [])
    try:
        response = process_partial_response(
            event=event,
            record_handler=_record_handler(context, handle, asked, failed),
            processor=SqsFifoPartialProcessor(skip_group_on_error=True),
            context=context,
        )
    except BatchProcessingError:
        _retry_later(queues, records, asked, retry_base_seconds)
        if not failed:
            # Nothing failed, the batch only waits: handed back without an error.
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
        raise
    returned = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    _retry_later(
        queues, [r for r in records if r["messageId"] in returned], asked, retry_base_seconds
    )
    return dict(response)


def _record_handler(
    context: Any, handle: Callable[[str, int], None], asked: dict[str, float], failed: set[str]
) -> Callable[[Any], None]:
    """Runs `handle` on one record after another, noting in `asked` the delay a record asks
    to come back after and in `failed` the records that failed (not those that wait). A
    record that would start too close to the invocation's end fails unstarted."""
    started: list[str] = []

    def handle_record(record: Any) -> None:
        out_of_time = (
            context is not None and context.get_remaining_time_in_millis() < RECORD_TIME_BUDGET_MS
        )
        if started and out_of_time:
            asked[record.message_id] = 0
            failed.add(record.message_id)
            raise Retryable("not enough time left in this invocation")
        started.append(record.message_id)
        try:
            attributes = record.raw_event.get("attributes") or {}
            handle(record.body, int(attributes.get("ApproximateReceiveCount", 0)))
        except Exception as error:
            if isinstance(error, Retryable) and error.retry_after is not None:
                asked[record.message_id] = error.retry_after
            if not isinstance(error, NotYet):
                failed.add(record.message_id)
            raise

    return handle_record


def _retry_later(
    queues: Queues, records: list[dict[str, Any]], asked: dict[str, float], base_seconds: float
) -> None:
    """Each failed record waits its own delay (what it was asked, else its backoff), raised
    to the longest in its message group: a FIFO group stays blocked while any of its
    messages is in flight, so its first message must not come back before the others."""
    if not records:
        return
    delays = {
        r["messageId"]: retry_delay(
            int(r["attributes"].get("ApproximateReceiveCount", 1)),
            asked.get(r["messageId"]),
            base_seconds,
        )
        for r in records
    }
    longest: dict[str, int] = {}
    for r in records:
        group = r["attributes"].get("MessageGroupId", r["messageId"])
        longest[group] = max(longest.get(group, 0), delays[r["messageId"]])
    try:
        queues.retry_later(
            records[0]["eventSourceARN"],
            [
                (r["receiptHandle"], longest[r["attributes"].get("MessageGroupId", r["messageId"])])
                for r in records
            ],
        )
    except Exception:
        # The records still come back, after the queue's own visibility timeout.
        from aws_lambda_powertools import Logger

        Logger(service="threadline", child=True).exception("retry delay not set")
