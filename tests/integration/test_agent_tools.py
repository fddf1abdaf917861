"""Canned responses (message shortcut → modal → thread post → customer) and the
`/threadline` slash command."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.services.agent_tools import NOT_A_CONVERSATION_CHANNEL, QUERY_TOO_SHORT
from local_stack.slack_limits import message_refusal
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL
from tests.signing import (
    CHANNEL_ID,
    TEAM_ID,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    slack_headers,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
CANNED = [
    {
        "name": "shipping",
        "text": "Olá {first_name}! Seu pedido #{order_number} saiu para entrega. {shop}",
    },
    {"name": "thanks", "text": "Obrigado, {first_name}!"},
]
FORM = "application/x-www-form-urlencoded"


def interact(client: Any, payload: dict[str, Any]) -> Any:
    body = form({"payload": json.dumps(payload)})
    return client.http.post(
        "/slack/interactions", headers=slack_headers(body, content_type=FORM), body=body
    )


def shortcut(message_ts: str, thread_ts: str | None = None, team: str = TEAM_ID) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "…"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "message_action",
        "callback_id": "canned_response",
        "trigger_id": "1337.42.abcdef",
        "action_ts": "1764001000.000001",
        "team": {"id": team},
        "channel": {"id": CHANNEL_ID},
        "user": {"id": "U0AGENT"},
        "message": message,
    }


def submission(view: dict[str, Any], name: str, order_number: str | None = None) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "view": {
            "id": "V0CANNED1",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {
                "values": {
                    "response": {"response": {"selected_option": {"value": name}}},
                    "order_number": {"order_number": {"value": order_number}},
                }
            },
        },
    }


def command(client: Any, text: str, team: str = TEAM_ID, channel: str = CHANNEL_ID) -> Any:
    body = form(
        {
            "command": "/threadline",
            "text": text,
            "team_id": team,
            "team_domain": "lojadaana",
            "channel_id": channel,
            "user_id": "U0AGENT",
            "trigger_id": "1.2.3",
        }
    )
    response = client.http.post(
        "/slack/commands", headers=slack_headers(body, content_type=FORM), body=body
    )
    assert response.status_code == 200, response.body
    answer = json.loads(response.body)
    assert answer["response_type"] == "ephemeral"
    # Slack takes the answer (a response to a slash command has a message's limits)
    assert message_refusal(answer) is None
    return answer


@pytest.fixture
def customer_thread(client, put_shop, run_workers, slack: FakeSlack) -> Callable[..., str]:
    """A shop with canned responses; a WhatsApp customer writes. Returns the thread ts."""
    assert put_shop("ana", shop_document(canned_responses=CANNED)).status_code == 201

    def write(body: str = "Cadê meu pedido #10423?", name: str = "Ana Souza", n: int = 1) -> str:
        fields = {
            "From": f"whatsapp:{CUSTOMER}",
            "To": f"whatsapp:{WHATSAPP_NUMBER}",
            "Body": body,
        }
        if name:
            fields["ProfileName"] = name
        params = twilio_message(n, **fields)
        path = "/webhooks/twilio/ana"
        response = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        )
        assert response.status_code == 200
        run_workers()
        return slack.roots()[-1].ts

    return write


# Canned responses --------------------------------------------------------------------------


def test_the_shortcut_opens_a_modal_for_the_threads_conversation_with_its_order_number(
    client, customer_thread, slack: FakeSlack
):
    # Given a customer who quoted an order number
    thread_ts = customer_thread()

    # When an agent uses "Canned response" on a message of the thread
    assert interact(client, shortcut("1764000999.000100", thread_ts)).status_code == 200

    # Then the modal opens at once, offering the shop's responses, the order number suggested
    [(trigger, view)] = slack.views
    assert trigger == "1337.42.abcdef"
    assert view["callback_id"] == "canned_response"
    assert json.loads(view["private_metadata"])["thread_ts"] == thread_ts
    [select] = [b for b in view["blocks"] if b.get("block_id") == "response"]
    assert [o["value"] for o in select["element"]["options"]] == ["shipping", "thanks"]
    [order] = [b for b in view["blocks"] if b.get("block_id") == "order_number"]
    assert order["element"]["initial_value"] == "10423"
    assert "Ana Souza" in json.dumps(view, ensure_ascii=False)


def test_a_chosen_response_is_posted_in_the_thread_and_sent_once(
    client, customer_thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given the modal opened from the card itself
    thread_ts = customer_thread()
    interact(client, shortcut(thread_ts))
    [(_, view)] = slack.views

    # When the agent sends "shipping", and Slack delivers the submission twice
    first = interact(client, submission(view, "shipping"))
    again = interact(client, submission(view, "shipping"))
    run_workers()

    # Then the modal closes, the filled-in text is posted once in the thread, saying who chose it
    assert (first.status_code, first.body) == (200, b"")
    assert again.status_code == 200
    expected = "Olá Ana! Seu pedido #10423 saiu para entrega. Loja da Ana"
    posts = [
        p for p in slack.thread(thread_ts) if "Canned response" in json.dumps(p.message.blocks)
    ]
    [post] = posts
    assert post.message.text == expected
    assert "sent by <@U0AGENT>" in json.dumps(post.message.blocks)
    # And the customer gets it once, signed, with its delivery shown on that post
    assert [sent.text for sent in twilio.sent] == [f"{expected}\n— Bia"]
    assert slack.reactions[(CHANNEL_ID, post.ts)] == ["outbox_tray"]


def test_a_response_for_a_customer_without_a_name_leaves_no_gap(
    client, customer_thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    thread_ts = customer_thread(body="Oi", name="")
    interact(client, shortcut(thread_ts))
    [(_, view)] = slack.views
    interact(client, submission(view, "thanks"))
    run_workers()
    assert [sent.text for sent in twilio.sent] == ["Obrigado!\n— Bia"]


def test_a_response_that_needs_an_unknown_order_number_asks_for_it_and_sends_nothing(
    client, customer_thread, run_workers, twilio: RecordingTwilio, slack: FakeSlack
):
    # Given a customer who quoted no order number
    thread_ts = customer_thread(body="Oi, tudo bem?")
    interact(client, shortcut(thread_ts))
    [(_, view)] = slack.views

    # When the agent sends "shipping" without typing one
    response = interact(client, submission(view, "shipping"))
    run_workers()

    # Then the modal stays open with the reason on the order number field
    assert response.status_code == 200
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {"order_number": "This response needs the order number."},
    }
    assert twilio.sent == []

    # And with one typed in, it goes
    interact(client, submission(view, "shipping", order_number="777"))
    run_workers()
    assert "#777" in twilio.sent[0].text


def test_the_shortcut_outside_a_conversation_opens_nothing(client, customer_thread, slack):
    customer_thread()
    assert interact(client, shortcut("1764009999.000100")).status_code == 200
    assert interact(client, shortcut("1764009999.000100", team="T0OTHER")).status_code == 200
    assert slack.views == []


# /threadline -------------------------------------------------------------------------------


def test_help_is_the_default_answer(client, shop):
    for text in ("", "help", "what?"):
        assert "/threadline mine" in command(client, text)["text"]


def test_mine_lists_the_agents_open_conversations_with_links_to_their_threads(
    client, customer_thread, run_workers, container
):
    # Given a conversation assigned to the agent, and one that is not
    thread_ts = customer_thread()
    conversation = container.store.conversations.find_conversation_by_thread(
        TEAM_ID, CHANNEL_ID, thread_ts
    )
    press = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "container": {"channel_id": CHANNEL_ID, "message_ts": thread_ts},
        "actions": [
            {
                "action_id": "assign_to_me",
                "value": f"ana:{conversation.conversation_id}",
                "action_ts": "1.1",
            }
        ],
    }
    interact(client, press)
    run_workers()

    # When the agent asks for their conversations
    answer = command(client, "mine")

    # Then they get that conversation with a link to its thread
    text = answer["text"]
    assert "Ana Souza" in text
    link = f"https://lojadaana.slack.com/archives/{CHANNEL_ID}/p{thread_ts.replace('.', '')}"
    assert link in text
    assert "Open" in text
    # And another workspace sees nothing of it
    assert command(client, "mine", team="T0OTHER")["text"] == NOT_A_CONVERSATION_CHANNEL


@pytest.mark.parametrize("query", ["8765", "+55 11 98765", "ana", "SOUZA"])
def test_find_finds_a_customer_by_part_of_their_number_or_name(client, customer_thread, query):
    customer_thread()
    assert "Ana Souza" in command(client, f"find {query}")["text"]


def test_find_does_not_match_someone_else_or_too_few_digits_of_a_number(client, customer_thread):
    customer_thread()
    assert "none" in command(client, "find Bruno")["text"]
    assert "none" in command(client, "find 119")["text"]


@pytest.mark.parametrize("query", ["", "a", "An", "+5", "1 1", "a.b", "🙂🙂🙂", "x" * 101])
def test_find_refuses_a_query_of_fewer_than_three_letters_or_digits(client, customer_thread, query):
    # Given a customer in the shop's channel
    customer_thread()
    # When an agent looks for one or two characters (or a whole paragraph)
    answer = command(client, f"find {query}")
    # Then they are told what find needs, and no customer is listed
    assert answer["text"] == QUERY_TOO_SHORT
    assert "Ana" not in json.dumps(answer, ensure_ascii=False)


@pytest.mark.parametrize("text", ["find Ana", "find 98765", "mine", "canned"])
def test_another_channel_of_the_workspace_is_told_where_to_ask_and_shown_nothing(
    client, customer_thread, text
):
    # Given a customer whose conversation is in the shop's channel
    customer_thread()
    # When someone asks from another channel of the same workspace
    answer = command(client, text, channel="C0RANDOM")
    # Then they get a short explanation and nothing of the shop or its customers
    assert answer["text"] == NOT_A_CONVERSATION_CHANNEL
    shown = json.dumps(answer, ensure_ascii=False)
    for secret in ("Ana Souza", "98765", "shipping", "Loja da Ana"):
        assert secret not in shown
    # While the shop's own channel is still answered
    assert "Ana Souza" in command(client, text.replace("mine", "find ana"))["text"] or (
        text == "canned" and "`shipping`" in command(client, text)["text"]
    )


def test_a_second_shop_in_the_workspace_never_sees_the_first_shops_customers(
    client, customer_thread, put_shop, run_workers, slack: FakeSlack
):
    # Given ana's customer, and bob's shop in the same workspace with a channel of its own
    customer_thread()
    bob = shop_document(
        name="Bob's Bikes",
        slack={"team_id": TEAM_ID, "channel_id": "C0BOBS", "bot_token": "xoxb-bob"},
        twilio={
            "account_sid": "AC" + "3" * 32,
            "auth_token": "bob-auth-token",
            "sms_numbers": ["+14155550199"],
            "whatsapp_numbers": [],
        },
    )
    assert put_shop("bob", bob).status_code == 201
    params = twilio_message(
        9, From="+5511911112222", To="+14155550199", AccountSid="AC" + "3" * 32, Body="Oi"
    )
    path = "/webhooks/twilio/bob"
    headers = twilio_headers(PUBLIC_URL + path, params, token="bob-auth-token")
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200
    run_workers()
    assert [root.channel for root in slack.roots()] == [CHANNEL_ID, "C0BOBS"]

    # When bob's agents look for ana's customer, by name or number, in bob's channel
    for query in ("Ana", "Souza", "98765", "+55 11 98765-4321"):
        answer = command(client, f"find {query}", channel="C0BOBS")
        # Then they find nothing of hers
        assert answer["text"] == f"Conversations with “{query}”: none."
    # And bob's own customer is found there, but not from ana's channel
    assert "11911112222" in command(client, "find 1111", channel="C0BOBS")["text"]
    assert "none" in command(client, "find 1111")["text"]
    # And each channel's canned list names only its own shop
    assert "Bob's Bikes" not in command(client, "canned")["text"]
    assert "Loja da Ana" not in command(client, "canned", channel="C0BOBS")["text"]


def test_a_shops_channel_for_one_customer_channel_answers_for_the_threads_posted_there(
    client, put_shop, run_workers, slack: FakeSlack
):
    # Given a shop whose WhatsApp conversations go to a channel of their own
    routed = shop_document()
    routed["slack"]["channels"] = {"whatsapp": "C0WHATSAPP"}
    assert put_shop("ana", routed).status_code == 201
    for n, sender in ((1, f"whatsapp:{CUSTOMER}"), (2, "+5511933334444")):
        fields = {"From": sender, "ProfileName": "Ana Souza"}
        if sender.startswith("whatsapp:"):
            fields["To"] = f"whatsapp:{WHATSAPP_NUMBER}"
        params = twilio_message(n, **fields)
        path = "/webhooks/twilio/ana"
        response = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        )
        assert response.status_code == 200
    run_workers()
    assert sorted(root.channel for root in slack.roots()) == [CHANNEL_ID, "C0WHATSAPP"]

    # When agents look for the customer in each channel
    in_whatsapp = command(client, "find 98765", channel="C0WHATSAPP")["text"]
    in_main = command(client, "find 98765")["text"]

    # Then each channel lists only the threads it shows
    assert "C0WHATSAPP" in in_whatsapp
    assert "none" in in_main
    assert "33334444" in command(client, "find 3333")["text"]
    assert "none" in command(client, "find 3333", channel="C0WHATSAPP")["text"]


def test_canned_lists_the_shops_responses(client, customer_thread):
    customer_thread()
    text = command(client, "canned")["text"]
    assert "`shipping`" in text
    assert "`thanks`" in text
