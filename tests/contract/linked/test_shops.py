"""ShopRecords: configs and the inbound addresses each shop owns."""

from datetime import timedelta

import pytest

from chalicelib.domain.errors import Conflict
from tests.contract.linked.conftest import SHOP_NUMBER, T0, TEAM, Linked, shop


def test_a_stored_shop_reads_back_listed_and_by_workspace(records: Linked) -> None:
    records.shops.put_shop(shop("zeta", ("+15550100002",)), None)
    records.shops.put_shop(shop(), None)

    assert records.shops.get_shop("acme", fresh=True) == shop()
    assert [s.shop_id for s in records.shops.shops()] == ["acme", "zeta"]
    assert sorted(s.shop_id for s in records.shops.shops_of_team(TEAM)) == ["acme", "zeta"]
    assert records.shops.shops_of_team("T0OTHER") == []
    assert records.shops.get_shop("nobody", fresh=True) is None


def test_an_address_another_shop_owns_is_a_conflict_and_nothing_is_stored(
    records: Linked,
) -> None:
    records.shops.put_shop(shop(), None)
    rival = shop("rival", (SHOP_NUMBER, "+15550100003"))

    with pytest.raises(Conflict, match=SHOP_NUMBER.replace("+", r"\+")):
        records.shops.put_shop(rival, None)

    assert records.shops.get_shop("rival", fresh=True) is None
    assert records.shops.shop_for_address("+15550100003") is None
    assert records.shops.addresses_taken(rival) == [SHOP_NUMBER]
    assert records.shops.shop_for_address(SHOP_NUMBER) == "acme"


def test_a_changed_shop_releases_the_addresses_it_dropped(records: Linked) -> None:
    first = shop(numbers=(SHOP_NUMBER, "+15550100004"))
    records.shops.put_shop(first, None)

    records.shops.put_shop(shop(), first)

    assert records.shops.shop_for_address("+15550100004") is None
    records.shops.put_shop(shop("other", ("+15550100004",)), None)
    assert records.shops.shop_for_address("+15550100004") == "other"


def test_a_deleted_shop_frees_its_addresses_and_keeps_its_id_for_a_while(
    records: Linked,
) -> None:
    records.shops.put_shop(shop(), None)

    records.shops.delete_shop(shop(), T0, timedelta(minutes=10))

    assert records.shops.get_shop("acme", fresh=True) is None
    assert records.shops.shops() == []
    assert records.shops.shop_for_address(SHOP_NUMBER) is None
    assert records.shops.shop_deleted_until("acme", T0) == T0 + timedelta(minutes=10)
    assert records.shops.shop_deleted_until("acme", T0 + timedelta(minutes=10)) is None
