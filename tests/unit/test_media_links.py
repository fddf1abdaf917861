"""Customers' media links: a token grants one shop's object until its expiry, and nothing
but the token made with the deployment's key does."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from pydantic import SecretStr

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.media_links import (
    TOKEN_CHARACTERS,
    MediaGrant,
    grant_for,
    read_token,
    token_for,
)
from chalicelib.secrets import DeploymentKeys

KEY = hashlib.sha256(b"a deployment's media link key").digest()
SENT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OBJECT = "ana/outbound/F0PDF/nota fiscal – março.pdf"
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def genuine() -> str:
    return token_for(grant_for("ana", OBJECT, SENT), KEY)


def test_a_token_carries_its_grant_for_a_week() -> None:
    # When a link is made as a reply goes out
    grant = read_token(genuine(), KEY)
    # Then it names the shop's object, and is valid for 7 days to the second
    assert grant == MediaGrant("ana", OBJECT, int((SENT + timedelta(days=7)).timestamp()))
    assert not grant.expired(SENT + timedelta(days=6, hours=23, minutes=59))
    assert grant.expired(SENT + timedelta(days=7))
    assert grant.expired(SENT + timedelta(days=8))


def test_every_token_changed_by_one_character_is_refused() -> None:
    token = genuine()
    for at, original in enumerate(token):
        for other in TOKEN_ALPHABET.replace(original, ""):
            with pytest.raises(Forbidden):
                read_token(f"{token[:at]}{other}{token[at + 1 :]}", KEY)


def test_a_token_cut_short_or_lengthened_is_refused() -> None:
    token = genuine()
    payload, _, signature = token.partition(".")
    for changed in (
        token[:-1],
        token + "A",
        payload,
        payload + ".",
        "." + signature,
        f"{payload}.{signature}.{signature}",
        f"{payload}=.{signature}",
        f"{payload}.{signature}==",
        "",
    ):
        with pytest.raises(Forbidden):
            read_token(changed, KEY)


def test_a_token_made_with_another_key_or_without_one_is_refused() -> None:
    # A deployment whose admin token is unset has no key: nothing is accepted, not even a
    # token made with a key computed from an empty secret
    empty = hmac.new(b"", b"threadline media links", hashlib.sha256).digest()
    for made_with, read_with in ((KEY, None), (empty, None), (b"another key" * 3, KEY)):
        with pytest.raises(Forbidden):
            read_token(token_for(grant_for("ana", OBJECT, SENT), made_with), read_with)


def test_a_signed_token_for_another_shops_object_is_refused() -> None:
    # Even signed, a grant of ana's names only ana's objects
    forged = token_for(MediaGrant("ana", "bob/outbound/F0X/x.pdf", 2_000_000_000), KEY)
    with pytest.raises(Forbidden):
        read_token(forged, KEY)


def test_an_oversized_token_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(Forbidden):
        read_token("A" * (TOKEN_CHARACTERS + 1), KEY)


def test_a_token_is_base64url_without_padding_and_fits_a_text_message() -> None:
    token = genuine()
    payload, signature = token.split(".")
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode() == (
        f"{int((SENT + timedelta(days=7)).timestamp())}\nana\n{OBJECT}"
    )
    # 32 bytes of HMAC-SHA256
    assert len(signature) == 43
    assert set(token) <= set(TOKEN_ALPHABET)


def test_the_signature_is_compared_in_constant_time_and_decides() -> None:
    # Given a genuine token, with hmac.compare_digest watched
    token = genuine()
    signature = base64.urlsafe_b64decode(token.split(".")[1] + "=")
    with mock.patch(
        "chalicelib.domain.media_links.hmac.compare_digest", wraps=hmac.compare_digest
    ) as compare:
        read_token(token, KEY)
    # Then the signature went through compare_digest
    assert [call.args for call in compare.call_args_list] == [(signature, signature)]
    # And when compare_digest says no, the token is refused: nothing else decides
    refused = mock.patch("chalicelib.domain.media_links.hmac.compare_digest", return_value=False)
    with refused, pytest.raises(Forbidden):
        read_token(token, KEY)


def test_the_link_key_is_derived_from_the_admin_token_and_there_is_none_without_one() -> None:
    def key(token: str) -> bytes | None:
        return DeploymentKeys(admin_token=SecretStr(token)).media_link_key()

    assert key("") is None
    assert key("first-token") == key("first-token") != key("second-token")
    assert len(key("first-token") or b"") == 32
