"""Slack installations and the states of an "Add to Slack" in progress: a state is good
once, before its expiry; an installation is kept by workspace, as granted."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.bootstrap import Repositories
from chalicelib.services.ports import InstallationRecords
from tests.fakes import FakeInstallations

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EXPIRY = NOW + timedelta(minutes=10)
GRANTED: dict[str, Any] = {
    "shop_id": "ana",
    "app_id": "A0APP",
    "enterprise_id": None,
    "team_id": "T0ANA",
    "team_name": "Ana's",
    "bot_scopes": "chat:write,files:write",
    "is_enterprise_install": False,
    "installed_at": "1764000000.0",
}


@pytest.fixture
def installs(backend: str, request: pytest.FixtureRequest) -> InstallationRecords:
    if backend == "fake":
        return FakeInstallations()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.installations


def test_a_state_gives_its_shop_once(installs: InstallationRecords) -> None:
    installs.issue_oauth_state("s-1", "ana", EXPIRY)
    installs.issue_oauth_state("s-2", "bia", EXPIRY)
    assert installs.consume_oauth_state("s-1", NOW) == "ana"
    assert installs.consume_oauth_state("s-1", NOW) is None
    assert installs.consume_oauth_state("s-2", NOW) == "bia"


def test_an_unknown_state_gives_nothing(installs: InstallationRecords) -> None:
    assert installs.consume_oauth_state("s-9", NOW) is None


def test_a_state_is_good_until_its_expiry(installs: InstallationRecords) -> None:
    installs.issue_oauth_state("s-1", "ana", EXPIRY)
    assert installs.consume_oauth_state("s-1", EXPIRY) is None
    installs.issue_oauth_state("s-2", "ana", EXPIRY)
    assert installs.consume_oauth_state("s-2", EXPIRY - timedelta(seconds=1)) == "ana"


def test_an_expired_state_stays_and_cannot_be_issued_again(
    installs: InstallationRecords,
) -> None:
    installs.issue_oauth_state("s-1", "ana", EXPIRY)
    assert installs.consume_oauth_state("s-1", EXPIRY + timedelta(minutes=1)) is None
    with pytest.raises(ClientError) as issued:
        installs.issue_oauth_state("s-1", "bia", EXPIRY + timedelta(minutes=20))
    assert issued.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_an_installation_is_read_back_as_granted_without_its_blanks(
    installs: InstallationRecords,
) -> None:
    installs.put_installation(dict(GRANTED))
    stored = installs.get_installation(None, "T0ANA")
    assert stored == {k: v for k, v in GRANTED.items() if v is not None}
    # No enterprise is one key, however it is said.
    assert installs.get_installation("", "T0ANA") == stored
    assert installs.get_installation(None, "T0BIA") is None
    assert installs.get_installation("E0ORG", "T0ANA") is None


def test_an_installation_is_replaced_and_deleted_by_workspace(
    installs: InstallationRecords,
) -> None:
    installs.put_installation(dict(GRANTED))
    installs.put_installation({**GRANTED, "enterprise_id": "E0ORG", "team_name": "Org"})
    installs.put_installation({**GRANTED, "team_name": "Ana & Co", "bot_scopes": None})
    stored = installs.get_installation(None, "T0ANA")
    assert stored is not None
    assert stored["team_name"] == "Ana & Co"
    assert "bot_scopes" not in stored
    installs.delete_installation(None, "T0ANA")
    assert installs.get_installation(None, "T0ANA") is None
    org = installs.get_installation("E0ORG", "T0ANA")
    assert org is not None
    assert org["team_name"] == "Org"
    # Deleting what is gone is harmless.
    installs.delete_installation(None, "T0ANA")


def test_changing_what_was_read_or_written_changes_nothing_stored(
    installs: InstallationRecords,
) -> None:
    written = dict(GRANTED)
    installs.put_installation(written)
    written["team_name"] = "changed after"
    read = installs.get_installation(None, "T0ANA")
    assert read is not None
    read["team_name"] = "changed after"
    stored = installs.get_installation(None, "T0ANA")
    assert stored is not None
    assert stored["team_name"] == "Ana's"
