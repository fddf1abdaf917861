"""Ids chosen outside Threadline, fitted to where they go: hashed when they do not fit, never
cut, so two ids never become one key or deduplication id."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.foreign_ids import fitted
from chalicelib.queues import _ID_CHARACTERS, _queue_id

pytestmark = pytest.mark.unit

# The deduplication ids of two Message-IDs as one mailer makes them: the same 118
# characters, then each its own.
SHARED = "CAKx7Hq2" * 14 + "mail12"
LONG_IDS = (f"ana:email:{SHARED}-0001@mail.gmail.com", f"ana:email:{SHARED}-0002@mail.gmail.com")


def test_an_id_that_fits_is_kept_as_it_is() -> None:
    assert _queue_id("ana:twilio:SM0123456789abcdef0123456789abcdef") == (
        "ana:twilio:SM0123456789abcdef0123456789abcdef"
    )


def test_two_long_ids_sharing_their_first_118_characters_stay_two() -> None:
    first, second = (_queue_id(message_id) for message_id in LONG_IDS)
    assert first != second
    assert len(first) <= 128
    assert len(second) <= 128
    assert set(first) <= _ID_CHARACTERS


def test_ids_differing_only_in_characters_sqs_refuses_stay_two() -> None:
    # Replacing what SQS refuses by "_" made these one id.
    first, second = _queue_id("ana:email:ação@x"), _queue_id("ana:email:ačão@x")
    assert first != second
    assert set(first) <= _ID_CHARACTERS


def test_a_chosen_id_cannot_pose_as_another_ids_digest() -> None:
    digest_form = fitted("x" * 300, 128)
    assert "~" in digest_form
    # The same text chosen by someone else is no longer kept as it is.
    assert fitted(digest_form, 128) != digest_form


def test_an_id_with_lone_surrogates_is_fitted_rather_than_refused() -> None:
    assert len(fitted("ana:\udcc3\udca9" * 100, 128)) <= 128


@given(st.text(max_size=400), st.text(max_size=400))
def test_different_ids_never_meet_and_always_fit(first: str, second: str) -> None:
    one, other = _queue_id(first), _queue_id(second)
    assert len(one) <= 128
    assert set(one) <= _ID_CHARACTERS
    if first != second:
        assert one != other


@given(st.text(min_size=1, max_size=3000))
def test_a_key_part_fits_dynamodb_in_bytes(value: str) -> None:
    assert len(fitted(value, 1024).encode("utf-8", "surrogatepass")) <= 1024
