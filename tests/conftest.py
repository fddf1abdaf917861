from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

LAYERS = ("unit", "contract", "integration", "e2e")
# The order the layers are handed to `make test`'s workers: the longest work first (an e2e
# file shares one local stack, so it runs whole on one worker, for up to a minute and a
# half), the tests that take a fraction of a second last, where they even the workers out.
DISPATCH_ORDER = ("e2e", "integration", "contract", "unit")


def _layer(path: str) -> str:
    path = path.replace("\\", "/")
    return next((layer for layer in LAYERS if f"tests/{layer}/" in path), "unit")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's layer comes from its folder, so `-m unit` and friends select by layer."""
    for item in items:
        item.add_marker(getattr(pytest.mark, _layer(str(item.path))))
    items.sort(key=lambda item: DISPATCH_ORDER.index(_layer(str(item.path))))


class FileForE2e(LoadScopeScheduling):  # type: ignore[misc]
    """An e2e file's tests go to one worker together (its module fixtures start one local
    stack); every other test, to whichever worker is free. Scopes with more tests are handed
    out first, the rest in collection order."""

    def _split_scope(self, nodeid: str) -> str:
        if _layer(nodeid) == "e2e":
            return nodeid.split("::", 1)[0]
        return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FileForE2e | None:
    if config.getvalue("dist") != "load":
        return None
    return FileForE2e(config, log)
