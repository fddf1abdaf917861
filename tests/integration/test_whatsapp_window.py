"""WhatsApp's 24-hour window: after it, an agent's reply goes out as the shop's approved
template (Twilio Content API) or not at all, and the thread says which."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock
from tests.signing import (
    WHATSAPP_NUMBER,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
TEMPLATE = {
    "name": "order_update",
    "content_sid": "HX" + "a" * 32,
    "variables": {"1": "{first_name}", "2": "{shop}"},
}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def whatsapp_thread(client: Any, run_workers: Any, slack: FakeSlack) -> str:
    params = twilio_message(
        1,
        From="whatsapp:+5511987654321",
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        ProfileName="Ana Souza",
    )
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()
    return slack.roots()[0].ts


def reply(client: Any, thread_ts: str) -> None:
    body = slack_thread_reply(thread_ts, "1764100000.000100", "Seu reembolso saiu!")
    client.http.post("/slack/events", headers=slack_headers(body), body=body)


def test_after_24_hours_the_approved_template_goes_instead_and_the_thread_says_so(
    client, put_shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, clock: Clock
):
    document = shop_document()
    document["twilio"]["whatsapp_template"] = TEMPLATE
    assert put_shop("ana", document).status_code == 201
    thread_ts = whatsapp_thread(client, run_workers, slack)

    # When an agent answers 25 hours after the customer's last message
    clock.now = START + timedelta(hours=25)
    reply(client, thread_ts)
    run_workers()

    # Then the template goes out, its variables filled, and the agent learns why
    [sent] = twilio.sent
    assert sent.content_sid == TEMPLATE["content_sid"]
    assert sent.content_variables == {"1": "Ana", "2": "Loja da Ana"}
    assert (
        "*order_update* went out instead of your message"
        in slack.thread(thread_ts)[-1].message.text
    )


def test_without_a_template_nothing_goes_out_and_the_thread_says_what_to_do(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, clock: Clock
):
    thread_ts = whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(hours=24, minutes=1)
    reply(client, thread_ts)
    run_workers()
    assert twilio.sent == []
    assert "`twilio.whatsapp_template`" in slack.thread(thread_ts)[-1].message.text


def test_within_24_hours_the_agents_own_words_go(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, clock: Clock
):
    thread_ts = whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(hours=23, minutes=59)
    reply(client, thread_ts)
    run_workers()
    [sent] = twilio.sent
    assert (sent.text, sent.content_sid) == ("Seu reembolso saiu!\n— Bia", None)


def shop_message(client: Any, text: str) -> tuple[int, dict[str, Any]]:
    response = client.http.post(
        "/admin/shops/ana/messages",
        headers=ADMIN,
        body=json.dumps({"channel": "whatsapp", "to": "+5511987654321", "text": text}),
    )
    return response.status_code, json.loads(response.body)


def test_the_window_closes_exactly_24_hours_after_the_customers_last_message(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio, clock: Clock
):
    # Given a WhatsApp conversation whose customer last wrote at START
    thread_ts = whatsapp_thread(client, run_workers, slack)

    # When the shop writes first a second before the 24 hours are up
    clock.now = START + timedelta(hours=24) - timedelta(seconds=1)
    status, _ = shop_message(client, "Seu pedido saiu para entrega.")
    run_workers()

    # Then its own words go, in the conversation's thread
    assert status == 202
    assert [s.text for s in twilio.sent] == ["Seu pedido saiu para entrega."]

    # When it writes again at the 24th hour exactly, with no template to fall back on
    clock.now = START + timedelta(hours=24)
    status, answer = shop_message(client, "Chegou?")

    # Then WhatsApp would refuse it, so it is refused here, and nothing is queued
    assert status == 409
    assert "approved template" in answer["error"]
    run_workers()
    assert len(twilio.sent) == 1

    # And an agent's reply at that instant is not sent as free text either
    reply(client, thread_ts)
    run_workers()
    assert len(twilio.sent) == 1
    assert "`twilio.whatsapp_template`" in slack.thread(thread_ts)[-1].message.text
