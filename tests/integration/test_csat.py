"""The satisfaction question: asked on the customer's channel once a conversation is
resolved, in their language; a lone 1–5 answers it, shows on the card and in the thread, and
leaves the conversation resolved; anything else reopens it as usual."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, Clock
from tests.integration.test_card_actions import customer_writes, press
from tests.integration.test_data_rights import table_items
from tests.integration.test_reports import emf_metrics, values_of
from tests.signing import shop_document

CUSTOMER = "+5511987654321"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 13, 0, tzinfo=UTC))


def resolve_conversation(client: Any, container: Any, run_workers: Any, slack: FakeSlack) -> str:
    """The customer writes in Portuguese, an agent resolves; returns the thread's root ts."""
    customer_writes(client, 1, "Olá, meu pedido chegou quebrado, o que faço agora?")
    run_workers()
    [root] = slack.roots()
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert press(client, "resolve", root.ts, f"ana:{found.conversation_id}") == 200
    run_workers()
    return str(root.ts)


def test_the_question_goes_out_once_in_the_customers_language_and_the_rating_shows(
    client, put_shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio, capsys
):
    assert put_shop("ana", shop_document(csat={})).status_code == 201
    root_ts = resolve_conversation(client, container, run_workers, slack)

    # Then the customer is asked, in Portuguese, on SMS, and the thread shows it marked
    [question] = [sent.text for sent in twilio.sent]
    assert question.startswith("Como foi o nosso atendimento?")
    posted = json.dumps([p.message.blocks for p in slack.thread(root_ts)], ensure_ascii=False)
    assert "Automatic reply (satisfaction question, pt)" in posted
    assert "*Satisfaction:* asked, no answer yet" in json.dumps(slack.updates[-1].message.blocks)

    # When the agent presses Resolve again (a stale card), nothing is asked twice
    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    again = press(client, "resolve", root_ts, f"ana:{found.conversation_id}", action_ts="1764009.1")
    assert again == 200
    run_workers()
    assert len(twilio.sent) == 1

    # When the customer answers "4"
    capsys.readouterr()
    customer_writes(client, 2, " 4 ")
    run_workers()
    assert values_of(emf_metrics(capsys.readouterr().out), "SatisfactionRating") == [("sms", [4.0])]

    # Then the rating is stored, the card and the thread show it, the customer is thanked,
    # and the conversation stays resolved
    rated = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert rated.csat is not None
    assert rated.csat.score == 4
    assert rated.status.value == "resolved"
    assert rated.message_count == 2
    assert "*Satisfaction:* ★★★★☆ 4/5" in json.dumps(
        slack.updates[-1].message.blocks, ensure_ascii=False
    )
    notes = [p.message.text for p in slack.thread(root_ts)]
    assert ":star: The customer rated this conversation ★★★★☆ 4/5." in notes
    assert not any("reopened" in note for note in notes)
    assert twilio.sent[-1].text == "Obrigado pela sua avaliação!"

    # When the customer writes anything else afterwards, it is a message: it reopens
    customer_writes(client, 3, "5")
    run_workers()
    reopened = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert reopened.status.value == "open"
    assert reopened.csat is not None
    assert reopened.csat.score == 4

    # When the customer is erased, the question and the thanks go with them
    kept = json.dumps(table_items(), ensure_ascii=False)
    assert "Como foi o nosso atendimento" in kept
    assert "Obrigado pela sua avaliação" in kept
    erased = client.http.delete(f"/admin/shops/ana/customers/{quote(CUSTOMER)}", headers=ADMIN)
    assert erased.status_code == 200
    dump = json.dumps(table_items(), ensure_ascii=False)
    for trace in ("Como foi o nosso atendimento", "Obrigado pela sua avaliação"):
        assert trace not in dump, trace


def test_an_answer_that_is_not_a_rating_or_comes_too_late_reopens_the_conversation(
    client, put_shop, container, run_workers, slack: FakeSlack, clock: Clock
):
    assert put_shop("ana", shop_document(csat={"window_hours": 24})).status_code == 201
    resolve_conversation(client, container, run_workers, slack)

    customer_writes(client, 2, "4 dias e nada do reembolso")
    run_workers()
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert (conversation.status.value, conversation.csat) == ("open", None)

    found = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    [root] = slack.roots()
    press(client, "resolve", root.ts, f"ana:{found.conversation_id}", action_ts="1764002000.1")
    run_workers()
    assert clock.now is not None
    clock.now += timedelta(hours=25)
    customer_writes(client, 3, "5")
    run_workers()
    late = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert (late.status.value, late.csat) == ("open", None)


def test_without_a_survey_in_the_shop_nothing_is_asked(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    resolve_conversation(client, container, run_workers, slack)
    assert twilio.sent == []
    stored = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert stored.csat_asked_at is None
    assert stored.resolved_at is not None
