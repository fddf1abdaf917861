"""docs/ARCHITECTURE.md's code map names what is in the tree, and the tree holds what it
names: a module added, moved or removed without the map fails here."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Folders whose every module the map lists one by one (the domain's many rules end in "…").
LISTED_WHOLE = ("chalicelib/services", "chalicelib/store", "chalicelib/channels")

pytestmark = pytest.mark.unit


def _code_map() -> str:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## Code map", 1)[1]
    return section.split("```", 2)[1]


def _named_paths() -> set[str]:
    """Every path the map names: a line at the margin names paths from the root (a folder
    ending in "/" becomes the folder of the indented lines below it); an indented line names
    files of that folder, before its description."""
    named: set[str] = set()
    folder = ""
    for line in _code_map().splitlines():
        if not line.strip() or line.startswith(" " * 20):
            continue
        indented = line.startswith(" ")
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for name in (part.strip() for part in names.split(",")):
            if not re.fullmatch(r"[\w./-]+", name):
                continue
            if indented:
                named.add(f"{folder}{name}")
            else:
                named.add(name.rstrip("/"))
                if name.endswith("/"):
                    folder = name
    return named


def test_every_path_the_code_map_names_exists() -> None:
    missing = sorted(path for path in _named_paths() if not (ROOT / path).exists())
    assert missing == []


def test_every_module_of_the_deployed_package_is_on_the_code_map() -> None:
    named = _named_paths()
    top = {
        f"chalicelib/{entry.name}"
        for entry in (ROOT / "chalicelib").iterdir()
        if entry.name != "__init__.py"
        and not entry.name.startswith((".", "__pycache__"))
        and (entry.suffix in (".py", ".json") or entry.is_dir())
    }
    whole = {
        str(path.relative_to(ROOT))
        for folder in LISTED_WHOLE
        for path in (ROOT / folder).glob("*.py")
        if path.name != "__init__.py"
    }
    assert sorted((top | whole) - named) == []
