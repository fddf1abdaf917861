import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.csat import CsatPolicy, rated, score_in, survey_answer, survey_due
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel

AT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def conversation(**changes: object) -> Conversation:
    values: dict[str, object] = {
        "shop_id": "ana",
        "conversation_id": "01C",
        "channel": Channel.SMS,
        "customer_address": "+5511987654321",
        "shop_address": "+14155550100",
        "created_at": AT,
        "last_customer_message_at": AT,
        "status": ConversationStatus.RESOLVED,
    }
    return Conversation.model_validate(values | changes)


def message(text: str, at: datetime, **changes: object) -> InboundMessage:
    values: dict[str, object] = {
        "shop_id": "ana",
        "channel": Channel.SMS,
        "provider": "twilio",
        "provider_message_id": "SM1",
        "customer_address": "+5511987654321",
        "shop_address": "+14155550100",
        "text": text,
        "received_at": at,
    }
    return InboundMessage.model_validate(values | changes)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        (" 4 ", 4),
        ("3/5", 3),
        ("2.", 2),
        ("4 ⭐", 4),
        ("٤", 4),  # Arabic-Indic digit
        ("४", 4),  # Devanagari digit
        ("⭐⭐⭐", 3),
        ("★★★★★", 5),
        ("0", None),
        ("6", None),
        ("45", None),
        ("4 dias e nada", None),
        ("", None),
        ("⭐⭐⭐⭐⭐⭐", None),
    ],
)
def test_only_a_lone_rating_is_a_score(text: str, score: int | None) -> None:
    assert score_in(text) == score


def test_the_question_speaks_the_language_leaves_no_gap_and_may_be_replaced() -> None:
    policy = CsatPolicy(questions={"hu": "{first_name}, 1-5?"})
    assert policy.question("pt", "Ana Souza", "Loja").startswith(
        "Como foi o nosso atendimento, Ana?"
    )
    assert policy.question("en", None, "Loja").startswith("How did we do? Reply")
    assert policy.question("hu", "Kata", "Bolt") == "Kata, 1-5?"
    # A language neither shipped nor added falls back to the shop's default
    assert policy.question("xx", None, "Loja") == policy.question("en", None, "Loja")
    assert policy.thanks_text("ar", None, "Loja") == "شكرًا على تقييمك!"


def test_the_question_is_due_once_and_on_whatsapp_only_inside_the_window() -> None:
    assert survey_due(conversation(), AT)
    assert not survey_due(conversation(status=ConversationStatus.OPEN), AT)
    assert not survey_due(conversation(csat_asked_at=AT), AT)
    whatsapp = conversation(channel=Channel.WHATSAPP, message_count=1)
    assert survey_due(whatsapp, AT + timedelta(hours=23))
    assert not survey_due(whatsapp, AT + timedelta(hours=25))


def test_an_answer_counts_inside_the_window_only_and_keeps_the_conversation_resolved() -> None:
    policy = CsatPolicy(window_hours=2)
    asked = conversation(csat_asked_at=AT)
    assert survey_answer(asked, message("5", AT + timedelta(hours=1)), policy) == 5
    assert survey_answer(asked, message("5", AT + timedelta(hours=3)), policy) is None
    assert survey_answer(asked, message("5", AT), None) is None
    assert survey_answer(conversation(), message("5", AT), policy) is None
    with_photo = message("5", AT, media=[{"url": "https://api.twilio.com/m/1"}])
    assert survey_answer(asked, with_photo, policy) is None

    answered = rated(asked, message("5", AT + timedelta(hours=1)), 5)
    assert answered.status is ConversationStatus.RESOLVED
    assert answered.csat is not None
    assert answered.csat.score == 5
    assert answered.message_count == 1
    assert survey_answer(answered, message("4", AT + timedelta(hours=1)), policy) is None


def _rating_seconds(text: str) -> float:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        assert score_in(text) is None
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_reading_a_rating_costs_about_the_same_however_much_blank_follows_the_digit() -> None:
    # The rating patterns have `\s*` in a row: "5", blanks, then anything else backtracked
    # over every split of the blanks (cubic: an SMS of 1,600 characters took about 35 s,
    # past the worker's timeout, every try). Four times the blanks may cost about four
    # times as much, not 64.
    ratio = _rating_seconds("5" + " " * 400 + "x") / _rating_seconds("5" + " " * 100 + "x")
    assert ratio < 8, f"{ratio:.0f}x"
