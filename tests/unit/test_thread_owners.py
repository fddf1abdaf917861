"""A Slack thread's conversation, remembered by the warm container once read: for a bounded
while and number of threads, and never while the thread has none."""

from types import SimpleNamespace
from typing import Any, cast

import pytest

from chalicelib.store import conversations as store
from chalicelib.store._table import DynamoDBClient, to_attributes

TEAM, CHANNEL = "T0ACME", "C0SUPPORT"


class PointerTable:
    """A table holding thread pointers, counting its reads."""

    def __init__(self) -> None:
        self.pointers: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def point(self, thread_ts: str, conversation_id: str) -> None:
        self.pointers[thread_ts] = {"shop_id": "acme", "conversation_id": conversation_id}

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.reads += 1
        thread_ts = request["Key"]["PK"]["S"].rsplit("#", 1)[-1]
        pointer = self.pointers.get(thread_ts)
        return {"Item": to_attributes(pointer)} if pointer else {}


@pytest.fixture
def table() -> PointerTable:
    return PointerTable()


@pytest.fixture
def conversations(table: PointerTable) -> store.Conversations:
    return store.Conversations(cast(DynamoDBClient, table), "threadline")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    # The store module's own `time` only: pytest keeps the real one.
    monkeypatch.setattr(f"{store.__name__}.time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_a_thread_is_read_once_then_remembered_for_a_while(
    table: PointerTable, conversations: store.Conversations, clock: list[float]
) -> None:
    table.point("1.1", "01CONV")

    first = conversations.thread_owner(TEAM, CHANNEL, "1.1")
    clock[0] += store.THREAD_OWNER_SECONDS - 1
    again = conversations.thread_owner(TEAM, CHANNEL, "1.1")
    reads_while_remembered = table.reads
    clock[0] += 2
    del table.pointers["1.1"]  # erased meanwhile

    assert first == again == ("acme", "01CONV")
    assert reads_while_remembered == 1
    assert conversations.thread_owner(TEAM, CHANNEL, "1.1") is None


def test_a_thread_without_a_conversation_yet_is_read_again(
    table: PointerTable, conversations: store.Conversations, clock: list[float]
) -> None:
    assert conversations.thread_owner(TEAM, CHANNEL, "1.1") is None
    table.point("1.1", "01CONV")

    assert conversations.thread_owner(TEAM, CHANNEL, "1.1") == ("acme", "01CONV")
    assert table.reads == 2


def test_the_least_recently_used_thread_is_forgotten_first(
    table: PointerTable,
    conversations: store.Conversations,
    clock: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store, "THREAD_OWNERS_KEPT", 2)
    for n in range(3):
        table.point(f"1.{n}", f"01CONV{n}")
    conversations.thread_owner(TEAM, CHANNEL, "1.0")
    conversations.thread_owner(TEAM, CHANNEL, "1.1")
    conversations.thread_owner(TEAM, CHANNEL, "1.0")  # used again: 1.1 is now the oldest
    conversations.thread_owner(TEAM, CHANNEL, "1.2")
    reads = table.reads

    conversations.thread_owner(TEAM, CHANNEL, "1.0")
    conversations.thread_owner(TEAM, CHANNEL, "1.2")
    assert table.reads == reads
    conversations.thread_owner(TEAM, CHANNEL, "1.1")
    assert table.reads == reads + 1
