import pytest

LAYERS = ("unit", "contract", "integration", "e2e")
# The files that take minutes, started first: with `make test`'s workers each taking a whole
# file, one left to the end would keep a worker busy long after the others ran out of work.
LONGEST_FIRST = ("tests/e2e/test_package.py", "tests/e2e/test_reliability.py", "tests/e2e/")


def _path(item: pytest.Item) -> str:
    return str(item.path).replace("\\", "/")


def _start_rank(item: pytest.Item) -> int:
    path = _path(item)
    return next(
        (rank for rank, start in enumerate(LONGEST_FIRST) if f"/{start}" in path),
        len(LONGEST_FIRST),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's layer comes from its folder, so `-m unit` and friends select by layer; the
    longest files run first (a stable sort: the order within a file is kept)."""
    for item in items:
        for layer in LAYERS:
            if f"/tests/{layer}/" in _path(item):
                item.add_marker(getattr(pytest.mark, layer))
    items.sort(key=_start_rank)
