"""Figure 2: importing app.py in a fresh interpreter beside `import boto3` alone, taking
turns, and which packages the import time goes to (`python -X importtime`).

Lambda imports app.py at cold start; the first event then imports what its handler needs
(the composition root and the use cases), so that is measured too: the imports alone, and
whole first events, a Twilio customer message and a Slack agent reply, handled from
`import app` to the answer against the AWS emulator (bench/first_event.py)."""

import collections
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
IMPORTS = {
    "app": "import app",
    "boto3": "import boto3",
    "app_and_first_event": "import app, chalicelib.bootstrap",
}
FIRST_EVENTS = ("first_twilio_event", "first_slack_event")
# Each first event's own floor: boto3, its clients and its AWS calls, without the app.
FLOORS = {name: f"{name}_floor" for name in FIRST_EVENTS}


def _timed_import(statement: str) -> float:
    program = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_DIR,
        # .pyc files written and read, as a bundle's installed packages have them
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def import_time_by_package(statement: str) -> list[tuple[str, float]]:
    """Self import time in ms, summed by top-level package, largest first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: dict[str, float] = collections.defaultdict(float)
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        by_package[fields[2].strip().split(".")[0]] += int(fields[0]) / 1000
    largest = sorted(by_package.items(), key=lambda item: -item[1])[:12]
    return [(name, round(ms, 1)) for name, ms in largest]


def measure(runs: int = 25) -> dict[str, Any]:
    from bench import first_event

    times: dict[str, list[float]] = {
        name: [] for name in (*IMPORTS, *FIRST_EVENTS, *FLOORS.values())
    }
    with first_event.emulator() as environ:
        events = {
            "first_twilio_event": first_event.twilio_event,
            "first_slack_event": first_event.slack_event,
        }
        for statement in IMPORTS.values():
            _timed_import(statement)  # warm the file cache and .pyc files
        for number, make_event in enumerate(events.values(), start=10**6):
            first_event.first_event(make_event(number), environ)
        calls = {
            name: first_event.calls_of(make_event(number), environ)
            for number, (name, make_event) in enumerate(events.items(), start=2 * 10**6)
        }
        for run in range(runs):
            for name, statement in IMPORTS.items():
                times[name].append(_timed_import(statement))
            for name, make_event in events.items():
                times[name].append(first_event.first_event(make_event(run + 1), environ))
                times[FLOORS[name]].append(first_event.floor(calls[name], environ))
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        "runs": runs,
        "median_ms": medians,
        "app_ratio": medians["app"] / medians["boto3"],
        "app_and_first_event_ratio": medians["app_and_first_event"] / medians["boto3"],
        **{f"{name}_ratio": medians[name] / medians["boto3"] for name in FIRST_EVENTS},
        **{f"{name}_floor_ratio": medians[name] / medians[floor] for name, floor in FLOORS.items()},
        "first_event_calls": {
            name: [f"{service}:{operation}" for service, operation, _ in made]
            for name, made in calls.items()
        },
        "dominant_packages_ms": {
            "app": import_time_by_package(IMPORTS["app"]),
            "app_and_first_event": import_time_by_package(IMPORTS["app_and_first_event"]),
        },
    }
