"""Ports for stacks that run side by side: never one the kernel may hand a port-0 server."""

import socket
from pathlib import Path

import pytest

from local_stack.ports import CHOSEN_PORTS, free_port

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not EPHEMERAL_RANGE.exists(), reason="Linux names its ephemeral range")
def test_a_free_port_is_bindable_and_outside_the_ephemeral_range() -> None:
    low, high = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    chosen = {free_port() for _ in range(50)}
    assert all(port in CHOSEN_PORTS and not low <= port <= high for port in chosen)
    for port in chosen:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server on a port of the chosen range, and a draw that offers it first
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = taken.getsockname()[1]
        offers = iter([busy, busy, busy + 1 if busy + 1 in CHOSEN_PORTS else busy - 1])
        monkeypatch.setattr("local_stack.ports.random.choice", lambda _: next(offers))
        # Then another port is given
        assert free_port() not in {busy}
