"""Figure 4: the deployment package as `make package` builds it (`chalice package` offline,
then trimmed by `threadline_cli.bundle` and given bytecode by `threadline_cli.bytecode`),
zipped, and each dependency's share of it."""

import collections
import csv
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
TARGET_MB = 10.0


def _recorded(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each installed file's distribution, as the wheels' RECORD files list them (a package's
    folder may be named otherwise, `jwt` for PyJWT, and some put modules at the top level)."""
    owners = {}
    for name in archive.namelist():
        if name.endswith(".dist-info/RECORD"):
            distribution = name.split("/")[0].removesuffix(".dist-info").rsplit("-", 1)[0]
            for row in csv.reader(io.StringIO(archive.read(name).decode())):
                if row:
                    owners[row[0]] = distribution.lower()
    return owners


def _owner(name: str) -> str:
    """The owner of a zip member no RECORD lists (the app, chalice's runtime): its top-level
    folder, without the suffixes wheels put on metadata and bundled-library folders."""
    top = name.split("/")[0]
    for suffix in (".libs", ".dist-info", ".data"):
        if top.endswith(suffix):
            top = top.removesuffix(suffix).split("-")[0]
    return top.removesuffix(".py").lower().replace("-", "_")


def sizes(deployment: Path) -> dict[str, Any]:
    zipped: collections.Counter[str] = collections.Counter()
    unzipped: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(deployment) as archive:
        recorded = _recorded(archive)
        for member in archive.infolist():
            owner = recorded.get(member.filename) or _owner(member.filename)
            zipped[owner] += member.compress_size
            unzipped[owner] += member.file_size
    mb = 1_000_000
    return {
        "zip_mb": deployment.stat().st_size / mb,
        "unzipped_mb": sum(unzipped.values()) / mb,
        "target_mb": TARGET_MB,
        "by_dependency_mb": {
            name: {"zipped": round(size / mb, 2), "unzipped": round(unzipped[name] / mb, 2)}
            for name, size in zipped.most_common()
            if size >= mb // 100
        },
        "botocore_or_boto3_inside": any(name in zipped for name in ("boto3", "botocore")),
    }


def measure() -> dict[str, Any]:
    # As `make package` builds it: chalice in the Makefile's Python 3.13 virtualenv.
    make = shutil.which("make")
    if make is None:
        raise RuntimeError("make is needed to build the packaging virtualenv")
    subprocess.run(
        [make, "--no-print-directory", "package-venv"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        timeout=900,
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        subprocess.run(
            [
                str(PROJECT_DIR / ".venv-package" / "bin" / "chalice"),
                "package",
                "--stage",
                "dev",
                "--merge-template",
                "infra/template.json",
                str(out),
            ],
            cwd=PROJECT_DIR,
            env={**env, "AWS_DEFAULT_REGION": "us-east-1"},
            check=True,
            capture_output=True,
            timeout=600,
        )
        from threadline_cli.bundle import trim

        trim(out / "deployment.zip")
        from bench import bundle_cold_start
        from threadline_cli.bytecode import add_bytecode

        python = str(PROJECT_DIR / ".venv-package" / "bin" / "python")
        cold_start = bundle_cold_start.measure(out / "deployment.zip", python)
        add_bytecode(out / "deployment.zip", python)
        return {**sizes(out / "deployment.zip"), "bundle_cold_start": cold_start}
