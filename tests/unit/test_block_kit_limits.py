"""Every Block Kit builder, fed hostile customer input, gives what Slack accepts: within
every limit Slack checks (as `slack_limits` and slack_sdk's own models check them), customer
text escaped, nothing live that a customer wrote, and the card's buttons always there."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.email_threading import EmailHeaders
from chalicelib.domain.jobs import SlaAlarm
from chalicelib.domain.messages import InboundMessage, MediaItem
from chalicelib.domain.reports import build_report
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel, SlaStage, SlaTarget
from chalicelib.presentation.block_kit import BLOCKS_TEXT, cut, fit_blocks, size, text_size
from chalicelib.presentation.card import root_card
from chalicelib.presentation.commands import canned_list, conversation_list, ephemeral
from chalicelib.presentation.digest import daily_digest
from chalicelib.presentation.notes import (
    canned_gone_note,
    dead_letter_note,
    delivery_failed_note,
    escalation_message,
    files_not_sent_note,
    window_template_note,
)
from chalicelib.presentation.pickers import canned_picker
from chalicelib.presentation.posts import (
    auto_reply_post,
    canned_post,
    customer_message,
    shop_message_post,
)
from chalicelib.presentation.slack_blocks import SlackMessage, escape_mrkdwn
from local_stack.slack_limits import message_refusal, view_refusal

pytestmark = pytest.mark.unit

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# What a customer may write to make Slack act or render oddly: mentions, links, entities,
# formatting marks, direction overrides and isolates, combining marks, emoji beyond the
# BMP, zero-width joiners, line breaks.
LIVE = ("<!channel>", "<!here>", "<@U0VICTIM>", "<https://evil.example|click>")
PIECES = st.sampled_from(
    [
        *LIVE,
        "&",
        "&amp;",
        "&lt;",
        "<",
        ">",
        "*bold* _it_ ~s~ `code` ```block```",
        "\u202e\u2067\u2066\u200f",
        "\u0301\u0302\u0303",
        "مرحبا، أين طلبي؟",
        "मेरा ऑर्डर कहाँ है?",
        "👨‍👩‍👧📦🏽",
        "\n",
        "\n\n\n",
        " ",
        "a" * 97,
    ]
)


@st.composite
def hostile_text(draw: st.DrawFn, most: int = 250_000) -> str:
    """Text of any length up to `most`: short and odd, or huge, or thousands of lines."""
    pieces = draw(st.lists(PIECES | st.text(max_size=30), min_size=1, max_size=12))
    repeat = draw(st.sampled_from([1, 2, 30, 400, 5_000]))
    text = "".join(pieces) * repeat
    return text[:most]


def conversation(name: str, subject: str | None = None, **fields: Any) -> Conversation:
    at = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "shop_id": "ana",
        "conversation_id": "01JCONVERSATION0000000000",
        "channel": Channel.WHATSAPP,
        "customer_address": "whatsapp:+5511987654321",
        "customer_name": name or None,
        "shop_address": "whatsapp:+14155550101",
        "created_at": at,
        "last_customer_message_at": at,
        "message_count": 3,
        "first_message_preview": name[:140],
        "order_number": name[:30] or None,
        "subject": subject,
        "slack_team_id": "T0SHOP1",
        "slack_channel_id": "C0SUPPORT",
        "slack_thread_ts": "1764000000.000100",
        "assignee_user_id": "U0AGENT",
    }
    values.update(fields)
    return Conversation(**values)


def shop(canned: int = 0, text: str = "Olá {first_name}!") -> Shop:
    return Shop.model_validate(
        {
            "shop_id": "ana",
            "name": "Loja <!channel> & Ana",
            "timezone": "America/Sao_Paulo",
            "slack": {"team_id": "T0SHOP1", "channel_id": "C0SUPPORT"},
            "canned_responses": [
                {"name": f"r{n:03d}-" + "x" * 35, "text": text} for n in range(canned)
            ],
        }
    )


def mrkdwn_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def assert_accepted(message: SlackMessage | dict[str, Any]) -> None:
    """Slack takes it: no limit passed, nothing a customer wrote live, every escape whole."""
    if isinstance(message, SlackMessage):
        text, blocks = message.text, message.blocks
    else:
        text, blocks = message["text"], message["blocks"]
    assert message_refusal({"text": text, "blocks": blocks}) is None
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    # Plain text shows what it holds as it is; mrkdwn and the message's text would obey it.
    for mrkdwn in [text, *mrkdwn_texts(blocks)]:
        for live in LIVE:
            assert live not in mrkdwn
        for index in [i for i, c in enumerate(mrkdwn) if c == "&"]:
            assert mrkdwn.startswith(("&amp;", "&lt;", "&gt;"), index), mrkdwn[index : index + 8]


@HOSTILE
@given(text=hostile_text(), media=st.integers(0, 300), kind=hostile_text(most=500))
def test_a_customers_message_fits_whatever_it_holds(text: str, media: int, kind: str) -> None:
    message = InboundMessage(
        shop_id="ana",
        channel=Channel.EMAIL,
        provider="email",
        provider_message_id="abc@mail.example",
        customer_address="ana@example.com",
        shop_address="support@lojadaana.com.br",
        text=text,
        media=tuple(
            MediaItem(url=f"s3://media/{n}", content_type=kind or None) for n in range(media)
        ),
        received_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        email=EmailHeaders(message_id="abc@mail.example", subject=kind, automated=True),
    )
    late = message.received_at + timedelta(hours=3)
    posted = customer_message(message, late, "Asia/Kolkata")
    assert_accepted(posted)
    # The markers after the text are never folded away
    shown = json.dumps(posted.blocks, ensure_ascii=False)
    assert "posted late" in shown
    assert "Sent automatically" in shown
    if media > 10:
        assert f"…and {media - 10:,} more file" in shown


@HOSTILE
@given(name=hostile_text(most=20_000), subject=hostile_text(most=20_000))
def test_a_card_fits_and_keeps_its_buttons_whatever_the_customer_is_called(
    name: str, subject: str
) -> None:
    card = root_card(conversation(name, subject), shop())
    assert_accepted(card)
    assert card.blocks[-1]["type"] == "actions"
    assert "+5511987654321" in json.dumps(card.blocks)


@HOSTILE
@given(text=hostile_text(most=60_000), name=hostile_text(most=200))
def test_replies_shown_in_the_thread_fit(text: str, name: str) -> None:
    assert_accepted(canned_post(text, "U0AGENT", "shipping"))
    assert_accepted(shop_message_post(text))
    assert_accepted(auto_reply_post(text, "faq:where_is_my_order", name))


@HOSTILE
@given(names=st.lists(hostile_text(most=5_000), min_size=1, max_size=20), query=hostile_text())
def test_slash_command_answers_fit(names: list[str], query: str) -> None:
    found = [(conversation(name), "Europe/Budapest") for name in names]
    assert_accepted(conversation_list(f"Conversations with “{query}”", found, "lojadaana"))
    assert_accepted(conversation_list(f"Conversations with “{query}”", [], "lojadaana"))
    # ephemeral takes mrkdwn: what is not Threadline's own comes to it escaped
    assert_accepted(ephemeral(escape_mrkdwn(query) or "-"))
    assert_accepted(canned_list([shop(canned=100), shop(canned=100)]))


@HOSTILE
@given(name=hostile_text(most=20_000), text=hostile_text(most=1_500))
def test_the_canned_response_modal_fits(name: str, text: str) -> None:
    # A canned text has no placeholders but the shop's own: braces of the input left out
    canned = text.replace("{", "(").replace("}", ")").strip() or "x"
    view = canned_picker(conversation(name), shop(canned=100, text=canned))
    assert view_refusal(view) is None
    View(**view).validate_json()
    for block in view["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert all("<!channel>" not in text for text in mrkdwn_texts(view["blocks"]))


@HOSTILE
@given(
    reason=hostile_text(most=50_000),
    names=st.lists(hostile_text(most=2_000), max_size=300),
    agent=hostile_text(most=5_000),
)
def test_notes_digests_and_escalations_fit(reason: str, names: list[str], agent: str) -> None:
    assert_accepted(delivery_failed_note(reason, reason[:50] or None))
    assert_accepted(files_not_sent_note(names or ["x"], text_sent=False))
    assert_accepted(window_template_note(reason))
    assert_accepted(canned_gone_note(reason))
    assert_accepted(dead_letter_note(reason))
    alarm = SlaAlarm(
        shop_id="ana",
        conversation_id="01JCONVERSATION0000000000",
        target=SlaTarget.FIRST_RESPONSE,
        started_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        stage=SlaStage.SECOND_LEVEL,
        due_at=datetime(2026, 11, 22, 14, 0, tzinfo=UTC),
    )
    thread = "https://lojadaana.slack.com/archives/C0SUPPORT/p1764000000000100"
    assert_accepted(escalation_message(conversation(agent), alarm, thread, "UTC"))
    start = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    answered = [
        conversation("x", assignee_user_id=f"U0AGENT{n}", created_at=start + timedelta(hours=1))
        for n in range(30)
    ]
    report = build_report("ana", answered, "UTC", start, start + timedelta(days=1))
    names_by_agent = {f"U0AGENT{n}": agent for n in range(30)}
    assert_accepted(daily_digest(report, agent, date(2026, 11, 22), names_by_agent))


# The fitting itself ------------------------------------------------------------------------


@given(text=hostile_text(most=20_000), limit=st.integers(2, 4_000))
def test_a_cut_text_fits_and_never_ends_inside_an_escape_or_a_link(text: str, limit: int) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    shortened = cut(escaped, limit)
    assert size(shortened) <= limit
    assert escaped.startswith(shortened.removesuffix("…"))
    body = shortened.removesuffix("…")
    assert body.rfind("&") <= body.rfind(";") or "&" not in body


def test_sixty_one_blocks_become_fifty_with_the_last_counting_the_rest() -> None:
    files = [{"type": "section", "text": {"type": "mrkdwn", "text": f"f{n}"}} for n in range(60)]
    marker = {"type": "context", "elements": [{"type": "mrkdwn", "text": "kept"}]}

    fitted = fit_blocks([*files, marker], kept=1, noun=("file", "files"))

    assert len(fitted) == 50
    assert fitted[-1] == marker
    assert fitted[-2]["elements"][0]["text"] == "…and 12 more files"
    assert [b["text"]["text"] for b in fitted[:48]] == [f"f{n}" for n in range(48)]


def test_blocks_past_slacks_total_of_text_are_folded() -> None:
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 8

    fitted = fit_blocks(sections)

    assert text_size(fitted) <= BLOCKS_TEXT
    assert fitted[-1]["elements"][0]["text"] == "…and 5 more parts"


def test_a_text_longer_than_a_post_shows_says_how_much_is_left_out() -> None:
    # Given a customer's mail of 20,000 characters
    message = InboundMessage(
        shop_id="ana",
        channel=Channel.EMAIL,
        provider="email",
        provider_message_id="long@mail.example",
        customer_address="ana@example.com",
        shop_address="support@lojadaana.com.br",
        text=" ".join(["palavra"] * 2_500),
        received_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    )

    # When it is mirrored
    posted = customer_message(message)

    # Then its first 8,000 characters are shown, and the other 11,999 counted
    sections = [b["text"]["text"] for b in posted.blocks if b["type"] == "section"]
    assert " ".join(sections).split() == ("palavra " * 1_000).split()
    note = posted.blocks[-1]["elements"][0]["text"]
    assert note.startswith("…and 11,999 more characters, not shown here")
    assert message_refusal({"text": posted.text, "blocks": posted.blocks}) is None
