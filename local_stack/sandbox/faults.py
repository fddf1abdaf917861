"""Failures injected into the stand-ins' API calls, for reliability runs."""

import threading
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Fault:
    """How a stand-in misbehaves on a call: it answers `status` (with `headers`, such as
    Slack's Retry-After) without doing anything; or, with `delay_seconds`, it does the work
    and holds its answer back that long, as a provider whose answer times out."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0


@dataclass
class _FaultRule:
    method: str
    fault: Fault
    rate: float
    limit: int | None
    struck: int = 0


class Faults:
    """Failures to inject into a stand-in's API calls, for reliability runs: each rule
    strikes a method's calls at `rate` (0 to 1), at most `limit` times. Random but
    reproducible (`seed`); every strike is counted in `injected`, by method."""

    def __init__(self, seed: int = 0) -> None:
        import random

        self._random = random.Random(seed)  # noqa: S311 (fault injection, not secrets)
        self._rules: list[_FaultRule] = []
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def add(
        self, method: str, fault: Fault, *, rate: float = 1.0, limit: int | None = None
    ) -> None:
        with self._lock:
            self._rules.append(_FaultRule(method, fault, rate, limit))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.injected.clear()

    def strike(self, method: str) -> Fault | None:
        """The fault to inflict on this call of `method`, if any."""
        with self._lock:
            for rule in self._rules:
                spent = rule.limit is not None and rule.struck >= rule.limit
                if rule.method != method or spent or self._random.random() >= rule.rate:
                    continue
                rule.struck += 1
                self.injected[method] = self.injected.get(method, 0) + 1
                return rule.fault
        return None
