"""The reliability run in short (`make reliability` is the full one): duplicates and retries,
the SQS send failing after the write, two shops sharing a workspace, customers and ids,
hostile mail, and customers erased while their messages wait; nothing lost, doubled, late,
crossed between shops or posted after an erasure, and no mail read in worse than linear time."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


def test_duplicates_and_a_failing_queue_lose_and_double_nothing(tmp_path: Path) -> None:
    # Given the harness in a process of its own (the local stack sets its environment)
    figures = tmp_path / "figures.json"

    # When it runs the duplicates and sqs-send scenarios at a small size
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "reliability",
            "--messages",
            "40",
            "--conversations",
            "4",
            "--scenarios",
            "duplicates,sqs-send,tenants,mail,erasure",
            "--json",
            str(figures),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then both ran with their duplicates and faults, and every figure that must be 0 is
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    results = {r["scenario"]: r for r in json.loads(figures.read_text())}
    assert results.keys() == {"duplicates", "sqs-send", "tenants", "mail", "erasure"}
    for result in results.values():
        assert result["messages"] == 40
        assert result["duplicates_injected"] > 0
        assert (result["lost"], result["doubled"], result["out_of_order"]) == (0, 0, 0)
        assert (result["crossed"], result["erasure_misses"]) == (0, 0)
    # Four times a hostile mail costs about four times as much: linear (a quadratic parser: 16)
    assert 0 < results["mail"]["parse_growth"] <= 8
    assert results["duplicates"]["replies"] == results["sqs-send"]["replies"] == 8
    # Two shops: each one's agent replies, and an order update to each of its customers
    assert results["tenants"]["replies"] == 12
    assert results["duplicates"]["faults_injected"] == 0
    assert results["sqs-send"]["fault_detail"]["sqs"] > 0
    # A failed send is answered 503 (status callbacks, sent by the Twilio stand-in, not the
    # harness, fail too), and the provider's retry got it through: nothing was lost
    assert results["sqs-send"]["http_5xx"] > 0
