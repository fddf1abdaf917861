"""The comprehend and bedrock triage engines with scripted clients: the answer validated,
each kind of failure falling back to the rules engine and counted, the time bounded, and
Comprehend asked only in the languages it reads."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pydantic import ValidationError

from chalicelib.domain.triage.policy import TriagePolicy, TriageRules
from chalicelib.domain.triage.record import (
    Intent,
    Sentiment,
    TriageContext,
    Urgency,
    UrgencySignal,
)
from chalicelib.domain.triage.rules import RulesEngine
from chalicelib.services.ports import Metric
from chalicelib.triage_engines.bedrock import (
    ANSWER_SCHEMA,
    TOOL_NAME,
    BedrockAnswer,
    BedrockEngine,
    answer_of,
    converse_request,
)
from chalicelib.triage_engines.comprehend import ComprehendEngine, comprehend_text
from chalicelib.triage_engines.guard import Bounded, FallbackReason, Malformed, reason_of
from tests.fakes import FakeMetrics

BEDROCK = TriagePolicy.model_validate(
    {"engine": "bedrock", "model_id": "anthropic.claude-3-haiku-20240307-v1:0"}
)
COMPREHEND = TriagePolicy.model_validate({"engine": "comprehend", "region": "eu-west-1"})
FURIOUS = "I'm filing a chargeback with my bank!!! Where is my refund???"
READING = {
    "sentiment": "negative",
    "strength": 3,
    "urgency": "urgent",
    "signals": ["chargeback", "anger"],
    "intent": "refund",
    "confidence": 0.9,
}


def tool_answer(reading: Any, name: str = TOOL_NAME, stop: str = "tool_use") -> dict[str, Any]:
    use = {"toolUse": {"toolUseId": "tooluse_1", "name": name, "input": reading}}
    return {"output": {"message": {"role": "assistant", "content": [use]}}, "stopReason": stop}


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": FURIOUS}}
    response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "Converse")


class Scripted:
    """A client whose every call answers, or raises, what the test says, after `delay`."""

    def __init__(self, answer: Any, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.calls: list[dict[str, Any]] = []

    def _call(self, **params: Any) -> Any:
        self.calls.append(params)
        time.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    converse = _call
    detect_sentiment = _call


def bedrock(client: Scripted, seconds: float = 1.0) -> tuple[BedrockEngine, FakeMetrics]:
    metrics = FakeMetrics()
    return BedrockEngine(lambda region: client, RulesEngine(), metrics, Bounded(seconds)), metrics


def comprehend(client: Scripted) -> tuple[ComprehendEngine, FakeMetrics, list[str | None]]:
    metrics, regions = FakeMetrics(), []

    def made(region: str | None) -> Scripted:
        regions.append(region)
        return client

    return ComprehendEngine(made, RulesEngine(), metrics, Bounded(1.0)), metrics, regions


def test_the_shops_bedrock_config_needs_a_model_and_keeps_it_for_bedrock() -> None:
    with pytest.raises(ValidationError, match="needs model_id"):
        TriagePolicy.model_validate({"engine": "bedrock"})
    with pytest.raises(ValidationError, match="bedrock engine only"):
        TriagePolicy.model_validate({"engine": "comprehend", "model_id": "amazon.nova-micro-v1:0"})
    with pytest.raises(ValidationError, match="region"):
        TriagePolicy.model_validate({"engine": "rules", "region": "eu-west-1"})
    with pytest.raises(ValidationError):
        TriagePolicy.model_validate({"engine": "comprehend", "region": "Ireland"})
    assert COMPREHEND.region == "eu-west-1"


def test_a_valid_answer_is_read_with_the_shops_rules() -> None:
    answer = answer_of(tool_answer(READING))

    read = answer.triage("en", TriageContext(), TriageRules())

    assert (read.engine, read.sentiment, read.strength) == ("bedrock", Sentiment.NEGATIVE, 3)
    assert (read.urgency, read.intent, read.confidence) == (Urgency.URGENT, Intent.REFUND, 0.9)
    assert read.signals == (UrgencySignal.CHARGEBACK, UrgencySignal.ANGER)


def test_signals_count_as_the_shop_counts_them() -> None:
    # The model saw anger at strength 2 and chasing with one message waiting; the shop
    # counts anger from 3 and chasing from 2 unanswered: nothing is left to raise.
    reading = {**READING, "strength": 2, "urgency": "urgent", "signals": ["anger", "chasing"]}

    read = BedrockAnswer.model_validate(reading).triage(
        "en", TriageContext(unanswered=1), TriageRules()
    )

    assert (read.signals, read.urgency) == ((), Urgency.NONE)
    # A cancel threat alone is high under the default rules, urgent where the shop says so
    threat = BedrockAnswer.model_validate({**READING, "signals": ["cancel_threat"]})
    assert threat.triage("en", TriageContext(), TriageRules()).urgency is Urgency.HIGH
    strict = TriageRules(urgent_signals=(UrgencySignal.CANCEL_THREAT,))
    assert threat.triage("en", TriageContext(), strict).urgency is Urgency.URGENT


@pytest.mark.parametrize(
    "response",
    [
        tool_answer({**READING, "intent": "gossip"}),
        tool_answer({**READING, "sentiment": "neutral"}),  # neutral at strength 3
        tool_answer({**READING, "confidence": 1.5}),
        tool_answer({**READING, "mood": "bad"}),
        tool_answer({k: v for k, v in READING.items() if k != "signals"}),
        tool_answer("negative, refund"),
        tool_answer(READING, name="other_tool"),
        tool_answer(READING, stop="max_tokens"),
        {"output": {"message": {"role": "assistant", "content": [{"text": "It's a refund"}]}}},
        {"stopReason": "tool_use"},
    ],
    ids=[
        "unknown intent",
        "strength of neutral",
        "confidence",
        "extra field",
        "missing field",
        "not an object",
        "another tool",
        "cut short",
        "text",
        "no output",
    ],
)
def test_a_malformed_answer_is_refused(response: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        answer_of(response)


def test_the_request_forces_the_tool_whose_schema_the_answer_follows() -> None:
    request = converse_request("amazon.nova-micro-v1:0", "x" * 5000, "hi", TriageContext())

    tool = request["toolConfig"]["tools"][0]["toolSpec"]
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": tool["name"]}}
    assert tool["inputSchema"]["json"] is ANSWER_SCHEMA
    assert set(ANSWER_SCHEMA["required"]) == set(BedrockAnswer.model_fields)
    facts, text = request["messages"][0]["content"]
    assert "Language of the message: hi" in facts["text"]
    assert len(text["text"]) == 2000


def test_a_valid_bedrock_answer_is_used_in_the_shops_region() -> None:
    client = Scripted(tool_answer(READING))
    engine, metrics = bedrock(client)

    read = engine.triage(FURIOUS, "en", TriageContext(), BEDROCK)

    assert read.engine == "bedrock"
    assert client.calls[0]["modelId"] == BEDROCK.model_id
    assert metrics.counts(Metric.TRIAGE_FALLBACK) == 0


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (client_error("ThrottlingException", 429), FallbackReason.THROTTLED),
        (client_error("ValidationException", 400), FallbackReason.REFUSED),
        (client_error("AccessDeniedException", 403), FallbackReason.REFUSED),
        (client_error("ModelTimeoutException", 408), FallbackReason.TIMEOUT),
        (client_error("InternalServerException", 500), FallbackReason.UNAVAILABLE),
        (ReadTimeoutError(endpoint_url="https://bedrock"), FallbackReason.TIMEOUT),
        (EndpointConnectionError(endpoint_url="https://bedrock"), FallbackReason.UNAVAILABLE),
        (tool_answer({**READING, "intent": "gossip"}), FallbackReason.MALFORMED),
    ],
    ids=lambda value: value.value if isinstance(value, FallbackReason) else "",
)
def test_each_failure_falls_back_to_rules_and_is_counted(
    failure: Any, reason: FallbackReason, caplog: pytest.LogCaptureFixture
) -> None:
    engine, metrics = bedrock(Scripted(failure))

    read = engine.triage(FURIOUS, "en", TriageContext(), BEDROCK)

    assert read == RulesEngine().triage(FURIOUS, "en", TriageContext(), BEDROCK)
    assert metrics.counts(Metric.TRIAGE_FALLBACK) == 1
    if isinstance(failure, Exception):
        assert reason_of(failure) is reason
    # The fallback is logged without the message, even where the service's error quotes it
    assert "triage fell back to rules" in caplog.text
    assert "chargeback" not in caplog.text


def test_a_slow_model_is_given_up_on_at_the_deadline() -> None:
    engine, metrics = bedrock(Scripted(tool_answer(READING), delay=1.0), seconds=0.1)

    started = time.monotonic()
    read = engine.triage(FURIOUS, "en", TriageContext(), BEDROCK)

    assert time.monotonic() - started < 0.5
    assert read.engine == "rules"
    assert metrics.counts(Metric.TRIAGE_FALLBACK) == 1


def test_comprehend_reads_the_mood_where_it_reads_the_language() -> None:
    client = Scripted(
        {
            "Sentiment": "MIXED",
            "SentimentScore": {"Positive": 0.2, "Negative": 0.7, "Neutral": 0.05, "Mixed": 0.05},
        }
    )
    engine, metrics, regions = comprehend(client)

    read = engine.triage("Gostei da loja, mas o pedido atrasou", "pt", TriageContext(), COMPREHEND)

    assert (read.engine, read.sentiment) == ("comprehend", Sentiment.NEGATIVE)
    assert 1 <= read.strength <= 3
    assert client.calls == [{"Text": "Gostei da loja, mas o pedido atrasou", "LanguageCode": "pt"}]
    assert regions == ["eu-west-1"]
    assert metrics.counted == []


def test_comprehend_is_not_asked_in_a_language_it_does_not_read() -> None:
    client = Scripted(client_error("UnsupportedLanguageException", 400))
    engine, metrics, _ = comprehend(client)

    text = "Nagyon elégedetlen vagyok, hol a csomagom???"
    read = engine.triage(text, "hu", TriageContext(), COMPREHEND)

    assert read == RulesEngine().triage(text, "hu", TriageContext(), COMPREHEND)
    assert (client.calls, metrics.counted) == ([], [])


def test_comprehend_failing_falls_back_to_rules() -> None:
    engine, metrics, _ = comprehend(Scripted({"Sentiment": "FURIOUS", "SentimentScore": {}}))

    read = engine.triage(FURIOUS, "en", TriageContext(), COMPREHEND)

    assert read.engine == "rules"
    assert metrics.counts(Metric.TRIAGE_FALLBACK) == 1


def test_comprehend_gets_under_5000_bytes_cut_between_characters() -> None:
    text = "पार्सल" * 1000  # 3 bytes a character

    sent = comprehend_text(text)

    assert 4990 < len(sent.encode("utf-8")) < 5000
    assert text.startswith(sent)
