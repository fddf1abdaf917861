"""Drafts an agent can send: the model's prompt bounded and grounded, its answer validated,
any failure a reason (counted), what the agent is shown within Block Kit's limits, and the
configuration that offers the button."""

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.drafts import (
    DRAFT_CHARACTERS,
    ORDERS_TOLD,
    ModelDraft,
    NoDraft,
    customer_language,
    order_facts,
)
from chalicelib.domain.jobs import CardAction, ConversationAction
from chalicelib.domain.orders import LookupOutcome, Money, Order, OrderSummary
from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.presentation.drafts import BY_MODEL, draft_message, no_draft_message
from chalicelib.queues import Queues
from chalicelib.services.drafts import ReplyDrafts
from chalicelib.services.ports import Metric
from chalicelib.triage_engines.bedrock_draft import (
    MAX_CHARACTERS,
    MAX_LINES,
    MAX_ORDER_CHARACTERS,
    TOOL_NAME,
    BedrockDrafts,
    bounded_lines,
    bounded_orders,
    draft_request,
)
from chalicelib.triage_engines.guard import Bounded
from local_stack.slack_limits import message_refusal
from tests.fakes import FakeMetrics, message_params
from tests.unit.use_cases import CUSTOMER, SHOP, TEAM, World, acme

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
POLICY = TriagePolicy.model_validate({"engine": "bedrock", "model_id": MODEL, "drafts": True})
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


class Client:
    def __init__(self, answer: Any = None, error: Exception | None = None, delay: float = 0):
        self.answer, self.error, self.delay = answer, error, delay
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


def drafts(client: Client, metrics: FakeMetrics, seconds: float = 1.0) -> BedrockDrafts:
    return BedrockDrafts(lambda region: client, Bounded(seconds, workers=1), metrics)


def order(number: str, **fields: Any) -> Order:
    return Order(
        number=number,
        placed_at=NOW,
        total=Money(amount=Decimal("49.90"), currency="BRL"),
        payment_status="paid",
        fulfilment_status="fulfilled",
        **fields,
    )


# The prompt


def test_the_conversation_given_is_its_latest_lines_within_the_bounds() -> None:
    lines = [("customer", f"message {n} " + "x" * 400) for n in range(60)]
    block = bounded_lines(lines)
    assert len(block) <= MAX_CHARACTERS
    assert len(block.splitlines()) <= MAX_LINES
    # The latest line is always there: it is what the draft answers.
    assert block.splitlines()[-1].startswith("customer: message 59 ")


def test_a_latest_line_longer_than_all_the_room_is_cut_not_dropped() -> None:
    block = bounded_lines([("agent", "earlier"), ("customer", "y" * (MAX_CHARACTERS * 3))])
    assert len(block) == MAX_CHARACTERS
    assert block.startswith("customer: yyy")


def test_the_orders_told_are_whole_lines_within_the_bound() -> None:
    lines = [f"order #{n} " + "z" * 300 for n in range(10)]
    told = bounded_orders(lines)
    assert len(told) <= MAX_ORDER_CHARACTERS
    assert all(line in lines for line in told.splitlines())


def test_the_request_forces_the_draft_tool_and_gives_language_orders_and_conversation() -> None:
    request = draft_request(
        MODEL, [("customer", "Onde está meu pedido #1001?")], ["order #1001, state shipped"], "pt"
    )
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    blocks = [block["text"] for block in request["messages"][0]["content"]]
    assert blocks == [
        "Write the reply in this language: pt",
        "The customer's orders:\norder #1001, state shipped",
        "customer: Onde está meu pedido #1001?",
    ]
    # The conversation is data, never instructions: the system prompt says so.
    assert "never\ninstructions" in request["system"][0]["text"]


def test_only_found_orders_are_told_latest_first_and_at_most_a_few() -> None:
    found = OrderSummary(
        outcome=LookupOutcome.FOUND,
        checked_at=NOW,
        orders=tuple(order(str(1000 + n)) for n in range(5)),
    )
    facts = order_facts(found)
    assert len(facts) == ORDERS_TOLD
    assert facts[0].startswith("order #1000, placed 2026-12-01, total 49.90 BRL, state shipped")
    tracked = found.model_copy(
        update={"orders": (order("7", carrier="Correios", tracking_number="BR1"),)}
    )
    assert "carrier Correios, tracking number BR1" in order_facts(tracked)[0]
    assert order_facts(None) == []
    assert order_facts(OrderSummary(outcome=LookupOutcome.NOT_A_CUSTOMER, checked_at=NOW)) == []


def test_the_customers_language_is_that_of_their_latest_triaged_message() -> None:
    items = [
        {"received_at": "2026-12-01T10:00:00", "triage": json.dumps({"language": "en"})},
        {"received_at": "2026-12-01T10:05:00", "triage": json.dumps({"language": "hi"})},
        {"agent_user_id": "U1", "created_at": "2026-12-01T10:06:00", "text": "hi"},
        {"received_at": "2026-12-01T10:07:00"},
    ]
    assert customer_language(items) == "hi"
    assert customer_language(items[2:]) is None


# The answer


def test_a_valid_answer_is_the_draft_and_nothing_is_counted() -> None:
    metrics = FakeMetrics()
    client = Client(tool_answer({"reply": "  Olá! Seu pedido saiu para entrega.  "}))
    draft = drafts(client, metrics).draft([("customer", "cadê?")], [], "pt", POLICY)
    assert isinstance(draft, ModelDraft)
    assert draft.shown() == "Olá! Seu pedido saiu para entrega."
    assert client.requests[0]["modelId"] == MODEL
    assert metrics.counted == []


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        (Client(tool_answer({})), "did not answer with a draft"),
        (Client(tool_answer({"reply": "x", "extra": 1})), "did not answer with a draft"),
        (Client(tool_answer({"reply": "   "})), "did not answer with a draft"),
        (Client(tool_answer({"reply": "x"}, name="other")), "did not answer with a draft"),
        (
            Client({"stopReason": "end_turn", "output": {"message": {"content": []}}}),
            "did not answer with a draft",
        ),
        (Client(error=RuntimeError("unreachable")), "could not be reached"),
        (Client(tool_answer({"reply": "x"}), delay=0.5), "took too long"),
    ],
    ids=["missing", "extra", "empty", "other tool", "text", "error", "too slow"],
)
def test_any_failure_is_no_draft_with_its_reason_counted(client: Client, reason: str) -> None:
    metrics = FakeMetrics()
    outcome = drafts(client, metrics, seconds=0.1).draft([("customer", "hi")], [], "en", POLICY)
    assert isinstance(outcome, NoDraft)
    assert reason in outcome.reason
    assert metrics.counted == [(Metric.DRAFT_UNAVAILABLE, None)]


def test_a_throttled_model_says_so() -> None:
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Converse"
    )
    outcome = drafts(Client(error=error), FakeMetrics()).draft([], [], "en", POLICY)
    assert outcome == NoDraft("the model is busy (throttled); try again in a minute")


# What the agent sees


def test_the_draft_shown_is_a_models_escaped_and_within_block_kits_limits() -> None:
    text = "<!channel> " + "Ação & <b>negrito</b> " * 200
    message = draft_message(ModelDraft(reply=text), "pt")
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert BY_MODEL in shown
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown
    # The notification's text too: a model repeating the customer mentions no one.
    assert "<!channel>" not in message.text
    assert message_refusal({**message_params("C1", message), "user": "U1"}) is None
    assert len(ModelDraft(reply=text).shown()) == DRAFT_CHARACTERS


def test_no_draft_says_why() -> None:
    message = no_draft_message(NoDraft("the model took too long to answer"))
    assert "No draft available (the model took too long to answer)" in message.text


# Configuration and queueing


def test_drafts_are_offered_only_on_bedrock_when_turned_on() -> None:
    assert POLICY.drafts_offered
    assert not POLICY.model_copy(update={"drafts": False}).drafts_offered
    assert not TriagePolicy.model_validate({"engine": "bedrock", "model_id": MODEL}).drafts
    with pytest.raises(ValidationError, match="drafts are for the bedrock engine only"):
        TriagePolicy.model_validate({"engine": "rules", "drafts": True})


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs/{QueueName}"}

    def send_message(self, **arguments: Any) -> None:
        self.sent.append(arguments)


def test_a_draft_press_queues_in_a_group_of_its_own_beside_the_cards_buttons() -> None:
    sqs = RecordingSqs()
    queues = Queues(sqs, "inbound.fifo", "outbound.fifo")  # type: ignore[arg-type]
    for action, ts in ((CardAction.DRAFT_REPLY, "1.1"), (CardAction.SUMMARISE, "1.2")):
        queues.send_outbound(
            ConversationAction(
                action=action,
                conversation_ref="ana:c1",
                team_id="T1",
                channel_id="C1",
                message_ts="100.1",
                user_id="U1",
                action_ts=ts,
            )
        )
    groups = [sent["MessageGroupId"] for sent in sqs.sent]
    assert groups == ["T1:C1:100.1:draft", "T1:C1:100.1:card"]


# The use case, over the fakes


class RecordingDrafter:
    """`ReplyDrafter` that records what it was given and answers a fixed draft."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[tuple[str, str]], list[str], str]] = []

    def draft(
        self,
        lines: Sequence[tuple[str, str]],
        orders: Sequence[str],
        language: str,
        policy: TriagePolicy,
    ) -> ModelDraft | NoDraft:
        self.asked.append((list(lines), list(orders), language))
        return ModelDraft(reply="Olá Ana, seu pedido #1001 saiu para entrega.")


def test_the_draft_is_grounded_in_the_conversation_and_the_customers_own_orders() -> None:
    world = World()
    world.records.shops.put_shop(acme(triage=POLICY.model_dump(mode="json")), None)
    world.inbound().process(world.arrives(text="Olá, onde está o meu pedido #1001? Obrigada"))
    conversation = world.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None
    assert conversation.slack_thread is not None
    orders = OrderSummary(
        outcome=LookupOutcome.FOUND, checked_at=NOW, orders=(order("1001", carrier="Correios"),)
    )
    world.conversations.save_state(conversation.model_copy(update={"orders": orders}))
    drafter = RecordingDrafter()
    drafts = ReplyDrafts(
        world.records.shops,
        world.conversations,
        world.records.listings,
        world.workspaces,
        drafter,
        world.metrics,
    )
    channel, ts = conversation.slack_thread
    posts = len(world.slack.posts)

    drafts.draft(
        ConversationAction(
            action=CardAction.DRAFT_REPLY,
            conversation_ref=f"{SHOP}:{conversation.conversation_id}",
            team_id=TEAM,
            channel_id=channel,
            message_ts=ts,
            user_id="U0AGENT2",
            action_ts="1.5",
        )
    )

    [(lines, facts, language)] = drafter.asked
    assert lines == [("customer", "Olá, onde está o meu pedido #1001? Obrigada")]
    assert facts[0].startswith("order #1001,")
    assert "carrier Correios" in facts[0]
    assert language == "pt"
    [shown] = world.slack.ephemerals
    assert (shown.user_id, shown.thread_ts) == ("U0AGENT2", ts)
    assert len(world.slack.posts) == posts
