"""Commerce in the thread over real HTTP against `python -m local_stack` and its Shopify
stand-in (the seeded demo store): the card shows the customer's orders, "where is my order?"
is answered with the tracking link, an allowed agent refunds one line through the modals
and the store records exactly one refund, the same submission again refunds nothing, a user
not allowed is refused, another customer's order number reveals nothing, the stand-in's
signed webhooks are accepted and refresh the card, and a forged one writes nothing. Order
updates are sent first: a shipment reaches the customer once (however often Shopify
delivers its webhooks), in their language, with the tracking link, on their channel, and
shows in their thread marked automatic; a customer who wrote PARAR gets none until
INICIAR."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from itertools import count
from typing import Any

import pytest

from local_stack.constants import (
    DEMO_SHOP,
    DEMO_SHOP_ID,
    DEMO_SHOPIFY_TOKEN,
    DEMO_SHOPIFY_WEBHOOK_SECRET,
    LOCAL_SIGNING_SECRET,
)
from local_stack.sandbox.outbox import OutboxEntry
from tests.e2e.conftest import Answer, RunningStack, http
from tests.e2e.test_new_channels import stored
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

# The shop the stand-in's webhooks are subscribed to (as `make run` wires them).
SHOP = DEMO_SHOP_ID
ANA = "+5511987654321"
BRUNO = "+5521998877665"
ANAS_TRACKING = "https://rastreamento.correios.com.br/app/index.php?objeto=BR987654321"
BRUNOS_TRACKING = "https://rastreamento.correios.com.br/app/index.php?objeto=BR555000222"
ACTIONS = {"allowed": ["S0SUPPORTLEADS", "U0ALICE"], "refund_limit": 200}
CANNED = [{"name": "tracking", "text": "Seu pedido está {order_status}: {tracking_url}"}]
PRESSES = count(1)


@pytest.fixture(scope="module")
def shop(stack: RunningStack) -> str:
    stack.slack.add_user_group("S0SUPPORTLEADS", ["U0BOB"])
    document = shop_document(
        commerce=DEMO_SHOP["commerce"],
        commerce_actions=ACTIONS,
        order_updates={"answer_status_questions": True, "send_updates": True},
        canned_responses=CANNED,
        replies={"grace_seconds": 0},
    )
    answer = stack.admin("PUT", f"/admin/shops/{SHOP}", document)
    assert answer.status == 201, answer.body
    return SHOP


# Helpers ----------------------------------------------------------------------------


def customer_writes(stack: RunningStack, sender: str, text: str) -> str:
    """The customer's WhatsApp message, signed as Twilio signs it; the ts of their card (the
    thread their message is posted in)."""
    params = twilio_message(
        uuid.uuid4().int >> 2,
        From=f"whatsapp:{sender}",
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        Body=text,
    )
    path = f"/webhooks/twilio/{SHOP}"
    answer = http("POST", stack.api + path, form(params), twilio_headers(stack.api + path, params))
    assert answer.status == 200, answer.body
    mirrored = stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and "thread_ts" in e.payload
            and text in e.payload.get("text", "")
        ),
        timeout=20,
    )
    return str(mirrored.payload["thread_ts"])


def card_with(stack: RunningStack, card_ts: str, *texts: str) -> OutboxEntry:
    """The first redrawing of the card whose blocks show all of `texts`."""
    return stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.update"
            and e.payload.get("ts") == card_ts
            and all(t in json.dumps(e.payload.get("blocks", []), ensure_ascii=False) for t in texts)
        ),
        timeout=30,
    )


def button(card: OutboxEntry, action_id: str) -> dict[str, Any]:
    blocks = card.payload["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return next(
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


def interact(stack: RunningStack, payload: dict[str, Any]) -> Answer:
    body = form({"payload": json.dumps(payload)})
    headers = slack_headers(
        body, LOCAL_SIGNING_SECRET, content_type="application/x-www-form-urlencoded"
    )
    answer = http("POST", stack.api + "/slack/interactions", body, headers)
    assert answer.status == 200, answer.body
    return answer


def press(stack: RunningStack, element: dict[str, Any], card_ts: str, user: str) -> dict[str, Any]:
    """Presses a card's button as `user`; the modal it opened."""
    trigger = f"trigger-{next(PRESSES)}-{uuid.uuid4().hex[:8]}"
    interact(
        stack,
        {
            "type": "block_actions",
            "trigger_id": trigger,
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": card_ts},
            "message": {"ts": card_ts, "thread_ts": card_ts},
            "actions": [
                {
                    "action_id": element["action_id"],
                    "type": "button",
                    "value": element["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        },
    )
    opened = stack.outbox.wait_for(
        lambda e: e.method == "views.open" and e.payload.get("trigger_id") == trigger, timeout=20
    )
    view = opened.payload["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)


def submit(
    stack: RunningStack, view: dict[str, Any], user: str, view_id: str, values: dict[str, Any]
) -> Any:
    answer = interact(
        stack,
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "view": {
                "id": view_id,
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": values},
            },
        },
    )
    return answer.json() if answer.body else None


def refund_choices(lines: list[int]) -> dict[str, Any]:
    return {
        "lines": {"lines": {"selected_options": [{"value": str(i)} for i in lines]}},
        "reason": {"reason": {"value": "chegou rasgada"}},
        "notify": {"notify": {"selected_options": [{"value": "notify"}]}},
    }


def order_state(stack: RunningStack, number: str) -> dict[str, Any]:
    """The order as the Shopify stand-in holds it now (its refunds, statuses)."""
    answer = http(
        "GET",
        f"{stack.shopify}/_sandbox/orders/{number}",
        headers={"X-Shopify-Access-Token": DEMO_SHOPIFY_TOKEN},
    )
    assert answer.status == 200, answer.body
    return dict(answer.json())


def sent_to(stack: RunningStack, customer: str) -> list[str]:
    return [
        str(e.payload.get("Body", ""))
        for e in stack.outbox.entries("twilio", "messages.create")
        if e.payload.get("To") == f"whatsapp:{customer}"
    ]


def thread_notes(stack: RunningStack, card_ts: str) -> list[str]:
    return [
        str(e.payload.get("text", ""))
        for e in stack.outbox.entries("slack", "chat.postMessage")
        if e.payload.get("thread_ts") == card_ts
    ]


def until(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def shopify_headers(body: bytes, topic: str, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": DEMO_SHOP["commerce"]["shopify"]["domain"],
        "X-Shopify-API-Version": "2026-07",
    }


def shopify_control(stack: RunningStack, path: str, params: dict[str, Any]) -> Answer:
    """A sandbox control route of the Shopify stand-in (a warehouse's or carrier's change)."""
    answer = http(
        "POST",
        f"{stack.shopify}/_sandbox/{path}",
        json.dumps(params).encode(),
        {"X-Shopify-Access-Token": DEMO_SHOPIFY_TOKEN, "Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.body
    return answer


def deliveries(stack: RunningStack, topic: str) -> list[dict[str, Any]]:
    """The stand-in's delivery attempts of `topic`, oldest first."""
    return [
        e["payload"]
        for e in http("GET", f"{stack.shopify}/_outbox").json()
        if e["method"] == "webhook" and e["payload"]["topic"] == topic
    ]


def accepted(stack: RunningStack, topic: str, count: int) -> list[dict[str, Any]]:
    """Waits until the shop has accepted (2xx) `count` deliveries of `topic`; those."""
    until(lambda: len([d for d in deliveries(stack, topic) if d["status"] == 200]) >= count)
    return [d for d in deliveries(stack, topic) if d["status"] == 200]


# The card and "where is my order?" --------------------------------------------------


@pytest.fixture(scope="module")
def anas_card(stack: RunningStack, shop: str) -> OutboxEntry:
    """Ana asks where her order is; her card, once it shows her orders."""
    card_ts = customer_writes(stack, ANA, "Oi! Onde está meu pedido? 📦")
    return card_with(stack, card_ts, "#1042", "#1041", "Refresh orders")


def test_a_customer_with_orders_gets_a_card_showing_them(stack, anas_card):
    shown = json.dumps(anas_card.payload["blocks"], ensure_ascii=False)
    # Latest first, with its status and tracking link, and the lifetime figures
    assert shown.index("#1042") < shown.index("#1041")
    assert "BR987654321" in shown
    assert "Lifetime:* 2 orders" in shown
    button(anas_card, "refund_order#1042")


def test_where_is_my_order_is_answered_with_the_tracking_link_marked_automatic(stack, anas_card):
    until(lambda: any(ANAS_TRACKING in body for body in sent_to(stack, ANA)))
    [answer] = [body for body in sent_to(stack, ANA) if ANAS_TRACKING in body]
    assert "#1042" in answer
    card_ts = anas_card.payload["ts"]
    marked = stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and "Automatic reply" in json.dumps(e.payload.get("blocks", []))
            and e.payload.get("thread_ts") == card_ts
        ),
        timeout=20,
    )
    assert ANAS_TRACKING.replace("&", "&amp;") in json.dumps(
        marked.payload["blocks"], ensure_ascii=False
    )


# Refunds from Slack -----------------------------------------------------------------


def test_an_allowed_agent_refunds_one_line_exactly_once(stack, anas_card):
    card_ts = anas_card.payload["ts"]
    refund = button(anas_card, "refund_order#1042")
    # Alice chooses the first line of #1042 (2 × Camiseta básica) and confirms
    choice = press(stack, refund, card_ts, "U0ALICE")
    assert choice["callback_id"] == "refund_choice"
    answer = submit(stack, choice, "U0ALICE", "V0CHOICE1", refund_choices([0]))
    assert answer["response_action"] == "update"
    confirm = answer["view"]
    assert "Refund 129.90 BRL" in json.dumps(confirm["blocks"], ensure_ascii=False)
    assert submit(stack, confirm, "U0ALICE", "V0CONFIRM1", {}) is None

    # Then the store records exactly one refund, of that line, and the thread says so
    until(lambda: order_state(stack, "1042")["refunds"] != [])
    until(lambda: any("refunded *129.90 BRL*" in t for t in thread_notes(stack, card_ts)))
    [made] = order_state(stack, "1042")["refunds"]
    assert (made["amount"], made["lines"]) == ("129.90", [[10421, 2]])

    # When the same submission comes again (a double click, Slack's retry)
    submit(stack, confirm, "U0ALICE", "V0CONFIRM1", {})
    time.sleep(3)

    # Then nothing more is refunded, nor told
    assert len(order_state(stack, "1042")["refunds"]) == 1
    assert len([t for t in thread_notes(stack, card_ts) if "refunded *" in t]) == 1
    # And Shopify's refunds/create webhook reached the shop, signed, and was accepted
    # (the stand-in runs in the stack's process: its own outbox tells)
    delivered = http("GET", f"{stack.shopify}/_outbox").json()
    assert any(
        e["method"] == "webhook"
        and e["payload"]["topic"] == "refunds/create"
        and e["payload"]["status"] == 200
        for e in delivered
    )


def test_a_user_not_allowed_is_refused(stack, anas_card):
    card_ts = anas_card.payload["ts"]
    before = len(order_state(stack, "1042")["refunds"])
    view = press(stack, button(anas_card, "refund_order#1042"), card_ts, "U0MALLORY")
    assert "You may not refund" in json.dumps(view)
    assert "callback_id" not in view
    time.sleep(1)
    assert len(order_state(stack, "1042")["refunds"]) == before


# Another customer's order -----------------------------------------------------------


def test_a_quoted_order_number_of_another_customer_reveals_nothing(stack, shop):
    # Given Bruno quotes the number of Ana's order
    card_ts = customer_writes(stack, BRUNO, "Onde está o pedido #1042?")
    card = card_with(stack, card_ts, "#1042 is not one of their orders")
    shown = json.dumps(card.payload["blocks"], ensure_ascii=False)
    assert "259.90" not in shown
    assert "BR987654321" not in shown

    # And a canned response quoting the order is refused, the modal saying why
    trigger = f"shortcut-{uuid.uuid4().hex[:8]}"
    interact(
        stack,
        {
            "type": "message_action",
            "callback_id": "canned_response",
            "trigger_id": trigger,
            "action_ts": f"{time.time():.6f}",
            "team": {"id": TEAM_ID},
            "channel": {"id": CHANNEL_ID},
            "user": {"id": "U0ALICE"},
            "message": {"type": "message", "ts": card_ts, "text": "…"},
        },
    )
    opened = stack.outbox.wait_for(
        lambda e: e.method == "views.open" and e.payload.get("trigger_id") == trigger, timeout=20
    )
    view = opened.payload["view"]
    view = json.loads(view) if isinstance(view, str) else view
    answer = submit(
        stack,
        view,
        "U0ALICE",
        "V0CANNED1",
        {
            "response": {"response": {"selected_option": {"value": "tracking"}}},
            "order_number": {"order_number": {"value": "1042"}},
        },
    )
    assert "#1042 is not one of this customer's orders" in answer["errors"]["order_number"]

    # Then nothing about the order reaches Bruno, automatically or otherwise
    time.sleep(3)
    assert not any("BR987654321" in body or "259.90" in body for body in sent_to(stack, BRUNO))


# Shopify's webhooks -----------------------------------------------------------------


def test_the_stand_ins_signed_fulfilment_webhook_refreshes_the_card(stack, shop):
    # Given Bruno's conversation is open
    card_ts = customer_writes(stack, BRUNO, "Já enviaram? 🙏")
    card_with(stack, card_ts, "#1043")
    # When the warehouse ships his order (the stand-in sends fulfillments/create, signed)
    shipped = http(
        "POST",
        f"{stack.shopify}/_sandbox/orders/1043/fulfil",
        json.dumps({"tracking_number": "BR555000111", "carrier": "Correios"}).encode(),
        {"X-Shopify-Access-Token": DEMO_SHOPIFY_TOKEN, "Content-Type": "application/json"},
    )
    assert shipped.status == 200, shipped.body
    # Then the shop accepts it and his card shows the tracking number
    card_with(stack, card_ts, "#1043", "BR555000111")
    # (the stand-in records a delivery once the shop has answered it)
    accepted(stack, "fulfillments/create", 1)
    assert [d["status"] for d in deliveries(stack, "fulfillments/create")] == [200]


def test_a_forged_shopify_webhook_is_refused_and_writes_nothing(stack, shop):
    marker = f"forged-{uuid.uuid4().hex}@example.com"
    body = json.dumps({"id": 99, "name": "#1099", "email": marker}).encode()
    for secret in ("not-the-secret", ""):
        headers = shopify_headers(body, "orders/updated", secret or DEMO_SHOPIFY_WEBHOOK_SECRET)
        if not secret:
            del headers["X-Shopify-Hmac-Sha256"]
        answer = http("POST", f"{stack.api}/webhooks/shopify/{SHOP}", body, headers)
        assert answer.status == 403
        assert answer.json()["error"]
    time.sleep(1.0)
    assert not stored(stack, marker)


# Order updates sent first -----------------------------------------------------------


def test_a_shipment_reaches_the_customer_once_in_their_language_and_shows_in_the_thread(
    stack, shop
):
    # Given Bruno wrote in Portuguese on WhatsApp (his conversation is open)
    card_ts = customer_writes(stack, BRUNO, "Oi, alguma novidade da minha entrega?")
    fulfilled_before = len(accepted(stack, "fulfillments/create", 0))
    order_webhooks_before = len(accepted(stack, "orders/fulfilled", 0))

    # When the warehouse ships his order again, with a tracking link
    shopify_control(
        stack,
        "orders/1043/fulfil",
        {"tracking_number": "BR555000222", "tracking_url": BRUNOS_TRACKING, "carrier": "Correios"},
    )

    # Then he is told, in Portuguese, with the link, on WhatsApp
    until(lambda: any(BRUNOS_TRACKING in body for body in sent_to(stack, BRUNO)))
    [told] = [body for body in sent_to(stack, BRUNO) if BRUNOS_TRACKING in body]
    assert told.startswith("Boa notícia: seu pedido #1043 foi enviado.")
    assert f"Acompanhe aqui: {BRUNOS_TRACKING}" in told
    # And the update shows in his thread, marked automatic
    posted = stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and e.payload.get("thread_ts") == card_ts
            and "BR555000222" in json.dumps(e.payload, ensure_ascii=False)
        ),
        timeout=20,
    )
    assert "Automatic" in json.dumps(posted.payload.get("blocks", []))

    # When Shopify delivers the fulfilment again, under the same webhook id (an answer it did
    # not hear) and under a new one (the same event, delivered twice)
    [*_, shipped] = accepted(stack, "fulfillments/create", fulfilled_before + 1)
    for same_id in (True, False):
        shopify_control(stack, f"webhooks/{shipped['webhook_id']}/redeliver", {"same_id": same_id})
    accepted(stack, "fulfillments/create", fulfilled_before + 3)
    # And the order's own webhook (orders/fulfilled) has come too
    accepted(stack, "orders/fulfilled", order_webhooks_before + 1)
    time.sleep(3)

    # Then nothing more reaches him, nor his thread
    assert [body for body in sent_to(stack, BRUNO) if "#1043 foi enviado" in body][-1] == told
    assert len([body for body in sent_to(stack, BRUNO) if BRUNOS_TRACKING in body]) == 1
    assert (
        len(
            [
                e
                for e in stack.outbox.entries("slack", "chat.postMessage")
                if e.payload.get("thread_ts") == card_ts
                and "BR555000222" in json.dumps(e.payload, ensure_ascii=False)
            ]
        )
        == 1
    )


def test_a_customer_who_wrote_parar_gets_no_update_until_iniciar(stack, anas_card):
    card_ts = anas_card.payload["ts"]
    events_before = len(accepted(stack, "fulfillment_events/create", 0))

    # Given Ana asks to stop: she is told, in Portuguese, how to undo it, and the thread says so
    customer_writes(stack, ANA, "PARAR")
    until(lambda: any("Responda INICIAR" in body for body in sent_to(stack, ANA)))
    until(lambda: any("asked to stop order updates" in t for t in thread_notes(stack, card_ts)))

    # When the carrier takes her order out for delivery
    shopify_control(stack, "orders/1042/events", {"status": "out_for_delivery"})
    accepted(stack, "fulfillment_events/create", events_before + 1)
    time.sleep(3)

    # Then nothing is sent to her about it, nor posted in her thread
    assert not any("saiu para entrega hoje" in body for body in sent_to(stack, ANA))
    assert not any("saiu para entrega hoje" in t for t in thread_notes(stack, card_ts))

    # When she asks for updates again, and the order is delivered
    customer_writes(stack, ANA, "INICIAR")
    until(lambda: any("voltará a receber" in body for body in sent_to(stack, ANA)))
    until(lambda: any("asked for order updates again" in t for t in thread_notes(stack, card_ts)))
    shopify_control(stack, "orders/1042/events", {"status": "delivered"})

    # Then that update reaches her, once, and the one held back never comes
    until(lambda: any("Seu pedido #1042 foi entregue." in body for body in sent_to(stack, ANA)))
    time.sleep(2)
    [delivered] = [b for b in sent_to(stack, ANA) if "#1042 foi entregue" in b]
    # (the shipment's tracking link, asked of Shopify: the event names only the order)
    assert delivered == f"Seu pedido #1042 foi entregue.\nAcompanhe aqui: {ANAS_TRACKING}"
    assert not any("saiu para entrega hoje" in body for body in sent_to(stack, ANA))
