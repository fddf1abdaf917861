"""Summaries at hand-off, through Slack's interactions, the queue and the store: a
conversation going to someone new gets one summary note in its thread, the card's
*Summarise* button posts one, and a shop on Bedrock gets its model's summary, or the
extractive digest when the model fails."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.presentation.handoff import LABELS
from local_stack.sandbox.bedrock import BedrockStandIn
from local_stack.sandbox.outbox import Outbox
from tests.fakes import FakeSlack
from tests.integration.conftest import Clock
from tests.integration.test_card_actions import card_buttons, customer_writes, press
from tests.integration.test_triage_engines import MODEL, on_bedrock

CUSTOMER = "+5511987654321"
EN = LABELS["en"]


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, outbox: Outbox) -> Any:
    stand_in = BedrockStandIn(outbox)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in.start())
    yield stand_in
    stand_in.stop()


def summaries(slack: FakeSlack, root_ts: str) -> list[str]:
    """The summary notes in the thread, as their blocks read."""
    shown = [
        json.dumps(post.message.blocks, ensure_ascii=False)
        for post in slack.posts
        if post.thread_ts == root_ts
    ]
    return [blocks for blocks in shown if f"*{EN.title}*" in blocks]


def opened(client: Any, container: Any, run_workers: Any, slack: FakeSlack) -> tuple[str, str]:
    """A customer writes twice; returns (the card's ts, the buttons' value)."""
    customer_writes(client, 1, "Where is my order <#123>? It was due Monday.")
    customer_writes(client, 2, "Hello?? I want a refund now")
    run_workers()
    [root] = slack.roots()
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    return root.ts, f"ana:{found.conversation_id}"


def test_a_conversation_going_to_someone_new_gets_one_summary_in_its_thread(
    client: Any, shop: str, container: Any, run_workers: Callable[[], int], slack: FakeSlack
) -> None:
    root_ts, ref = opened(client, container, run_workers, slack)

    # When one agent takes the conversation
    assert press(client, "assign_to_me", root_ts, ref, user="U0AGENT1") == 200
    run_workers()

    # Then one summary in the thread, for them: what is wanted (the customer's words
    # escaped), done and open
    [note] = summaries(slack, root_ts)
    assert "<@U0AGENT1>" in note
    assert "Where is my order &lt;#123&gt;?" in note
    assert "<#123>" not in note
    assert EN.no_replies in note
    assert EN.unanswered.format(count=2) in note

    # When the same agent presses again, nothing new; when a colleague takes it over, one more
    assert press(client, "assign_to_me", root_ts, ref, user="U0AGENT1") == 200
    run_workers()
    assert len(summaries(slack, root_ts)) == 1
    assert press(client, "assign_to_me", root_ts, ref, user="U0AGENT2") == 200
    run_workers()
    notes = summaries(slack, root_ts)
    assert len(notes) == 2
    assert "<@U0AGENT2>" in notes[1]

    # And unassigning posts none
    assert press(client, "unassign", root_ts, ref, user="U0AGENT2") == 200
    run_workers()
    assert len(summaries(slack, root_ts)) == 2


def test_the_cards_summarise_button_posts_one_summary(
    client: Any, shop: str, container: Any, run_workers: Callable[[], int], slack: FakeSlack
) -> None:
    root_ts, ref = opened(client, container, run_workers, slack)
    [root] = slack.roots()
    assert card_buttons(root.message.blocks)[-1] == "summarise"
    version = container.store.conversations.find_open_conversation("ana", CUSTOMER).version

    assert press(client, "summarise", root_ts, ref, user="U0AGENT3") == 200
    run_workers()

    [note] = summaries(slack, root_ts)
    assert "<@U0AGENT3>" in note
    assert "I want a refund now" not in note  # only each message's first sentence
    assert "Hello??" in note
    # Asking for a summary changes nothing of the conversation
    after = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert after.version == version


def test_a_shop_on_bedrock_gets_its_models_summary(
    client: Any,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    bedrock: BedrockStandIn,
    outbox: Outbox,
) -> None:
    on_bedrock(put_shop)
    root_ts, ref = opened(client, container, run_workers, slack)
    summary = {"wants": "A refund <!here>.", "done": "Nothing yet.", "still_open": "The refund."}
    bedrock.answer_next(
        [{"toolUse": {"toolUseId": "t1", "name": "record_summary", "input": summary}}]
    )

    assert press(client, "summarise", root_ts, ref) == 200
    run_workers()

    [note] = summaries(slack, root_ts)
    assert "A refund &lt;!here&gt;." in note
    assert EN.by_model in note
    assert outbox.entries("bedrock", "Converse")[-1].payload == {
        "model": MODEL,
        "stopReason": "tool_use",
    }


@pytest.mark.parametrize("failure", ["throttled", "malformed"])
def test_bedrock_failing_falls_back_to_the_digest(
    failure: str,
    client: Any,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    bedrock: BedrockStandIn,
    log_lines: Any,
) -> None:
    on_bedrock(put_shop)
    root_ts, ref = opened(client, container, run_workers, slack)
    if failure == "throttled":
        bedrock.throttle(5)
    else:
        bedrock.answer_next([{"text": "The customer wants a refund."}], "end_turn")

    assert press(client, "assign_to_me", root_ts, ref) == 200
    run_workers()

    [note] = summaries(slack, root_ts)
    assert EN.by_model not in note
    assert EN.unanswered.format(count=2) in note
    assert "Where is my order &lt;#123&gt;?" in note
    logged = log_lines.getvalue()
    assert "summary fell back to the digest" in logged
    assert "Where is my order" not in logged


@pytest.mark.parametrize(("quiet", "summarised"), [(timedelta(days=2), 1), (timedelta(hours=3), 0)])
def test_a_conversation_reopened_after_a_quiet_day_gets_a_summary(
    quiet: timedelta,
    summarised: int,
    client: Any,
    shop: str,
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    clock: Clock,
) -> None:
    # Given a conversation an agent resolved
    clock.now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    root_ts, ref = opened(client, container, run_workers, slack)
    assert press(client, "resolve", root_ts, ref) == 200
    run_workers()

    # When the customer writes again after a while
    clock.now += quiet
    customer_writes(client, 3, "Still nothing. Where is it?")
    run_workers()

    # Then a summary only after more than a day, its points the latest
    notes = summaries(slack, root_ts)
    assert len(notes) == summarised
    if notes:
        assert EN.reopened in notes[0]
        assert "Still nothing." in notes[0]
