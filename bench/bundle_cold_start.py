"""Figure 2's cold start as Lambda pays it: the bundle unpacked, on the runtime's Python
(3.13, the packaging virtualenv's), without and with the bytecode `threadline_cli.bytecode`
adds. Lambda's task directory is read-only, so no `.pyc` is written between cold starts;
neither is one here (PYTHONDONTWRITEBYTECODE). Each run imports app.py and builds what the ack
uses (the intake, its repositories, the secrets, the queues and their three clients), beside
`import boto3` alone from the same bundle; no AWS call is made."""

import os
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ACK_BUILT = """
import time; started = time.perf_counter()
import app
from chalicelib import bootstrap
container = bootstrap.container()
container.intake; container.store.shops; container.store.client; container.secrets_client
print(time.perf_counter() - started)
"""
BOTO3 = (
    "import time; started = time.perf_counter(); import boto3; print(time.perf_counter() - started)"
)


def _timed(python: str, program: str, task: Path) -> float:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(task),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "THREADLINE_PUBLIC_URL": "https://threadline.example.com/api",
    }
    done = subprocess.run(
        [python, "-S", "-c", program],
        cwd=task,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(done.stdout.strip())


def measure(trimmed: Path, python: str, runs: int = 9) -> dict[str, Any]:
    """Medians in ms for the trimmed bundle without bytecode and with what
    `threadline_cli.bytecode` adds, taking turns; and the two zips' sizes."""
    from threadline_cli.bytecode import add_bytecode

    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "compiled.zip"
        shutil.copy(trimmed, compiled)
        modules, imported, _ = add_bytecode(compiled, python)
        tasks = {"source": trimmed, "bytecode": compiled}
        for name, bundle in tasks.items():
            with zipfile.ZipFile(bundle) as archive:
                archive.extractall(Path(scratch) / name)
        times: dict[str, list[float]] = {
            f"{name}_{what}": [] for name in tasks for what in ("boto3", "ack_built")
        }
        for _ in range(runs):
            for name in tasks:
                task = Path(scratch) / name
                times[f"{name}_boto3"].append(_timed(python, BOTO3, task))
                times[f"{name}_ack_built"].append(_timed(python, ACK_BUILT, task))
        return {
            "runs": runs,
            "median_ms": {name: statistics.median(v) * 1000 for name, v in times.items()},
            "modules_compiled": modules,
            "modules_a_first_event_imports": imported,
            "zip_mb": {
                "source": trimmed.stat().st_size / 1e6,
                "bytecode": compiled.stat().st_size / 1e6,
            },
        }
