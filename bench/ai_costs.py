"""What each triage engine adds, and what Bedrock's summaries and drafts add: dollars per
1,000 customer messages at on-demand list prices (us-east-1), and the time the inbound
worker spends in the engine a message (the agent's wait, for a summary or a draft).

Costs come from the requests Threadline builds: Comprehend's units from each labelled
message as sent (cut, counted in 100-character units, 3 at least); Bedrock's tokens
estimated from the characters of the Converse request (a token for 4 ASCII characters or 2
others; no tokenizer is run), plus Anthropic's tool-use system prompt, with output tokens
assumed (`OUTPUT_TOKENS`). Latency is measured through the real engines: `rules` for real;
`comprehend` against moto (the client's work, no network, no service time); `bedrock`
against the Bedrock stand-in on localhost (signing, HTTP, parsing, validation; not a
model's thinking time, which Bedrock adds and the worker bounds at
THREADLINE_TRIAGE_SECONDS). docs/TRIAGE.md explains each figure."""

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench.triage import context_of, labelled
from chalicelib.domain.drafts import order_facts
from chalicelib.domain.orders import LookupOutcome, Money, Order, OrderSummary
from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.triage.rules import RulesEngine
from chalicelib.triage_engines.bedrock import converse_request
from chalicelib.triage_engines.bedrock_draft import draft_request
from chalicelib.triage_engines.bedrock_summary import summary_request
from chalicelib.triage_engines.comprehend import SENTIMENT_LANGUAGES, comprehend_text

# On-demand list prices, us-east-1, in dollars (docs/TRIAGE.md cites the pages and when
# they were read).
COMPREHEND_UNIT = 0.0001  # a unit of 100 characters
COMPREHEND_MIN_UNITS = 3


@dataclass(frozen=True)
class ModelPrice:
    model_id: str
    input: float  # dollars a token
    output: float
    # The provider's tool-use system prompt, billed as input (Anthropic's, with a forced tool).
    tool_overhead: int


MODELS = {
    "Claude 3 Haiku": ModelPrice(
        "anthropic.claude-3-haiku-20240307-v1:0", 0.25 / 1e6, 1.25 / 1e6, tool_overhead=340
    ),
    "Amazon Nova Micro": ModelPrice("amazon.nova-micro-v1:0", 0.035 / 1e6, 0.14 / 1e6, 0),
}
# Assumed answer lengths in tokens (the tool call's JSON and its wrapper).
OUTPUT_TOKENS = {"triage": 80, "summary": 150, "draft": 120}
# A conversation is 3 customer messages (bench/cost.py's mix), handed off once (one
# summary) and, with drafts on, drafted once.
CUSTOMER_MESSAGES_PER_CONVERSATION = 3
AGENT_REPLY = (
    "Thank you for writing. I am checking this with the warehouse and will tell you today."
)
# Calls timed a figure (the median kept).
ROUNDS = 60


def estimated_tokens(request: dict[str, Any]) -> int:
    """Input tokens of a Converse request, estimated from its characters."""
    sent = json.dumps(
        [request["system"], request["messages"], request.get("toolConfig")], ensure_ascii=False
    )
    ascii_characters = sum(1 for character in sent if ord(character) < 128)
    return math.ceil(ascii_characters / 4 + (len(sent) - ascii_characters) / 2)


def comprehend_units(text: str, language: str) -> int:
    """The units Comprehend bills a message (none where the engine does not call it)."""
    if language not in SENTIMENT_LANGUAGES:
        return 0
    return max(COMPREHEND_MIN_UNITS, math.ceil(len(comprehend_text(text)) / 100))


def _sample_order() -> OrderSummary:
    placed = datetime(2026, 11, 20, tzinfo=UTC)
    order = Order(
        number="1042",
        placed_at=placed,
        total=Money(amount=Decimal("89.90"), currency="BRL"),
        payment_status="paid",
        fulfilment_status="fulfilled",
        delivery_status="in_transit",
        carrier="Correios",
        tracking_number="BR123456789",
        tracking_url="https://rastreamento.correios.com.br/app/index.php?objeto=BR123456789",
    )
    return OrderSummary(outcome=LookupOutcome.FOUND, checked_at=placed, orders=(order,))


def conversations(items: Sequence[dict[str, Any]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The labelled messages of each language in conversations of three, an agent's reply
    between them: (language, lines)."""
    made = []
    for language in sorted({item["language"] for item in items}):
        texts = [item["text"] for item in items if item["language"] == language]
        for start in range(0, len(texts) - 2, CUSTOMER_MESSAGES_PER_CONVERSATION):
            lines: list[tuple[str, str]] = []
            for text in texts[start : start + CUSTOMER_MESSAGES_PER_CONVERSATION]:
                lines += [("customer", text), ("agent", AGENT_REPLY)]
            made.append((language, lines[:-1]))
    return made


def costs(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Dollars per 1,000 customer messages: triage by engine, summaries and drafts by model."""
    comprehend = statistics.fmean(comprehend_units(i["text"], i["language"]) for i in items)
    orders = order_facts(_sample_order())
    talks = conversations(items)
    per_thousand: dict[str, Any] = {
        "rules": {"dollars": 0.0},
        "comprehend": {
            "units_per_message": comprehend,
            "dollars": comprehend * COMPREHEND_UNIT * 1000,
        },
    }
    per_conversation = 1000 / CUSTOMER_MESSAGES_PER_CONVERSATION
    for name, model in MODELS.items():
        triage_in = statistics.fmean(
            estimated_tokens(
                converse_request(model.model_id, i["text"], i["language"], context_of(i))
            )
            for i in items
        )
        summary_in = statistics.fmean(
            estimated_tokens(summary_request(model.model_id, lines, "en")) for _, lines in talks
        )
        draft_in = statistics.fmean(
            estimated_tokens(draft_request(model.model_id, lines, orders, language))
            for language, lines in talks
        )

        def dollars(tokens_in: float, kind: str, calls: float, model: ModelPrice = model) -> float:
            billed_in = tokens_in + model.tool_overhead
            return calls * (billed_in * model.input + OUTPUT_TOKENS[kind] * model.output)

        per_thousand[f"bedrock, {name}"] = {
            "input_tokens": triage_in + model.tool_overhead,
            "dollars": dollars(triage_in, "triage", 1000),
        }
        per_thousand[f"summaries, {name}"] = {
            "input_tokens": summary_in + model.tool_overhead,
            "dollars": dollars(summary_in, "summary", per_conversation),
        }
        per_thousand[f"drafts, {name}"] = {
            "input_tokens": draft_in + model.tool_overhead,
            "dollars": dollars(draft_in, "draft", per_conversation),
        }
    return per_thousand


class _Fallbacks:
    """MetricsPort that counts what fell back (a timed call that failed is no figure)."""

    def __init__(self) -> None:
        self.counted = 0

    def count(self, name: str, channel: str | None = None) -> None:
        self.counted += 1

    def seconds(self, name: str, value: float, channel: str | None = None) -> None:
        return None

    def value(self, name: str, value: float, channel: str | None = None) -> None:
        return None


def _median_ms(call: Callable[[], object], rounds: int = ROUNDS) -> float:
    call()  # the first call makes clients and connections
    taken = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        taken.append(time.perf_counter() - started)
    return float(statistics.median(taken)) * 1000


def latencies(items: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Milliseconds a call (median): the worker's time in each engine a message, and the
    agent's wait for a summary or a draft; and how many calls fell back (none expected)."""
    import boto3
    from moto import mock_aws

    from chalicelib.services.ports import TriageEngine
    from chalicelib.triage_engines.bedrock import BedrockEngine
    from chalicelib.triage_engines.bedrock_draft import BedrockDrafts
    from chalicelib.triage_engines.bedrock_summary import BedrockSummaries
    from chalicelib.triage_engines.comprehend import ComprehendEngine
    from chalicelib.triage_engines.guard import Bounded
    from local_stack.sandbox.bedrock import BedrockStandIn
    from local_stack.sandbox.outbox import Outbox

    turns = iter(range(10**9))

    def each(among: Sequence[Any]) -> Any:
        """The next of `among`, round and round: each call times another message."""
        return among[next(turns) % len(among)]

    def triaging(
        engine: TriageEngine, among: Sequence[dict[str, Any]], policy: TriagePolicy
    ) -> Callable[[], object]:
        def call() -> object:
            item = each(among)
            return engine.triage(item["text"], item["language"], context_of(item), policy)

        return call

    rules = RulesEngine()
    bounded = Bounded(5.0, workers=1)
    metrics = _Fallbacks()
    figures: dict[str, float] = {"rules": _median_ms(triaging(rules, items, TriagePolicy()))}
    with mock_aws():
        comprehend = ComprehendEngine(
            lambda region: boto3.client("comprehend", region_name="us-east-1"),
            rules,
            metrics,
            bounded,
        )
        policy = TriagePolicy.model_validate({"engine": "comprehend"})
        read = [item for item in items if item["language"] in SENTIMENT_LANGUAGES]
        figures["comprehend"] = _median_ms(triaging(comprehend, read, policy))
    stand_in = BedrockStandIn(Outbox())
    url = stand_in.start()
    try:

        def client(region: str | None) -> Any:
            return boto3.client(
                "bedrock-runtime",
                region_name="us-east-1",
                endpoint_url=url,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )

        model = MODELS["Claude 3 Haiku"].model_id
        policy = TriagePolicy.model_validate(
            {"engine": "bedrock", "model_id": model, "drafts": True}
        )
        engine = BedrockEngine(client, rules, metrics, bounded)
        figures["bedrock"] = _median_ms(triaging(engine, items, policy))
        talks = [lines for _, lines in conversations(items)]
        summaries = BedrockSummaries(client, bounded, metrics)
        figures["summary"] = _median_ms(lambda: summaries.summarise(each(talks), "en", policy))
        drafts = BedrockDrafts(client, bounded, metrics)
        orders = order_facts(_sample_order())
        figures["draft"] = _median_ms(lambda: drafts.draft(each(talks), orders, "pt", policy))
    finally:
        stand_in.stop()
    figures["fallbacks"] = metrics.counted
    return figures


def measure() -> dict[str, Any]:
    items = labelled()
    return {"cost_per_1000_messages": costs(items), "latency_ms": latencies(items)}
