"""Daily digest leases: one run holds a day at a time, a lease that ran out is taken over,
a day done is never leased again, and a run that lost its lease changes nothing."""

from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib.bootstrap import Repositories
from chalicelib.services.ports import DigestRecords
from chalicelib.store._table import condition_failed
from tests.fakes import FakeDigests

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, 0, 5, tzinfo=UTC)
LEASE = timedelta(minutes=15)


@pytest.fixture
def digests(backend: str, request: pytest.FixtureRequest) -> DigestRecords:
    if backend == "fake":
        return FakeDigests()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.digests


def test_the_first_run_takes_the_day_and_a_second_is_refused(digests: DigestRecords) -> None:
    lease = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert lease is not None
    assert (lease.shop_id, lease.day, lease.token, lease.posted_ts) == ("ana", DAY, "run-1", None)
    assert digests.lease_digest("ana", DAY, "run-2", NOW + timedelta(minutes=14), LEASE) is None
    # Another day, another shop: leases of their own.
    assert digests.lease_digest("ana", DAY + timedelta(days=1), "run-2", NOW, LEASE) is not None
    assert digests.lease_digest("bia", DAY, "run-2", NOW, LEASE) is not None


def test_a_lease_that_ran_out_is_taken_over_with_what_was_posted(
    digests: DigestRecords,
) -> None:
    first = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert first is not None
    digests.digest_posted(first, "1764000000.000001")
    # At its last second the lease still holds; a second later it has run out.
    assert digests.lease_digest("ana", DAY, "run-2", NOW + LEASE, LEASE) is None
    second = digests.lease_digest("ana", DAY, "run-2", NOW + LEASE + timedelta(seconds=1), LEASE)
    assert second is not None
    assert (second.token, second.posted_ts) == ("run-2", "1764000000.000001")


def test_a_day_done_is_never_leased_again(digests: DigestRecords) -> None:
    lease = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert lease is not None
    digests.digest_posted(lease, "1764000000.000001")
    digests.digest_done(lease, NOW + timedelta(minutes=1))
    assert digests.lease_digest("ana", DAY, "run-2", NOW + timedelta(days=1), LEASE) is None


def test_a_released_lease_is_taken_at_once(digests: DigestRecords) -> None:
    lease = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert lease is not None
    digests.release_digest(lease)
    again = digests.lease_digest("ana", DAY, "run-2", NOW + timedelta(seconds=1), LEASE)
    assert again is not None
    assert again.posted_ts is None


def test_a_run_that_lost_its_lease_cannot_advance_it(digests: DigestRecords) -> None:
    lost = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert lost is not None
    later = NOW + LEASE + timedelta(seconds=1)
    held = digests.lease_digest("ana", DAY, "run-2", later, LEASE)
    assert held is not None
    with pytest.raises(ClientError) as posted:
        digests.digest_posted(lost, "1764000000.000009")
    assert condition_failed(posted.value)
    with pytest.raises(ClientError) as done:
        digests.digest_done(lost, later)
    assert condition_failed(done.value)
    # Its release is silent and leaves the holder's lease alone.
    digests.release_digest(lost)
    assert digests.lease_digest("ana", DAY, "run-3", later, LEASE) is None
    digests.digest_posted(held, "1764000000.000002")
    digests.digest_done(held, later)


def test_a_step_on_a_day_never_leased_fails(digests: DigestRecords) -> None:
    lease = digests.lease_digest("ana", DAY, "run-1", NOW, LEASE)
    assert lease is not None
    digests.erase_digests("ana")
    with pytest.raises(ClientError) as posted:
        digests.digest_posted(lease, "1764000000.000001")
    assert condition_failed(posted.value)
    digests.release_digest(lease)


def test_erasing_a_shops_digests_starts_them_afresh(digests: DigestRecords) -> None:
    for day in (DAY, DAY + timedelta(days=1)):
        lease = digests.lease_digest("ana", day, "run-1", NOW, LEASE)
        assert lease is not None
        digests.digest_done(lease, NOW)
    other = digests.lease_digest("bia", DAY, "run-1", NOW, LEASE)
    assert other is not None
    digests.digest_done(other, NOW)
    digests.erase_digests("ana")
    assert digests.lease_digest("ana", DAY, "run-2", NOW, LEASE) is not None
    assert digests.lease_digest("ana", DAY + timedelta(days=1), "run-2", NOW, LEASE) is not None
    assert digests.lease_digest("bia", DAY, "run-2", NOW, LEASE) is None
