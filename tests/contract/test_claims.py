"""Work done once: a dead letter told by its first claimer, a shop message filed under its
caller's id by the first request, unless that claim expired or belongs to a shop deleted
since."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.services.ports import DeadLetterRecords, ShopMessageRecords
from chalicelib.store.claims import ShopMessageClaim
from tests.fakes import FakeDeadLetterClaims, FakeShopMessageClaims

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WEEK = int((NOW + timedelta(days=7)).timestamp())
CLAIM = ShopMessageClaim(
    shop_id="ana",
    caller_id="order-1042-shipped",
    request_id="R1",
    fingerprint="sms|+5511987650001|+14155550100|shipped",
    incarnation="I1",
)


@pytest.fixture
def dead_letters(backend: str, request: pytest.FixtureRequest) -> DeadLetterRecords:
    if backend == "fake":
        return FakeDeadLetterClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.dead_letter_claims


@pytest.fixture
def shop_messages(backend: str, request: pytest.FixtureRequest) -> ShopMessageRecords:
    if backend == "fake":
        return FakeShopMessageClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.shop_message_claims


def test_a_dead_letter_is_claimed_once(dead_letters: DeadLetterRecords) -> None:
    assert dead_letters.claim_dead_letter("m-1", NOW)
    assert not dead_letters.claim_dead_letter("m-1", NOW)
    # Long after, still told: the record outlives the queue's hold on the message.
    assert not dead_letters.claim_dead_letter("m-1", NOW + timedelta(days=29))
    assert dead_letters.claim_dead_letter("m-2", NOW)


def test_a_released_dead_letter_is_claimed_again(dead_letters: DeadLetterRecords) -> None:
    assert dead_letters.claim_dead_letter("m-1", NOW)
    dead_letters.release_dead_letter("m-1")
    assert dead_letters.claim_dead_letter("m-1", NOW)
    # Releasing what nobody claimed is harmless.
    dead_letters.release_dead_letter("m-9")


def test_the_first_shop_message_claim_is_filed(shop_messages: ShopMessageRecords) -> None:
    assert shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK) == CLAIM


def test_a_second_claim_meets_the_first(shop_messages: ShopMessageRecords) -> None:
    shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK)
    retry = replace(CLAIM, request_id="R2", fingerprint="sms|other text")
    filed = shop_messages.claim_shop_message(retry, now=NOW + timedelta(days=6), expires_at=WEEK)
    assert filed == replace(CLAIM, queued=False)
    # Another caller id, another shop: claims of their own.
    other_id = replace(retry, caller_id="order-1043-shipped")
    assert shop_messages.claim_shop_message(other_id, now=NOW, expires_at=WEEK) == other_id
    other_shop = replace(retry, shop_id="bia")
    assert shop_messages.claim_shop_message(other_shop, now=NOW, expires_at=WEEK) == other_shop


def test_a_queued_claim_answers_as_queued(shop_messages: ShopMessageRecords) -> None:
    shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK)
    shop_messages.shop_message_queued(CLAIM)
    filed = shop_messages.claim_shop_message(
        replace(CLAIM, request_id="R2"), now=NOW, expires_at=WEEK
    )
    assert filed.queued
    assert filed.request_id == "R1"


def test_marking_a_claim_never_filed_queued_files_nothing(
    shop_messages: ShopMessageRecords,
) -> None:
    shop_messages.shop_message_queued(CLAIM)
    assert shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK) == CLAIM


def test_an_expired_claim_is_replaced(shop_messages: ShopMessageRecords) -> None:
    shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK)
    shop_messages.shop_message_queued(CLAIM)
    at_expiry = datetime.fromtimestamp(WEEK, tz=UTC)
    fresh = replace(CLAIM, request_id="R2", fingerprint="sms|new")
    later = int((at_expiry + timedelta(days=7)).timestamp())
    assert shop_messages.claim_shop_message(fresh, now=at_expiry, expires_at=later) == fresh
    # The new claim is filed unqueued, and answers from now on.
    again = shop_messages.claim_shop_message(
        replace(CLAIM, request_id="R3"), now=at_expiry, expires_at=later
    )
    assert (again.request_id, again.fingerprint, again.queued) == ("R2", "sms|new", False)


def test_a_claim_a_second_before_expiry_still_holds(shop_messages: ShopMessageRecords) -> None:
    shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK)
    just_before = datetime.fromtimestamp(WEEK - 1, tz=UTC)
    filed = shop_messages.claim_shop_message(
        replace(CLAIM, request_id="R2"), now=just_before, expires_at=WEEK + 100
    )
    assert filed.request_id == "R1"


def test_a_claim_of_a_shop_deleted_since_is_replaced(shop_messages: ShopMessageRecords) -> None:
    shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK)
    reborn = replace(CLAIM, request_id="R2", incarnation="I2")
    assert shop_messages.claim_shop_message(reborn, now=NOW, expires_at=WEEK) == reborn
    # The new shop's retry meets the new shop's claim.
    retry = shop_messages.claim_shop_message(
        replace(reborn, request_id="R3"), now=NOW, expires_at=WEEK
    )
    assert (retry.request_id, retry.incarnation) == ("R2", "I2")


def test_a_shop_without_incarnation_claims_as_one(shop_messages: ShopMessageRecords) -> None:
    unborn = replace(CLAIM, incarnation=None)
    shop_messages.claim_shop_message(unborn, now=NOW, expires_at=WEEK)
    filed = shop_messages.claim_shop_message(
        replace(unborn, request_id="R2"), now=NOW, expires_at=WEEK
    )
    assert (filed.request_id, filed.incarnation) == ("R1", None)
    # An incarnation given later is another shop's.
    assert shop_messages.claim_shop_message(CLAIM, now=NOW, expires_at=WEEK) == CLAIM
