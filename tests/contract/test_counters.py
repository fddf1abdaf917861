"""A shop's counters: each count adds one to its name, for its shop alone."""

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.store.counters import Counters
from tests.fakes import FakeCounters


@pytest.fixture
def counters(backend: str, request: pytest.FixtureRequest) -> FakeCounters | Counters:
    if backend == "fake":
        return FakeCounters()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.counters


def test_a_shop_never_counted_has_no_counters(counters: FakeCounters | Counters) -> None:
    assert counters.counters("ana") == {}


def test_each_count_adds_one_to_its_name_and_shop(counters: FakeCounters | Counters) -> None:
    counters.count("ana", "quarantined_spam")
    counters.count("ana", "quarantined_spam")
    counters.count("ana", "automated_mail")
    counters.count("bia", "quarantined_spam")
    assert counters.counters("ana") == {"quarantined_spam": 2, "automated_mail": 1}
    assert counters.counters("bia") == {"quarantined_spam": 1}


def test_changing_what_was_read_changes_no_counter(counters: FakeCounters | Counters) -> None:
    counters.count("ana", "automated_mail")
    counters.counters("ana")["automated_mail"] = 9
    assert counters.counters("ana") == {"automated_mail": 1}
