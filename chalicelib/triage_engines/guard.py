"""What the AWS engines share: a call bounded in time, and a failure named and counted as
the engine falls back to the rules engine.

The call runs on a worker thread that the message waits for at most `seconds`: botocore's
own timeouts end a slow connection, but a service that answers byte by byte, or a retry's
backoff, could still outlast them. A call given up on finishes (or times out) on its thread,
unwaited for."""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from enum import StrEnum
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.triage.record import Triage, TriageContext
from chalicelib.services.ports import Metric, MetricsPort, TriageEngine

logger = Logger(service="threadline", child=True)

Answer = TypeVar("Answer")

# Error codes, as the services name them, by what they mean to triage.
_THROTTLED = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
        "ModelNotReadyException",
    }
)
_TIMED_OUT = frozenset({"ModelTimeoutException", "RequestTimeout", "RequestTimeoutException"})
_REFUSED = frozenset(
    {
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnsupportedLanguageException",
        "TextSizeLimitExceededException",
        "InvalidRequestException",
        "ModelErrorException",
        "UnrecognizedClientException",
    }
)


class FallbackReason(StrEnum):
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    # The service refused the request: no access to the model, an invalid model id, a
    # language or a text it does not take.
    REFUSED = "refused"
    # The service failed or could not be reached.
    UNAVAILABLE = "unavailable"
    # It answered, but not with what was asked.
    MALFORMED = "malformed"


class Malformed(Exception):
    """An answer that is not the one asked for (its content is not said: it may quote the
    customer)."""


def reason_of(error: BaseException) -> FallbackReason:
    """What a failed call's error means to triage."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        ReadTimeoutError,
    )

    if isinstance(error, FutureTimeout | ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return FallbackReason.TIMEOUT
    if isinstance(error, Malformed):
        return FallbackReason.MALFORMED
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status == 429:
            return FallbackReason.THROTTLED
        if code in _TIMED_OUT or status == 408:
            return FallbackReason.TIMEOUT
        if code in _REFUSED or 400 <= status < 500:
            return FallbackReason.REFUSED
        return FallbackReason.UNAVAILABLE
    if isinstance(error, BotoCoreError):
        return FallbackReason.UNAVAILABLE
    return FallbackReason.UNAVAILABLE


def error_code(error: BaseException) -> str:
    """The service's error code, or the exception's type: never its message, which may quote
    the request."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__


class Bounded:
    """Runs calls on a few worker threads, waiting for each at most `seconds`."""

    def __init__(self, seconds: float, workers: int = 4) -> None:
        self.seconds = seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="triage")

    def run(self, call: Callable[[], Answer]) -> Answer:
        """The call's answer; raises its error, or `TimeoutError` past the deadline."""
        future: Future[Answer] = self._pool.submit(call)
        try:
            return future.result(timeout=self.seconds)
        except FutureTimeout:
            future.cancel()  # not started yet (the workers were busy): never started
            raise


class FallingBack:
    """What an AWS engine does when its call fails: the rules engine's triage of the message,
    counted (`TriageFallback`) and logged with the engine, the reason and the error code."""

    def __init__(self, engine: str, rules: TriageEngine, metrics: MetricsPort) -> None:
        self._engine = engine
        self._rules = rules
        self._metrics = metrics

    def __call__(
        self,
        error: BaseException,
        text: str,
        language: str,
        context: TriageContext,
        policy: TriagePolicy,
    ) -> Triage:
        reason = reason_of(error)
        self._metrics.count(Metric.TRIAGE_FALLBACK)
        details: dict[str, Any] = {"engine": self._engine, "reason": reason.value}
        logger.warning("triage fell back to rules", error_code=error_code(error), **details)
        return self._rules.triage(text, language, context, policy)


def forced_tool_input(response: dict[str, Any], tool: str) -> Any:
    """The input of the one call of `tool` in Converse's response; `Malformed` otherwise."""
    if response.get("stopReason") != "tool_use":
        raise Malformed("the model did not stop to use the tool")
    content = ((response.get("output") or {}).get("message") or {}).get("content")
    if not isinstance(content, list):
        raise Malformed("the answer has no content")
    mine = [
        block["toolUse"]
        for block in content
        if isinstance(block, dict)
        and isinstance(block.get("toolUse"), dict)
        and block["toolUse"].get("name") == tool
    ]
    if len(mine) != 1:
        raise Malformed(f"the answer calls {tool} {len(mine)} times")
    return mine[0].get("input")
