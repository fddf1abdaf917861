"""What agents see in Slack: escaping, the root card, mirrored messages, delivery notes."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.jobs import CardAction, ConversationAction
from chalicelib.domain.messages import FAILED_DELIVERY, DeliveryStatus, InboundMessage, MediaItem
from chalicelib.domain.reports import build_report
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel, Priority
from chalicelib.presentation.card import root_card
from chalicelib.presentation.digest import daily_digest, duration_label
from chalicelib.presentation.notes import action_note, delivery_failed_note, snooze_over_note
from chalicelib.presentation.posts import DELIVERY_REACTIONS, customer_message
from chalicelib.presentation.slack_blocks import SECTION_TEXT_LIMIT, SlackMessage, escape_mrkdwn

pytestmark = pytest.mark.unit

ARABIC = "مرحبا، أين طلبي؟"
HINDI = "मेरा ऑर्डर कहाँ है?"
HUNGARIAN = "Hol van a rendelésem?"
EMOJI = "📦🚚✅👍🏽 👨‍👩‍👧"


def shop(timezone: str = "UTC", **replies: Any) -> Shop:
    return Shop.model_validate(
        {
            "shop_id": "ana",
            "name": "Ana's Shop",
            "timezone": timezone,
            "slack": {"team_id": "T0SHOP", "channel_id": "C0SUPPORT"},
            "replies": replies,
        }
    )


def conversation(**overrides: Any) -> Conversation:
    """A WhatsApp conversation with Ana; any field can be overridden."""
    fields: dict[str, Any] = {
        "shop_id": "kavezo",
        "conversation_id": "conv-1",
        "channel": Channel.WHATSAPP,
        "customer_address": "whatsapp:+34600111222",
        "customer_name": "Ana",
        "shop_address": "whatsapp:+36201234567",
        "created_at": datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        "last_customer_message_at": datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return Conversation(**fields)


def inbound(text: str = "", media: tuple[MediaItem, ...] = ()) -> InboundMessage:
    return InboundMessage(
        shop_id="kavezo",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM" + "c" * 32,
        customer_address="+14155550100",
        shop_address="+3612345678",
        text=text,
        media=media,
        received_at=datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    )


def payload_json(message: SlackMessage) -> str:
    """The message exactly as it would be posted to chat.postMessage."""
    return json.dumps({"text": message.text, "blocks": message.blocks}, ensure_ascii=False)


def context_texts(message: SlackMessage) -> list[str]:
    context = next(block for block in message.blocks if block["type"] == "context")
    return [element["text"] for element in context["elements"]]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here> hurry", "&lt;!here&gt; hurry"),
        ("ping <@U123>", "ping &lt;@U123&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("fish & chips", "fish &amp; chips"),
        ("already &lt;escaped&gt;", "already &amp;lt;escaped&amp;gt;"),
    ],
)
def test_escape_mrkdwn_makes_mentions_links_and_entities_inert(written: str, shown: str) -> None:
    # Given text a customer wrote with Slack control sequences
    # When it is escaped
    escaped = escape_mrkdwn(written)

    # Then every &, < and > is an entity, so Slack shows it literally
    assert escaped == shown


@pytest.mark.parametrize(
    "text",
    [ARABIC, HINDI, HUNGARIAN, EMOJI, "*bold* _italic_ ~strike~ `code`", "line one\nline two"],
)
def test_escape_mrkdwn_leaves_other_scripts_emoji_and_formatting_alone(text: str) -> None:
    # Given text without &, < or >
    # When it is escaped
    # Then it is unchanged
    assert escape_mrkdwn(text) == text


@settings(database=None, max_examples=200)
@given(st.text())
def test_escaped_text_has_no_angle_brackets_and_unescapes_to_the_original(text: str) -> None:
    # Given any text
    # When it is escaped
    escaped = escape_mrkdwn(text)

    # Then it has no < or > left, and undoing the three entities gives the original back
    assert "<" not in escaped
    assert ">" not in escaped
    assert unescape(escaped) == text


# --------------------------------------------------------------------------- root card


def test_root_card_escapes_a_hostile_whatsapp_profile_name_everywhere() -> None:
    # Given a customer whose WhatsApp profile name pings the whole channel
    card = root_card(conversation(customer_name="<!channel> Ana"), shop("Europe/Budapest"))

    # When the card is rendered to the JSON Slack receives
    posted = payload_json(card)

    # Then the mention appears only escaped, in the text and the blocks
    assert "<!channel>" not in posted
    assert "<" not in posted
    assert "\u2068&lt;!channel&gt; Ana\u2069 (+34600111222)" in card.text
    assert card.blocks[0]["text"]["text"].startswith(
        "*\u2068&lt;!channel&gt; Ana\u2069 (+34600111222)*"
    )


def test_root_card_shows_customer_channel_shop_number_and_open_status() -> None:
    # Given a new WhatsApp conversation
    card = root_card(conversation(), shop("Europe/Budapest"))

    # When it is rendered
    section = card.blocks[0]["text"]["text"]
    context = context_texts(card)

    # Then agents see who wrote, on which channel, to which number, and that it is open
    assert card.text == "New WhatsApp conversation with \u2068Ana\u2069 (+34600111222)"
    assert section == "*\u2068Ana\u2069 (+34600111222)*\n:speech_balloon: WhatsApp to +36201234567"
    assert context[0] == "*Status:* :large_green_circle: Open"
    assert context[-1] == (
        ":speech_balloon: Replies go to the customer; start with `note:` to keep one internal."
    )


def test_root_card_for_sms_shows_the_number_and_sms_label() -> None:
    # Given an SMS conversation with no profile name
    card = root_card(
        conversation(
            channel=Channel.SMS,
            customer_address="+14155550100",
            customer_name=None,
            shop_address="+3612345678",
        ),
        shop("UTC"),
    )

    # When it is rendered
    # Then the label is the bare number and the channel is SMS
    assert card.text == "New SMS conversation with +14155550100"
    assert card.blocks[0]["text"]["text"] == "*+14155550100*\n:iphone: SMS to +3612345678"


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (ConversationStatus.OPEN, "Open"),
        (ConversationStatus.PENDING, "Pending"),
        (ConversationStatus.SNOOZED, "Snoozed"),
        (ConversationStatus.RESOLVED, "Resolved"),
    ],
)
def test_root_card_names_the_conversation_status(status: ConversationStatus, label: str) -> None:
    # Given a conversation in some state
    card = root_card(conversation(status=status), shop("UTC"))

    # When it is rendered
    status_text = context_texts(card)[0]

    # Then the status element names the state
    assert status_text.startswith("*Status:* :")
    assert f" {label}" in status_text


@pytest.mark.parametrize(
    ("created_at", "started"),
    [
        # 29 March 2026: Budapest moves from CET (UTC+1) to CEST (UTC+2) at 01:00 UTC.
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "29 Mar 2026 01:30 CET"),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "29 Mar 2026 03:30 CEST"),
        (datetime(2026, 7, 1, 22, 15, tzinfo=UTC), "02 Jul 2026 00:15 CEST"),
    ],
)
def test_root_card_start_time_is_in_the_shop_time_zone_across_dst(
    created_at: datetime, started: str
) -> None:
    # Given a conversation created at a UTC moment
    card = root_card(conversation(created_at=created_at), shop("Europe/Budapest"))

    # When it is rendered for a shop in Budapest
    # Then the start time is Budapest wall time with the right abbreviation
    assert f"*Started:* {started}" in context_texts(card)


def test_root_card_start_time_in_utc_for_a_utc_shop() -> None:
    # Given a conversation created at 00:30 UTC
    card = root_card(conversation(), shop("UTC"))

    # When it is rendered for a UTC shop
    # Then the time is shown unchanged
    assert "*Started:* 29 Mar 2026 00:30 UTC" in context_texts(card)


# --------------------------------------------------------------------------- customer message


@pytest.mark.parametrize("text", [ARABIC, HINDI, HUNGARIAN, EMOJI])
def test_customer_message_mirrors_text_in_any_script(text: str) -> None:
    # Given a text-only message
    # When it is mirrored into the thread
    mirrored = customer_message(inbound(text=text))

    # Then text and section both show it unchanged
    assert mirrored.text == text
    assert mirrored.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def test_customer_message_escapes_and_trims_the_text() -> None:
    # Given a message with a mention and surrounding whitespace
    # When it is mirrored
    mirrored = customer_message(inbound(text="  <!here> where is it?  \n"))

    # Then it is escaped and trimmed
    assert mirrored.text == "&lt;!here&gt; where is it?"


def test_a_message_posted_late_says_when_it_was_written_in_the_shops_time_zone() -> None:
    # Given a message that arrived at 00:30 UTC (01:30 in Budapest)
    message = inbound(text="Hol a csomagom?")
    arrived = message.received_at

    # When it is posted a minute later, and when it is posted after an outage's 14 minutes
    on_time = customer_message(message, arrived + timedelta(minutes=1), "Europe/Budapest")
    late = customer_message(message, arrived + timedelta(minutes=14), "Europe/Budapest")

    # Then only the late one says when it was written, and that later ones may be above it
    assert on_time.blocks == customer_message(message).blocks
    assert late.text == on_time.text == "Hol a csomagom?"
    assert late.blocks[:-1] == on_time.blocks
    assert late.blocks[-1] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": ":hourglass: Written 29 Mar 2026 01:30 CET, posted late: later "
                "messages may be above it.",
            }
        ],
    }


def test_media_only_message_lists_its_attachments() -> None:
    # Given a message with two attachments and no text, one of unknown type
    media = (
        MediaItem(url="https://api.twilio.com/media/ME1", content_type="image/jpeg"),
        MediaItem(url="https://api.twilio.com/media/ME2"),
    )

    # When it is mirrored
    mirrored = customer_message(inbound(media=media))

    # Then each attachment has a line with its type
    assert mirrored.text == (
        ":paperclip: Attachment (image/jpeg)\n:paperclip: Attachment (unknown type)"
    )


def test_text_with_media_shows_text_first_then_attachments() -> None:
    # Given a message with text and a picture
    media = (MediaItem(url="https://api.twilio.com/media/ME1", content_type="image/png"),)

    # When it is mirrored
    mirrored = customer_message(inbound(text="Broken 😢", media=media))

    # Then the text comes first
    assert mirrored.text == "Broken 😢\n:paperclip: Attachment (image/png)"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_message_says_so(text: str) -> None:
    # Given a message with neither text nor media
    # When it is mirrored
    mirrored = customer_message(inbound(text=text))

    # Then agents see a placeholder instead of an empty (invalid) section
    assert mirrored.text == "_(empty message)_"
    assert mirrored.blocks[0]["text"]["text"] == "_(empty message)_"


def test_a_long_message_runs_on_over_several_sections_and_nothing_is_lost() -> None:
    # Given a message longer than one section block may hold
    text = " ".join(f"palavra{n}" for n in range(700))

    # When it is mirrored
    mirrored = customer_message(inbound(text=text))

    # Then every section fits, they are cut between words, and together they are the text
    sections = [block["text"]["text"] for block in mirrored.blocks]
    assert len(sections) > 1
    assert all(len(section) <= SECTION_TEXT_LIMIT for section in sections)
    assert " ".join(sections) == text
    assert mirrored.text == "\n".join(sections)


def test_message_at_exactly_the_limit_is_not_shortened() -> None:
    # Given a message exactly as long as the limit
    text = "b" * SECTION_TEXT_LIMIT

    # When it is mirrored
    # Then it is unchanged
    assert customer_message(inbound(text=text)).text == text


def test_long_message_that_grows_by_escaping_is_split_never_inside_an_escape() -> None:
    # Given a message that is short enough raw but too long once escaped
    text = "<" * 1000 + "&" + "x"

    # When it is mirrored
    sections = [b["text"]["text"] for b in customer_message(inbound(text=text)).blocks]

    # Then each section fits, none has a live < or a broken escape, and nothing is lost
    assert all(len(section) <= SECTION_TEXT_LIMIT for section in sections)
    assert "<" not in "".join(sections)
    joined = "".join(sections)
    assert joined == "&lt;" * 1000 + "&amp;x"
    assert all(section.endswith(("&lt;", "&amp;", "x")) for section in sections)


# --------------------------------------------------------------------------- delivery


def test_delivery_failed_note_gives_the_reason_and_code_escaped() -> None:
    # Given a failure reason with Slack control characters
    # When the note is built
    note = delivery_failed_note("the customer <@U123> opted out & left", "21610")

    # Then agents see the reason and code, escaped
    assert note.text == (
        ":warning: This reply did not reach the customer: "
        "the customer &lt;@U123&gt; opted out &amp; left (error 21610)."
    )
    assert note.blocks[0]["text"]["text"] == note.text


def test_delivery_failed_note_without_code_has_no_error_part() -> None:
    # Given a failure without a provider code
    # When the note is built
    note = delivery_failed_note("the provider gave no reason", None)

    # Then it ends after the reason
    assert note.text == (
        ":warning: This reply did not reach the customer: the provider gave no reason."
    )


def test_delivery_failed_note_escapes_the_code_too() -> None:
    # Given a code that is not a plain number
    # When the note is built
    note = delivery_failed_note("blocked", "<!channel>")

    # Then the code is inert
    assert "<!channel>" not in note.text
    assert "(error &lt;!channel&gt;)" in note.text


def test_every_failure_status_gets_the_x_reaction_and_no_other_status_does() -> None:
    # Given the reactions that mark a reply's delivery
    # When the failure statuses and the others are looked up
    failures = {status: DELIVERY_REACTIONS[status] for status in FAILED_DELIVERY}
    others = {
        status: reaction
        for status, reaction in DELIVERY_REACTIONS.items()
        if status not in FAILED_DELIVERY
    }

    # Then failures are "x" and nothing else is
    assert set(failures.values()) == {"x"}
    assert "x" not in others.values()
    assert DELIVERY_REACTIONS[DeliveryStatus.DELIVERED] == "white_check_mark"
    assert DELIVERY_REACTIONS[DeliveryStatus.READ] == "eyes"


def test_root_card_shows_the_first_message_escaped_and_how_many_messages_so_far() -> None:
    # Given a conversation whose first message would ping the channel, three messages in
    card = root_card(
        conversation(first_message_preview="<!channel> onde está meu pedido?", message_count=3),
        shop("Europe/Budapest"),
    )

    # When it is rendered
    quoted = card.blocks[1]["elements"][0]["text"]

    # Then agents see the first message, inert, and the count at a glance
    assert quoted == "\u201c&lt;!channel&gt; onde está meu pedido?\u201d"
    assert "*Messages:* 3 messages" in payload_json(card)
    assert "<" not in payload_json(card)


def buttons(card: SlackMessage) -> list[tuple[str, str]]:
    [actions] = [block for block in card.blocks if block["type"] == "actions"]
    return [
        (
            element["action_id"],
            element.get("value")
            or element.get("initial_option", {}).get("value")
            or "/".join(option["value"] for option in element["options"]),
        )
        for element in actions["elements"]
    ]


def test_card_buttons_fit_the_conversation_and_name_it() -> None:
    # Given an open unassigned conversation, and the same one assigned and resolved
    fresh = root_card(conversation(), shop("UTC"))
    done = root_card(
        conversation(assignee_user_id="U0AGENT1", status=ConversationStatus.RESOLVED), shop("UTC")
    )

    # Then the buttons offer what can be done next, each carrying the conversation's ref
    assert buttons(fresh) == [
        ("assign_to_me", "kavezo:conv-1"),
        ("resolve", "kavezo:conv-1"),
        ("set_priority", "kavezo:conv-1#normal"),
        ("snooze", "kavezo:conv-1#1h/kavezo:conv-1#tomorrow/kavezo:conv-1#customer_reply"),
        ("summarise", "kavezo:conv-1"),
    ]
    assert buttons(done) == [
        ("unassign", "kavezo:conv-1"),
        ("reopen", "kavezo:conv-1"),
        ("set_priority", "kavezo:conv-1#normal"),
        ("summarise", "kavezo:conv-1"),
    ]
    assert "*Unassigned*" in payload_json(fresh)
    assert "*Assignee:* <@U0AGENT1>" in payload_json(done)


def test_a_whatsapp_card_shows_until_when_free_form_replies_are_possible() -> None:
    # Given a WhatsApp conversation whose customer last wrote at 23:30 UTC on 28 March
    last = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    whatsapp = root_card(
        conversation(last_customer_message_at=last, message_count=1), shop("Europe/Budapest")
    )
    sms = root_card(conversation(channel=Channel.SMS, customer_address="+34600111222"), shop("UTC"))
    never_wrote = root_card(conversation(message_count=0), shop("UTC"))

    # Then the card says the 24-hour window ends a day later, in the shop's time zone
    # (across the night the clocks went forward), and SMS cards say nothing of it
    assert "*Reply window:* until 30 Mar 2026 01:30 CEST" in context_texts(whatsapp)
    assert "Reply window" not in payload_json(sms)
    # And before the customer ever wrote (the shop wrote first), the window is closed
    assert "*Reply window:* closed until the customer writes" in context_texts(never_wrote)


def test_the_card_shows_the_priority_and_offers_every_other() -> None:
    # Given an urgent conversation
    card = root_card(conversation(priority=Priority.URGENT), shop("UTC"))

    # Then its priority is visible, and the select starts on it, offering all four
    assert "*Priority:* :red_circle: Urgent" in context_texts(card)
    [actions] = [block for block in card.blocks if block["type"] == "actions"]
    [select] = [e for e in actions["elements"] if e["action_id"] == "set_priority"]
    assert select["initial_option"]["value"] == "kavezo:conv-1#urgent"
    assert [o["value"].rsplit("#", 1)[1] for o in select["options"]] == [
        "low",
        "normal",
        "high",
        "urgent",
    ]


def test_the_card_shows_safe_mode_and_how_to_send() -> None:
    # Given a shop whose thread messages stay internal unless marked, with a send prefix
    # that contains Slack's control characters
    safe = shop(mode="safe", send_prefix="<send>")

    # When a card is rendered
    card = root_card(conversation(), safe)

    # Then the card says so, with the prefix escaped
    assert context_texts(card)[-1] == (
        ":lock: Safe mode: messages stay internal; start with `&lt;send&gt;` or use "
        "*Send to customer* to answer."
    )


def test_a_snoozed_card_says_until_when_and_offers_to_wake_it() -> None:
    # Given a conversation snoozed until 09:00 tomorrow in São Paulo (12:00 UTC)
    until = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    snoozed = conversation(status=ConversationStatus.SNOOZED, snoozed_until=until)

    # When its card is rendered
    card = root_card(snoozed, shop("America/Sao_Paulo"))

    # Then the status says until when, in the shop's time, and the card offers to wake it
    assert context_texts(card)[0] == "*Status:* :zzz: Snoozed until 24 Nov 2026 09:00 -03"
    assert ("reopen", "kavezo:conv-1") in buttons(card)
    [actions] = [block for block in card.blocks if block["type"] == "actions"]
    [wake_up] = [e for e in actions["elements"] if e.get("action_id") == "reopen"]
    assert wake_up["text"]["text"] == "Wake up"


def test_snooze_and_wake_up_notes_say_who_until_when_and_for_whom() -> None:
    until = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    press = ConversationAction(
        action=CardAction.SNOOZE,
        conversation_ref="kavezo:conv-1",
        team_id="T0SHOP",
        channel_id="C0SUPPORT",
        message_ts="1.0",
        user_id="U0AGENT1",
        action_ts="2.0",
    )
    snoozed = conversation(status=ConversationStatus.SNOOZED, snoozed_until=until)
    note = action_note(press, snoozed, "America/Sao_Paulo")
    assert note.text == (":zzz: <@U0AGENT1> snoozed this conversation until 24 Nov 2026 09:00 -03.")
    assert snooze_over_note("U0AGENT1").text == (
        ":alarm_clock: Snooze over: this conversation is open again. <@U0AGENT1>"
    )


def test_daily_digest_shows_the_days_figures_and_escapes_agent_names() -> None:
    # Given a day with one conversation answered by an agent with a hostile display name
    created = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    answered = Conversation(
        shop_id="ana",
        conversation_id="C1",
        channel=Channel.WHATSAPP,
        customer_address="whatsapp:+5511987654321",
        shop_address="+14155550100",
        created_at=created,
        last_customer_message_at=created,
        assignee_user_id="U0BIA",
        first_response_at=created + timedelta(minutes=12),
    )
    start = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    report = build_report("ana", [answered], "America/Sao_Paulo", start, start + timedelta(days=1))

    # When
    digest = daily_digest(report, "Loja <da> Ana", date(2026, 11, 22), {"U0BIA": "<!channel> Bia"})

    # Then
    shown = json.dumps(digest.blocks, ensure_ascii=False)
    assert digest.blocks[0]["text"]["text"] == "Loja <da> Ana: Sunday 22 Nov 2026"
    assert "&lt;!channel&gt; Bia" in shown
    assert "<!channel>" not in shown
    assert "<@U0BIA>" not in shown
    assert "median 12 min" in shown
    assert ":speech_balloon: WhatsApp 1" in shown
    assert "America/Sao_Paulo" in shown
    assert "Loja &lt;da&gt; Ana" in digest.text


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (None, "–"),
        (44.6, "45 s"),
        (600, "10 min"),
        (3 * 3600 + 300, "3 h 05 min"),
        (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float | None, label: str) -> None:
    assert duration_label(seconds) == label
