"""The `rules` engine: sentiment, urgency and intent from lexicons and patterns, offline.

One pass over at most `MAX_CHARACTERS` of the text: words are looked up in a table built
once per language (a whole word in a dict, a stem by the word's prefixes, of bounded length),
so the work grows with the text, never with the lexicon. Negation turns the sentiment of the
few words in its scope (after the negator, and before it in Hindi) within one clause;
intensifiers, all capitals, repeated ! and ?, and emoji weigh in; an eye-roll or an ironic
opener turns praise into complaint.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from chalicelib.domain.triage.lexicons import LEXICONS, Lexicon
from chalicelib.domain.triage.policy import TriagePolicy, TriageRules
from chalicelib.domain.triage.record import (
    Intent,
    Sentiment,
    Triage,
    TriageContext,
    Urgency,
    UrgencySignal,
)

# A customer's point is made in its first lines; the rest (quoted mail, pasted lists) only
# costs time.
MAX_CHARACTERS = 2000
# A stem is at most this long (the prefixes of a word tried are bounded by it).
MAX_STEM = 16
INTENSIFIER_BOOST = 1.6
SHOUTING_BOOST = 1.5
# How negative the words of each signal are by themselves: a threat is made in anger.
SIGNAL_MOOD = {
    UrgencySignal.CHARGEBACK: 3.5,
    UrgencySignal.LEGAL: 3.5,
    UrgencySignal.SAFETY: 2.0,
    UrgencySignal.CANCEL_THREAT: 2.0,
    UrgencySignal.CHASING: 1.5,
    UrgencySignal.ANGER: 0.0,
}
# Repeated question marks from a customer already waiting: impatience.
IMPATIENCE = 0.8
# How much of a negated complaint becomes praise: "not bad" is mild.
NEGATED_NEGATIVE = 0.5

_WORD = re.compile(r"[\w\u0900-\u0963\u0966-\u097f'-]+|[.!?;,:\u061f\u060c\u0964\n]")
_CLAUSE_END = frozenset(".!?;,:\u061f\u060c\u0964\n")
_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])
_ARABIC_LETTERS = {ord("ى"): "ي", ord("ة"): "ه"}

EMOJI_MOOD = {
    "😡": -3.0,
    "🤬": -3.0,
    "😠": -2.5,
    "👿": -2.5,
    "💢": -2.0,
    "😤": -2.0,
    "😞": -1.2,
    "😢": -1.2,
    "😭": -1.5,
    "😩": -1.5,
    "😫": -1.5,
    "😒": -1.2,
    "👎": -1.5,
    "😔": -1.0,
    "😕": -0.8,
    "🙁": -1.0,
    "☹": -1.0,
    "❤": 1.5,
    "😍": 2.0,
    "🥰": 2.0,
    "😊": 1.0,
    "🙂": 0.5,
    "😀": 1.0,
    "😃": 1.0,
    "😁": 1.0,
    "👍": 1.2,
    "🙏": 0.6,
    "💯": 1.2,
    "🎉": 1.2,
    "✨": 0.6,
    "💖": 1.5,
    "😘": 1.5,
}
ANGRY_EMOJI = frozenset("😡🤬😠👿💢😤")
EYE_ROLL = frozenset("🙄😏")


def normalised(text: str) -> str:
    """Case folded, Latin accents and Arabic diacritics stripped, Arabic letter forms
    unified; Devanagari kept whole (its vowel signs are letters)."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    kept = "".join(c for c in decomposed if not ("\u0300" <= c <= "\u036f"))
    return unicodedata.normalize("NFC", kept.translate(_ARABIC_MARKS)).translate(_ARABIC_LETTERS)


def _tokens(text: str) -> list[str]:
    return [token.strip("'-") or token for token in _WORD.findall(text)]


@dataclass(frozen=True)
class _Word:
    text: str
    stem: bool

    def matches(self, token: str) -> bool:
        return token.startswith(self.text) if self.stem else token == self.text


@dataclass(frozen=True)
class _Entry:
    words: tuple[_Word, ...]
    kind: str
    weight: float


@dataclass(frozen=True)
class _Hit:
    at: int
    length: int
    kind: str
    weight: float


class _Table:
    """A language's entries, found by their first word: whole, or by a stem."""

    def __init__(self, entries: list[_Entry], clitics: tuple[str, ...]) -> None:
        self._whole: dict[str, list[_Entry]] = {}
        self._stems: dict[str, list[_Entry]] = {}
        for entry in entries:
            first = entry.words[0]
            index = self._stems if first.stem else self._whole
            index.setdefault(first.text, []).append(entry)
        self._clitics = tuple(normalised(c) for c in clitics)

    def _forms(self, token: str) -> list[str]:
        forms = [token]
        for clitic in self._clitics:
            if token.startswith(clitic) and len(token) - len(clitic) >= 2:
                forms.append(token[len(clitic) :])
        return forms

    def hits(self, tokens: list[str]) -> list[_Hit]:
        found = []
        for at, token in enumerate(tokens):
            candidates: list[_Entry] = []
            for form in self._forms(token):
                candidates += self._whole.get(form, [])
                for size in range(min(len(form), MAX_STEM), 0, -1):
                    candidates += self._stems.get(form[:size], [])
            for entry in candidates:
                rest = tokens[at + 1 : at + len(entry.words)]
                if len(rest) == len(entry.words) - 1 and all(
                    word.matches(t) for word, t in zip(entry.words[1:], rest, strict=True)
                ):
                    found.append(_Hit(at, len(entry.words), entry.kind, entry.weight))
        return found


def _entry(phrase: str, kind: str, weight: float = 1.0) -> _Entry:
    words = tuple(
        _Word(word.rstrip("*"), word.endswith("*"))
        for word in normalised(phrase).replace(",", " ,").split()
    )
    return _Entry(words, kind, weight)


def _entries(lexicon: Lexicon) -> list[_Entry]:
    entries = [_entry(p, "positive", w) for p, w in lexicon.positive.items()]
    entries += [_entry(p, "negative", w) for p, w in lexicon.negative.items()]
    entries += [_entry(p, "negator") for p in lexicon.negators]
    entries += [_entry(p, "intensifier") for p in lexicon.intensifiers]
    entries += [_entry(p, "sarcasm") for p in lexicon.sarcasm]
    for intent, weighted in lexicon.intents.items():
        entries += [_entry(p, f"intent:{intent.value}", w) for p, w in weighted.items()]
    for signal, phrases in lexicon.signals.items():
        entries += [_entry(p, f"signal:{signal.value}", SIGNAL_MOOD[signal]) for p in phrases]
    return [entry for entry in entries if entry.words]


@cache
def _table(language: str) -> tuple[_Table, Lexicon]:
    """The language's table, English's entries included (customers mix them in); every
    language's for one not shipped."""
    lexicon = LEXICONS.get(language)
    if lexicon is None:
        entries = [e for lex in LEXICONS.values() for e in _entries(lex)]
        clitics = tuple(c for lex in LEXICONS.values() for c in lex.clitics)
        return _Table(entries, clitics), LEXICONS["en"]
    entries = _entries(lexicon) + (_entries(LEXICONS["en"]) if language != "en" else [])
    return _Table(entries, lexicon.clitics), lexicon


@dataclass(frozen=True)
class _Emphasis:
    shouting: bool
    exclamations: bool
    questions: bool
    angry_emoji: bool
    eye_roll: bool
    emoji_mood: float


def _emphasis(text: str) -> _Emphasis:
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    upper = sum(1 for c in letters if c.isupper())
    caps_words = re.findall(r"\b[A-Z]{4,}\b", text)
    shouting = (len(letters) >= 8 and upper / len(letters) >= 0.6) or len(caps_words) >= 2
    mood = sum(EMOJI_MOOD.get(c, 0.0) for c in text if not c.isalnum() and not c.isspace())
    return _Emphasis(
        shouting=shouting,
        exclamations="!!" in text,
        questions=bool(re.search(r"[?\u061f]{2,}", text)),
        angry_emoji=any(c in ANGRY_EMOJI for c in text),
        eye_roll=any(c in EYE_ROLL for c in text),
        emoji_mood=mood,
    )


def _clauses(tokens: list[str]) -> list[int]:
    clause, numbers = 0, []
    for token in tokens:
        if token in _CLAUSE_END:
            clause += 1
        numbers.append(clause)
    return numbers


def _sentiment_score(hits: list[_Hit], tokens: list[str], lexicon: Lexicon) -> float:
    clause = _clauses(tokens)
    negators = [hit.at for hit in hits if hit.kind == "negator"]
    boosters = [hit.at for hit in hits if hit.kind == "intensifier"]
    # A longer phrase wins over the words inside it ("not happy" aside, "no rush" is one).
    covered: set[int] = set()
    score = 0.0
    for hit in sorted(hits, key=lambda h: -h.length):
        if hit.kind not in ("positive", "negative") and not hit.kind.startswith("signal:"):
            continue
        span = set(range(hit.at, hit.at + hit.length))
        if span & covered:
            continue
        covered |= span
        value = hit.weight if hit.kind == "positive" else -hit.weight
        if hit.kind.startswith("signal:"):
            score += value
            continue
        negated = any(
            clause[n] == clause[hit.at]
            and n not in span
            and (
                0 < hit.at - n <= lexicon.negation_after
                or 0 < n - (hit.at + hit.length - 1) <= lexicon.negation_before
            )
            for n in negators
        )
        if negated:
            value = -value if value > 0 else -value * NEGATED_NEGATIVE
        if any(clause[b] == clause[hit.at] and 0 < abs(b - hit.at) <= 2 for b in boosters):
            value *= INTENSIFIER_BOOST
        score += value
    return score


def _strength(score: float) -> int:
    size = abs(score)
    if size < 0.6:
        return 0
    if size < 1.5:
        return 1
    if size < 3.0:
        return 2
    return 3


def _intent(
    hits: list[_Hit], sentiment: Sentiment, strength: int, context: TriageContext
) -> tuple[Intent, float]:
    scores: dict[Intent, float] = {}
    for hit in hits:
        if hit.kind.startswith("intent:"):
            intent = Intent(hit.kind.removeprefix("intent:"))
            scores[intent] = scores.get(intent, 0.0) + hit.weight
    if sentiment is Sentiment.POSITIVE and strength >= 2:
        scores[Intent.PRAISE] = scores.get(Intent.PRAISE, 0.0) + 1.0
    if sentiment is Sentiment.NEGATIVE and strength >= 3:
        scores[Intent.COMPLAINT] = scores.get(Intent.COMPLAINT, 0.0) + 1.0
    total = sum(scores.values())
    if total < 1.0:
        # A chaser ("??") asks again what the conversation asked before.
        if context.recent and context.unanswered:
            return context.recent[-1].intent, 0.5
        if sentiment is Sentiment.NEGATIVE and strength >= 2:
            return Intent.COMPLAINT, 0.4
        return Intent.OTHER, 0.3
    best = max(scores, key=lambda intent: scores[intent])
    return best, round(min(1.0, scores[best] / (total + 1.0) + 0.25), 2)


def _signals(
    hits: list[_Hit],
    tokens: list[str],
    sentiment: Sentiment,
    strength: int,
    intent: Intent,
    emphasis: _Emphasis,
    context: TriageContext,
    rules: TriageRules,
) -> tuple[UrgencySignal, ...]:
    cued = {
        UrgencySignal(h.kind.removeprefix("signal:")) for h in hits if h.kind.startswith("signal:")
    }
    negative = sentiment is Sentiment.NEGATIVE
    signals: list[UrgencySignal] = []
    for signal in (UrgencySignal.CHARGEBACK, UrgencySignal.LEGAL, UrgencySignal.SAFETY):
        # A threat is made in anger or distress; a question about a bank transfer is not.
        if signal in cued and negative and strength >= 2:
            signals.append(signal)
    angry = emphasis.shouting or emphasis.angry_emoji or UrgencySignal.ANGER in cued
    if negative and strength >= rules.anger_strength and angry:
        signals.append(UrgencySignal.ANGER)
    threat = UrgencySignal.CANCEL_THREAT in cued or (
        intent is Intent.CANCEL and negative and strength >= 3
    )
    if threat and negative:
        signals.append(UrgencySignal.CANCEL_THREAT)
    words = sum(1 for token in tokens if token not in _CLAUSE_END)
    chaser = words <= 12 or UrgencySignal.CHASING in cued or emphasis.questions
    if context.unanswered >= rules.chase_after and chaser:
        signals.append(UrgencySignal.CHASING)
    return tuple(signals)


def urgency_of(signals: tuple[UrgencySignal, ...], rules: TriageRules) -> Urgency:
    """What the shop's rules make of a message's signals, whichever engine found them."""
    if not signals:
        return Urgency.NONE
    if len(set(signals)) >= 2 or any(s in rules.urgent_signals for s in signals):
        return Urgency.URGENT
    return Urgency.HIGH


def triage(
    text: str,
    language: str,
    context: TriageContext | None = None,
    rules: TriageRules | None = None,
) -> Triage:
    """The `rules` engine's triage of one message in `language` (a shipped language's code;
    any other reads every lexicon)."""
    context = context or TriageContext()
    rules = rules or TriageRules()
    text = text[:MAX_CHARACTERS]
    table, lexicon = _table(language)
    tokens = _tokens(normalised(text))
    hits = table.hits(tokens)
    emphasis = _emphasis(text)
    score = _sentiment_score(hits, tokens, lexicon) + emphasis.emoji_mood
    chasing = context.unanswered > 0 or any(h.kind == "signal:chasing" for h in hits)
    if emphasis.questions and chasing:
        score -= IMPATIENCE
    ironic = emphasis.eye_roll or any(hit.kind == "sarcasm" for hit in hits)
    if ironic:
        score = -max(abs(score), 2.0)
    if score < 0 and (emphasis.shouting or emphasis.exclamations):
        score = score * SHOUTING_BOOST - 0.5
    strength = _strength(score)
    if strength == 0:
        sentiment = Sentiment.NEUTRAL
    else:
        sentiment = Sentiment.POSITIVE if score > 0 else Sentiment.NEGATIVE
    intent, confidence = _intent(hits, sentiment, strength, context)
    signals = _signals(hits, tokens, sentiment, strength, intent, emphasis, context, rules)
    return Triage(
        engine="rules",
        language=language,
        sentiment=sentiment,
        strength=strength,
        urgency=urgency_of(signals, rules),
        signals=signals,
        intent=intent,
        confidence=confidence,
    )


class RulesEngine:
    """The `rules` engine behind the triage port: pure, so the same object serves every
    shop and runs in tests as it does in Lambda."""

    name = "rules"

    def triage(
        self, text: str, language: str, context: TriageContext, policy: TriagePolicy
    ) -> Triage:
        return triage(text, language, context, policy.rules)
