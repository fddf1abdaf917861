"""Counts the AWS API calls boto3 clients make, by service and operation, from botocore's own
`before-call` event: what was called, not what we think was."""

import collections
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

# The worker's calls per event kind when issue 20 started (bench/results.json then), shown
# beside today's, and the issue's targets.
WORKER_CALLS_AT_ISSUE_20 = {
    "customer_message_worker_follow_up": 6,
    "customer_message_worker_new_conversation": 9,
    "agent_reply_worker": 10,
    "agent_reply_worker_grace_pass": 4,
    "status_callback_worker": 5,
}
WORKER_CALL_TARGETS = {
    "customer_message_worker_follow_up": 3,
    "customer_message_worker_new_conversation": 6,
    "agent_reply_worker": 5,
    "agent_reply_worker_grace_pass": 1,
    "status_callback_worker": 2,
}


class CallCounter:
    """Hooked into boto3's default session, so every client made after `install()` reports.

    Clients copy the session's event handlers when they are made, so install it first."""

    def __init__(self) -> None:
        self._counting = False
        self._calls: collections.Counter[str] = collections.Counter()
        self._capturing = False
        self._params: dict[str, dict[str, Any]] = {}

    def install(self) -> None:
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register("before-call", self._seen)
        events.register("before-parameter-build", self._asked)

    def _seen(self, model: Any, **_: Any) -> None:
        if self._counting:
            self._calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _asked(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._capturing:
            self._params[model.name] = copy.deepcopy(params)

    @contextmanager
    def capturing(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The parameters of the calls made inside the block, by operation (the last of each)."""
        self._params = {}
        self._capturing = True
        try:
            yield self._params
        finally:
            self._capturing = False

    @contextmanager
    def counting(self) -> Iterator[collections.Counter[str]]:
        """The calls made inside the block, by `service:Operation`."""
        self._calls = collections.Counter()
        self._counting = True
        try:
            yield self._calls
        finally:
            self._counting = False
