"""The small error hierarchy every layer raises.

app.py maps these to HTTP answers and the queue handlers to SQS retries, each in one place.
"""

from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from chalicelib.domain.conversation import Conversation


class ThreadlineError(Exception):
    """Base class; `reason` is short, safe to show to the caller and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(ThreadlineError):
    """The input is malformed or invalid (HTTP 400)."""

    def __init__(self, reason: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(reason)
        self.errors = errors or []


def invalid(what: str, error: ValidationError) -> BadRequest:
    """A refused input, field by field; the inputs are left out (they may hold a token)."""
    errors: list[dict[str, object]] = [
        {"field": ".".join(str(part) for part in e["loc"]) or "(body)", "error": e["msg"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]
    return BadRequest(f"invalid {what}", errors)


class TooLarge(ThreadlineError):
    """The input is more than Threadline can carry to its workers (HTTP 413)."""


class Unauthorized(ThreadlineError):
    """No or wrong credentials for the admin API (HTTP 401)."""


class Forbidden(ThreadlineError):
    """A signature or identity check failed (HTTP 403)."""


class NotFound(ThreadlineError):
    """The addressed shop or object does not exist (HTTP 404)."""


class Conflict(ThreadlineError):
    """The request contradicts stored state, e.g. a number owned by another shop (HTTP 409)."""


class Retryable(ThreadlineError):
    """A dependency failed; the provider or the queue should try again (HTTP 503), after
    `retry_after` seconds when the dependency said so."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class NotYet(Retryable):
    """Work that must wait `retry_after` seconds, such as a reply in its grace period: the
    queue holds it back; nothing failed."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason, retry_after=retry_after)


class WorkspaceUnavailable(Exception):
    """A shop has no Slack workspace to speak in (no bot token in its secret). Not an answer
    of its own: each use case decides what it means there (a worker retries later, an
    erasure or a button press goes on without Slack)."""


class ConversationChanged(Exception):
    """A write made on a conversation as it was read was refused, nothing written: it has
    changed since, or is no longer the customer's open one. `current` is the conversation
    as stored now while it is still the customer's open one, else None."""

    def __init__(self, current: "Conversation | None") -> None:
        super().__init__("the conversation changed since it was read")
        self.current = current
