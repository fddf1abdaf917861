"""Bytecode in the Lambda bundle, for the modules a cold start imports, as far as the bundle's
size budget allows.

Lambda's task directory is read-only, so a module without a `.pyc` is compiled from source at
every cold start: measured on Python 3.13 with the bundle unpacked, `import boto3` alone took
≈0.76 s from source against ≈0.25 s from bytecode, and `import app` with the ack's objects
built ≈1.8 s against ≈0.7 s (docs/PERFORMANCE.md §2). Bytecode must come from the runtime's
Python (3.13), so the interpreter the bundle was packaged with compiles it, hash-based and
unchecked: the files' times in the zip are irrelevant and nothing reads the source to check.

Bytecode of every bundled module would take the zip from ≈9 MB to ≈16 MB, past its 10 MB
budget; so the modules that a first event imports are compiled (found by importing the app in
that Python, from the unpacked bundle, and building what the ack uses), the app's own first,
then the AWS SDK's, then the rest, as many as keep the zip under the budget.

    python -m threadline_cli.bytecode out/deployment.zip .venv-package/bin/python
"""

import json
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

# DESIGN.md's budget for the zip, which tests/e2e/test_package.py holds it to.
BUDGET_BYTES = 10_000_000
# Lambda unpacks the bundle here: tracebacks name the modules' files under it.
TASK_ROOT = "/var/task"
# A zip member's local header and central directory entry, without its name (twice).
MEMBER_OVERHEAD_BYTES = 30 + 46 + 24
# Compiled first: the app's own modules, then the AWS SDK's (its import is every event's).
PRIORITY = (
    ("app.py", "chalicelib"),
    ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py"),
)

# Run by the bundle's Python with the unpacked bundle alone on its path: imports what a first
# Twilio or Slack event and a first worker job build, then prints the bundle's source files
# that were imported, in import order.
PROBE = """
import json, sys
import app
from chalicelib import bootstrap
container = bootstrap.container()
for name in ("intake", "store", "vault", "deployment", "queues", "inbound", "replies"):
    getattr(container, name)
container.store.shops
task = sys.argv[1] + "/"
print(json.dumps([
    module.__file__[len(task):]
    for module in list(sys.modules.values())
    if getattr(module, "__file__", None) and module.__file__.startswith(task)
    and module.__file__.endswith(".py")
]))
"""
# Compiles the files named on stdin, under the unpacked bundle, for this Python; tracebacks
# name them where Lambda unpacks the bundle.
COMPILE = """
import json, py_compile, sys
task, root = sys.argv[1:3]
for name in json.loads(sys.stdin.read()):
    py_compile.compile(
        f"{task}/{name}",
        dfile=f"{root}/{name}",
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
"""


def cached_name(source: str, tag: str) -> str:
    """Where the interpreter with cache tag `tag` (cpython-313) looks for a source's bytecode."""
    folder, _, file = source.rpartition("/")
    stem = file.removesuffix(".py")
    return f"{folder}/__pycache__/{stem}.{tag}.pyc" if folder else f"__pycache__/{stem}.{tag}.pyc"


def ranked(sources: Iterable[str]) -> list[str]:
    """The sources in the order they are compiled: PRIORITY's groups first, each in import
    order, then the rest in import order."""

    def group(source: str) -> int:
        top = source.split("/", 1)[0]
        return next((rank for rank, tops in enumerate(PRIORITY) if top in tops), len(PRIORITY))

    return sorted(sources, key=group)


def within_budget(
    candidates: Sequence[tuple[str, int]], zip_bytes: int, budget_bytes: int = BUDGET_BYTES
) -> list[str]:
    """The leading candidates (member name, compressed size) that fit in the budget beside
    a zip of `zip_bytes`; the first that does not fit ends the list, so the priority holds."""
    chosen: list[str] = []
    total = zip_bytes
    for name, compressed in candidates:
        total += compressed + MEMBER_OVERHEAD_BYTES + 2 * len(name.encode())
        if total >= budget_bytes:
            break
        chosen.append(name)
    return chosen


def _run(python: str, program: str, task: Path, *args: str, stdin: str = "") -> str:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(task),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONTZPATH": "",
        # Enough for the composition root to build its objects; nothing is called.
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bytecode",
        "AWS_SECRET_ACCESS_KEY": "bytecode",
        "THREADLINE_PUBLIC_URL": "https://threadline.example.com/api",
    }
    done = subprocess.run(  # noqa: S603 (the packaging Python, on fixed programs)
        [python, "-S", "-c", program, str(task), *args],
        input=stdin,
        env=environ,
        cwd=task,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return done.stdout


def add_bytecode(bundle: Path, python: str) -> tuple[int, int, int]:
    """Adds the bytecode of the first event's modules to the zip, within the budget; returns
    how many modules were compiled, how many the first event imports, and the zip's size."""
    tag = _run(python, "import sys; print(sys.implementation.cache_tag)", bundle.parent).strip()
    with tempfile.TemporaryDirectory() as scratch:
        task = Path(scratch)
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(task)
        imported = ranked(json.loads(_run(python, PROBE, task)))
        _run(python, COMPILE, task, TASK_ROOT, stdin=json.dumps(imported))
        compiled = {
            cached_name(source, tag): (task / cached_name(source, tag)) for source in imported
        }
        candidates = [
            (name, len(zlib.compress(path.read_bytes()))) for name, path in compiled.items()
        ]
        chosen = within_budget(candidates, bundle.stat().st_size)
        with zipfile.ZipFile(bundle, "a", zipfile.ZIP_DEFLATED) as archive:
            for name in chosen:
                archive.write(compiled[name], name)
    return len(chosen), len(imported), bundle.stat().st_size


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    # The workers run in other directories: the packaging Python is named from here.
    python = os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2]
    compiled, imported, size = add_bytecode(Path(sys.argv[1]), python)
    print(
        f"{sys.argv[1]}: bytecode of {compiled} of the {imported} modules a first event imports "
        f"→ {size / 1e6:.1f} MB (budget {BUDGET_BYTES / 1e6:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
