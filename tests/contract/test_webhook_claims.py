"""A platform's webhook acted on once per shop: its redelivery finds the claim, another
shop's webhook with the same id does not, and a released claim is taken again."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.services.ports import WebhookRecords
from tests.fakes import FakeWebhookClaims

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def webhooks(backend: str, request: pytest.FixtureRequest) -> WebhookRecords:
    if backend == "fake":
        return FakeWebhookClaims()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.webhook_claims


def test_a_webhook_is_claimed_once_per_shop(webhooks: WebhookRecords) -> None:
    assert webhooks.claim_webhook("ana", "b54557e4-bdd9-4b37", NOW)
    assert not webhooks.claim_webhook("ana", "b54557e4-bdd9-4b37", NOW + timedelta(hours=47))
    # The same id from another shop's platform is that shop's own.
    assert webhooks.claim_webhook("bia", "b54557e4-bdd9-4b37", NOW)


def test_a_released_webhook_is_claimed_again(webhooks: WebhookRecords) -> None:
    assert webhooks.claim_webhook("ana", "w-1", NOW)
    webhooks.release_webhook("ana", "w-1")
    assert webhooks.claim_webhook("ana", "w-1", NOW)
    webhooks.release_webhook("ana", "w-never")


def test_an_id_longer_than_a_key_is_kept_whole(webhooks: WebhookRecords) -> None:
    long_id = "x" * 3000
    assert webhooks.claim_webhook("ana", long_id, NOW)
    assert webhooks.claim_webhook("ana", long_id[:-1] + "y", NOW)
    assert not webhooks.claim_webhook("ana", long_id, NOW)
