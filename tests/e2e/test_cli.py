"""The `threadline` command line against a running local stack: a shop created from its
JSON, read back, listed, its URLs printed, its Twilio numbers connected; refusals shown with
their reasons."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.settings import (
    FAILED_EMAIL_EVENTS_QUEUE,
    FAILED_MAIL_QUEUE,
    INBOUND_MAIL_TOPIC,
    INBOUND_QUEUE,
    TABLE_NAME,
    dead_letter_queue,
)
from chalicelib.store.inbound import InboundMessages
from local_stack.constants import LOCAL_REGION
from local_stack.pump import sns_event
from tests.e2e.conftest import RunningStack, http, threadline
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def test_a_shop_is_created_read_listed_and_its_urls_printed(stack: RunningStack, tmp_path: Path):
    document = shop_document(name="Loja do Terminal")
    document["twilio"]["sms_numbers"] = ["+14155550177"]
    document["twilio"]["whatsapp_numbers"] = []
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    code, output = threadline(stack, "shop", "put", "cli-shop", str(path))
    assert code == 0, output
    assert "Shop cli-shop saved." in output
    assert "/webhooks/twilio/cli-shop" in output

    code, output = threadline(stack, "shop", "get", "cli-shop")
    shown = json.loads(output)
    assert (code, shown["name"], shown["twilio"]["auth_token"]) == (
        0,
        "Loja do Terminal",
        "********",
    )

    code, output = threadline(stack, "shop", "list")
    assert code == 0
    assert "cli-shop" in output
    assert "+14155550177" in output

    code, output = threadline(stack, "urls", "cli-shop")
    assert code == 0
    assert "Twilio: each number's messaging webhook" in output
    assert "/slack/events" in output


def test_refusals_are_shown_with_their_reasons(stack: RunningStack, tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"name": ""}), encoding="utf-8")
    code, output = threadline(stack, "shop", "put", "broken", str(path))
    assert code == 1
    assert "400: invalid shop" in output
    assert "name:" in output
    code, output = threadline(stack, "urls", "nobody")
    assert (code, "404" in output) == (1, True)


def test_a_shops_twilio_numbers_are_connected_and_the_missing_ones_fail_the_command(
    stack: RunningStack, tmp_path: Path
):
    # Given a shop with two SMS numbers and a WhatsApp number, one SMS number unknown to
    # its Twilio account
    stack.twilio.provision(
        ACCOUNT_SID, AUTH_TOKEN, sms_numbers=("+14155550161",), whatsapp_numbers=("+14155550162",)
    )
    document = shop_document(name="Loja Conectada")
    document["twilio"]["sms_numbers"] = ["+14155550161", "+14155550163"]
    document["twilio"]["whatsapp_numbers"] = ["+14155550162"]
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert threadline(stack, "shop", "put", "twilio-shop", str(path))[0] == 0

    # When the operator connects it
    code, output = threadline(stack, "shop", "connect-twilio", "twilio-shop")

    # Then the table shows each number's result, and the unknown one fails the command
    assert code == 1, output
    rows = {line.split()[1]: line for line in output.splitlines() if "+1415555016" in line}
    assert "connected" in rows["+14155550161"]
    assert "connected" in rows["+14155550162"]
    assert "whatsapp" in rows["+14155550162"]
    assert "not_found" in rows["+14155550163"]
    assert f"{stack.api}/webhooks/twilio/twilio-shop" in output
    [update] = [
        entry.payload
        for entry in stack.outbox.entries("twilio", "incoming_phone_numbers.update")
        if entry.payload["PhoneNumber"] == "+14155550161"
    ]
    assert update["SmsUrl"] == f"{stack.api}/webhooks/twilio/twilio-shop"

    # And once the shop lists only numbers it has, the command succeeds
    document["twilio"]["sms_numbers"] = ["+14155550161"]
    path.write_text(json.dumps(document), encoding="utf-8")
    assert threadline(stack, "shop", "put", "twilio-shop", str(path))[0] == 0
    code, output = threadline(stack, "shop", "connect-twilio", "twilio-shop")
    assert code == 0, output
    assert "not_found" not in output


def test_connecting_a_shop_twilio_refuses_shows_the_reason(stack: RunningStack, tmp_path: Path):
    # Given a shop whose stored token Twilio does not accept
    stack.twilio.provision("AC" + "7" * 32, "the-real-token", sms_numbers=("+14155550171",))
    document = shop_document(name="Loja Antiga")
    document["twilio"].update(
        account_sid="AC" + "7" * 32, sms_numbers=["+14155550171"], whatsapp_numbers=[]
    )
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert threadline(stack, "shop", "put", "stale-token", str(path))[0] == 0
    # Then connecting it is refused, with the reason
    code, output = threadline(stack, "shop", "connect-twilio", "stale-token")
    assert code == 1
    assert "409: Twilio refused the shop's credentials" in output


def test_a_report_prints_its_tables_and_refuses_bad_ranges(stack: RunningStack, tmp_path: Path):
    document = shop_document(name="Loja dos Números", timezone="Asia/Kolkata")
    document["twilio"]["sms_numbers"] = ["+14155550178"]
    document["twilio"]["whatsapp_numbers"] = []
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert threadline(stack, "shop", "put", "report-shop", str(path))[0] == 0

    code, output = threadline(
        stack, "report", "report-shop", "--from", "2026-11-01", "--to", "2026-11-02"
    )
    assert code == 0, output
    assert "2026-11-01T00:00:00+05:30" in output
    assert "No conversations in the period." in output
    for title in ("Totals", "By channel"):
        assert title in output
    assert "whatsapp" in output

    code, output = threadline(
        stack, "report", "report-shop", "--from", "2026-11-02", "--to", "2026-11-01"
    )
    assert (code, "400: from must not be after to" in output) == (1, True)


def test_an_operators_round_a_conversation_exported_and_erased_and_a_report_printed(
    stack: RunningStack, tmp_path: Path
):
    # Given a shop created from its JSON, and its URLs printed
    document = shop_document(name="Loja da Rodada")
    document["twilio"]["sms_numbers"] = ["+14155550181"]
    document["twilio"]["whatsapp_numbers"] = []
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert threadline(stack, "shop", "put", "round-shop", str(path))[0] == 0
    code, output = threadline(stack, "urls", "round-shop")
    assert code == 0
    assert "/webhooks/twilio/round-shop" in output

    # When a customer writes, in Arabic
    customer = "+971501234567"
    params = twilio_message(
        uuid.uuid4().int >> 2, From=customer, To="+14155550181", Body="مرحبا، أين طلبي؟"
    )
    webhook = "/webhooks/twilio/round-shop"
    answer = http(
        "POST", stack.api + webhook, form(params), twilio_headers(stack.api + webhook, params)
    )
    assert answer.status == 200
    stack.outbox.wait_for(
        lambda e: e.method == "chat.postMessage" and "أين طلبي" in e.payload.get("text", ""),
        timeout=20,
    )

    # Then the operator finds the conversation and exports it, readable, right to left
    code, output = threadline(stack, "conversation", "list", "round-shop")
    assert code == 0, output
    [conversation_id] = [
        line.split("│")[1].strip() for line in output.splitlines() if "sms" in line
    ]
    page = tmp_path / "conversation.html"
    code, output = threadline(
        stack,
        "conversation",
        "export",
        "round-shop",
        conversation_id,
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert code == 0, output
    assert "مرحبا، أين طلبي؟" in page.read_text(encoding="utf-8")
    assert 'dir="auto"' in page.read_text(encoding="utf-8")

    # And finds the customer, exports and erases everything about them
    code, output = threadline(stack, "customer", "find", "round-shop", customer)
    assert (code, customer in output) == (0, True)
    exported = tmp_path / "customer.json"
    assert (
        threadline(stack, "customer", "export", "round-shop", customer, "--out", str(exported))[0]
        == 0
    )
    assert len(json.loads(exported.read_text(encoding="utf-8"))["conversations"]) == 1
    code, output = threadline(stack, "customer", "erase", "round-shop", customer, "--yes")
    assert code == 0, output
    assert "Erased 1 conversation, 1 message and 0 files" in output
    code, output = threadline(stack, "customer", "export", "round-shop", customer)
    assert (code, "404" in output) == (1, True)

    # And a report prints, counting the conversation that was (the erasure left none)
    code, output = threadline(stack, "report", "round-shop")
    assert code == 0, output
    assert "Totals" in output

    # And with no customer left, the shop is deleted, its number free again
    code, output = threadline(stack, "shop", "delete", "round-shop", "--erase-customers", "--yes")
    assert code == 0, output
    assert "Shop round-shop deleted." in output
    assert threadline(stack, "urls", "round-shop")[0] == 1


def test_dead_letters_are_redriven_into_their_queue_and_reach_slack_in_order(
    stack: RunningStack,
):
    # Given a shop, and two messages of one of its customers, stored when they arrived,
    # whose processing ran out of tries: they wait in the inbound dead-letter queue
    document = shop_document(name="Loja Redrive")
    document["twilio"]["sms_numbers"] = ["+14155550191"]
    document["twilio"]["whatsapp_numbers"] = []
    assert stack.admin("PUT", "/admin/shops/redrive-shop", document).status in (200, 201)
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.aws,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    dead_letters = sqs.get_queue_url(QueueName=dead_letter_queue(INBOUND_QUEUE))["QueueUrl"]
    messages = InboundMessages(
        boto3.client(
            "dynamodb",
            endpoint_url=stack.aws,
            region_name=LOCAL_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ),
        TABLE_NAME,
    )
    texts = ["Meu pedido não chegou", "Ainda espero, número 1042"]
    for n, text in enumerate(texts):
        message = InboundMessage(
            shop_id="redrive-shop",
            channel=Channel.SMS,
            provider="twilio",
            provider_message_id=f"SM{uuid.uuid4().hex}",
            customer_address="+5511912345678",
            shop_address="+14155550191",
            text=text,
            received_at=datetime.now(UTC),
        )
        assert messages.save_inbound(message) is None
        sqs.send_message(
            QueueUrl=dead_letters,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message.customer_key,
            MessageDeduplicationId=f"dead-{n}",
        )
    code, output = threadline(stack, "dlq", "list")
    assert code == 0, output
    [row] = [line for line in output.splitlines() if dead_letter_queue(INBOUND_QUEUE) in line]
    assert "│ 2 " in row

    # When the operator redrives them (the emulator has no move task: moved one by one)
    code, output = threadline(stack, "dlq", "redrive", "inbound")

    # Then both are back in the inbound queue, reach the shop's Slack in the order they
    # were written, and the dead-letter queue is empty
    assert code == 0, output
    assert f"Moved back 2 records from {dead_letter_queue(INBOUND_QUEUE)}" in output
    stack.outbox.wait_for(
        lambda e: e.method == "chat.postMessage" and texts[1] in e.payload.get("text", ""),
        timeout=20,
    )
    posted = [
        text
        for entry in stack.outbox.entries("slack", "chat.postMessage")
        for text in texts
        if text in entry.payload.get("text", "")
    ]
    assert posted == texts
    code, output = threadline(stack, "dlq", "list")
    [row] = [line for line in output.splitlines() if dead_letter_queue(INBOUND_QUEUE) in line]
    assert "│ 0 " in row


def test_a_mail_the_ingester_gave_up_on_is_published_again_and_reaches_slack(
    stack: RunningStack,
):
    # Given a shop that receives mail, and Lambda's record of a notification the mail
    # ingester failed on, in the mail dead-letter queue (the mail itself in the bucket)
    document = shop_document(name="Loja Mail Redrive", email={"address": "ajuda@redrive.example"})
    document["twilio"]["sms_numbers"] = ["+14155550192"]
    document["twilio"]["whatsapp_numbers"] = []
    assert stack.admin("PUT", "/admin/shops/mail-redrive", document).status in (200, 201)
    aws: dict[str, Any] = {
        "endpoint_url": stack.aws,
        "region_name": LOCAL_REGION,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    sqs, sns, s3 = boto3.client("sqs", **aws), boto3.client("sns", **aws), boto3.client("s3", **aws)
    [bucket] = [b["Name"] for b in s3.list_buckets()["Buckets"] if "threadline-media" in b["Name"]]
    ses_id = uuid.uuid4().hex
    raw = (
        "From: Rita <rita@example.net>\r\nTo: ajuda@redrive.example\r\nSubject: Atraso\r\n"
        "Message-ID: <redrive.e2e@example.net>\r\n\r\nO pedido 2077 ainda não chegou.\r\n"
    )
    s3.put_object(Bucket=bucket, Key=f"inbound-mail/{ses_id}", Body=raw.encode())
    notification = {
        "notificationType": "Received",
        "mail": {"messageId": ses_id, "source": "rita@example.net"},
        "receipt": {
            "recipients": ["ajuda@redrive.example"],
            "action": {"type": "S3", "bucketName": bucket, "objectKey": f"inbound-mail/{ses_id}"},
        },
    }
    topic = sns.create_topic(Name=INBOUND_MAIL_TOPIC)["TopicArn"]
    record = {
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": sns_event(json.dumps(notification), topic),
        "responsePayload": {"errorType": "ConnectionError"},
    }
    failed = sqs.get_queue_url(QueueName=FAILED_MAIL_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(record))
    code, output = threadline(stack, "dlq", "list")
    assert code == 0, output
    [row] = [line for line in output.splitlines() if FAILED_MAIL_QUEUE in line]
    assert "│ 1 " in row

    # When the operator redrives it
    code, output = threadline(stack, "dlq", "redrive", "mail")

    # Then its notification goes to the ingester again, and the mail reaches Slack
    assert code == 0, output
    assert f"Published again 1 notification from {FAILED_MAIL_QUEUE}" in output
    stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and "O pedido 2077 ainda não chegou." in e.payload.get("text", "")
        ),
        timeout=20,
    )
    # ... and the SES events handler's dead-letter queue is listed and redriven the same way
    code, output = threadline(stack, "dlq", "list")
    assert any(FAILED_EMAIL_EVENTS_QUEUE in line for line in output.splitlines()), output
    code, output = threadline(stack, "dlq", "redrive", "email-events")
    assert code == 0, output
    assert f"Published again 0 notifications from {FAILED_EMAIL_EVENTS_QUEUE}" in output
