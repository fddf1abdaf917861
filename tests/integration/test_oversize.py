"""Jobs larger than the queues take (262,144 bytes as sent; JSON escapes a character into up
to 12 bytes): a webhook or an admin request is refused 413 before anything is stored or
queued; a mail is queued with its text cut shorter, or dropped when its headers alone do not
fit; a message stored before jobs were measured is stranded instead of requeued forever."""

import email
import json
from datetime import UTC, datetime, timedelta
from email import policy
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.channels import email_parsing
from chalicelib.channels.email import delivery_id
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.posts import TEXT_SHOWN
from chalicelib.queues import MAX_MESSAGE_BYTES
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, MEDIA_BUCKET, PUBLIC_URL, stored_item
from tests.integration.test_email import CUSTOMER, SHOP_ADDRESS, deliver, mime
from tests.signing import (
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

PATH = "/webhooks/twilio/ana"
# Outside the Basic Multilingual Plane: 4 bytes in UTF-8, 12 as JSON escapes it.
ASTRAL = "\U0002070e"


def mail_shop(put_shop: Any) -> None:
    assert put_shop("ana", shop_document(email={"address": SHOP_ADDRESS})).status_code == 201


def queued_bodies(queue: str) -> list[str]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [m["Body"] for m in answer.get("Messages", [])]


def queued(queue: str) -> list[dict[str, Any]]:
    return [json.loads(body) for body in queued_bodies(queue)]


def test_a_twilio_message_too_large_to_queue_is_refused_and_nothing_is_stored(
    client: Client, shop: str, run_workers: Any, slack: FakeSlack
) -> None:
    # Given a signed webhook whose text comes as raw UTF-8 rather than percent-encoded:
    # under Twilio's body limit (96 KiB), but each "é" escapes into 6 bytes once queued
    params = twilio_message(1, Body="é" * 48_000)
    text = params.pop("Body")
    body = (urlencode(params) + "&Body=" + text).encode("utf-8")
    assert len(body) < 96 * 1024

    # When it arrives
    response = client.http.post(
        PATH, headers=twilio_headers(PUBLIC_URL + PATH, {**params, "Body": text}), body=body
    )

    # Then it is refused, saying why, and nothing was stored, queued or posted
    assert response.status_code == 413
    assert "too large to queue" in json.loads(response.body)["error"]
    assert stored_item(f"SHOP#ana#MSG#twilio:{params['MessageSid']}", "MESSAGE") is None
    assert queued(INBOUND_QUEUE) == []
    run_workers()
    assert slack.posts == []


def test_an_agent_reply_too_large_to_queue_is_refused(client: Client, shop: str) -> None:
    # Given an agent's thread reply at Slack's 40,000 characters, each outside the BMP
    body = slack_thread_reply("1764000000.000100", "1764000500.000100", ASTRAL * 40_000)

    response = client.http.post("/slack/events", headers=slack_headers(body), body=body)

    assert response.status_code == 413
    assert queued(OUTBOUND_QUEUE) == []


def test_a_shop_message_too_large_to_queue_is_refused(client: Client, shop: str) -> None:
    request = {
        "channel": "whatsapp",
        "to": "+5511987654321",
        "text": "Seu pedido foi enviado.",
        "template": {"content_sid": "HX" + "a" * 32, "variables": {"1": "é" * 50_000}},
    }
    response = client.http.post(
        "/admin/shops/ana/messages", headers=ADMIN, body=json.dumps(request, ensure_ascii=False)
    )

    assert response.status_code == 413
    assert queued(INBOUND_QUEUE) == []


def test_a_mail_too_long_to_queue_is_queued_with_its_text_cut_shorter(
    put_shop: Any, run_workers: Any, slack: FakeSlack
) -> None:
    mail_shop(put_shop)
    # Given a mail of 20,000 characters (the cut for Slack), each escaping into 12 bytes,
    # under a long subject, with files: together more than the queue takes
    text = ASTRAL * 20_000
    raw = mime(text, subject="Pedido " + "é" * 990, message_id="long@mail.example")
    mail = email.message_from_bytes(raw, policy=policy.default)
    for n in range(100):
        mail.add_attachment(b"x", maintype="text", subtype="plain", filename=f"p{n}.txt")
    deliver(mail.as_bytes())

    # Then the message stored and queued is the mail with its text cut to fit
    [body] = queued_bodies(INBOUND_QUEUE)
    # (as long as fits: one more character, up to 12 bytes, would not)
    assert MAX_MESSAGE_BYTES - 12 < len(body.encode()) <= MAX_MESSAGE_BYTES
    job = json.loads(body)
    assert job["text"].endswith("\n…")
    kept = job["text"].removesuffix("\n…")
    assert 15_000 < len(kept) < 20_000
    assert kept == text[: len(kept)]
    key = delivery_id(CUSTOMER, "long@mail.example")
    stored = stored_item(f"SHOP#ana#MSG#email:{key}", "MESSAGE")
    assert stored is not None
    assert stored["text"] == job["text"]
    # And its thread shows as much as one Slack post holds, and says the rest follows
    run_workers()
    [root] = slack.roots()
    blocks = json.dumps(slack.thread(root.ts)[0].message.blocks, ensure_ascii=False)
    # (Slack counts a character beyond the BMP as two)
    assert TEXT_SHOWN // 2 <= blocks.count(ASTRAL) <= TEXT_SHOWN
    assert "the whole message follows as `message.txt`" in blocks
    # And it follows whole, as cut, as a file before the mail's own files (ten per upload)
    assert {(channel, thread_ts) for channel, thread_ts, _ in slack.uploads} == {
        (root.channel, root.ts)
    }
    assert max(len(files) for _, _, files in slack.uploads) == 10
    files = [file for _, _, shared in slack.uploads for file in shared]
    assert files[0].filename == "message.txt"
    assert files[0].content.decode("utf-8") == job["text"]
    assert len(files) == 101


def test_a_mail_whose_headers_alone_do_not_fit_is_dropped_before_anything_is_kept(
    put_shop: Any,
    container: Any,
    run_workers: Any,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mail_shop(put_shop)
    # Given a mail with so many attachments that their list alone passes the limit (more
    # than a mail is read for: only the list's size is tried here)
    monkeypatch.setattr(email_parsing, "ATTACHMENT_LIMIT", 5_000)
    raw = mime("Segue o catálogo.", message_id="many@mail.example")
    many = email.message_from_bytes(raw, policy=policy.default)
    for n in range(2_000):
        many.add_attachment(b"x", maintype="text", subtype="plain", filename=f"p{n}.txt")

    deliver(many.as_bytes())

    # Then nothing is stored, kept, queued or posted; the shop's counter says why
    key = delivery_id(CUSTOMER, "many@mail.example")
    assert stored_item(f"SHOP#ana#MSG#email:{key}", "MESSAGE") is None
    kept = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix="ana/inbound/")
    assert kept.get("KeyCount", 0) == 0
    assert queued(INBOUND_QUEUE) == []
    run_workers()
    assert slack.posts == []
    assert container.store.counters.counters("ana")["too_large"] == 1


def test_a_stored_message_too_large_to_queue_is_stranded_and_the_others_requeued(
    client: Client, shop: str, container: Any
) -> None:
    # Given two unprocessed messages stored before jobs were measured, one too large
    now = datetime.now(UTC)
    for sid, text in (("SM" + "1" * 32, "é" * 50_000), ("SM" + "2" * 32, "Oi")):
        container.store.inbound.save_inbound(
            InboundMessage(
                shop_id="ana",
                channel=Channel.SMS,
                provider="twilio",
                provider_message_id=sid,
                customer_address=CUSTOMER,
                shop_address="+14155550100",
                text=text,
                received_at=now,
            )
        )

    # When the schedule runs once they are due
    container.clock = lambda: now + timedelta(minutes=4)
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)

    # Then the large one is set aside for operators, and the other queued again
    large = stored_item(f"SHOP#ana#MSG#twilio:SM{'1' * 32}", "MESSAGE")
    assert large is not None
    assert large["GSI1PK"].startswith("STRANDED#")
    assert [job["text"] for job in queued(INBOUND_QUEUE)] == ["Oi"]
