from datetime import UTC, datetime

import pytest

from chalicelib.domain.customers import (
    addresses_of,
    channel_of,
    linked,
    normalized,
    unlinked,
    verified_twins,
)
from chalicelib.domain.vocabulary import Channel

AT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+5511987654321", "+5511987654321"),
        (" +55 11 98765 4321 ", "+5511987654321"),
        ("whatsapp:+5511987654321", "whatsapp:+5511987654321"),
        ("Ana@Example.COM", "ana@example.com"),
        ("5511987654321", None),
        ("ana@example", None),
        ("", None),
    ],
)
def test_addresses_are_read_as_conversations_store_them(given: str, expected: str | None) -> None:
    assert normalized(given) == expected


def test_a_phone_number_is_the_same_person_on_sms_and_whatsapp_an_email_only_itself() -> None:
    assert verified_twins("+5511987654321") == (
        "+5511987654321",
        "whatsapp:+5511987654321",
        "wa:+5511987654321",
    )
    assert verified_twins("whatsapp:+5511987654321") == (
        "whatsapp:+5511987654321",
        "+5511987654321",
        "wa:+5511987654321",
    )
    assert verified_twins("ana@example.com") == ("ana@example.com",)
    assert verified_twins("messenger:123") == ("messenger:123",)
    addresses = (
        "+1555",
        "whatsapp:+1555",
        "a@b.co",
        "telegram:42",
        "wa:+1555",
        "messenger:1",
        "instagram:2",
    )
    assert [channel_of(a) for a in addresses] == list(Channel)


def test_a_telegram_user_is_only_itself() -> None:
    assert channel_of("telegram:42") is Channel.TELEGRAM
    assert verified_twins("telegram:42") == ("telegram:42",)
    assert normalized(" telegram:42 ") == "telegram:42"
    assert normalized("telegram:-42") is None
    assert normalized("telegram:bot42") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("wa:+55 11 98765 4321", "wa:+5511987654321"),
        ("messenger:24536372", "messenger:24536372"),
        ("instagram:17841400000", "instagram:17841400000"),
        ("messenger:../x", None),
        ("instagram:", None),
    ],
)
def test_meta_addresses_are_read_as_conversations_store_them(
    given: str, expected: str | None
) -> None:
    assert normalized(given) == expected


def test_linking_merges_profiles_into_identities_and_unlinking_below_two_dissolves() -> None:
    first = linked("C1", "ana", ["whatsapp:+5511987654321", "ana@example.com"], [], AT)
    assert first.identities == ("+5511987654321", "ana@example.com")
    second = linked("C2", "ana", ["+5511900000002", "ana@work.example"], [], AT)
    merged = linked("C1", "ana", ["ana@example.com", "+5511900000002"], [first, second], AT)
    assert set(merged.identities) == {
        "+5511987654321",
        "ana@example.com",
        "+5511900000002",
        "ana@work.example",
    }
    assert "whatsapp:+5511900000002" in merged.addresses
    assert addresses_of("ana@work.example", merged)[0] == "ana@work.example"
    assert addresses_of("+5511987654321", None) == verified_twins("+5511987654321")

    smaller = unlinked(merged, "whatsapp:+5511900000002")
    assert smaller is not None
    assert "+5511900000002" not in smaller.identities
    assert unlinked(first, "ana@example.com") is None
