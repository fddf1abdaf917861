"""Transcript exports: spreadsheets never run a customer's text, pages never render it."""

import csv
import io
from datetime import UTC, datetime

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.transcript import TranscriptEntry, as_csv, as_html

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONVERSATION = Conversation(
    shop_id="ana",
    conversation_id="c1",
    channel=Channel.WHATSAPP,
    customer_address="whatsapp:+5511987654321",
    customer_name="فاطمة",
    shop_address="whatsapp:+14155550101",
    created_at=AT,
    last_customer_message_at=AT,
)


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\t=1+1", "\r=1+1"]
)
def test_a_cell_that_starts_like_a_formula_is_kept_as_text(text: str) -> None:
    entry = TranscriptEntry(at=AT, author="customer", name="x", text=text)
    [_, row] = list(csv.reader(io.StringIO(as_csv([entry]))))
    assert row[3] == "'" + text


def test_the_page_escapes_everything_and_keeps_the_script_direction_to_the_reader() -> None:
    entry = TranscriptEntry(at=AT, author="customer", name="<script>", text="مرحبا <img src=x>")
    page = as_html(CONVERSATION, [entry], "Asia/Riyadh")
    assert "<script>" not in page
    assert "&lt;img src=x&gt;" in page
    assert '<p dir="auto">مرحبا' in page
    assert "23 Nov 2026 15:00 +03" in page
