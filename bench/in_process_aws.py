"""DynamoDB and SQS answered inside the process, for the ack figure whose floor is boto3's
client-side cost only.

botocore emits `before-send` with the request it built, serialized and signed; a handler that
returns a response there stands in for the network and the service. The answers are canned
but shaped as DynamoDB and SQS shape them (JSON protocol, request id, DynamoDB's CRC32 header,
SQS's MD5 of the body it was sent), so botocore parses them as it parses real ones. Any other
operation is refused: the figure would not be honest if a call slipped through unanswered.
"""

import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse


class _Body:
    """What botocore reads a response body from (`raw.stream()`)."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _put_item(_: dict[str, Any]) -> dict[str, Any]:
    # Without ReturnValues or ReturnConsumedCapacity, DynamoDB answers an empty object.
    return {}


def _send_message(request: dict[str, Any]) -> dict[str, Any]:
    answer = {
        "MD5OfMessageBody": hashlib.md5(
            request["MessageBody"].encode(), usedforsecurity=False
        ).hexdigest(),
        "MessageId": str(uuid.uuid4()),
    }
    if "MessageGroupId" in request:
        answer["SequenceNumber"] = str(uuid.uuid4().int)[:20]
    return answer


Answer = Callable[[dict[str, Any]], dict[str, Any]]
ANSWERS: dict[str, tuple[str, Answer]] = {
    "dynamodb.PutItem": ("application/x-amz-json-1.0", _put_item),
    "sqs.SendMessage": ("application/x-amz-json-1.0", _send_message),
}


class UnansweredCall(RuntimeError):
    """An AWS call the in-process responder has no answer for."""


class InProcessAws:
    """A `before-send` handler on boto3's default session, answering only inside `answering()`.

    Clients copy the session's handlers when they are made, so install it before the app makes
    its clients. While it answers, moto's own responder (if any) is switched off, so moto does
    no work on the requests either."""

    def __init__(self) -> None:
        self._answering = False
        self.answered = 0

    def install(self, session: Any) -> None:
        session.events.register_first("before-send", self._respond)

    @contextmanager
    def answering(self) -> Iterator[None]:
        from moto.core.models import botocore_stubber

        was_enabled = botocore_stubber.enabled
        botocore_stubber.enabled = False
        self._answering = True
        try:
            yield
        finally:
            self._answering = False
            botocore_stubber.enabled = was_enabled

    def _respond(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        if not self._answering:
            return None
        operation = event_name.removeprefix("before-send.")
        if operation not in ANSWERS:
            raise UnansweredCall(f"no in-process answer for {operation}")
        content_type, answer = ANSWERS[operation]
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        content = json.dumps(answer(json.loads(body or b"{}"))).encode()
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(content)),
            "x-amzn-RequestId": str(uuid.uuid4()),
            "x-amz-crc32": str(zlib.crc32(content) & 0xFFFFFFFF),
        }
        self.answered += 1
        return AWSResponse(request.url, 200, headers, _Body(content))
