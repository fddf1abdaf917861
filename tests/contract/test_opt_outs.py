"""A customer's STOP for order updates: kept per shop under the person-address, found from
any of their addresses (a phone number's WhatsApp twins too), undone by START."""

from datetime import UTC, datetime

import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.services.ports import OptOutRecords
from tests.fakes import FakeOptOuts

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def opt_outs(backend: str, request: pytest.FixtureRequest) -> OptOutRecords:
    if backend == "fake":
        return FakeOptOuts()
    repositories: Repositories = request.getfixturevalue("moto_repositories")
    return repositories.opt_outs


def test_a_stop_is_found_from_every_address_of_the_person(opt_outs: OptOutRecords) -> None:
    opt_outs.record_opt_out("ana", "whatsapp:+5511987654321", NOW)

    assert opt_outs.opted_out_at("ana", ("+5511987654321",)) == NOW
    assert opt_outs.opted_out_at("ana", ("ana@example.com", "wa:+5511987654321")) == NOW
    assert opt_outs.opted_out_at("bia", ("+5511987654321",)) is None
    assert opt_outs.opted_out_at("ana", ("ana@example.com",)) is None


def test_a_start_undoes_the_stop(opt_outs: OptOutRecords) -> None:
    opt_outs.record_opt_out("ana", "ana@example.com", NOW)
    opt_outs.record_opt_in("ana", "ana@example.com")

    assert opt_outs.opted_out_at("ana", ("ana@example.com",)) is None
    # Starting again without having stopped changes nothing.
    opt_outs.record_opt_in("ana", "+5511987654321")


def test_a_shops_deletion_erases_its_customers_stops_only(opt_outs: OptOutRecords) -> None:
    opt_outs.record_opt_out("ana", "+5511987654321", NOW)
    opt_outs.record_opt_out("ana", "ana@example.com", NOW)
    opt_outs.record_opt_out("bia", "+5511987654321", NOW)

    assert opt_outs.erase_opt_outs("ana") == 2

    assert opt_outs.opted_out_at("ana", ("+5511987654321", "ana@example.com")) is None
    assert opt_outs.opted_out_at("bia", ("+5511987654321",)) == NOW
