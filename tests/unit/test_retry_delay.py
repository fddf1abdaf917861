import pytest

from chalicelib.queues import RETRY_MAX_SECONDS, retry_delay


@pytest.mark.parametrize(
    ("receive_count", "seconds"), [(1, 10), (2, 30), (3, 90), (4, 270), (5, 810), (6, 900)]
)
def test_failed_records_back_off_from_seconds_to_minutes(receive_count: int, seconds: int) -> None:
    # Given a record that failed on its n-th receive, with no hint from the dependency
    # When its retry is scheduled
    # Then it waits 10 s, then three times longer each time, never beyond the cap
    assert retry_delay(receive_count, None, base_seconds=10) == seconds


@pytest.mark.parametrize(("retry_after", "seconds"), [(7, 7), (0.2, 1), (0, 0), (3600, 900)])
def test_a_dependencys_retry_after_wins_within_the_cap(retry_after: float, seconds: int) -> None:
    # Given Slack's Retry-After (or our own "soon"), whatever the receive count
    # When the retry is scheduled
    # Then it is what was asked, rounded up, at most the cap
    assert retry_delay(4, retry_after, base_seconds=10) == seconds
    assert seconds <= RETRY_MAX_SECONDS
