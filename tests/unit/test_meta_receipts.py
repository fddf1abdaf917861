"""Messenger's receipts that name a time (delivery and read watermarks) and customers'
edits, as the Meta webhook parser reads them."""

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels import meta
from chalicelib.channels.meta import parse_webhook
from chalicelib.domain.messages import DeliveryStatus, InboundKind
from chalicelib.domain.shop import meta_address
from chalicelib.domain.vocabulary import Channel
from tests.meta_payloads import INSTAGRAM_ID, PAGE_ID, encoded, messaging_webhook

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 29, 8, 30, tzinfo=UTC)
CLAIMS = {
    meta_address(Channel.MESSENGER, PAGE_ID): "ana",
    meta_address(Channel.INSTAGRAM, INSTAGRAM_ID): "bia",
}
WATERMARK_MS = 1764000000000


def parse(document: dict[str, Any]) -> meta.MetaBatch:
    return parse_webhook(encoded(document), CLAIMS.get, NOW)


def event(**fields: Any) -> dict[str, Any]:
    base = {"sender": {"id": "PSID1"}, "recipient": {"id": PAGE_ID}, "timestamp": WATERMARK_MS}
    return base | fields


def test_a_read_watermark_names_the_customer_and_the_time() -> None:
    batch = parse(messaging_webhook("page", PAGE_ID, event(read={"watermark": WATERMARK_MS})))

    [receipt] = batch.watermarks
    assert receipt.shop_id == "ana"
    assert receipt.customer_address == "messenger:PSID1"
    assert receipt.status is DeliveryStatus.READ
    assert receipt.watermark == datetime.fromtimestamp(WATERMARK_MS / 1000, UTC)
    assert (batch.statuses, batch.messages, batch.ignored) == ([], [], 0)


def test_a_delivery_without_message_ids_is_a_delivery_watermark() -> None:
    delivered = event(delivery={"watermark": WATERMARK_MS})

    batch = parse(messaging_webhook("page", PAGE_ID, delivered))

    assert [(w.customer_address, w.status) for w in batch.watermarks] == [
        ("messenger:PSID1", DeliveryStatus.DELIVERED)
    ]
    assert batch.statuses == []


@pytest.mark.parametrize("watermark", [None, "soon", 0, -5, True])
def test_an_unreadable_watermark_is_ignored_rather_than_read_as_now(watermark: object) -> None:
    batch = parse(messaging_webhook("page", PAGE_ID, event(read={"watermark": watermark})))

    assert batch.watermarks == []
    assert batch.ignored == 1


def test_a_receipt_without_a_sender_is_ignored() -> None:
    receipt = {"recipient": {"id": PAGE_ID}, "read": {"watermark": WATERMARK_MS}}

    batch = parse(messaging_webhook("page", PAGE_ID, receipt))

    assert (batch.watermarks, batch.ignored) == ([], 1)


def test_an_edit_is_shown_as_a_note_with_the_new_text_once_per_edit() -> None:
    edit = event(message_edit={"mid": "m_first", "text": "<b>Size M</b>, not L", "num_edit": 1})
    again = event(message_edit={"mid": "m_first", "text": "Size S", "num_edit": 2})

    batch = parse(messaging_webhook("instagram", INSTAGRAM_ID, edit, edit, again))

    first, repeated, second = batch.messages
    assert first.text == "✏️ Edited an earlier message: <b>Size M</b>, not L"
    assert first.kind is InboundKind.MESSAGE
    assert first.customer_address == "instagram:PSID1"
    assert first.shop_id == "bia"
    # The same edit delivered twice has one id (stored once); the next edit its own.
    assert repeated.provider_message_id == first.provider_message_id
    assert second.provider_message_id != first.provider_message_id
    assert second.text.endswith("Size S")


def test_an_edit_without_its_message_id_is_ignored() -> None:
    batch = parse(messaging_webhook("page", PAGE_ID, event(message_edit={"text": "x"})))

    assert (batch.messages, batch.ignored) == ([], 1)
