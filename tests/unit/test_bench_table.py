"""`make bench` prints issue 20's rows: the figure frozen when the issue was filed beside this
run's, and a dash where a run has no such figure (a section not measured yet)."""

import json

from bench.__main__ import BASELINE, issue_table, table


def _row(table: str, figure: str) -> list[str]:
    [line] = [line for line in table.splitlines() if line.startswith(figure)]
    return line[len(figure) :].split()


def test_each_row_shows_the_baseline_beside_this_run() -> None:
    baseline = json.loads(BASELINE.read_text())
    now = {
        "ack": {
            "calls_total": {
                "customer_message_worker_follow_up": 3,
                "agent_reply_worker": 5,
                "agent_reply_worker_grace_pass": 1,
            },
            "twilio_message_cpu": {"ratio": 1.02},
            "in_process": {"twilio_message_cpu": {"ratio": 1.4}},
        },
        "cold_start": {
            "app_and_first_event_ratio": 0.8,
            "first_twilio_event_ratio": 3.1,
            "first_twilio_event_floor_ratio": 1.8,
        },
        "end_to_end": {
            "customer_to_slack": {"highest_held": {"rate_per_s": 20}},
            "agent_to_twilio": {"highest_held": None},
        },
    }
    table = issue_table(baseline, now)
    assert _row(table, "worker AWS calls, customer follow-up") == ["6", "3", "<=", "3"]
    assert _row(table, "worker AWS calls, agent reply (+grace pass)")[:4] == [
        "10",
        "(+4)",
        "5",
        "(+1)",
    ]
    assert _row(table, "ack CPU vs boto3's floor, Twilio message") == ["-", "1.40x", "<=", "1.5x"]
    assert _row(table, "ack CPU vs moto's floor, Twilio message") == ["1.01x", "1.02x"]
    assert _row(table, "local stack, customer -> Slack, held rate") == [
        "6",
        "msg/s",
        "20",
        "msg/s",
        "20",
        "msg/s",
    ]
    assert _row(table, "local stack, reply -> Twilio, held rate")[:3] == ["4", "msg/s", "none"]
    # The first event itself, not the imports alone (which the baseline measured then).
    assert _row(table, "import + first Twilio event vs import boto3") == [
        "2.92x",
        "3.10x",
        "<=",
        "1.5x",
    ]
    assert _row(table, "first Twilio event vs boto3 + clients + calls") == ["-", "1.80x"]
    assert _row(table, "deployment zip") == ["12.00", "MB", "-", "<", "10", "MB"]


def test_the_in_process_acks_show_their_test_client_figures_beside() -> None:
    def paired(app_ms: float, floor_ms: float) -> dict[str, float]:
        return {"app_ms": app_ms, "floor_ms": floor_ms, "ratio": app_ms / floor_ms, "runs": 400}

    twilio, slack = paired(1.1, 0.8), paired(0.4, 0.3)
    ack = {
        "twilio_message_cpu": twilio,
        "slack_event_cpu": slack,
        "twilio_message_wall": twilio,
        "in_process": {
            "twilio_message_cpu": twilio,
            "slack_event_cpu": slack,
            "twilio_message_wall": twilio,
            "through_test_client": {
                "twilio_message_cpu": paired(1.2, 0.8),
                "slack_event_cpu": paired(0.48, 0.3),
            },
        },
        "calls_total": {},
    }
    printed = table({"ack": ack})
    assert _row(printed, "  the same via chalice's test client")[:5] == [
        "1.20",
        "ms",
        "0.80",
        "ms",
        "1.50x",
    ]
    assert _row(printed, "  Slack the same via the test client")[4] == "1.60x"
