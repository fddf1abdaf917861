"""Medians, percentiles and interleaved timing: the measured thing and its floor take turns,
so a noisy neighbour slows both alike and their ratio holds."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class Paired:
    """Median cost of the measured thing and of its floor, in seconds."""

    measured: float
    floor: float
    runs: int

    @property
    def ratio(self) -> float:
        return self.measured / self.floor


def interleaved(
    measured: Callable[[], object],
    floor: Callable[[], object],
    runs: int,
    clock: Callable[[], float] = time.process_time,
) -> Paired:
    """A, B, A, B, …: `runs` timings of each, by `clock`; their medians."""
    measured_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(runs):
        for call, times in ((measured, measured_times), (floor, floor_times)):
            started = clock()
            call()
            times.append(clock() - started)
    return Paired(statistics.median(measured_times), statistics.median(floor_times), runs)
