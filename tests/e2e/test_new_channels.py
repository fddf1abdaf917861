"""Telegram and Meta's channels (WhatsApp Cloud API, Messenger, Instagram) over real HTTP against
`python -m local_stack`: signed inbound → Slack thread → agent reply → provider send →
status reaction; retries, batches, refusals and WhatsApp's 24-hour window."""

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from chalicelib.settings import TABLE_NAME
from local_stack.constants import LOCAL_META_APP_SECRET, LOCAL_REGION, LOCAL_SIGNING_SECRET
from local_stack.sandbox.outbox import OutboxEntry
from tests.e2e.conftest import Answer, RunningStack, http
from tests.meta_payloads import (
    CUSTOMER_WA_ID,
    INSTAGRAM_ID,
    META_TOKEN,
    PAGE_ID,
    PHONE_NUMBER_ID,
    encoded,
    messaging_message,
    messaging_webhook,
    meta_shop,
    signed,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)
from tests.signing import shop_document, slack_headers, slack_thread_reply

SHOP = "nova"
BOT_ID = 7000000042
BOT_TOKEN = f"{BOT_ID}:AAE" + "n" * 32
CHAT_ID = 5151
IG_CUSTOMER = "9876543210"
MESSENGER_CUSTOMER = "24536372"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def shop(stack: RunningStack) -> str:
    stack.telegram.add_bot(BOT_TOKEN, "loja_nova_bot")
    stack.meta.provision(
        META_TOKEN,
        whatsapp_numbers=(PHONE_NUMBER_ID,),
        page_id=PAGE_ID,
        instagram_id=INSTAGRAM_ID,
        instagram_users=(IG_CUSTOMER,),
    )
    document = shop_document(
        meta=meta_shop(),
        telegram={"bot_token": BOT_TOKEN},
        replies={"grace_seconds": 0},
    )
    answer = stack.admin("PUT", f"/admin/shops/{SHOP}", document)
    assert answer.status == 201, answer.body
    connected = stack.admin("POST", f"/admin/shops/{SHOP}/telegram/connect")
    assert connected.status == 200, connected.body
    return SHOP


# Helpers ----------------------------------------------------------------------------


def post_meta(stack: RunningStack, document: dict[str, Any], secret: str = LOCAL_META_APP_SECRET):
    body = encoded(document)
    return http("POST", stack.api + "/webhooks/meta", body, signed(body, secret))


def post_telegram(stack: RunningStack, update: dict[str, Any], secret: str | None = None) -> Answer:
    """An update as Telegram delivers it: to the webhook the shop set, with its secret."""
    webhook = stack.telegram.webhooks[BOT_ID]
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"] if secret is None else secret,
    }
    return http("POST", webhook["url"], json.dumps(update).encode(), headers)


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Yusuf"},
            "chat": {"id": CHAT_ID, "type": "private", "first_name": "Yusuf"},
            "date": int(time.time()),
            "text": text,
        },
    }


def new_id() -> int:
    return uuid.uuid4().int % 10**9


def thread_post_containing(stack: RunningStack, text: str) -> OutboxEntry:
    return stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and "thread_ts" in e.payload
            and text in e.payload.get("text", "")
        ),
        timeout=20,
    )


def posts_containing(stack: RunningStack, text: str) -> list[OutboxEntry]:
    return [
        e
        for e in stack.outbox.entries("slack", "chat.postMessage")
        if text in e.payload.get("text", "")
    ]


def agent_replies(stack: RunningStack, thread_ts: str, text: str) -> str:
    reply_ts = f"{time.time():.6f}"
    body = slack_thread_reply(thread_ts, reply_ts, text)
    headers = slack_headers(body, LOCAL_SIGNING_SECRET)
    assert http("POST", stack.api + "/slack/events", body, headers).status == 200
    return reply_ts


def reaction(stack: RunningStack, ts: str, name: str) -> OutboxEntry:
    return stack.outbox.wait_for(
        lambda e: (
            e.method == "reactions.add"
            and e.payload.get("timestamp") == ts
            and e.payload.get("name") == name
        ),
        timeout=20,
    )


def stored(stack: RunningStack, marker: str) -> bool:
    """Whether any item in the stack's table mentions `marker`."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.aws,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    pages = dynamodb.get_paginator("scan").paginate(TableName=TABLE_NAME)
    return any(marker in json.dumps(item) for page in pages for item in page["Items"])


# Telegram ---------------------------------------------------------------------------


def test_a_telegram_message_is_answered_from_slack_and_marked_sent(stack, shop):
    # Given a customer's message, delivered twice as Telegram retries
    update = telegram_update(new_id(), "Привет! Где мой заказ? 📦 <!here>")
    answers = [post_telegram(stack, update) for _ in range(2)]
    assert [a.status for a in answers] == [200, 200]
    # Then it is posted once, in a thread, escaped and intact
    mirrored = thread_post_containing(stack, "Привет! Где мой заказ? 📦 &lt;!here&gt;")
    # When an agent answers in the thread
    reply_ts = agent_replies(stack, mirrored.payload["thread_ts"], "Завтра / غدا 🚚")
    # Then the bot sends it to the customer's chat, and the agent's message is marked sent
    sent = stack.outbox.wait_for(
        lambda e: e.method == "sendMessage" and "Завтра / غدا 🚚" in e.payload.get("text", ""),
        timeout=20,
    )
    assert sent.payload["chat_id"] == CHAT_ID
    reaction(stack, reply_ts, "outbox_tray")
    assert len(posts_containing(stack, "Где мой заказ?")) == 1
    assert len([e for e in stack.outbox.entries("telegram", "sendMessage")]) == 1


def test_a_telegram_update_with_a_wrong_secret_is_refused_and_writes_nothing(stack, shop):
    marker = f"forged-{uuid.uuid4().hex}"
    for secret in ("not-the-secret", ""):
        answer = post_telegram(stack, telegram_update(new_id(), marker), secret=secret)
        assert answer.status == 403
        assert answer.json()["error"]
    time.sleep(1.0)
    assert not posts_containing(stack, marker)
    assert not stored(stack, marker)


# Meta -------------------------------------------------------------------------------


def test_a_whatsapp_cloud_message_is_answered_and_its_receipts_show(stack, shop):
    # Given a customer's WhatsApp message, signed as Meta signs it, delivered twice
    message = wa_text(new_id(), "مرحبا! طلبي لم يصل 📦", timestamp=str(int(time.time())))
    document = whatsapp_webhook(whatsapp_change([message], name="سارة"))
    assert [post_meta(stack, document).status for _ in range(2)] == [200, 200]
    # Then it is posted once in a thread
    mirrored = thread_post_containing(stack, "مرحبا! طلبي لم يصل 📦")
    # When an agent answers
    reply_ts = agent_replies(stack, mirrored.payload["thread_ts"], "Chega amanhã 🚚")
    # Then the Cloud API is asked to send it from the shop's number to the customer
    sent = stack.outbox.wait_for(
        lambda e: (
            e.service == "meta"
            and e.method == "send"
            and "Chega amanhã" in json.dumps(e.payload, ensure_ascii=False)
        ),
        timeout=20,
    )
    assert sent.payload["from"] == PHONE_NUMBER_ID
    assert sent.payload["to"] == CUSTOMER_WA_ID
    # And Meta's signed statuses end as a read receipt on the agent's message
    reaction(stack, reply_ts, "eyes")
    assert len(posts_containing(stack, "طلبي لم يصل")) == 1


def test_an_instagram_dm_is_answered_and_marked_seen(stack, shop):
    mid = f"aWdfZAE2E{new_id()}"
    event = messaging_message(INSTAGRAM_ID, IG_CUSTOMER, mid, "Oi! Tem o vestido azul em M? 👗")
    event["timestamp"] = int(time.time() * 1000)
    assert post_meta(stack, messaging_webhook("instagram", INSTAGRAM_ID, event)).status == 200
    mirrored = thread_post_containing(stack, "Tem o vestido azul em M? 👗")
    reply_ts = agent_replies(stack, mirrored.payload["thread_ts"], "Temos sim! 💙")
    sent = stack.outbox.wait_for(
        lambda e: e.service == "meta" and "Temos sim!" in json.dumps(e.payload, ensure_ascii=False),
        timeout=20,
    )
    assert sent.payload["recipient"] == {"id": IG_CUSTOMER}
    assert sent.payload["messaging_type"] == "RESPONSE"
    # Instagram has no delivery event: its seen is the one receipt
    reaction(stack, reply_ts, "eyes")


def test_a_messenger_message_is_answered_delivered_read_and_an_edit_shown_once(stack, shop):
    # Given a customer's Messenger message, signed as Meta signs it, delivered twice
    mid = f"m_{new_id()}"
    event = messaging_message(PAGE_ID, MESSENGER_CUSTOMER, mid, "Olá! O pedido 1042 já saiu? 📦")
    event["timestamp"] = int(time.time() * 1000)
    document = messaging_webhook("page", PAGE_ID, event)
    assert [post_meta(stack, document).status for _ in range(2)] == [200, 200]
    # Then it is posted once, in a thread
    mirrored = thread_post_containing(stack, "O pedido 1042 já saiu? 📦")
    thread_ts = mirrored.payload["thread_ts"]
    # When an agent answers in the thread
    reply_ts = agent_replies(stack, thread_ts, "Saiu hoje cedo 🚚")
    # Then the Send API is asked to send it to the customer, as a response
    sent = stack.outbox.wait_for(
        lambda e: (
            e.service == "meta" and "Saiu hoje cedo" in json.dumps(e.payload, ensure_ascii=False)
        ),
        timeout=20,
    )
    assert sent.payload["channel"] == "messenger"
    assert sent.payload["recipient"] == {"id": MESSENGER_CUSTOMER}
    assert sent.payload["messaging_type"] == "RESPONSE"
    # And Messenger's delivery, then its read watermark, show on the agent's message
    reaction(stack, reply_ts, "white_check_mark")
    reaction(stack, reply_ts, "eyes")
    # When the customer edits their message, and Meta delivers the edit twice
    for _ in range(2):
        stack.meta.customer_edits(PAGE_ID, MESSENGER_CUSTOMER, mid, "Olá! O pedido <1043>?")
    # Then the thread shows the new text, escaped, once
    edit = thread_post_containing(stack, "Edited an earlier message: Olá! O pedido &lt;1043&gt;?")
    assert edit.payload["thread_ts"] == thread_ts
    time.sleep(1.0)
    assert len(posts_containing(stack, "O pedido 1042 já saiu?")) == 1
    assert len(posts_containing(stack, "Edited an earlier message")) == 1


def test_a_batch_of_entries_and_messages_stores_and_posts_every_one(stack, shop):
    # Given one POST carrying three WhatsApp messages (two changes) and an Instagram DM
    now = str(int(time.time()))
    ids = [new_id() for _ in range(3)]
    texts = [f"batch {n} ✅" for n in ids]
    messages = [wa_text(n, text, timestamp=now) for n, text in zip(ids, texts, strict=True)]
    whatsapp = whatsapp_webhook(whatsapp_change(messages[:1]), whatsapp_change(messages[1:]))
    mid = f"aWdfZBATCH{new_id()}"
    event = messaging_message(INSTAGRAM_ID, "5550001", mid, "batch instagram ✅")
    event["timestamp"] = int(time.time() * 1000)
    instagram = messaging_webhook("instagram", INSTAGRAM_ID, event)
    # When both are delivered
    assert post_meta(stack, whatsapp).status == 200
    assert post_meta(stack, instagram).status == 200
    # Then every message is stored and reaches Slack
    for text in [*texts, "batch instagram ✅"]:
        thread_post_containing(stack, text)
    for message in messages:
        assert stored(stack, message["id"])
    assert stored(stack, mid)


@pytest.mark.parametrize("case", ["wrong secret", "missing signature"])
def test_a_badly_signed_meta_webhook_is_refused_and_writes_nothing(stack, shop, case):
    marker = f"forged{new_id()}"
    document = whatsapp_webhook(
        whatsapp_change([wa_text(new_id(), marker, timestamp=str(int(time.time())))])
    )
    body = encoded(document)
    headers = signed(body, "not-the-app-secret")
    if case == "missing signature":
        del headers["X-Hub-Signature-256"]
    answer = http("POST", stack.api + "/webhooks/meta", body, headers)
    assert answer.status == 403
    assert answer.json()["error"]
    time.sleep(1.0)
    assert not posts_containing(stack, marker)
    assert not stored(stack, marker)


def test_past_whatsapps_24_hours_a_reply_is_refused_with_a_note(stack, shop):
    # Given a customer whose message, written 25 hours ago, arrives only now (Meta retries
    # a webhook for up to 7 days): their window closed an hour ago
    written = str(int(time.time()) - DAY - 3600)
    customer = "5511955556666"
    message = wa_text(new_id(), "Ainda estão aí? ⏳", timestamp=written, **{"from": customer})
    change = whatsapp_change([message])
    change["value"]["contacts"][0]["wa_id"] = customer
    assert post_meta(stack, whatsapp_webhook(change)).status == 200
    mirrored = thread_post_containing(stack, "Ainda estão aí? ⏳")
    # When an agent answers, the shop having no approved template
    agent_replies(stack, mirrored.payload["thread_ts"], "Sim, estamos! too late")
    # Then the thread says why nothing went out, and nothing did
    note = thread_post_containing(stack, "Not sent: the customer last wrote more than 24 hours")
    assert note.payload["thread_ts"] == mirrored.payload["thread_ts"]
    assert not [
        e for e in stack.outbox.entries("meta", "send") if "too late" in json.dumps(e.payload)
    ]
