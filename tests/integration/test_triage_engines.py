"""The comprehend and bedrock triage engines in the inbound worker, through the webhook, the
queues and the store: Bedrock (the sandbox's Converse stand-in, over HTTP) timing out, or
answering malformed, falls back to the rules engine with the message posted on time and the
fallback counted; a valid answer is used; Comprehend (moto) reads the mood where it reads the
language and leaves the rest to the rules engine."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.settings import Settings
from local_stack.sandbox.bedrock import BedrockStandIn
from local_stack.sandbox.faults import Fault
from local_stack.sandbox.outbox import Outbox
from tests.fakes import FakeSlack
from tests.integration.conftest import (
    ADMIN_TOKEN,
    MEDIA_BUCKET,
    PUBLIC_URL,
    stored_item,
)
from tests.integration.test_reports import emf_metrics, values_of
from tests.integration.test_triage import FURIOUS_HINDI, customer_writes
from tests.signing import SLACK_SIGNING_SECRET, shop_document

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# What the worker waits for an engine, here: the stand-in's slow answer takes longer.
DEADLINE_SECONDS = 0.5


@pytest.fixture
def settings() -> Settings:
    return Settings.model_validate(
        {
            "public_url": PUBLIC_URL,
            "admin_token": ADMIN_TOKEN,
            "slack_signing_secret": SLACK_SIGNING_SECRET,
            "retry_base_seconds": 0,
            "media_bucket": MEDIA_BUCKET,
            "triage_seconds": DEADLINE_SECONDS,
        }
    )


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, outbox: Outbox) -> Iterator[BedrockStandIn]:
    stand_in = BedrockStandIn(outbox)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in.start())
    yield stand_in
    stand_in.stop()


def message_triage(n: int) -> dict[str, Any]:
    item = stored_item(f"SHOP#ana#MSG#twilio:SM{n:032x}", "MESSAGE")
    assert item is not None
    triage: dict[str, Any] = json.loads(item["triage"])
    return triage


def fallbacks(output: str) -> int:
    return sum(len(values) for _, values in values_of(emf_metrics(output), "TriageFallback"))


def on_bedrock(put_shop: Callable[..., Any]) -> None:
    triage = {"engine": "bedrock", "model_id": MODEL, "region": "us-east-1"}
    assert put_shop("ana", shop_document(triage=triage)).status_code == 201


def test_bedrock_timing_out_falls_back_to_rules_and_the_message_is_posted_on_time(
    client: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    container: Any,
    bedrock: BedrockStandIn,
    capsys: pytest.CaptureFixture[str],
    log_lines: Any,
) -> None:
    # Given a shop on Bedrock whose model answers after 3 seconds
    on_bedrock(put_shop)
    bedrock.faults.add("Converse", Fault(delay_seconds=3.0))

    # When a customer writes furiously
    customer_writes(client, 1, FURIOUS_HINDI)
    started = time.monotonic()
    run_workers()
    took = time.monotonic() - started

    # Then the message is in Slack without waiting for the model
    [root] = slack.roots()
    assert FURIOUS_HINDI.split()[0] in json.dumps(root.message.blocks, ensure_ascii=False)
    assert took < 3.0
    # And the rules engine triaged it: urgent, the priority raised
    triage = message_triage(1)
    assert (triage["engine"], triage["urgency"]) == ("rules", "urgent")
    conversation = container.store.conversations.find_open_conversation("ana", "+5511987654321")
    assert conversation.priority.value == "urgent"
    # And the fallback is counted, and logged without the message
    assert fallbacks(capsys.readouterr().out) == 1
    logged = log_lines.getvalue()
    assert '"reason":"timeout"' in logged.replace(" ", "")
    assert FURIOUS_HINDI[:10] not in logged


def test_a_valid_bedrock_answer_is_used(
    client: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    bedrock: BedrockStandIn,
    outbox: Outbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a shop on Bedrock, when a customer writes
    on_bedrock(put_shop)

    customer_writes(client, 1, FURIOUS_HINDI)
    run_workers()

    # Then the shop's model was asked, and its answer is the message's triage
    [asked] = outbox.entries("bedrock", "Converse")
    assert asked.payload == {"model": MODEL, "stopReason": "tool_use"}
    triage = message_triage(1)
    assert (triage["engine"], triage["urgency"]) == ("bedrock", "urgent")
    assert "chargeback" in triage["signals"]
    assert fallbacks(capsys.readouterr().out) == 0


@pytest.mark.parametrize(
    "answer",
    [
        ([{"text": "The customer is angry."}], "end_turn"),
        (
            [{"toolUse": {"toolUseId": "t1", "name": "record_triage", "input": {"mood": "x"}}}],
            "tool_use",
        ),
    ],
    ids=["text", "invalid triage"],
)
def test_a_malformed_or_throttled_bedrock_answer_falls_back_to_rules(
    answer: tuple[list[dict[str, Any]], str],
    client: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    bedrock: BedrockStandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a shop on Bedrock whose model answers the first message malformed ...
    on_bedrock(put_shop)
    bedrock.answer_next(*answer)
    customer_writes(client, 1, FURIOUS_HINDI)
    run_workers()
    # ... and is throttled on the second, and on its one retry
    bedrock.throttle(2)
    customer_writes(client, 2, "??")
    run_workers()

    # Then both are triaged by the rules engine, posted, and each fallback counted

    assert [message_triage(n)["engine"] for n in (1, 2)] == ["rules", "rules"]
    assert len(slack.thread(slack.roots()[0].ts)) >= 2
    assert fallbacks(capsys.readouterr().out) == 2


def test_comprehend_reads_the_mood_where_it_reads_the_language_and_rules_elsewhere(
    client: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a shop on Comprehend (moto's answers a canned NEUTRAL)
    triage = {"engine": "comprehend", "region": "us-east-1"}
    assert put_shop("ana", shop_document(triage=triage)).status_code == 201

    # When a customer writes in Portuguese, which Comprehend reads, then in Hungarian, which
    # it does not
    customer_writes(client, 1, "Estou muito irritada, cadê meu pedido???")
    run_workers()
    customer_writes(client, 2, "Nagyon elégedetlen vagyok, hol a csomagom???")
    run_workers()

    # Then the first has Comprehend's mood, and the second the rules engine's reading
    portuguese, hungarian = message_triage(1), message_triage(2)
    assert (portuguese["engine"], portuguese["language"]) == ("comprehend", "pt")
    assert (portuguese["sentiment"], portuguese["strength"]) == ("neutral", 0)
    assert (hungarian["engine"], hungarian["language"]) == ("rules", "hu")
    assert hungarian["sentiment"] == "negative"
    assert fallbacks(capsys.readouterr().out) == 0
