"""The end-to-end bench's CPU per message reads each process's own CPU time."""

import os
import time

from bench.end_to_end import cpu_seconds

TICKS = os.sysconf("SC_CLK_TCK")


def test_user_and_system_time_are_read_past_a_name_holding_parentheses() -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    stat = f"4242 (python (aws) x) S 1 1 1 0 -1 4194560 10 0 0 0 {3 * TICKS} {TICKS} 0 0 20 0 9"
    assert cpu_seconds(stat) == 4.0


def test_this_process_spending_cpu_shows_in_its_stat() -> None:
    with open(f"/proc/{os.getpid()}/stat") as stat:
        before = cpu_seconds(stat.read())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    with open(f"/proc/{os.getpid()}/stat") as stat:
        assert cpu_seconds(stat.read()) - before >= 0.2
