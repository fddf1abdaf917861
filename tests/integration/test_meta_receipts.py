"""Messenger's receipts that name a time, and customers' edits, in-process: a read watermark
marks every earlier reply of the conversation read (never a failed one, never a later one),
a repeated receipt changes nothing, and an edit is shown once in the thread."""

from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.channels.base import DeliveryRefused
from chalicelib.domain.errors import Retryable
from chalicelib.domain.jobs import DeliveryWatermark
from chalicelib.domain.messages import DeliveryStatus
from chalicelib.services.jobs import run_job
from tests.fakes import FakeSlack, RecordingGraph
from tests.integration.conftest import Clock
from tests.integration.test_meta_webhooks import (
    START,
    clock,
    container,
    deliver,
    graph,
    meta_store,
    settings,
)
from tests.meta_payloads import PAGE_ID, messaging_message, messaging_webhook
from tests.signing import CHANNEL_ID, slack_headers, slack_thread_reply

__all__ = ["clock", "container", "graph", "meta_store", "settings"]

CUSTOMER = "PSID7"


def millis(minutes: float) -> int:
    return int((START + timedelta(minutes=minutes)).timestamp() * 1000)


def receipt(minutes: float, **kind: Any) -> dict[str, Any]:
    event = {"sender": {"id": CUSTOMER}, "recipient": {"id": PAGE_ID}, "timestamp": millis(minutes)}
    return messaging_webhook("page", PAGE_ID, event | kind)


def open_messenger_thread(client: Client, run_workers: Any, slack: FakeSlack) -> str:
    event = messaging_message(PAGE_ID, CUSTOMER, "m_1") | {"timestamp": millis(0)}
    assert deliver(client, messaging_webhook("page", PAGE_ID, event)).status_code == 200
    run_workers()
    return slack.roots()[0].ts


def agent_reply(client: Client, thread_ts: str, ts: str, text: str) -> None:
    body = slack_thread_reply(thread_ts, ts, text)
    answer = client.http.post("/slack/events", headers=slack_headers(body), body=body)
    assert answer.status_code == 200


@pytest.fixture
def two_replies(
    client: Client, meta_store: str, run_workers: Any, slack: FakeSlack, clock: Clock
) -> tuple[str, str]:
    """A Messenger conversation with replies sent at +5 and +7 minutes."""
    thread_ts = open_messenger_thread(client, run_workers, slack)
    clock.now = START + timedelta(minutes=5)
    agent_reply(client, thread_ts, "1764100000.000100", "Enviado hoje")
    run_workers()
    clock.now = START + timedelta(minutes=7)
    agent_reply(client, thread_ts, "1764100000.000200", "Código de rastreio: BR123")
    run_workers()
    return "1764100000.000100", "1764100000.000200"


def reaction(slack: FakeSlack, ts: str) -> list[str]:
    return slack.reactions.get((CHANNEL_ID, ts), [])


def test_a_read_watermark_marks_the_replies_sent_before_it_read_and_no_later_one(
    client: Client,
    two_replies: tuple[str, str],
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
) -> None:
    first, second = two_replies
    assert [p["message"]["text"] for _, _, p in graph.posted] == [
        "Enviado hoje\n— Bia",
        "Código de rastreio: BR123\n— Bia",
    ]

    # When Messenger says the customer read everything up to +6 minutes
    assert deliver(client, receipt(6, read={"watermark": millis(6)})).status_code == 200
    run_workers()

    # Then the first reply shows it read and the second does not
    assert reaction(slack, first) == ["eyes"]
    assert reaction(slack, second) != ["eyes"]

    # When a later watermark comes, then the same one again
    later = receipt(8, read={"watermark": millis(8)})
    deliver(client, later)
    run_workers()
    reactions_before = dict(slack.reactions)
    deliver(client, later)
    run_workers()

    # Then both are read, and the repeat changed nothing
    assert reaction(slack, second) == ["eyes"]
    assert slack.reactions == reactions_before


def test_a_delivery_watermark_marks_earlier_replies_delivered(
    client: Client, two_replies: tuple[str, str], run_workers: Any, slack: FakeSlack
) -> None:
    first, second = two_replies

    deliver(client, receipt(9, delivery={"watermark": millis(9)}))
    run_workers()

    assert reaction(slack, first) == ["white_check_mark"]
    assert reaction(slack, second) == ["white_check_mark"]


def test_a_failed_reply_is_never_marked_read_by_a_watermark(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    thread_ts = open_messenger_thread(client, run_workers, slack)
    clock.now = START + timedelta(minutes=5)
    graph.failures.append(DeliveryRefused("551", "This person isn't available right now."))
    agent_reply(client, thread_ts, "1764100000.000100", "Enviado hoje")
    run_workers()
    assert reaction(slack, "1764100000.000100") == ["x"]

    deliver(client, receipt(9, read={"watermark": millis(9)}))
    run_workers()

    assert reaction(slack, "1764100000.000100") == ["x"]


def test_an_edit_is_shown_in_the_thread_once_with_the_new_text_escaped(
    client: Client, meta_store: str, run_workers: Any, slack: FakeSlack
) -> None:
    thread_ts = open_messenger_thread(client, run_workers, slack)
    edit = receipt(1, message_edit={"mid": "m_1", "text": "Tamanho <M> & não L", "num_edit": 1})

    deliver(client, edit)
    deliver(client, edit)
    run_workers()

    edits = [p for p in slack.thread(thread_ts) if "Edited an earlier message" in p.message.text]
    assert len(edits) == 1
    assert "Tamanho &lt;M&gt; &amp; não L" in edits[0].message.text


def test_a_watermark_waits_for_a_reply_still_being_sent_for_a_while_only(
    container: bootstrap.Container,
    two_replies: tuple[str, str],
    slack: FakeSlack,
    clock: Clock,
) -> None:
    # Given a third reply whose send is in flight (the provider may have it already)
    first, _ = two_replies
    stored = container.store.replies.get_outbound("ana", f"slack:{CHANNEL_ID}:{first}")
    assert stored is not None
    in_flight = stored.model_copy(
        update={
            "message_key": f"slack:{CHANNEL_ID}:1764100000.000300",
            "slack_ts": "1764100000.000300",
            "created_at": START + timedelta(minutes=8),
            "status": DeliveryStatus.DISPATCHING,
            "provider_message_id": None,
        }
    )
    assert container.store.replies.claim_outbound(in_flight) is None
    clock.now = START + timedelta(minutes=9)
    read = DeliveryWatermark(
        shop_id="ana",
        customer_address=f"messenger:{CUSTOMER}",
        status=DeliveryStatus.READ,
        watermark=START + timedelta(minutes=9),
        received_at=clock.now,
    )

    # When the read watermark covering it is worked on, it is tried again later
    with pytest.raises(Retryable):
        run_job(read, container)
    assert reaction(slack, first) != ["eyes"]

    # And past the patience it marks the sent replies read, and not the one never sent
    clock.now = START + timedelta(minutes=30)
    run_job(read, container)
    assert reaction(slack, first) == ["eyes"]
    assert reaction(slack, "1764100000.000300") == []
