"""Feeds events into the chalice event handlers the way AWS does.

SQS: as Lambda's event source mapping, long-poll a batch, hand it over as an SQS event,
delete what succeeded, and leave the reported failures to come back after a short
visibility timeout (then the DLQ, by the queue's redrive policy). Schedules: as an
EventBridge rule, call the handler with a scheduled event at its rate. One-time schedules:
as EventBridge Scheduler (which the emulator only stores), deliver a due schedule's input
to its target queue and delete it."""

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returned them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def sns_event(message: str, topic_arn: str, subject: str | None = None) -> dict[str, Any]:
    """Lambda's SNS event for one notification."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "MessageAttributes": {},
                },
            }
        ]
    }


class BackgroundLoop:
    """A loop on a daemon thread of its own, until `stop`."""

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.signal_stop()
        self._thread.join(timeout=5)

    def signal_stop(self) -> None:
        """Asks the loop to end without waiting: loops told together end in one wait."""
        self._stopping.set()

    def _run(self) -> None:
        raise NotImplementedError


class QueuePump(BackgroundLoop):
    def __init__(
        self,
        sqs: Any,
        queue_name: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        retry_after_seconds: int | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_name = queue_name
        self._handler = handler
        self._batch_size = batch_size
        self._retry_after = retry_after_seconds
        super().__init__(f"pump {queue_name}")

    def connect(self) -> None:
        """Looks the queue up; `pump_once` works from then on."""
        self._queue_url = self._sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"]
        self._queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.pump_once(wait_seconds=1)
            except Exception:
                logger.exception("pump %s: cannot reach the queue", self._queue_name)
                self._stopping.wait(1)

    def pump_once(self, wait_seconds: int = 0) -> int:
        """Runs one batch; returns how many messages it received."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        region = self._queue_arn.split(":")[3]
        try:
            result = self._handler(sqs_event(messages, self._queue_arn, region), None)
            failed = {
                item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])
            }
        except Exception:
            # As in Lambda: a handler that raises fails its whole batch.
            logger.exception("pump %s: handler raised", self._queue_name)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)
                ],
            )
        for message in messages:
            # Left alone, failures come back when the handler or the queue says (as in AWS).
            if message["MessageId"] in failed and self._retry_after is not None:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_after,
                )
        return len(messages)


def pumps_for(
    app: Any, sqs: Any, *, retry_after_seconds: int | None = None, concurrency: int = 1
) -> list[QueuePump]:
    """`concurrency` connected pumps per SQS event source of a chalice app. Pumps of one FIFO
    queue never hold the same message group at once: the queue keeps a group back while one
    of its messages is in flight, as it does for Lambda's concurrent invocations."""
    pumps = []
    for source in app.event_sources:
        queue: str | None = getattr(source, "queue", None)
        if not queue:
            continue
        for _ in range(concurrency):
            pump = QueuePump(
                sqs, queue, app.handler_map[source.name], retry_after_seconds=retry_after_seconds
            )
            pump.connect()
            pumps.append(pump)
    return pumps


RATE_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}


def scheduled_event(rule: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


class Ticker(BackgroundLoop):
    """Calls a scheduled handler every `interval_seconds` until stopped."""

    def __init__(self, name: str, handler: Handler, interval_seconds: float) -> None:
        self._name = name
        self._handler = handler
        self._interval = interval_seconds
        super().__init__(f"schedule {name}")

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._handler(scheduled_event(self._name), None)
            except Exception:
                logger.exception("schedule %s failed", self._name)


def tickers_for(app: Any) -> list[Ticker]:
    """One ticker per rate schedule of a chalice app (cron schedules are not run locally)."""
    tickers = []
    for source in app.event_sources:
        expression: Any = getattr(source, "schedule_expression", None)
        unit = getattr(expression, "unit", None)
        if unit in RATE_SECONDS:
            interval = expression.value * RATE_SECONDS[unit]
            tickers.append(Ticker(source.name, app.handler_map[source.name], interval))
    return tickers


_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


def _due(schedule: dict[str, Any]) -> datetime | None:
    """When a one-time schedule fires; None for rate and cron schedules."""
    match = _AT.match(schedule.get("ScheduleExpression", ""))
    if match is None:
        return None
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)


class SchedulePump(BackgroundLoop):
    """Fires the due one-time schedules of a schedule group, every `interval_seconds`."""

    def __init__(
        self, scheduler: Any, sqs: Any, group: str, *, interval_seconds: float = 1.0
    ) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self._group = group
        self._interval = interval_seconds
        super().__init__(f"scheduler {group}")

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.fire_due(datetime.now(UTC))
            except Exception:
                logger.exception("scheduler %s: cannot fire schedules", self._group)

    def _schedules(self) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"GroupName": self._group}
        while True:
            page = self._scheduler.list_schedules(**arguments)
            for summary in page.get("Schedules", []):
                yield self._scheduler.get_schedule(Name=summary["Name"], GroupName=self._group)
            if not page.get("NextToken"):
                return
            arguments["NextToken"] = page["NextToken"]

    def fire_due(self, now: datetime) -> int:
        """Delivers every schedule due at `now`; returns how many fired."""
        due = [s for s in self._schedules() if (at := _due(s)) is not None and at <= now]
        for schedule in due:
            target = schedule["Target"]
            message: dict[str, Any] = {
                "QueueUrl": self._sqs.get_queue_url(QueueName=target["Arn"].rsplit(":", 1)[-1])[
                    "QueueUrl"
                ],
                "MessageBody": target.get("Input", "{}"),
            }
            group = target.get("SqsParameters", {}).get("MessageGroupId")
            if group:
                message["MessageGroupId"] = group
            self._sqs.send_message(**message)
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self._scheduler.delete_schedule(Name=schedule["Name"], GroupName=self._group)
        return len(due)


class SnsPump(QueuePump):
    """Delivers what SNS put on a local queue subscribed to a topic to the topic's handler,
    one notification per Lambda event, as SNS invokes functions."""

    def __init__(self, sqs: Any, queue_name: str, handler: Handler) -> None:
        super().__init__(sqs, queue_name, self._deliver)
        self._sns_handler = handler

    def _deliver(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed = []
        for record in event["Records"]:
            envelope = json.loads(record["body"])
            try:
                self._sns_handler(sns_event(envelope["Message"], envelope["TopicArn"]), context)
            except Exception:
                # As Lambda's asynchronous retries: the notification comes back.
                logger.exception("topic handler failed")
                failed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failed}


def sns_pumps_for(app: Any, sns: Any, sqs: Any) -> list[SnsPump]:
    """For each SNS event source of a chalice app: a local queue subscribed to its topic,
    and a pump from it to the handler."""
    pumps = []
    for source in app.event_sources:
        topic = getattr(source, "topic", None)
        if not topic:
            continue
        topic_arn = sns.create_topic(Name=topic)["TopicArn"]
        queue_name = f"threadline-local-{topic}"
        queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        pump = SnsPump(sqs, queue_name, app.handler_map[source.name])
        pump.connect()
        pumps.append(pump)
    return pumps
