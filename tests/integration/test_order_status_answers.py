""" "Where is my order?" answered without an agent: a shop with
`order_updates.answer_status_questions` tells the customer their own order's status and
tracking link after the orders lookup, marked automatic in the thread, once per message."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration import test_commerce
from tests.integration.test_commerce import SHOPIFY, customer_writes
from tests.signing import shop_document

# Ana's orders on the fake Shopify, and the container using it.
directory = test_commerce.directory
container = test_commerce.container
TRACKING = "https://rastreio.example/BR987654321"


@pytest.fixture
def opted_in(put_shop: Callable[..., Any]) -> str:
    document = shop_document(commerce=SHOPIFY, order_updates={"answer_status_questions": True})
    response = put_shop("ana", document)
    assert response.status_code == 201, response.body
    return "ana"


def automatic_posts(slack: FakeSlack) -> list[str]:
    [root] = slack.roots()
    return [
        json.dumps(post.message.blocks, ensure_ascii=False)
        for post in slack.thread(root.ts)
        if "Automatic reply" in json.dumps(post.message.blocks)
    ]


def test_the_customer_asking_where_their_order_is_gets_status_and_tracking_once(
    client, opted_in, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    customer_writes(client, 1, "onde está meu pedido #1042?")
    run_workers()

    [sent] = twilio.sent
    assert sent.text == f"Seu pedido #1042 está: enviado.\nAcompanhe aqui: {TRACKING}"
    [post] = automatic_posts(slack)
    assert TRACKING in post
    assert "order status, pt" in post

    # The conversation stays open: the customer writing on gets no second answer for a
    # message that does not ask, and the card still waits for an agent.
    customer_writes(client, 2, "Obrigada! E vocês vendem meias?")
    run_workers()
    assert len(twilio.sent) == 1
    assert len(automatic_posts(slack)) == 1


def test_another_customers_order_number_gets_nothing_automatic(
    client, opted_in, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    customer_writes(client, 1, "Onde está meu pedido #1043?")
    run_workers()

    assert twilio.sent == []
    assert automatic_posts(slack) == []


def test_nothing_is_answered_while_the_orders_are_unavailable(
    client, opted_in, run_workers_once, slack: FakeSlack, twilio: RecordingTwilio, directory
):
    directory.down = True
    customer_writes(client, 1, "onde está meu pedido #1042?")
    run_workers_once()

    assert twilio.sent == []
    assert automatic_posts(slack) == []


def test_a_shop_not_opted_in_answers_nothing(
    client, put_shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    assert put_shop("ana", shop_document(commerce=SHOPIFY)).status_code == 201
    customer_writes(client, 1, "onde está meu pedido #1042?")
    run_workers()

    assert twilio.sent == []
    assert automatic_posts(slack) == []
