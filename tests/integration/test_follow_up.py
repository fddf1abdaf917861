"""A customer who comes back to a resolved conversation after the shop's quiet period starts
a new conversation, linked both ways; within it, the old one reopens."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes import FakeSlack
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.signing import (
    CHANNEL_ID,
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def resolved(client, put_shop, run_workers, slack: FakeSlack, container) -> Any:
    """A shop that starts afresh after 72 quiet hours; a customer's conversation, resolved.
    Returns a function for the customer's next message."""
    document = shop_document(new_conversation_after_hours=72)
    assert put_shop("ana", document).status_code == 201
    sids = iter(range(1, 100))

    def customer_writes(body: str) -> None:
        params = twilio_message(next(sids), Body=body)
        path = "/webhooks/twilio/ana"
        headers = twilio_headers(PUBLIC_URL + path, params)
        assert client.http.post(path, headers=headers, body=form(params)).status_code == 200
        run_workers()

    customer_writes("Meu pedido não chegou")
    [root] = slack.roots()
    first = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "container": {"channel_id": CHANNEL_ID, "message_ts": root.ts},
        "actions": [
            {"action_id": "resolve", "value": f"ana:{first.conversation_id}", "action_ts": "1.1"}
        ],
    }
    body = form({"payload": json.dumps(payload)})
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    client.http.post("/slack/interactions", headers=headers, body=body)
    run_workers()
    return customer_writes


def test_after_the_quiet_period_a_new_conversation_starts_linked_to_the_old(
    resolved, clock: Clock, slack: FakeSlack, container
):
    first = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    # When the customer writes again four days later
    clock.now = START + timedelta(days=4)
    resolved("Quero comprar de novo")

    # Then a second thread starts, its card linking back to the first
    old_root, new_root = slack.roots()
    assert "earlier conversation" in json.dumps(new_root.message.blocks)
    assert f"p{old_root.ts.replace('.', '')}" in json.dumps(new_root.message.blocks)
    # And the first thread points forward, while it stays resolved
    assert "new conversation" in slack.thread(old_root.ts)[-1].message.text
    current = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert current.conversation_id != first.conversation_id
    assert current.previous_conversation_id == first.conversation_id
    kept = container.store.conversations.get_conversation("ana", first.conversation_id)
    assert kept.status.value == "resolved"


def test_within_the_quiet_period_the_resolved_conversation_reopens(
    resolved, clock: Clock, slack: FakeSlack, container
):
    clock.now = START + timedelta(hours=71)
    resolved("Esqueci de perguntar uma coisa")
    [root] = slack.roots()
    reopened, summary = slack.thread(root.ts)[-2:]
    assert reopened.message.text.endswith("this conversation is open again.")
    # After three quiet days, with a summary for whoever picks it up
    assert summary.message.text.startswith("Summary:")
    assert (
        container.store.conversations.find_open_conversation("ana", CUSTOMER).status.value == "open"
    )
