"""What an agent's reply costs the outbound worker in AWS calls, counted by botocore's own
`before-call` event on the container's clients (docs/PERFORMANCE.md, section 1)."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.presentation.posts import WAITING_REACTION
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.signing import CHANNEL_ID, slack_thread_reply

WRITTEN_AT = datetime.fromtimestamp(1764000500.0001, UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(WRITTEN_AT)


@pytest.fixture
def calls(container: bootstrap.Container) -> Counter[str]:
    """The table's and the queues' calls, by operation, from now on."""
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    container.store.client.meta.events.register("before-call", count)
    container.queues._client.meta.events.register("before-call", count)
    return seen


def agent_reply(thread_ts: str, written_at: datetime, text: str) -> bytes:
    return slack_thread_reply(thread_ts, f"{written_at.timestamp():.6f}", text)


def test_a_reply_in_a_thread_the_container_knows_costs_five_calls(
    open_thread: Callable[..., str],
    slack_event: Callable[..., Any],
    run_workers: Callable[[], int],
    clock: Clock,
    calls: Counter[str],
    twilio: RecordingTwilio,
) -> None:
    # Given a conversation an agent has answered once (the container has met its thread)
    thread_ts = open_thread()
    assert slack_event(agent_reply(thread_ts, WRITTEN_AT, "Vou ver")).status_code == 200
    clock.now = WRITTEN_AT + timedelta(minutes=1)
    run_workers()
    # When another reply, past its grace period, goes out
    written = WRITTEN_AT + timedelta(minutes=2)
    assert slack_event(agent_reply(thread_ts, written, "Chega amanhã!")).status_code == 200
    clock.now = written + timedelta(minutes=1)
    calls.clear()
    run_workers()
    # Then the worker read once, stored the reply before and after it went out (the
    # conversation it answers with it), showed it sent, and checked the card it drew
    assert [sent.text for sent in twilio.sent][-1].startswith("Chega amanhã!")
    assert calls == Counter(
        BatchGetItem=1, PutItem=1, TransactWriteItems=1, UpdateItem=1, GetItem=1
    )


def test_a_pass_in_the_grace_period_only_hands_the_reply_back(
    open_thread: Callable[..., str],
    slack_event: Callable[..., Any],
    run_workers: Callable[[], int],
    run_workers_once: Callable[[], int],
    clock: Clock,
    calls: Counter[str],
    slack: FakeSlack,
    twilio: RecordingTwilio,
) -> None:
    # Given a reply in its grace period, in a thread the container has met
    thread_ts = open_thread()
    assert slack_event(agent_reply(thread_ts, WRITTEN_AT, "Vou ver")).status_code == 200
    clock.now = WRITTEN_AT + timedelta(minutes=1)
    run_workers()
    written = WRITTEN_AT + timedelta(minutes=2)
    assert slack_event(agent_reply(thread_ts, written, "Chega amanhã!")).status_code == 200
    clock.now = written + timedelta(seconds=1)
    # When the worker meets it
    calls.clear()
    assert run_workers_once() == 1
    # Then it read nothing: the job is handed back to the queue, shown as waiting
    assert calls == Counter(ChangeMessageVisibilityBatch=1)
    assert len(twilio.sent) == 1
    ts = f"{written.timestamp():.6f}"
    assert WAITING_REACTION in slack.reactions[(CHANNEL_ID, ts)]
    # And once the grace period is over it goes out
    clock.now = written + timedelta(minutes=1)
    run_workers()
    assert len(twilio.sent) == 2
