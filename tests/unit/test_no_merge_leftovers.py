"""No file of the project keeps a merge's conflict markers: a leftover in a document reads
as content and passes every other check."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHECKED = ("app.py", "chalicelib", "local_stack", "threadline_cli", "tests", "bench", "docs")
SUFFIXES = {".py", ".md", ".json", ".toml", ".yaml", ".yml", ".txt"}
MARKERS = ("<<<<<<< ", ">>>>>>> ")


def _files() -> list[Path]:
    found: list[Path] = []
    for name in CHECKED:
        path = PROJECT_DIR / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return found


def test_no_file_keeps_conflict_markers() -> None:
    leftovers = [
        f"{path.relative_to(PROJECT_DIR)}:{number}"
        for path in _files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if line.startswith(MARKERS)
    ]
    assert leftovers == []
