"""`python -m bench [--only SECTION,...]` (sections: ack, cold_start, end_to_end, package, language,
triage, ai_costs, commerce): runs the
benchmarks, writes bench/results.json and prints the table; with --only, the other sections keep the
figures of the run that measured them (`measured` tells when). docs/PERFORMANCE.md explains
each figure."""

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"
# results.json as it stood when issue 20 (cheaper and faster per message) was filed, frozen:
# the "today" column of the issue's table.
BASELINE = Path(__file__).resolve().parent / "baseline.json"
SECTIONS = (
    "ack",
    "cold_start",
    "end_to_end",
    "package",
    "language",
    "triage",
    "ai_costs",
    "commerce",
)
# The ack paths held to one DynamoDB write and one SQS send per message.
ONE_WRITE_ONE_SEND = (
    "customer_message_ack",
    "meta_message_ack",
    "meta_batch_ack_per_message",
    "telegram_update_ack",
)


def _run(section: str) -> dict[str, Any]:
    # The app's log lines and metrics would drown the table.
    with contextlib.redirect_stdout(io.StringIO()):
        if section == "ack":
            from bench import ack

            return ack.measure()
        if section == "cold_start":
            from bench import cold_start

            return cold_start.measure()
        if section == "end_to_end":
            from bench import end_to_end

            return end_to_end.measure()
        if section == "language":
            from bench import language

            return language.measure()
        if section == "triage":
            from bench import triage

            return triage.measure()
        if section == "ai_costs":
            from bench import ai_costs

            return ai_costs.measure()
        if section == "commerce":
            from bench import commerce

            return commerce.measure()
        from bench import package

        return package.measure()


def _row(
    figure: str, value: str, floor: str = "", ratio: str = "", target: str = "", today: str = ""
) -> str:
    return f"{figure:<44} {value:>22} {floor:>12} {ratio:>7} {target:>10} {today:>8}".rstrip()


def _latency(run: dict[str, Any] | None) -> str:
    if run is None:
        return "none held"
    return f"{run['p50_ms']:.0f}/{run['p95_ms']:.0f}/{run['p99_ms']:.0f} ms"


def _dig(results: dict[str, Any], *path: str) -> Any:
    """results[path[0]][path[1]]…, or None where a section or figure is missing."""
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _calls(results: dict[str, Any], name: str) -> str:
    value = _dig(results, "ack", "calls_total", name)
    return "-" if value is None else f"{value:g}"


def _reply_calls(results: dict[str, Any]) -> str:
    grace = _dig(results, "ack", "calls_total", "agent_reply_worker_grace_pass")
    return _calls(results, "agent_reply_worker") + ("" if grace is None else f" (+{grace:g})")


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _zip(results: dict[str, Any]) -> str:
    value = _dig(results, "package", "zip_mb")
    return "-" if value is None else f"{value:.2f} MB"


def _held(results: dict[str, Any], direction: str) -> str:
    if _dig(results, "end_to_end", direction) is None:
        return "-"
    rate = _dig(results, "end_to_end", direction, "highest_held", "rate_per_s")
    return "none" if rate is None else f"{rate:g} msg/s"


def _first_event_ratio(results: dict[str, Any], event: str) -> str:
    measured = _dig(results, "cold_start", f"{event}_ratio")
    if measured is None:
        return _ratio(_dig(results, "cold_start", "app_and_first_event_ratio"))
    return _ratio(measured)


def _ack_ratio(results: dict[str, Any], *path: str) -> str:
    return _ratio(_dig(results, "ack", *path, "ratio"))


# The rows of issue 20's table: figure, how to read it from a results file, target.
ISSUE_ROWS: tuple[tuple[str, Any, str], ...] = (
    (
        "worker AWS calls, customer follow-up",
        lambda r: _calls(r, "customer_message_worker_follow_up"),
        "<= 3",
    ),
    (
        "worker AWS calls, opening a conversation",
        lambda r: _calls(r, "customer_message_worker_new_conversation"),
        "<= 6",
    ),
    ("worker AWS calls, agent reply (+grace pass)", _reply_calls, "<= 5 (+1)"),
    ("worker AWS calls, status callback", lambda r: _calls(r, "status_callback_worker"), "<= 2"),
    # When the issue was filed, "first event" meant the imports of app.py and the composition
    # root (what the baseline holds); whole first events are measured since.
    (
        "import + first Twilio event vs import boto3",
        lambda r: _first_event_ratio(r, "first_twilio_event"),
        "<= 1.5x",
    ),
    (
        "import + first Slack event vs import boto3",
        lambda r: _first_event_ratio(r, "first_slack_event"),
        "<= 1.5x",
    ),
    (
        "first Twilio event vs boto3 + clients + calls",
        lambda r: _ratio(_dig(r, "cold_start", "first_twilio_event_floor_ratio")),
        "",
    ),
    (
        "first Slack event vs boto3 + clients + calls",
        lambda r: _ratio(_dig(r, "cold_start", "first_slack_event_floor_ratio")),
        "",
    ),
    ("deployment zip", _zip, "< 10 MB"),
    (
        "local stack, customer -> Slack, held rate",
        lambda r: _held(r, "customer_to_slack"),
        "20 msg/s",
    ),
    (
        "local stack, reply -> Twilio, held rate",
        lambda r: _held(r, "agent_to_twilio"),
        "20 msg/s",
    ),
    (
        "ack CPU vs moto's floor, Twilio message",
        lambda r: _ack_ratio(r, "twilio_message_cpu"),
        "",
    ),
    (
        "ack CPU vs boto3's floor, Twilio message",
        lambda r: _ack_ratio(r, "in_process", "twilio_message_cpu"),
        "<= 1.5x",
    ),
    ("ack CPU vs moto's floor, Slack event", lambda r: _ack_ratio(r, "slack_event_cpu"), ""),
    (
        "ack CPU vs boto3's floor, Slack event",
        lambda r: _ack_ratio(r, "in_process", "slack_event_cpu"),
        "<= 1.5x",
    ),
    (
        "$ per 1,000 messages (cost model)",
        lambda r: (
            "-"
            if (dollars := _dig(r, "cost", "dollars_per_1000_messages")) is None
            else f"{dollars:.4f}"
        ),
        "",
    ),
)


def issue_table(baseline: dict[str, Any], results: dict[str, Any]) -> str:
    """Issue 20's rows: the figure when the issue was filed beside this run's."""
    lines = [
        f"{'issue 20':<44} {'today (baseline)':>20} {'now':>20} {'target':>11}",
        "-" * 99,
    ]
    for figure, read, target in ISSUE_ROWS:
        lines.append(f"{figure:<44} {read(baseline):>20} {read(results):>20} {target:>11}")
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    lines = [_row("figure", "measured", "floor", "ratio", "target", "today"), "-" * 108]
    before = json.loads(BASELINE.read_text())
    ack = results.get("ack")
    if ack:
        figures = [
            (ack["twilio_message_cpu"], "ack CPU, Twilio message (median)"),
            (ack["slack_event_cpu"], "ack CPU, Slack event (median)"),
            (ack["twilio_message_wall"], "ack wall, Twilio message (median)"),
        ]
        if "in_process" in ack:
            in_process = ack["in_process"]
            figures += [
                (in_process["twilio_message_cpu"], "ack CPU, Twilio, AWS in process"),
                (in_process["slack_event_cpu"], "ack CPU, Slack, AWS in process"),
                (in_process["twilio_message_wall"], "ack wall, Twilio, AWS in process"),
            ]
            if "through_test_client" in in_process:  # (measured since issue 20's item 4)
                client = in_process["through_test_client"]
                figures += [
                    (client["twilio_message_cpu"], "  the same via chalice's test client"),
                    (client["slack_event_cpu"], "  Slack the same via the test client"),
                ]
        for figure, label in figures:
            lines.append(
                _row(
                    label,
                    f"{figure['app_ms']:.2f} ms",
                    f"{figure['floor_ms']:.2f} ms",
                    f"{figure['ratio']:.2f}x",
                    "<= 1.5x",
                )
            )
        from bench.aws_calls import WORKER_CALL_TARGETS, WORKER_CALLS_AT_ISSUE_20

        totals = ack["calls_total"]
        for name, value in totals.items():
            target = "2" if name in ONE_WRITE_ONE_SEND else ""
            was = ""
            if name in WORKER_CALLS_AT_ISSUE_20:
                # The issue's starting figure beside today's, from bench/results.json then.
                was = f"was {WORKER_CALLS_AT_ISSUE_20[name]}"
                target = f"<= {WORKER_CALL_TARGETS[name]}"
            lines.append(_row(f"AWS calls: {name}", f"{value:g}", was, target=target))
    cost = results.get("cost")
    if cost:
        lines.append(_row("$ per 1,000 messages", f"{cost['dollars_per_1000_messages']:.4f}"))
        lines.append(
            _row("$ per 1,000 conversations", f"{cost['dollars_per_1000_conversations']:.4f}")
        )
    cold = results.get("cold_start")
    if cold:
        medians = cold["median_ms"]
        lines.append(
            _row(
                "cold start: import app (median)",
                f"{medians['app']:.0f} ms",
                f"{medians['boto3']:.0f} ms",
                f"{cold['app_ratio']:.2f}x",
                "<= 1.3x",
            )
        )
        lines.append(
            _row(
                "cold start: app + first event's imports",
                f"{medians['app_and_first_event']:.0f} ms",
                f"{medians['boto3']:.0f} ms",
                f"{cold['app_and_first_event_ratio']:.2f}x",
                today=f"{before['cold_start']['app_and_first_event_ratio']:.2f}x",
            )
        )
        for name, label in (
            ("first_twilio_event", "cold start: app + first Twilio event"),
            ("first_slack_event", "cold start: app + first Slack event"),
        ):
            if name in medians:  # (measured since issue 20)
                lines.append(
                    _row(
                        label,
                        f"{medians[name]:.0f} ms",
                        f"{medians['boto3']:.0f} ms",
                        f"{cold[f'{name}_ratio']:.2f}x",
                        "<= 1.5x",
                        "-",
                    )
                )
            if f"{name}_floor" in medians:  # its own floor: boto3, clients, the same calls
                lines.append(
                    _row(
                        f"{label}, vs its floor",
                        f"{medians[name]:.0f} ms",
                        f"{medians[f'{name}_floor']:.0f} ms",
                        f"{cold[f'{name}_floor_ratio']:.2f}x",
                    )
                )
    e2e = results.get("end_to_end")
    if e2e:
        directions = {"customer_to_slack": "webhook → Slack", "agent_to_twilio": "reply → Twilio"}
        for name, label in directions.items():
            steady, highest = e2e[name]["steady"], e2e[name]["highest_held"]
            held = "held" if steady["held"] else "not held"
            lines.append(_row(f"{label} p50/p95/p99 @20/s ({held})", _latency(steady)))
            rate = f"@{highest['rate_per_s']:g}/s" if highest else ""
            lines.append(_row(f"{label} highest held rate {rate}", _latency(highest)))
    package = results.get("package")
    if package:
        lines.append(
            _row(
                "package (zipped)",
                f"{package['zip_mb']:.2f} MB",
                target="< 10 MB",
                today=f"{before['package']['zip_mb']:.2f} MB",
            )
        )
        for name, size in list(package["by_dependency_mb"].items())[:6]:
            lines.append(_row(f"  {name}", f"{size['zipped']:.2f} MB"))
    language = results.get("language")
    if language:
        right, wrong = language["right"], len(language["wrong"])
        lines.append(
            _row("language detection", f"{right} right, {wrong} wrong of {language['messages']}")
        )
        without = language["without_evidence"]
        lines.append(
            _row(
                "language: no evidence, default kept",
                f"{without['defaulted']} of {without['messages']}",
            )
        )
    triage = results.get("triage")
    if triage:
        for split in ("dev", "test"):
            overall = triage["evaluation"][split]["all"]
            precision, recall = overall["urgency_precision"], overall["urgency_recall"]
            lines.append(
                _row(
                    f"triage ({split}): urgency precision / recall",
                    f"{precision:.2f} / {recall:.2f}",
                    target=">= 0.9 / -",
                )
            )
            accuracies = f"{overall['sentiment_accuracy']:.2f} / {overall['intent_accuracy']:.2f}"
            lines.append(_row(f"triage ({split}): sentiment / intent accuracy", accuracies))
        per_message = triage["timing"]["median_us_per_message"]
        lines.append(_row("triage: rules engine per message", f"{per_message:.0f} µs"))
    lines.extend(_ai_rows(results.get("ai_costs")))
    commerce = results.get("commerce")
    if commerce:
        lines += _commerce_rows(commerce)
    return "\n".join(lines)


def _ai_rows(ai: dict[str, Any] | None) -> list[str]:
    """Each engine's added cost per 1,000 customer messages, and its time a call."""
    if not ai:
        return []
    lines = [
        _row(f"+$ per 1,000 messages: {name}", f"${figures['dollars']:.2f}")
        for name, figures in ai["cost_per_1000_messages"].items()
    ]
    latency = ai["latency_ms"]
    for name, where in (
        ("rules", "worker, measured"),
        ("comprehend", "worker, moto"),
        ("bedrock", "worker, stand-in"),
        ("summary", "agent waits, stand-in"),
        ("draft", "agent waits, stand-in"),
    ):
        lines.append(_row(f"+latency: {name} ({where})", f"{latency[name]:.2f} ms"))
    return lines


def _commerce_rows(commerce: dict[str, Any]) -> list[str]:
    latency = commerce["latency"]
    lines = []
    for name, label in (
        ("first_message_to_slack_without_commerce", "first message → Slack, no commerce"),
        ("first_message_to_slack_with_commerce", "first message → Slack, with Shopify"),
        ("first_message_to_orders_on_card", "first message → orders on the card"),
        ("lookup_job_after_slack_post", "orders lookup after the Slack post"),
    ):
        figure = latency[name]
        lines.append(_row(f"{label} p50/p95", f"{figure['p50_ms']:.0f}/{figure['p95_ms']:.0f} ms"))
    for name, label in (
        ("without_commerce", "no commerce"),
        ("with_commerce_known_customer", "Shopify, known customer"),
        ("with_commerce_unknown_customer", "Shopify, unknown customer"),
    ):
        calls = commerce["calls_per_first_message"][name]
        lines.append(
            _row(
                f"calls, first message ({label})",
                f"AWS {calls['aws_ack']}+{calls['aws_worker']}, Shopify {calls['shopify_queries']}",
            )
        )
    return lines


def _previous() -> dict[str, Any]:
    return dict(json.loads(RESULTS.read_text())) if RESULTS.exists() else {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    chosen = parser.parse_args(argv).only.split(",")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.disable(logging.INFO)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    previous = _previous()
    measured = previous.get("measured") or dict.fromkeys(SECTIONS, previous.get("started"))
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "started": started,
        "measured": {},
    }
    for section in SECTIONS:
        if section in chosen:
            print(f"bench: {section}…", file=sys.stderr, flush=True)
            results[section] = _run(section)
            results["measured"][section] = started
        elif section in previous:
            results[section] = previous[section]
            results["measured"][section] = measured.get(section)
    if "ack" in results:
        from bench import cost

        # Always from the call counts in the file, whichever run measured them.
        results["cost"] = cost.model(results["ack"]["calls"])
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    print()
    print(issue_table(json.loads(BASELINE.read_text()), results))
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
