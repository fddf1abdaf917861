"""The `comprehend` engine: Amazon Comprehend's DetectSentiment for the message's mood where
Comprehend reads its language, the rules engine for urgency and intent, and for the mood in
the languages Comprehend does not read (Hungarian and Indonesian among the shipped ones)."""

from collections.abc import Callable
from typing import Any

from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.triage.record import Sentiment, Triage, TriageContext
from chalicelib.services.ports import MetricsPort, TriageEngine
from chalicelib.triage_engines.guard import Bounded, FallingBack, Malformed

# DetectSentiment's languages (Comprehend's developer guide, "Languages supported").
SENTIMENT_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"}
)
# Comprehend takes fewer than 5,000 UTF-8 bytes, and bills each 100 characters: the rules
# engine's limit keeps both in bounds.
MAX_CHARACTERS = 2000
MAX_BYTES = 4999
# How sure Comprehend must be of a sentiment the rules engine did not see for it to count
# as strong (2) rather than mild (1): its score is a confidence, not an intensity.
STRONG_SCORE = 0.9
_SENTIMENTS = {
    "POSITIVE": Sentiment.POSITIVE,
    "NEGATIVE": Sentiment.NEGATIVE,
    "NEUTRAL": Sentiment.NEUTRAL,
}

# A client for a region (None: the deployment's).
Clients = Callable[[str | None], Any]


def comprehend_text(text: str) -> str:
    """The text as sent: at most MAX_CHARACTERS, under MAX_BYTES, cut between characters."""
    cut = text[:MAX_CHARACTERS].encode("utf-8")[:MAX_BYTES]
    return cut.decode("utf-8", errors="ignore")


def sentiment_of(answer: dict[str, Any]) -> tuple[Sentiment, float]:
    """DetectSentiment's answer as a sentiment and Comprehend's score for it. MIXED is the
    stronger of its positive and negative scores."""
    label = answer.get("Sentiment")
    scores = answer.get("SentimentScore")
    if not isinstance(scores, dict) or label not in (*_SENTIMENTS, "MIXED"):
        raise Malformed("DetectSentiment answered without a known sentiment")
    try:
        positive, negative = float(scores["Positive"]), float(scores["Negative"])
        neutral = float(scores["Neutral"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Malformed("DetectSentiment answered without its scores") from exc
    if label == "MIXED":
        return (
            (Sentiment.NEGATIVE, negative)
            if negative >= positive
            else (Sentiment.POSITIVE, positive)
        )
    sentiment = _SENTIMENTS[label]
    score = {Sentiment.POSITIVE: positive, Sentiment.NEGATIVE: negative}.get(sentiment, neutral)
    return sentiment, score


def with_sentiment(rules: Triage, sentiment: Sentiment, score: float) -> Triage:
    """The rules engine's triage with Comprehend's sentiment. Where both read the same
    polarity the rules engine's strength stands (it sees intensifiers, capitals and emoji);
    otherwise Comprehend's confidence sets it."""
    if sentiment is Sentiment.NEUTRAL:
        strength = 0
    elif rules.sentiment is sentiment:
        strength = rules.strength
    else:
        strength = 2 if score >= STRONG_SCORE else 1
    return rules.model_copy(
        update={"engine": "comprehend", "sentiment": sentiment, "strength": strength}
    )


class ComprehendEngine:
    name = "comprehend"

    def __init__(
        self, clients: Clients, rules: TriageEngine, metrics: MetricsPort, bounded: Bounded
    ) -> None:
        self._clients = clients
        self._made: dict[str | None, Any] = {}
        self._rules = rules
        self._bounded = bounded
        self._fall_back = FallingBack(self.name, rules, metrics)

    def triage(
        self, text: str, language: str, context: TriageContext, policy: TriagePolicy
    ) -> Triage:
        read = self._rules.triage(text, language, context, policy)
        if language not in SENTIMENT_LANGUAGES:
            return read
        client = self._client(policy.region)
        sent = comprehend_text(text)
        try:
            answer = self._bounded.run(
                lambda: client.detect_sentiment(Text=sent, LanguageCode=language)
            )
            sentiment, score = sentiment_of(answer)
        except Exception as error:
            return self._fall_back(error, text, language, context, policy)
        return with_sentiment(read, sentiment, score)

    def _client(self, region: str | None) -> Any:
        # Made here, never on the worker thread: making clients is not thread-safe.
        if region not in self._made:
            self._made[region] = self._clients(region)
        return self._made[region]
