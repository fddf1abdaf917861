"""Figure 3: end to end on the local stack, over real HTTP, at a steady rate and at the
highest rate it holds: a customer's webhook until its Slack thread post, an agent's Slack
event until its Twilio send.

The stack runs as the e2e tests run it (`python -m local_stack` in a subprocess, the
Slack and Twilio stand-ins here). Messages are sent open-loop, on a fixed schedule, so a
slow stack cannot slow the sender down and hide its own backlog. Each message carries a
marker; the stand-in records the time its marker arrives. Each step also tells the CPU time
each process spent per message (from /proc, where there is one): unlike latencies, it holds
while other jobs share the machine.
"""

import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile
from local_stack.constants import LOCAL_SIGNING_SECRET
from local_stack.sandbox.outbox import Outbox, OutboxEntry
from tests.e2e.conftest import RunningStack, http, running_stack
from tests.signing import (
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

SHOP = "ana"
CUSTOMERS = 40
# A rate holds when every message arrives within DRAIN_SECONDS of the last send, p95 stays
# under HELD_P95_SECONDS, and every webhook is answered within Slack's 3 s.
DRAIN_SECONDS = 10.0
HELD_P95_SECONDS = 2.0
ACK_LIMIT_SECONDS = 3.0
MARKER = re.compile(r"\bbench([qr])(\d+)x\b")
SENDERS = 32


class TimedOutbox(Outbox):
    """The outbox, noting when each marked customer message reached a Slack thread and each
    marked reply reached Twilio."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        self.thread_of: dict[str, str] = {}

    def record(self, entry: OutboxEntry) -> None:
        now = time.perf_counter()
        payload = entry.payload
        if entry.method == "chat.postMessage" and "thread_ts" in payload:
            text = str(payload.get("text", ""))
        elif entry.method == "messages.create":
            text = str(payload.get("Body", ""))
        else:
            text = ""
        found = MARKER.search(text)
        if found:
            marker = found.group(0)
            self.arrived.setdefault(marker, now)
            if "thread_ts" in payload:
                self.thread_of.setdefault(marker, str(payload["thread_ts"]))
        super().record(entry)


@dataclass
class RateRun:
    rate: float
    seconds: float
    sent: int = 0
    send_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    refused: int = 0
    # By process: CPU milliseconds per message sent, until every message of the step arrived.
    cpu_ms_per_message: dict[str, float] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return len(self.latencies)

    @property
    def held(self) -> bool:
        return (
            self.refused == 0
            and self.delivered == self.sent
            and self.sent / self.send_seconds >= 0.95 * self.rate
            and percentile(self.latencies, 0.95) <= HELD_P95_SECONDS
            and percentile(self.acks, 0.99) <= ACK_LIMIT_SECONDS
        )

    def summary(self) -> dict[str, Any]:
        def ms(values: list[float], fraction: float) -> float:
            return round(percentile(values, fraction) * 1000, 1)

        return {
            "rate_per_s": self.rate,
            "seconds": self.seconds,
            "sent": self.sent,
            "achieved_rate_per_s": round(self.sent / self.send_seconds, 1),
            "delivered": self.delivered,
            "refused": self.refused,
            "p50_ms": ms(self.latencies, 0.5),
            "p95_ms": ms(self.latencies, 0.95),
            "p99_ms": ms(self.latencies, 0.99),
            "ack_p50_ms": ms(self.acks, 0.5),
            "ack_p99_ms": ms(self.acks, 0.99),
            "held": self.held,
            "cpu_ms_per_message": self.cpu_ms_per_message,
        }


def cpu_seconds(stat: str) -> float:
    """User and system CPU seconds of a process, from its /proc/<pid>/stat line (the name,
    in parentheses, may itself hold spaces and parentheses)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text(errors="replace")


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def stack_processes() -> dict[str, int]:
    """The processes a message costs CPU in: the AWS emulator, the stack (API and workers),
    and this one (the Slack and Twilio stand-ins, the senders); empty where /proc does not
    tell."""
    try:
        stack = next(
            pid for pid in _children(os.getpid()) if "local_stack" in _proc(pid, "cmdline")
        )
        emulator = next(pid for pid in _children(stack) if "spawn_main" in _proc(pid, "cmdline"))
    except (OSError, StopIteration):
        return {}
    return {"emulator": emulator, "stack": stack, "stand_ins": os.getpid()}


def _cpu_now(processes: dict[str, int]) -> dict[str, float]:
    return {role: cpu_seconds(_proc(pid, "stat")) for role, pid in processes.items()}


class Load:
    def __init__(self, stack: RunningStack, outbox: TimedOutbox) -> None:
        self._stack = stack
        self._outbox = outbox
        self._numbers = iter(range(1, 10**9))
        self.threads: list[str] = []
        self._expected: set[str] = set()

    def customer_message(self, customer: int) -> tuple[str, Callable[[], int]]:
        number = next(self._numbers)
        marker = f"benchq{number}x"
        params = twilio_message(
            uuid.uuid4().int >> 2,
            From=f"+55119{customer:08d}",
            Body=f"Onde está meu pedido? {marker}",
        )
        path = f"/webhooks/twilio/{SHOP}"
        url = self._stack.api + path
        headers = twilio_headers(url, params)
        return marker, lambda: http("POST", url, form(params), headers).status

    def agent_reply(self, customer: int) -> tuple[str, Callable[[], int]]:
        number = next(self._numbers)
        marker = f"benchr{number}x"
        body = slack_thread_reply(
            self.threads[customer % len(self.threads)],
            f"{time.time():.6f}",
            f"Chega amanhã {marker}",
            event_id=f"Ev{uuid.uuid4().hex}",
        )
        url = self._stack.api + "/slack/events"
        headers = slack_headers(body, LOCAL_SIGNING_SECRET)
        return marker, lambda: http("POST", url, body, headers).status

    def run(
        self, make: Callable[[int], tuple[str, Callable[[], int]]], rate: float, seconds: float
    ) -> RateRun:
        run = RateRun(rate, seconds)
        total = int(rate * seconds)
        started_at: dict[str, float] = {}
        lock = threading.Lock()

        def send(marker: str, post: Callable[[], int]) -> None:
            began = time.perf_counter()
            with lock:
                started_at[marker] = began
            status = post()
            with lock:
                run.acks.append(time.perf_counter() - began)
                if status != 200:
                    run.refused += 1

        requests = [make(n % CUSTOMERS) for n in range(total)]
        self._expected.update(marker for marker, _ in requests)
        with ThreadPoolExecutor(SENDERS) as senders:
            start = time.perf_counter()
            for n, (marker, post) in enumerate(requests):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                senders.submit(send, marker, post)
            run.send_seconds = max(time.perf_counter() - start, seconds)
        run.sent = total
        deadline = time.perf_counter() + DRAIN_SECONDS
        while time.perf_counter() < deadline:
            if all(marker in self._outbox.arrived for marker in started_at):
                break
            time.sleep(0.1)
        run.latencies = [
            self._outbox.arrived[marker] - began
            for marker, began in started_at.items()
            if marker in self._outbox.arrived
        ]
        return run

    def settle(self, seconds: float = 90) -> None:
        """Waits out the backlog a rate that did not hold left behind."""
        deadline = time.monotonic() + seconds
        while not self._expected <= self._outbox.arrived.keys() and time.monotonic() < deadline:
            time.sleep(0.2)

    def open_conversations(self) -> None:
        """One conversation per customer, so every measured message is a follow-up."""
        markers = []
        for customer in range(CUSTOMERS):
            marker, post = self.customer_message(customer)
            if post() != 200:
                raise RuntimeError("the local stack refused a customer message")
            markers.append(marker)
        deadline = time.monotonic() + 60
        while not all(marker in self._outbox.thread_of for marker in markers):
            if time.monotonic() > deadline:
                raise RuntimeError("conversations did not open on the local stack")
            time.sleep(0.1)
        self.threads = [self._outbox.thread_of[marker] for marker in markers]


@contextmanager
def loaded_stack() -> Iterator[Load]:
    outbox = TimedOutbox()
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_stack(outbox, Path(scratch) / "stack.log") as stack,
    ):
        # No grace period: it would add its own seconds to every reply's latency.
        document = shop_document(replies={"grace_seconds": 0})
        answer = stack.admin("PUT", f"/admin/shops/{SHOP}", document)
        if answer.status != 201:
            raise RuntimeError(f"shop not created on the local stack: {answer.body}")
        load = Load(stack, outbox)
        load.open_conversations()
        yield load


def _costed(
    load: Load,
    processes: dict[str, int],
    make: Callable[[int], tuple[str, Callable[[], int]]],
    rate: float,
    seconds: float,
) -> RateRun:
    """One step, with each process's CPU per message until the step's last message arrived
    (a step that did not hold is waited out first: its backlog is its own cost)."""
    before = _cpu_now(processes)
    step = load.run(make, rate, seconds)
    if not step.held:
        load.settle()
    after = _cpu_now(processes)
    step.cpu_ms_per_message = {
        role: round((after[role] - before[role]) * 1000 / max(step.sent, 1), 1)
        for role in processes
    }
    return step


def ramp(
    make: Callable[[Load], Callable[[int], tuple[str, Callable[[], int]]]],
    steady_rate: float,
    steady_seconds: float,
    ramp_rates: tuple[float, ...],
    ramp_seconds: float,
) -> dict[str, Any]:
    """On a fresh stack: rates upwards from the lowest until one does not hold, then the
    steady rate (last, so its backlog, if any, slows nothing else)."""
    with loaded_stack() as load:
        processes = stack_processes()
        tried = []
        highest = None
        for rate in sorted(ramp_rates):
            step = _costed(load, processes, make(load), rate, ramp_seconds)
            tried.append(step.summary())
            if not step.held:
                break
            highest = step
        steady = _costed(load, processes, make(load), steady_rate, steady_seconds)
    if steady.held and (highest is None or steady_rate > highest.rate):
        highest = steady
    return {
        "steady": steady.summary(),
        "ramp": tried,
        "highest_held": highest.summary() if highest else None,
    }


def measure(
    steady_seconds: float = 20,
    ramp_seconds: float = 10,
    ramp_rates: tuple[float, ...] = (2, 4, 6, 8, 12, 16, 24, 32, 48, 64),
) -> dict[str, Any]:
    def inbound(load: Load) -> Callable[[int], tuple[str, Callable[[], int]]]:
        return load.customer_message

    def outbound(load: Load) -> Callable[[int], tuple[str, Callable[[], int]]]:
        return load.agent_reply

    return {
        "held_means": {
            "all_delivered_within_s": DRAIN_SECONDS,
            "p95_at_most_s": HELD_P95_SECONDS,
            "ack_p99_at_most_s": ACK_LIMIT_SECONDS,
            "achieved_rate_at_least": "95% of the target",
        },
        "customer_to_slack": ramp(inbound, 20, steady_seconds, ramp_rates, ramp_seconds),
        "agent_to_twilio": ramp(outbound, 20, steady_seconds, ramp_rates, ramp_seconds),
    }
