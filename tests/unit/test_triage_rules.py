"""The `rules` triage engine: negation, intensifiers, capitals, emoji, irony, chasers and the
threats that make a message urgent, in each shipped language; bounded input."""

import time
from datetime import UTC, datetime

import pytest

from chalicelib.domain.triage.policy import TriageRules
from chalicelib.domain.triage.record import (
    Intent,
    Sentiment,
    TriageContext,
    TriageMark,
    Urgency,
    UrgencySignal,
)
from chalicelib.domain.triage.rules import MAX_CHARACTERS, normalised, triage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I am not happy with this jacket", "en"),
        ("Nada satisfeita com a qualidade", "pt"),
        ("Saya tidak puas dengan barangnya", "id"),
        ("Nem vagyok elégedett a termékkel", "hu"),
        ("لست راضيا عن المنتج", "ar"),
        # Hindi puts the negator after what it turns.
        ("मैं इस सामान से खुश नहीं हूँ", "hi"),
        ("main bilkul khush nahi hoon", "hi"),
        ("No estoy contenta con el pedido", "es"),
    ],
)
def test_a_negated_praise_is_a_complaint(text: str, language: str) -> None:
    assert triage(text, language).sentiment is Sentiment.NEGATIVE


@pytest.mark.parametrize(
    ("text", "language"),
    [("Not bad at all, I like it", "en"), ("Nada mal, gostei", "pt"), ("nada mal", "es")],
)
def test_a_negated_complaint_is_mild_praise(text: str, language: str) -> None:
    assert triage(text, language).sentiment is Sentiment.POSITIVE


def test_negation_stops_at_the_end_of_its_clause() -> None:
    # "no" belongs to the first clause; "happy" in the second is praise.
    result = triage("No problem. Happy with it", "en")

    assert result.sentiment is Sentiment.POSITIVE


def test_an_intensifier_strengthens_the_word_beside_it() -> None:
    assert triage("good", "en").strength < triage("really good", "en").strength
    assert triage("bagus", "id").strength < triage("bagus banget", "id").strength


def test_capitals_and_exclamations_turn_a_complaint_into_anger() -> None:
    calm = triage("the parcel is late again, this is ridiculous", "en")
    shouted = triage("THE PARCEL IS LATE AGAIN, THIS IS RIDICULOUS!!!", "en")

    assert UrgencySignal.ANGER not in calm.signals
    assert shouted.strength == 3
    assert UrgencySignal.ANGER in shouted.signals
    assert shouted.urgency is Urgency.HIGH


def test_emoji_carry_mood() -> None:
    assert triage("ok 😡😡", "en").sentiment is Sentiment.NEGATIVE
    assert triage("recebi ❤️", "pt").sentiment is Sentiment.POSITIVE


def test_an_eye_roll_turns_praise_into_a_complaint() -> None:
    result = triage("Great, another delay. Fantastic 🙄", "en")

    assert result.sentiment is Sentiment.NEGATIVE
    assert result.urgency is Urgency.NONE


@pytest.mark.parametrize(
    ("text", "language", "intent", "sentiment"),
    [
        ("Where is my order #4821?", "en", Intent.ORDER_STATUS, Sentiment.NEUTRAL),
        ("मेरा रिफंड कब आएगा?", "hi", Intent.REFUND, Sentiment.NEUTRAL),
        ("order cancel karna hai", "hi", Intent.CANCEL, Sentiment.NEUTRAL),
        ("هل يتوفر هذا الفستان بمقاس صغير؟", "ar", Intent.PRODUCT_QUESTION, Sentiment.NEUTRAL),
        ("Szeretném visszaküldeni a cipőt", "hu", Intent.RETURN_EXCHANGE, Sentiment.NEUTRAL),
        (
            "Kurirnya bilang sudah diterima tapi paketnya tidak ada",
            "id",
            Intent.DELIVERY_PROBLEM,
            Sentiment.NEGATIVE,
        ),
        ("Fui cobrado duas vezes no cartão", "pt", Intent.PAYMENT_PROBLEM, Sentiment.NEGATIVE),
        ("¡Me encanta, excelente servicio!", "es", Intent.PRAISE, Sentiment.POSITIVE),
    ],
)
def test_each_language_reads_intent_and_sentiment(
    text: str, language: str, intent: Intent, sentiment: Sentiment
) -> None:
    result = triage(text, language)

    assert (result.intent, result.sentiment) == (intent, sentiment)
    assert result.language == language


@pytest.mark.parametrize(
    ("text", "language", "signal"),
    [
        ("I'm filing a chargeback with my bank", "en", UrgencySignal.CHARGEBACK),
        ("मैं बैंक में चार्जबैक कर दूँगा", "hi", UrgencySignal.CHARGEBACK),
        ("سأرفع قضية عند المحامي", "ar", UrgencySignal.LEGAL),
        ("Ügyvédet fogadok és a fogyasztóvédelemhez fordulok", "hu", UrgencySignal.LEGAL),
        ("Chargernya berasap dan terbakar, berbahaya", "id", UrgencySignal.SAFETY),
        ("Vou ao Procon e entrar com processo", "pt", UrgencySignal.LEGAL),
        ("El cargador echó humo, es peligroso", "es", UrgencySignal.SAFETY),
    ],
)
def test_threats_and_danger_make_a_message_urgent(
    text: str, language: str, signal: UrgencySignal
) -> None:
    result = triage(text, language)

    assert signal in result.signals
    assert result.urgency is Urgency.URGENT


def test_a_question_about_a_bank_transfer_is_no_chargeback() -> None:
    result = triage("Can I pay by bank transfer?", "en")

    assert result.urgency is Urgency.NONE
    assert result.intent is Intent.PAYMENT_PROBLEM


def test_a_chaser_counts_only_after_messages_left_unanswered() -> None:
    earlier = TriageMark(at=NOW, mood=0, intent=Intent.ORDER_STATUS)
    waiting = TriageContext(unanswered=2, recent=(earlier,))

    first = triage("??", "pt", TriageContext(unanswered=0))
    third = triage("??", "pt", waiting)

    assert first.urgency is Urgency.NONE
    assert UrgencySignal.CHASING in third.signals
    assert third.urgency is Urgency.HIGH
    # It asks again what the conversation asked.
    assert third.intent is Intent.ORDER_STATUS
    assert third.sentiment is Sentiment.NEGATIVE


def test_the_shop_sets_when_a_chaser_counts() -> None:
    waiting = TriageContext(unanswered=1)

    assert triage("any news??", "en", waiting).urgency is Urgency.NONE
    patient = TriageRules(chase_after=1)
    assert triage("any news??", "en", waiting, patient).urgency is Urgency.HIGH


def test_the_third_chaser_in_capitals_is_urgent() -> None:
    result = triage("WHERE IS MY ORDER??? THIS IS A JOKE!!!", "en", TriageContext(unanswered=2))

    assert {UrgencySignal.CHASING, UrgencySignal.ANGER} <= set(result.signals)
    assert result.urgency is Urgency.URGENT


def test_text_is_cut_before_it_is_read() -> None:
    long_text = "Where is my order? " + "blah " * 200_000 + " I will call my lawyer"

    started = time.perf_counter()
    result = triage(long_text, "en")
    elapsed = time.perf_counter() - started

    assert result == triage(long_text[:MAX_CHARACTERS], "en")
    assert UrgencySignal.LEGAL not in result.signals
    assert elapsed < 0.5


def test_a_language_not_shipped_reads_every_lexicon() -> None:
    assert triage("Quero cancelar", "fr").intent is Intent.CANCEL


def test_normalising_strips_accents_and_arabic_marks_but_keeps_devanagari() -> None:
    assert normalised("Não ÉS") == "nao es"
    assert normalised("أَموالي") == "اموالي"
    assert normalised("नहीं") == "नहीं"
