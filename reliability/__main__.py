"""`python -m reliability`: runs the scenarios, prints the table, and with `--doc` writes it
into docs/RELIABILITY.md between its figure markers."""

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

from reliability.harness import SCENARIOS, Harness, Result

# Four times a hostile mail may cost this many times as much, no more: a linear parser's
# baseline is 4; a quadratic one's 16.
PARSE_GROWTH_LIMIT = 8
DOC = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- figures: begin -->", "<!-- figures: end -->"
COLUMNS = (
    ("scenario", "scenario"),
    ("messages", "messages"),
    ("replies", "replies"),
    ("duplicates injected", "duplicates_injected"),
    ("faults injected", "faults_injected"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("out of order", "out_of_order"),
    ("late after redrive", "late_after_redrive"),
    ("5xx", "http_5xx"),
    ("dead-lettered", "dead_lettered"),
    ("told in Slack", "alerted"),
    ("log lines", "log_lines"),
    ("secrets or bodies logged", "log_leaks"),
    ("crossed tenants", "crossed"),
    ("erased yet posted or uncounted", "erasure_misses"),
    ("hostile mail parse cost for 4× its size", "parse_growth"),
    ("seconds", "seconds"),
)


def table(results: list[Result]) -> str:
    header = "| " + " | ".join(title for title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if n == 0 else "--:" for n in range(len(COLUMNS))) + "|"
    rows = ["| " + " | ".join(str(getattr(r, name)) for _, name in COLUMNS) + " |" for r in results]
    return "\n".join([header, rule, *rows])


def details(results: list[Result]) -> str:
    lines = []
    for result in results:
        scenario = SCENARIOS[result.scenario]
        injected = ", ".join(f"{kind} {n}" for kind, n in sorted(result.fault_detail.items()))
        lines.append(
            f"- `{result.scenario}` ({result.conversations} conversations): {scenario.what}"
            + (f"; injected: {injected}" if injected else "")
        )
    return "\n".join(lines)


def write_doc(results: list[Result], command: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    stamp = time.strftime("%Y-%m-%d")
    figures = (
        f"{BEGIN}\n`{command}` on {stamp}, Python {platform.python_version()}, "
        f"{platform.machine()}:\n\n{table(results)}\n\n{details(results)}\n{END}"
    )
    DOC.write_text(head + figures + tail, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--messages", type=int, default=5000, help="for the duplicates run")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument(
        "--fault-messages", type=int, default=None, help="for each fault run (default: same)"
    )
    parser.add_argument("--fault-conversations", type=int, default=None, help="for each fault run")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--doc", action="store_true", help="write the table into " + DOC.name)
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="run nothing: the table of earlier runs' --json files (runs side by side)",
    )
    arguments = parser.parse_args()
    if arguments.from_json:
        results = [
            Result(**figures)
            for path in arguments.from_json
            for figures in json.loads(path.read_text(encoding="utf-8"))
        ]
        return report(results, arguments.doc, "python -m reliability, runs merged with --from-json")
    names = [name for name in arguments.scenarios.split(",") if name]
    unknown = set(names) - SCENARIOS.keys()
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = []
    with Harness().running() as harness:
        for index, name in enumerate(names, start=1):
            faulty = name != "duplicates"
            messages = (arguments.fault_messages if faulty else None) or arguments.messages
            conversations = (
                arguments.fault_conversations if faulty else None
            ) or arguments.conversations
            result = harness.run(index, SCENARIOS[name], messages, conversations)
            print(f"{name}: done in {result.seconds} s", file=sys.__stderr__, flush=True)
            results.append(result)
    if arguments.json:
        arguments.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    return report(results, arguments.doc, "make reliability")


def report(results: list[Result], doc: bool, command: str) -> int:
    """Prints the table (and writes it into the doc); 1 when anything was lost, doubled or
    late, or a secret or message body was logged."""
    print(table(results))
    print(details(results))
    if doc:
        write_doc(results, command)
    failed = any(
        r.lost
        or r.doubled
        or r.out_of_order
        or r.log_leaks
        or r.crossed
        or r.erasure_misses
        or r.parse_growth > PARSE_GROWTH_LIMIT
        for r in results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
