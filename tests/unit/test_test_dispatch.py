"""How `make test` shares the suite between its workers (tests/conftest.py)."""

from tests.conftest import DISPATCH_ORDER, LAYERS, FileForE2e


def test_an_e2e_file_is_one_unit_of_work_and_any_other_test_its_own() -> None:
    scheduler = object.__new__(FileForE2e)
    e2e = ["tests/e2e/test_cli.py::test_a", "tests/e2e/test_cli.py::test_b[x::y]"]
    assert {scheduler._split_scope(nodeid) for nodeid in e2e} == {"tests/e2e/test_cli.py"}
    others = [
        "tests/integration/test_email.py::test_a",
        "tests/integration/test_email.py::test_b",
        "tests/unit/test_e2e_words.py::test_c",
    ]
    assert [scheduler._split_scope(nodeid) for nodeid in others] == others


def test_every_layer_has_its_turn_and_e2e_goes_first() -> None:
    assert sorted(DISPATCH_ORDER) == sorted(LAYERS)
    assert DISPATCH_ORDER[0] == "e2e"
