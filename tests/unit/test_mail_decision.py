"""What becomes of a mail SES received, decided on plain values: dropped, quarantined, a
delivery report, taken; its text for the agents; a duplicate or a retry of a delivery."""

from datetime import UTC, datetime

import pytest

from chalicelib.domain.email_threading import EmailHeaders
from chalicelib.domain.mail_decision import (
    CUT,
    TEXT_LIMIT,
    DeliveryReport,
    Done,
    Duplicate,
    Finish,
    NoShop,
    NotStored,
    Quarantine,
    Read,
    Take,
    agents_text,
    on_reading,
    on_receipt,
    on_stored,
    raw_object_name,
)
from chalicelib.domain.messages import InboundMessage, InboundStatus
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

SES_OBJECT = ("mail-bucket", "inbound-mail/abc123")
SHOPS_COPY = ("mail-bucket", "inbound-mail/ana/abc123")
OTHER_DELIVERY = ("mail-bucket", "inbound-mail/def456")


def test_mail_for_no_shop_is_dropped_whatever_else_it_is() -> None:
    assert on_receipt(shops=0, quarantine_reason=None, stored=True) == NoShop()
    assert on_receipt(shops=0, quarantine_reason="spam", stored=False) == NoShop()


@pytest.mark.parametrize("reason", ["spam", "virus", "dmarc"])
def test_mail_ses_finds_suspect_is_quarantined_before_it_is_read(reason: str) -> None:
    assert on_receipt(shops=2, quarantine_reason=reason, stored=True) == Quarantine(reason)
    assert on_receipt(shops=1, quarantine_reason=reason, stored=False) == Quarantine(reason)


def test_a_receipt_for_mail_ses_did_not_store_has_nothing_to_read() -> None:
    assert on_receipt(shops=1, quarantine_reason=None, stored=False) == NotStored()


def test_a_stored_mail_for_a_shop_is_read() -> None:
    assert on_receipt(shops=1, quarantine_reason=None, stored=True) == Read()


def test_a_delivery_report_is_counted_not_taken_sender_or_not() -> None:
    assert on_reading(is_report=True, sender="mailer-daemon@x.example") == DeliveryReport()
    assert on_reading(is_report=True, sender="") == DeliveryReport()


def test_mail_without_one_usable_sender_is_quarantined() -> None:
    assert on_reading(is_report=False, sender="") == Quarantine("no_sender")


def test_a_customers_mail_is_taken() -> None:
    assert on_reading(is_report=False, sender="carla@cliente.example") == Take()


def test_a_mail_read_in_full_keeps_its_text() -> None:
    assert agents_text("Olá", complete=True, ses_id="abc123") == "Olá"
    assert agents_text("a" * TEXT_LIMIT, complete=True, ses_id="abc123") == "a" * TEXT_LIMIT


def test_a_mail_not_read_in_full_says_so_and_where_the_original_is() -> None:
    note = "[This mail could not be read in full; the original is kept (SES message abc123).]"

    assert agents_text("Olá", complete=False, ses_id="abc123") == f"{note}\n\nOlá"
    assert agents_text("", complete=False, ses_id="abc123") == note


def test_a_long_mail_is_cut_for_the_agents() -> None:
    assert agents_text("a" * (TEXT_LIMIT + 1), complete=True, ses_id="x") == "a" * TEXT_LIMIT + CUT


def message(raw: tuple[str, str] | None) -> InboundMessage:
    return InboundMessage(
        shop_id="ana",
        channel=Channel.EMAIL,
        provider="email",
        provider_message_id="d1",
        customer_address="carla@cliente.example",
        shop_address="support@loja.example",
        text="Olá",
        received_at=datetime(2026, 3, 29, 9, 0, tzinfo=UTC),
        email=EmailHeaders(message_id="<m1@cliente.example>", raw_location=raw),
    )


def test_a_mail_stored_now_is_finished() -> None:
    new = message(SES_OBJECT)

    assert on_stored(new, None, SES_OBJECT) == Finish(new)


def test_another_delivery_of_the_same_mail_stands_and_this_one_is_a_duplicate() -> None:
    earlier = message(OTHER_DELIVERY)

    for status in InboundStatus:
        decided = on_stored(message(SES_OBJECT), (earlier, status), SES_OBJECT)
        assert decided == Duplicate(OTHER_DELIVERY)


def test_a_copy_stored_without_its_raw_mail_or_a_delivery_without_one_is_a_duplicate() -> None:
    unnamed = message(None)

    assert on_stored(message(SES_OBJECT), (unnamed, InboundStatus.RECEIVED), SES_OBJECT) == (
        Duplicate(None)
    )
    stored = (message(SES_OBJECT), InboundStatus.RECEIVED)
    assert on_stored(message(None), stored, None) == Duplicate(SES_OBJECT)


def test_a_retry_of_a_delivery_finishes_the_copy_it_stored() -> None:
    # The shop's copy of SES's object keeps its name: the same delivery.
    earlier = message(SHOPS_COPY)

    assert on_stored(message(SHOPS_COPY), (earlier, InboundStatus.RECEIVED), SHOPS_COPY) == (
        Finish(earlier)
    )
    assert on_stored(message(SES_OBJECT), (earlier, InboundStatus.RECEIVED), SES_OBJECT) == (
        Finish(earlier)
    )


def test_a_delivery_handled_before_has_nothing_left_to_do() -> None:
    earlier = message(SES_OBJECT)

    assert on_stored(message(SES_OBJECT), (earlier, InboundStatus.PROCESSED), SES_OBJECT) == (
        Done(SES_OBJECT)
    )


def test_a_raw_mails_name_is_the_id_ses_gave_it_wherever_it_is_copied() -> None:
    assert raw_object_name(SES_OBJECT) == raw_object_name(SHOPS_COPY) == "abc123"
