import pytest

LAYERS = ("unit", "contract", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's layer comes from its folder, so `-m unit` and friends select by layer."""
    for item in items:
        for layer in LAYERS:
            if f"/tests/{layer}/" in str(item.path).replace("\\", "/"):
                item.add_marker(getattr(pytest.mark, layer))
