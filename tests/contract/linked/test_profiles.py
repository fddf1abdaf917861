"""ProfileRecords: identities linked into one customer, all at once or not at all."""

import pytest

from chalicelib.domain.customers import CustomerProfile
from chalicelib.domain.errors import Conflict
from tests.contract.linked.conftest import SHOP, T0, Linked

PHONE, MAIL, OTHER = "+15550100001", "ana@example.com", "+15550100002"


def _profile(customer_id: str, *identities: str) -> CustomerProfile:
    return CustomerProfile(
        shop_id=SHOP, customer_id=customer_id, identities=identities, linked_at=T0
    )


def test_a_profile_is_found_by_each_identity_on_every_channel(records: Linked) -> None:
    records.profiles.save_profile(_profile("CU1", PHONE, MAIL), [])

    assert records.profiles.customer_profile(SHOP, MAIL) == _profile("CU1", PHONE, MAIL)
    assert records.profiles.customer_profile(SHOP, f"whatsapp:{PHONE}") == _profile(
        "CU1", PHONE, MAIL
    )
    assert records.profiles.customer_profile(SHOP, OTHER) is None


def test_profiles_merged_into_one_release_what_they_dropped(records: Linked) -> None:
    first, second = _profile("CU1", PHONE, MAIL), _profile("CU2", OTHER, "b@example.com")
    records.profiles.save_profile(first, [])
    records.profiles.save_profile(second, [])

    merged = _profile("CU1", PHONE, MAIL, OTHER)
    records.profiles.save_profile(merged, [first, second])

    assert records.profiles.customer_profile(SHOP, OTHER) == merged
    assert records.profiles.customer_profile(SHOP, "b@example.com") is None


def test_an_identity_another_profile_holds_is_a_conflict(records: Linked) -> None:
    records.profiles.save_profile(_profile("CU1", PHONE, MAIL), [])

    with pytest.raises(Conflict):
        records.profiles.save_profile(_profile("CU2", MAIL, OTHER), [])

    assert records.profiles.customer_profile(SHOP, OTHER) is None
    assert records.profiles.customer_profile(SHOP, MAIL) == _profile("CU1", PHONE, MAIL)


def test_an_unlinked_customer_leaves_no_identity_behind(records: Linked) -> None:
    first = _profile("CU1", PHONE, MAIL)
    records.profiles.save_profile(first, [])

    records.profiles.save_profile(None, [first])

    assert records.profiles.customer_profile(SHOP, PHONE) is None
    assert records.profiles.customer_profile(SHOP, MAIL) is None


def test_a_shops_profiles_are_erased_with_their_identities(records: Linked) -> None:
    records.profiles.save_profile(_profile("CU1", PHONE, MAIL), [])
    records.profiles.save_profile(_profile("CU2", OTHER, "b@example.com"), [])

    assert records.profiles.erase_profiles(SHOP) == 2

    assert records.profiles.customer_profile(SHOP, PHONE) is None
    assert records.profiles.customer_profile(SHOP, "b@example.com") is None
    assert records.profiles.erase_profiles(SHOP) == 0
