"""Faults injected into the application's own AWS calls and its queue workers.

Only the application's threads are struck: the workers (the queue pumps, named `pump …`)
and the API's request threads (chalice's local server), never the harness's checks.
"""

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

Handler = Callable[[dict[str, Any], Any], Any]

# What DynamoDB answers when throttled or failing; both are retried by the worker.
DYNAMODB_ERRORS = (
    ("ProvisionedThroughputExceededException", 400),
    ("ThrottlingException", 400),
    ("InternalServerError", 500),
)


def _in_worker() -> bool:
    return threading.current_thread().name.startswith("pump ")


def _in_api() -> bool:
    return "process_request_thread" in threading.current_thread().name


class WorkerKilled(Exception):
    """A worker that died mid-batch: nothing of its batch is deleted."""


class _Crash(BaseException):
    """The worker's process dying inside a call: no handler of the application's catches
    it (they catch Exception), so it unwinds to the queue handler's edge."""


class Chaos:
    """The rates of the faults armed now, and how many were injected. Installed once (it
    wraps botocore and the queue handlers); armed and disarmed per scenario."""

    def __init__(self, seed: int = 7) -> None:
        self._random = random.Random(seed)  # noqa: S311 (fault injection, not secrets)
        self._lock = threading.Lock()
        self.dynamodb_rate = 0.0
        self.sqs_send_rate = 0.0
        self.kill_rate = 0.0
        self.injected: Counter[str] = Counter()
        self._sqs_failed: set[str] = set()

    def disarm(self) -> None:
        with self._lock:
            self.dynamodb_rate = self.sqs_send_rate = self.kill_rate = 0.0

    def reset(self) -> None:
        self.disarm()
        with self._lock:
            self.injected.clear()
            self._sqs_failed.clear()

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._random.random() < rate

    def install(self, handler_map: dict[str, Handler], queue_handlers: tuple[str, ...]) -> None:
        original = BaseClient._make_api_call
        chaos = self

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            chaos._maybe_fail(service, operation, params)
            crash = chaos._crash_point(service)
            if crash == "before":
                raise _Crash(f"died before {operation}")
            answer = original(client, operation, params)
            if crash == "after":
                raise _Crash(f"died after {operation}, its answer lost")
            return answer

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        for name in queue_handlers:
            handler_map[name] = self._killing(handler_map[name])

    def _maybe_fail(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if service == "dynamodb" and _in_worker() and self._roll(self.dynamodb_rate):
            code, status = DYNAMODB_ERRORS[self.injected["dynamodb"] % len(DYNAMODB_ERRORS)]
            self._count("dynamodb")
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                operation,
            )
        if service == "sqs" and operation == "SendMessage" and _in_api():
            # After the write: the message is stored, its queueing fails. Once per message,
            # so the provider's retry gets through.
            key = str(params.get("MessageDeduplicationId"))
            with self._lock:
                first_time = key not in self._sqs_failed
            if first_time and self._roll(self.sqs_send_rate):
                with self._lock:
                    self._sqs_failed.add(key)
                self._count("sqs")
                raise ClientError(
                    {
                        "Error": {"Code": "InternalError", "Message": "injected"},
                        "ResponseMetadata": {"HTTPStatusCode": 500},
                    },
                    operation,
                )

    def _crash_point(self, service: str) -> str | None:
        """Whether a worker dies at this DynamoDB call: before it is made, or after it took
        effect and before its answer is read."""
        if service != "dynamodb" or not _in_worker() or not self._roll(self.kill_rate):
            return None
        with self._lock:
            return self._random.choice(("before", "after"))

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def _killing(self, handler: Handler) -> Handler:
        """The handler, dying now and then inside one of its DynamoDB calls, as a crashed
        Lambda: what it did stays done, nothing of its batch is deleted, and the whole
        batch comes back after the visibility timeout."""

        def run(event: dict[str, Any], context: Any) -> Any:
            try:
                return handler(event, context)
            except _Crash as crash:
                self._count("killed")
                raise WorkerKilled(str(crash)) from None

        return run
