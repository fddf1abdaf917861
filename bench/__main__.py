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


def _row(figure: str, value: str, floor: str = "", ratio: str = "", target: str = "") -> str:
    return f"{figure:<44} {value:>22} {floor:>12} {ratio:>7} {target:>10}"


def _latency(run: dict[str, Any] | None) -> str:
    if run is None:
        return "none held"
    return f"{run['p50_ms']:.0f}/{run['p95_ms']:.0f}/{run['p99_ms']:.0f} ms"


def table(results: dict[str, Any]) -> str:
    lines = [_row("figure", "measured", "floor", "ratio", "target"), "-" * 99]
    ack = results.get("ack")
    if ack:
        for name, label in (
            ("twilio_message_cpu", "ack CPU, Twilio message (median)"),
            ("slack_event_cpu", "ack CPU, Slack event (median)"),
            ("twilio_message_wall", "ack wall, Twilio message (median)"),
        ):
            figure = ack[name]
            lines.append(
                _row(
                    label,
                    f"{figure['app_ms']:.2f} ms",
                    f"{figure['floor_ms']:.2f} ms",
                    f"{figure['ratio']:.2f}x",
                    "<= 1.5x",
                )
            )
        from bench.issue_start import CALL_TARGETS, with_issue_start

        totals = ack["calls_total"]
        for name, value in totals.items():
            target = "2" if name in ONE_WRITE_ONE_SEND else CALL_TARGETS.get(name, "")
            lines.append(_row(f"AWS calls: {name}", with_issue_start(name, value), target=target))
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
        lines.append(_row("package (zipped)", f"{package['zip_mb']:.1f} MB", target="< 10 MB"))
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
    if "ack" in chosen:
        from bench import cost

        results["cost"] = cost.model(results["ack"]["calls"])
    elif "cost" in previous:
        results["cost"] = previous["cost"]
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
