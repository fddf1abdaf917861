"""Hand-off summaries: the extractive digest's content and bounds, its note (escaped, within
Slack's limits, labelled in the shop's working language), and the Bedrock summary's request,
validation and fallback."""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.handoff import (
    POINT_CHARACTERS,
    POINTS_QUOTED,
    HandoffDigest,
    HandoffReason,
    ModelSummary,
    first_sentence,
    handoff_digest,
    reopened_after_quiet,
)
from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.triage.record import Intent, Sentiment, Triage, TriageMark
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.handoff import LABELS, digest_note, labels_for, model_note
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.ports import Metric
from chalicelib.triage_engines.bedrock_summary import (
    MAX_CHARACTERS,
    TOOL_NAME,
    BedrockSummaries,
    conversation_lines,
    summary_request,
)
from chalicelib.triage_engines.guard import Bounded
from local_stack.slack_limits import message_refusal
from tests.fakes import FakeMetrics

AT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
SHIPPED = ("en", "hi", "ar", "hu", "id", "pt", "es")


def conversation(**changes: object) -> Conversation:
    values: dict[str, object] = {
        "shop_id": "ana",
        "conversation_id": "01C",
        "channel": Channel.SMS,
        "customer_address": "+5511987654321",
        "shop_address": "+14155550100",
        "created_at": AT,
        "last_customer_message_at": AT,
    }
    return Conversation.model_validate(values | changes)


def customer(text: str, minute: int, intent: Intent | None = None) -> dict[str, object]:
    item: dict[str, object] = {
        "text": text,
        "received_at": (AT + timedelta(minutes=minute)).isoformat(),
    }
    if intent is not None:
        triage = Triage(language="en", sentiment=Sentiment.NEUTRAL, strength=0, intent=intent)
        item["triage"] = triage.model_dump_json()
    return item


def reply(text: str, minute: int, automatic: bool = False) -> dict[str, object]:
    return {
        "text": text,
        "agent_user_id": "U0AGENT",
        "automatic": automatic,
        "created_at": (AT + timedelta(minutes=minute)).isoformat(),
        "status": "sent",
    }


def mrkdwn_of(message: SlackMessage) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def test_the_digest_says_what_is_wanted_done_and_open() -> None:
    items = [
        reply("Hi, how can we help?", 4, automatic=True),
        customer("Where is my parcel? It was due Monday.", 1, Intent.ORDER_STATUS),
        customer("I want my money back!! Now.", 10, Intent.REFUND),
        reply("Sorry, looking into it.", 5),
        customer("Hello??", 11, Intent.OTHER),
    ]
    digest = handoff_digest(conversation(), items)
    assert digest.intents == (Intent.ORDER_STATUS, Intent.REFUND)
    assert digest.points == ("Where is my parcel?", "I want my money back!!", "Hello??")
    assert (digest.customer_messages, digest.agent_replies, digest.automatic_replies) == (3, 1, 1)
    # The two messages after the agent's reply wait.
    assert digest.unanswered == 2


def test_the_digest_takes_intents_from_the_conversations_marks_each_once_latest_last() -> None:
    marks = tuple(
        TriageMark(at=AT, mood=0, intent=intent)
        for intent in (Intent.REFUND, Intent.DELIVERY_PROBLEM, Intent.REFUND)
    )
    digest = handoff_digest(conversation(triage_marks=marks), [])
    assert digest.intents == (Intent.DELIVERY_PROBLEM, Intent.REFUND)
    assert digest == HandoffDigest(intents=digest.intents)


def test_the_digest_quotes_only_the_latest_points_each_bounded() -> None:
    items = [customer(f"message {n} " + "x" * 500, n) for n in range(10)]
    digest = handoff_digest(conversation(), items)
    assert len(digest.points) == POINTS_QUOTED
    assert digest.points[0].startswith("message 7 ")
    assert all(len(point) <= POINT_CHARACTERS for point in digest.points)


def test_a_stored_triage_that_does_not_read_is_left_out() -> None:
    item = customer("Hi", 1) | {"triage": "{not json"}
    assert handoff_digest(conversation(), [item]).intents == ()


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Onde está meu pedido? Paguei ontem.", "Onde está meu pedido?"),
        ("मेरा ऑर्डर कहाँ है। बहुत देर हो गई", "मेरा ऑर्डर कहाँ है।"),
        ("أين طلبي؟ لقد دفعت", "أين طلبي؟"),
        ("line one\nline two", "line one"),
        ("  no   end  ", "no end"),
        ("", ""),
    ],
)
def test_the_first_sentence_is_found_in_any_script(text: str, first: str) -> None:
    assert first_sentence(text) == first


def test_the_note_escapes_the_customers_words_and_fits_slack() -> None:
    items = [customer("<!channel> & <https://evil.example|click> *bold*", 1)]
    note = digest_note(handoff_digest(conversation(), items), "en", HandoffReason.ASSIGNED, "U1")
    shown = mrkdwn_of(note)
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in shown
    assert "<!channel>" not in shown
    assert "<@U1>" in shown
    assert message_refusal({"text": note.text, "blocks": note.blocks}) is None


def test_a_huge_conversation_still_makes_a_note_slack_takes() -> None:
    items = [customer("ü" * 5000 + "<>&" * 3000, n) for n in range(200)]
    note = digest_note(handoff_digest(conversation(), items), "hu", HandoffReason.REQUESTED, "U1")
    assert message_refusal({"text": note.text, "blocks": note.blocks}) is None


@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_language_labels_every_part_and_intent(language: str) -> None:
    labels = labels_for(language)
    assert labels is LABELS[language]
    assert set(labels.intents) == set(Intent)
    digest = HandoffDigest(intents=(Intent.REFUND,), agent_replies=1, unanswered=2)
    shown = mrkdwn_of(digest_note(digest, language, HandoffReason.ASSIGNED, "U1"))
    for part in (labels.wants, labels.done, labels.still_open, labels.intents[Intent.REFUND]):
        assert part in shown
    assert labels.unanswered.format(count=2) in shown


@pytest.mark.parametrize(
    ("language", "wants"),
    [
        ("pt", "O que o cliente quer"),
        ("es", "Qué quiere el cliente"),
        ("pt_BR", "O que o cliente quer"),
        ("fr", "What the customer wants"),
    ],
)
def test_the_labels_follow_the_working_language(language: str, wants: str) -> None:
    note = digest_note(HandoffDigest(), language, HandoffReason.REOPENED, None)
    assert wants in mrkdwn_of(note)


def test_a_models_summary_is_escaped_bounded_and_said_to_be_a_models() -> None:
    summary = ModelSummary(
        wants="<!here> a refund " + "y" * 5000, done="Nothing.", still_open="All."
    )
    note = model_note(summary, "en", HandoffReason.REQUESTED, "U1")
    shown = mrkdwn_of(note)
    assert "&lt;!here&gt; a refund" in shown
    assert "<!here>" not in shown
    assert LABELS["en"].by_model in shown
    assert message_refusal({"text": note.text, "blocks": note.blocks}) is None


def test_the_request_keeps_the_latest_lines_within_bounds_and_forces_the_tool() -> None:
    lines = [("customer", f"line {n} " + "z" * 400) for n in range(100)]
    block = conversation_lines(lines)
    assert len(block) <= MAX_CHARACTERS
    assert block.splitlines()[-1].startswith("customer: line 99 ")
    request = summary_request("model", lines, "pt")
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    assert "pt" in request["messages"][0]["content"][0]["text"]


POLICY = TriagePolicy.model_validate(
    {"engine": "bedrock", "model_id": "anthropic.claude-3-haiku-20240307-v1:0"}
)


class Client:
    def __init__(self, answer: Any = None, error: Exception | None = None, delay: float = 0):
        self.answer = answer
        self.error = error
        self.delay = delay
        self.requests: list[dict[str, Any]] = []

    def converse(self, **request: Any) -> Any:
        self.requests.append(request)
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


def tool_answer(tool_input: Any, name: str = TOOL_NAME) -> dict[str, Any]:
    content = [{"toolUse": {"toolUseId": "t1", "name": name, "input": tool_input}}]
    return {"stopReason": "tool_use", "output": {"message": {"content": content}}}


def summaries(
    client: Client, seconds: float = 1.0, metrics: FakeMetrics | None = None
) -> BedrockSummaries:
    return BedrockSummaries(
        lambda region: client, Bounded(seconds, workers=1), metrics or FakeMetrics()
    )


def test_a_valid_answer_is_the_summary() -> None:
    answer = {"wants": "A refund.", "done": "Asked for the order.", "still_open": "The refund."}
    client = Client(tool_answer(answer))
    metrics = FakeMetrics()
    summariser = summaries(client, metrics=metrics)
    assert summariser.summarise([("customer", "hi")], "en", POLICY) == ModelSummary(**answer)
    assert metrics.counted == []
    assert client.requests[0]["modelId"] == POLICY.model_id


@pytest.mark.parametrize(
    "client",
    [
        Client(tool_answer({"wants": "x", "done": "y"})),
        Client(tool_answer({"wants": "x", "done": "y", "still_open": "z", "extra": 1})),
        Client(tool_answer({"wants": " ", "done": "y", "still_open": "z"})),
        Client(tool_answer({"wants": "x", "done": "y", "still_open": "z"}, name="other")),
        Client({"stopReason": "end_turn", "output": {"message": {"content": []}}}),
        Client(error=RuntimeError("unreachable")),
        Client(tool_answer({"wants": "x", "done": "y", "still_open": "z"}), delay=0.5),
    ],
    ids=["missing", "extra", "empty", "other tool", "text", "error", "too slow"],
)
def test_any_failure_answers_none_for_the_digest_and_is_counted(client: Client) -> None:
    metrics = FakeMetrics()
    summariser = summaries(client, seconds=0.1, metrics=metrics)
    assert summariser.summarise([("customer", "hi")], "en", POLICY) is None
    assert metrics.counted == [(Metric.SUMMARY_FALLBACK, None)]


@pytest.mark.parametrize(
    ("status", "quiet", "expected"),
    [
        ("resolved", timedelta(days=1, seconds=1), True),
        ("snoozed", timedelta(days=3), True),
        ("resolved", timedelta(days=1), False),
        ("resolved", timedelta(hours=5), False),
        ("open", timedelta(days=3), False),
        ("pending", timedelta(days=3), False),
    ],
)
def test_a_summary_is_due_when_the_customer_reopens_after_a_quiet_day(
    status: str, quiet: timedelta, expected: bool
) -> None:
    before = conversation(status=status)
    after = conversation(status="open")
    assert reopened_after_quiet(before, after, AT + quiet) is expected
