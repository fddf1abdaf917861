"""Every AWS action the code performs is allowed by the deployed policy (moto enforces no
IAM, so without this a missing permission shows up only in AWS)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from app import app
from chalicelib.channels.base import MediaFile
from chalicelib.domain.errors import Retryable
from chalicelib.local.pump import SchedulePump, scheduled_event, sns_event
from chalicelib.settings import SCHEDULE_GROUP
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL, Clock
from tests.integration.test_email import deliver, mime
from tests.signing import (
    ACCOUNT_SID,
    CHANNEL_ID,
    SMS_NUMBER,
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

POLICY = Path(__file__).resolve().parents[2] / ".chalice" / "policy-dev.json"
# A transaction is authorised by the actions of its parts; a batch call by its single action.
TRANSACTION_PARTS = {"TransactWriteItems": ["PutItem", "UpdateItem", "DeleteItem"]}
# S3 operations authorised by an action of another name.
S3_ACTIONS = {"DeleteObjects": "DeleteObject", "ListObjectsV2": "ListBucket"}


def allowed_actions() -> set[str]:
    policy = json.loads(POLICY.read_text())
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def iam_actions(service: str, operation: str) -> list[str]:
    if operation in TRANSACTION_PARTS:
        return [f"{service}:{part}" for part in TRANSACTION_PARTS[operation]]
    if service == "sqs" and operation.endswith("Batch"):
        operation = operation.removesuffix("Batch")
    if service == "s3":
        operation = S3_ACTIONS.get(operation, operation)
    return [f"{service}:{operation}"]


def test_every_action_of_every_flow_is_in_the_policy(
    client,
    container,
    put_shop,
    run_workers,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
):
    performed: set[str] = set()
    clients = (
        container.store._client,
        container.queues._client,
        container.vault._client,
        container.schedules._client,
        container.schedules._sqs,
        container.media._client,
        container.email._ses,  # type: ignore[attr-defined]
        container.email._s3,  # type: ignore[attr-defined]
    )
    for aws in clients:
        service = aws.meta.service_model.signing_name

        def record(model: Any, service: str = service, **_: Any) -> None:
            performed.update(iam_actions(service, model.name))

        aws.meta.events.register("before-call", record)

    # Given every flow: shops created, updated, and refused (rolled back) ...
    with_mail = shop_document(
        email={"address": "support@lojadaana.com.br"}, retention_days=90, digest={"hour": 0}
    )
    assert put_shop("ana", with_mail).status_code == 201
    assert put_shop("ana", with_mail).status_code == 200
    # ... a mail received, answered, and bounced ...
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    deliver(mime("Olá, meu pedido?"))
    run_workers()
    mail_root = slack.roots()[-1]
    reply = slack_thread_reply(mail_root.ts, "1764000800.000100", "Chega amanhã")
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()
    sent = container.store.get_outbound("ana", "slack:C0SUPPORT:1764000800.000100")
    assert sent is not None
    bounce = {
        "eventType": "Bounce",
        "mail": {"messageId": sent.provider_message_id, "source": "support@lojadaana.com.br"},
        "bounce": {"bounceType": "Permanent"},
    }
    app.handler_map["email_events"](sns_event(json.dumps(bounce), "arn:aws:sns:::t"), None)
    run_workers()
    # (bob's numbers pass the early check, as when another shop claims them concurrently)
    monkeypatch.setattr(container.store, "addresses_taken", lambda shop: [])
    assert put_shop("bob", shop_document()).status_code == 409
    monkeypatch.undo()
    # ... customer messages, a refused one, and one whose processing fails and is retried ...
    path = "/webhooks/twilio/ana"
    photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    twilio.media[photo] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    for n in (1, 2):
        params = twilio_message(n, NumMedia="1", MediaUrl0=photo)
        client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    slack.failures.append(Retryable("Slack answered 503"))
    run_workers()
    # ... an agent reply, its delivery callback, and the requeue schedule
    root = slack.roots()[-1]
    label = "https://files.slack.com/files-pri/T0-F0LABEL/download/label.png"
    slack.files[label] = b"label"
    attached = {"id": "F0LABEL", "name": "label.png", "url_private_download": label}
    body = slack_thread_reply(root.ts, "1764000900.000100", "Chega amanhã", files=[attached])
    client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    status = {
        "MessageSid": twilio.sent[0].sid,
        "AccountSid": ACCOUNT_SID,
        "From": SMS_NUMBER,
        "To": "+5511987654321",
        "MessageStatus": "delivered",
    }
    status_path = f"{path}/status"
    client.http.post(
        status_path, headers=twilio_headers(PUBLIC_URL + status_path, status), body=form(status)
    )
    run_workers()
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)
    # ... a conversation snoozed, and woken by its alarm
    conversation = container.store.find_open_conversation("ana", "+5511987654321")
    assert conversation is not None
    choice = {"value": f"ana:{conversation.conversation_id}#1h"}
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "container": {"channel_id": CHANNEL_ID, "message_ts": root.ts},
        "actions": [{"action_id": "snooze", "selected_option": choice, "action_ts": "1.1"}],
    }
    interaction = form({"payload": json.dumps(payload)})
    headers = slack_headers(interaction, content_type="application/x-www-form-urlencoded")
    client.http.post("/slack/interactions", headers=headers, body=interaction)
    run_workers()
    # (the emulator's own clients, in the region the monkeypatch.undo() above took away)
    emulator = {"region_name": "us-east-1"}
    pump = SchedulePump(
        boto3.client("scheduler", **emulator), boto3.client("sqs", **emulator), SCHEDULE_GROUP
    )
    assert pump.fire_due(datetime.now(UTC) + timedelta(hours=2)) == 1
    run_workers()
    # ... a report, and the daily digest
    admin = {"Authorization": f"Bearer {container.settings.admin_token.get_secret_value()}"}
    assert client.http.get("/admin/shops/ana/reports", headers=admin).status_code == 200
    app.handler_map["post_digests"](scheduled_event("post_digests"), None)
    assert slack.uploads[-1][1] is None
    # ... a customer erased, and a shop deleted and created again with its id
    erased = client.http.delete("/admin/shops/ana/customers/%2B5511987654321", headers=admin)
    assert erased.status_code == 200
    assert put_shop("cy", shop_document(slack=None, twilio=None)).status_code == 201
    assert client.http.delete("/admin/shops/cy", headers=admin).status_code == 200
    clock.now = datetime.now(UTC) + timedelta(hours=1)
    assert put_shop("cy", shop_document(slack=None, twilio=None)).status_code == 201

    # Then the code performed these actions, and the policy allows every one
    assert {
        "dynamodb:Query",
        "secretsmanager:DeleteSecret",
        "sqs:ChangeMessageVisibility",
        "scheduler:CreateSchedule",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:GetObject",
        "ses:SendEmail",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "secretsmanager:RestoreSecret",
        "sqs:GetQueueAttributes",
    } <= performed
    assert performed - allowed_actions() == set()


def test_the_policy_file_is_what_chalice_deploys():
    # Given the chalice config
    config = json.loads((POLICY.parent / "config.json").read_text())
    # Then chalice deploys the policy checked above instead of generating one from app.py
    assert config["autogen_policy"] is False
    assert config["stages"]["dev"]["iam_policy_file"] == POLICY.name
