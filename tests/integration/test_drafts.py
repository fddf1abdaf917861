"""Drafts an agent can send, through Slack's interactions, the queue, the store and the
Bedrock stand-in: a draft is only ever ephemeral (shown to the agent who pressed, never
posted in the thread, never sent to the customer), a failing model is an ephemeral
explanation, and a shop not on Bedrock with drafts has no button."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.channels.slack import SlackWorkspace
from chalicelib.presentation.drafts import BY_MODEL
from chalicelib.presentation.slack_blocks import SlackMessage
from local_stack.sandbox.bedrock import SCRIPTED_DRAFTS, BedrockStandIn
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.test_card_actions import card_buttons, customer_writes, press
from tests.integration.test_triage_engines import MODEL
from tests.signing import shop_document

CUSTOMER = "+5511987654321"
DRAFTING = {"engine": "bedrock", "model_id": MODEL, "region": "us-east-1", "drafts": True}


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, outbox: Outbox) -> Iterator[BedrockStandIn]:
    stand_in = BedrockStandIn(outbox)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in.start())
    yield stand_in
    stand_in.stop()


def opened(
    client: Any, container: Any, run_workers: Callable[[], int], slack: FakeSlack
) -> tuple[str, str]:
    """A customer writes in Portuguese; returns (the card's ts, the buttons' value)."""
    customer_writes(client, 1, "Olá, onde está o meu pedido? Já faz uma semana.")
    run_workers()
    [root] = slack.roots()
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    return root.ts, f"ana:{found.conversation_id}"


def latest_card_buttons(slack: FakeSlack, root_ts: str) -> list[str]:
    shown = [u for u in slack.updates if u.ts == root_ts] or slack.roots()
    return card_buttons(shown[-1].message.blocks)


def test_a_draft_is_only_ever_ephemeral_to_the_agent_who_pressed(
    client: Any,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    bedrock: BedrockStandIn,
    outbox: Outbox,
) -> None:
    # Given a shop on Bedrock with drafts, and a customer's conversation
    assert put_shop("ana", shop_document(triage=DRAFTING)).status_code == 201
    root_ts, ref = opened(client, container, run_workers, slack)
    assert "draft_reply" in latest_card_buttons(slack, root_ts)
    posts, sent = len(slack.posts), len(twilio.sent)

    # When an agent presses Draft a reply
    assert press(client, "draft_reply", root_ts, ref, user="U0AGENT2") == 200
    run_workers()

    # Then the draft, in the customer's language and said to be a model's, is shown to
    # that agent alone, in the thread; nothing is posted, nothing is sent
    [shown] = slack.ephemerals
    assert (shown.channel, shown.user_id, shown.thread_ts) == ("C0SUPPORT", "U0AGENT2", root_ts)
    blocks = json.dumps(shown.message.blocks, ensure_ascii=False)
    assert SCRIPTED_DRAFTS["pt"] in blocks
    assert BY_MODEL in blocks
    assert len(slack.posts) == posts
    assert len(twilio.sent) == sent
    # The model was asked through its forced tool, in Portuguese
    assert outbox.entries("bedrock", "Converse")[-1].payload == {
        "model": MODEL,
        "stopReason": "tool_use",
    }
    # And the conversation is unchanged by it
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert found.assignee_user_id is None


@pytest.mark.parametrize("failure", ["throttled", "malformed"])
def test_a_failing_model_is_an_ephemeral_explanation(
    failure: str,
    client: Any,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    bedrock: BedrockStandIn,
    log_lines: Any,
) -> None:
    assert put_shop("ana", shop_document(triage=DRAFTING)).status_code == 201
    root_ts, ref = opened(client, container, run_workers, slack)
    posts, sent = len(slack.posts), len(twilio.sent)
    if failure == "throttled":
        bedrock.throttle(5)
    else:
        bedrock.answer_next([{"text": "Olá! Seu pedido chegou."}], "end_turn")

    assert press(client, "draft_reply", root_ts, ref, user="U0AGENT2") == 200
    run_workers()

    [shown] = slack.ephemerals
    assert shown.user_id == "U0AGENT2"
    assert "No draft available (the model " in shown.message.text
    assert len(slack.posts) == posts
    assert len(twilio.sent) == sent
    logged = log_lines.getvalue()
    assert "no draft from the model" in logged
    assert "onde está" not in logged
    assert "Seu pedido" not in logged


@pytest.mark.parametrize(
    "triage",
    [
        {"engine": "rules"},
        {"engine": "bedrock", "model_id": MODEL, "region": "us-east-1"},
        None,
    ],
    ids=["rules", "bedrock without drafts", "no triage"],
)
def test_a_shop_without_drafts_has_no_button_and_a_stale_press_explains(
    triage: dict[str, Any] | None,
    client: Any,
    put_shop: Callable[..., Any],
    container: Any,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    bedrock: BedrockStandIn,
    outbox: Outbox,
) -> None:
    document = shop_document(triage=triage) if triage else shop_document()
    assert put_shop("ana", document).status_code == 201
    root_ts, ref = opened(client, container, run_workers, slack)
    assert "draft_reply" not in latest_card_buttons(slack, root_ts)
    posts = len(slack.posts)

    # A press from a card drawn while drafts were on asks no model
    assert press(client, "draft_reply", root_ts, ref, user="U0AGENT2") == 200
    run_workers()
    [shown] = slack.ephemerals
    assert "drafts are not turned on" in shown.message.text
    assert len(slack.posts) == posts
    converse = [e for e in outbox.entries("bedrock") if e.method == "Converse"]
    assert all(e.payload.get("stopReason") == "tool_use" for e in converse)
    assert len(converse) == (1 if triage and triage["engine"] == "bedrock" else 0)


def test_the_slack_stand_in_shows_an_ephemeral_to_one_user_outside_the_thread(
    outbox: Outbox,
) -> None:
    stand_in = SlackStandIn(outbox)
    stand_in.start()
    try:
        workspace = SlackWorkspace("xoxb-test", stand_in.base_url)
        root = workspace.post("C0SUPPORT", SlackMessage("card", []))
        workspace.post_ephemeral("C0SUPPORT", "U0AGENT2", SlackMessage("draft", []), thread_ts=root)
        [call] = outbox.entries("slack", "chat.postEphemeral")
        assert (call.payload["user"], call.payload["thread_ts"]) == ("U0AGENT2", root)
        # Not in the thread anyone reads: refused for good (user_not_found), never retried
        assert not workspace.post_ephemeral("C0SUPPORT", "C0OTHER", SlackMessage("draft", []))
    finally:
        stand_in.stop()
