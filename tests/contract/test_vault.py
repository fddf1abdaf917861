"""The shops' secrets: what a write leaves, what a deletion and a revival do, what an undo
takes back."""

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import SecretStr

from chalicelib.domain.shop import ShopSecrets
from chalicelib.services.ports import ShopVault
from chalicelib.settings import SECRETS_PREFIX
from tests.fakes import FakeVault

FIRST = ShopSecrets(slack_bot_token=SecretStr("xoxb-first"))
SECOND = ShopSecrets(slack_bot_token=SecretStr("xoxb-second"), twilio_auth_token=SecretStr("tw"))


@pytest.fixture
def vault(backend: str, request: pytest.FixtureRequest) -> ShopVault:
    if backend == "fake":
        return FakeVault()
    request.getfixturevalue("aws")
    import boto3

    from chalicelib.secrets import SecretVault

    # Cached as deployed: the vault's own writes must not leave its reads stale.
    return SecretVault(boto3.client("secretsmanager"), SECRETS_PREFIX, cache_seconds=300)


def test_a_shop_without_secrets_has_empty_ones(vault: ShopVault) -> None:
    assert vault.get("ana") == ShopSecrets()
    assert vault.get("ana", fresh=True) == ShopSecrets()


def test_a_write_is_read_back_and_replaces_the_one_before(vault: ShopVault) -> None:
    first = vault.put("ana", FIRST)
    assert vault.get("ana") == FIRST
    second = vault.put("ana", SECOND)
    assert second != first
    assert vault.get("ana") == SECOND
    assert vault.get("ana", fresh=True) == SECOND
    assert vault.get("bia") == ShopSecrets()


def test_a_deleted_shops_secrets_cannot_be_read_until_revived(
    vault: ShopVault,
) -> None:
    vault.put("ana", FIRST)
    vault.delete("ana")
    with pytest.raises(GetParameterError):
        vault.get("ana", fresh=True)
    # AWS refuses a write too (moto takes it): the shop's creation revives first.
    vault.revive("ana")
    vault.put("ana", SECOND)
    assert vault.get("ana", fresh=True) == SECOND


def test_deleting_or_reviving_what_was_never_written_is_harmless(vault: ShopVault) -> None:
    vault.delete("ana")
    vault.revive("ana")
    vault.put("ana", FIRST)
    vault.revive("ana")
    assert vault.get("ana") == FIRST


def test_an_undo_brings_the_previous_secrets_back(vault: ShopVault) -> None:
    vault.put("ana", FIRST)
    version = vault.put("ana", SECOND)
    vault.undo("ana", version, FIRST)
    assert vault.get("ana", fresh=True) == FIRST


def test_an_undo_of_the_first_write_leaves_no_secrets(vault: ShopVault) -> None:
    version = vault.put("ana", FIRST)
    vault.undo("ana", version, None)
    assert vault.get("ana", fresh=True) == ShopSecrets()
    vault.put("ana", SECOND)
    assert vault.get("ana") == SECOND


def test_an_undo_replaced_by_a_later_write_takes_nothing_back(vault: ShopVault) -> None:
    undone = vault.put("ana", FIRST)
    vault.put("ana", SECOND)
    vault.undo("ana", undone, None)
    assert vault.get("ana", fresh=True) == SECOND
