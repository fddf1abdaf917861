"""Text that shops' platforms and templates control is read in linear time: four times as
long costs about four times as much (quadratic would be 16x). Times are compared with each
other, never with a clock."""

import time
from collections.abc import Callable

import pytest

from chalicelib.commerce.shopify import _number
from chalicelib.domain.canned import fill


def _cpu_seconds(work: Callable[[], object]) -> float:
    """The fastest of three runs in this process's CPU time."""
    timings = []
    for _ in range(3):
        started = time.process_time()
        work()
        timings.append(time.process_time() - started)
    return min(timings)


def _growth(make: Callable[[int], str], read: Callable[[str], object]) -> float:
    short, long = make(20_000), make(80_000)
    return _cpu_seconds(lambda: read(long)) / max(_cpu_seconds(lambda: read(short)), 1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "Obrigada" + " " * n + "x",
        lambda n: "Pedido" + "," * n + "x",
        lambda n: "Pedido" + ", " * (n // 2) + "x",
    ],
    ids=["spaces before no punctuation", "commas before no stop", "comma-space runs"],
)
def test_a_filled_template_costs_linear_time(make: Callable[[int], str]) -> None:
    # A carrier's or a tracking number's text arrives inside a template as a value
    growth = _growth(make, lambda value: fill("{value}.", value=value))
    assert growth < 8, f"{growth:.1f}x"


def test_an_order_name_is_read_in_linear_time() -> None:
    growth = _growth(lambda n: "#" + "1" * n + "-A", _number)
    assert growth < 8, f"{growth:.1f}x"
    assert _number("ACME-1042-B") == "1042"
    assert _number("#" + "9" * 30) == "9" * 20
    assert _number("no digits") is None
