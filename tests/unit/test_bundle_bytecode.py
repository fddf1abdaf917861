"""Which modules the bundle carries bytecode for: the app's own first, then the AWS SDK's,
then the rest, in import order, as many as keep the zip under its budget."""

import pytest

from threadline_cli.bytecode import MEMBER_OVERHEAD_BYTES, cached_name, ranked, within_budget

pytestmark = pytest.mark.unit


def test_bytecode_goes_where_the_runtime_looks_for_it() -> None:
    assert cached_name("app.py", "cpython-313") == "__pycache__/app.cpython-313.pyc"
    assert (
        cached_name("chalicelib/services/intake.py", "cpython-313")
        == "chalicelib/services/__pycache__/intake.cpython-313.pyc"
    )


def test_the_apps_modules_come_first_then_the_sdks_then_the_rest_in_import_order() -> None:
    imported = [
        "pydantic/main.py",
        "botocore/client.py",
        "chalicelib/settings.py",
        "typing_extensions.py",
        "app.py",
        "boto3/session.py",
        "chalicelib/bootstrap.py",
    ]
    assert ranked(imported) == [
        "chalicelib/settings.py",
        "app.py",
        "chalicelib/bootstrap.py",
        "botocore/client.py",
        "boto3/session.py",
        "pydantic/main.py",
        "typing_extensions.py",
    ]


def test_members_are_added_while_the_zip_stays_under_its_budget_and_in_order() -> None:
    def cost(name: str, size: int) -> int:
        return size + MEMBER_OVERHEAD_BYTES + 2 * len(name)

    candidates = [("a.pyc", 400), ("b.pyc", 300), ("c.pyc", 5000), ("d.pyc", 1)]
    budget = 10_000
    zip_bytes = budget - cost("a.pyc", 400) - cost("b.pyc", 300) - 1
    # c does not fit; d would, but only after c: the first that does not fit ends the list
    assert within_budget(candidates, zip_bytes, budget) == ["a.pyc", "b.pyc"]
    assert within_budget(candidates, zip_bytes + 1, budget) == ["a.pyc"]
    assert within_budget(candidates, budget, budget) == []
