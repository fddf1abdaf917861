"""The emulator as provisioned, kept once per test process and put back before each test.

Provisioning from infra/ through moto's CloudFormation costs about half a second; copying the
state it leaves costs a few milliseconds. A snapshot holds a deep copy of every moto backend
that provisioning touched; `restore` resets all of moto's backends (as `mock_aws` does at its
start) and gives the provisioned ones a fresh deep copy of their provisioned state, so a test
meets exactly what provisioning made, whatever earlier tests wrote, received, sent or created.

`state_of` renders the backends' whole object graph as plain values, so that the state a test
starts from can be compared with the snapshot: a leftover anywhere in moto fails the test.
"""

import copy
import copyreg
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import partial
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

from moto.core.base_backend import AccountSpecificBackend, BackendDict, BaseBackend

_RLOCK = type(threading.RLock())
_LOCK = type(threading.Lock())


@contextmanager
def _copyable_locks() -> Iterator[None]:
    """Lets `copy.deepcopy` copy moto's models, some of which hold locks (an SQS queue's
    condition, CloudFormation's): a copy gets new, unheld locks, a condition's copy keeps
    sharing the copy of its lock. Only while copying, so that nothing else pickles a lock."""
    reducers = {
        _RLOCK: lambda lock: (threading.RLock, ()),
        _LOCK: lambda lock: (threading.Lock, ()),
        threading.Condition: lambda condition: (threading.Condition, (condition._lock,)),
    }
    for kind, reducer in reducers.items():
        copyreg.pickle(kind, reducer)  # type: ignore[arg-type]
    try:
        yield
    finally:
        for kind in reducers:
            copyreg.dispatch_table.pop(kind, None)


def _live_backends() -> Iterator[tuple[BackendDict[Any], str, str, BaseBackend]]:
    """Every moto backend in use: its registry, account, region and itself."""
    for backends in BackendDict._instances:  # type: ignore[misc]
        for account, region, backend in backends.iter_backends():
            yield backends, account, region, backend


def _containers() -> dict[int, Any]:
    """moto's registries of backends: a model that refers to one is given the same one back,
    not a copy of it."""
    registries: dict[int, Any] = {}
    for backends in BackendDict._instances:  # type: ignore[misc]
        registries[id(backends)] = backends
        for account_backends in backends.values():
            registries[id(account_backends)] = account_backends
    return registries


@dataclass(frozen=True)
class _Entry:
    backends: BackendDict[Any]
    account: str
    region: str
    # The backend the state was taken from, and its account's registry: kept alive, so that
    # their ids in the copies' references stay theirs and can be mapped to what replaces them.
    original: BaseBackend
    account_backends: AccountSpecificBackend[Any]
    state: dict[str, Any]


class Snapshot:
    """The provisioned state of every backend in use when taken."""

    def __init__(self) -> None:
        live = list(_live_backends())
        memo = {id(backend): backend for *_, backend in live} | _containers()
        with _copyable_locks():
            states = copy.deepcopy([backend.__dict__ for *_, backend in live], memo)
        self._entries = [
            _Entry(backends, account, region, backend, backends[account], state)
            for (backends, account, region, backend), state in zip(live, states, strict=True)
        ]
        self.state = state_of()

    def restore(self) -> None:
        """Every backend of moto back to the snapshot: those it holds as they were, all others
        empty (dropped, as `mock_aws` drops them at its start and end)."""
        BackendDict.reset()
        memo: dict[int, Any] = {}
        for entry in self._entries:
            memo[id(entry.original)] = entry.backends[entry.account][entry.region]
            memo[id(entry.account_backends)] = entry.backends[entry.account]
            memo[id(entry.backends)] = entry.backends
        with _copyable_locks():
            for entry in self._entries:
                memo[id(entry.original)].__dict__ = copy.deepcopy(entry.state, memo)


_ATOMS = (str, bytes, int, float, bool, type(None), Decimal, datetime, date, timedelta, Enum)
_CODE = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType, partial)
_REGISTRIES = (BaseBackend, AccountSpecificBackend, BackendDict)


def state_of() -> dict[tuple[str, str, str], Any]:
    """Every backend in use, its state as nested plain values: equal for two graphs of the same
    shape and values, whatever their objects' identities. Within a backend, an object met
    again is rendered as the order it was first met in, so that shared references count too."""
    return {
        (backends.service_name, account, region): _rendered(backend.__dict__)
        for backends, account, region, backend in sorted(
            _live_backends(), key=lambda live: (live[0].service_name, live[1], live[2])
        )
    }


def _rendered(state: dict[str, Any]) -> Any:
    seen: dict[int, int] = {}

    def render(value: Any) -> Any:
        if isinstance(value, _ATOMS):
            return value
        if isinstance(value, _CODE):
            return ("code", getattr(value, "__qualname__", repr(value)))
        if isinstance(value, _REGISTRIES):
            return ("backend", type(value).__name__)
        if id(value) in seen:
            return ("seen", seen[id(value)])
        seen[id(value)] = len(seen)
        if isinstance(value, (_RLOCK, _LOCK)):
            return ("lock",)
        if isinstance(value, threading.Condition):
            return ("condition", render(value._lock))  # type: ignore[attr-defined]
        if isinstance(value, dict):
            return ("dict", [(render(key), render(item)) for key, item in value.items()])
        if isinstance(value, (list, tuple, deque)):
            return (type(value).__name__, [render(item) for item in value])
        if isinstance(value, (set, frozenset)):
            return ("set", sorted(repr(render(item)) for item in value))
        attributes = getattr(value, "__dict__", None)
        if attributes is None:
            return ("object", type(value).__qualname__, repr(value))
        return ("object", type(value).__qualname__, render(attributes))

    return render(state)
