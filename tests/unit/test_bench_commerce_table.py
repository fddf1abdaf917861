"""`make bench` prints the commerce figures as rows: the first message's latency to Slack
with and without commerce, the lookup's own, and the calls per first message."""

import pytest

from bench.__main__ import table

pytestmark = pytest.mark.unit


def _latency(p50: float, p95: float) -> dict[str, float]:
    return {"messages": 20, "p50_ms": p50, "p95_ms": p95}


def _calls(ack: int, worker: int, shopify: int) -> dict[str, object]:
    return {"aws_ack": ack, "aws_worker": worker, "shopify_queries": shopify}


def test_the_commerce_figures_are_printed_as_rows() -> None:
    results = {
        "commerce": {
            "latency": {
                "first_message_to_slack_without_commerce": _latency(140.2, 300.0),
                "first_message_to_slack_with_commerce": _latency(97.0, 204.0),
                "first_message_to_orders_on_card": _latency(255.6, 267.9),
                "lookup_job_after_slack_post": _latency(72.9, 193.7),
            },
            "calls_per_first_message": {
                "without_commerce": _calls(2, 10, 0),
                "with_commerce_known_customer": _calls(2, 15, 2),
                "with_commerce_unknown_customer": _calls(2, 15, 1),
            },
        }
    }
    printed = table(results).splitlines()
    assert any(
        "first message → Slack, no commerce p50/p95" in line and "140/300 ms" in line
        for line in printed
    )
    assert any(
        "orders lookup after the Slack post" in line and "73/194 ms" in line for line in printed
    )
    assert any(
        "calls, first message (Shopify, known customer)" in line and "AWS 2+15, Shopify 2" in line
        for line in printed
    )
