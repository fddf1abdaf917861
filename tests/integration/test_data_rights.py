"""A customer's data: exported whole, or erased whole (messages, files, raw mail, pointers
and the texts repeated elsewhere) with a receipt that names no one."""

import hashlib
import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib.channels.base import MediaFile
from chalicelib.domain.errors import Retryable
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, MEDIA_BUCKET, PUBLIC_URL, stored_item
from tests.integration.test_email import deliver, mime
from tests.signing import (
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

PHONE = "+5511987654321"
PHOTO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


def table_items() -> list[dict[str, Any]]:
    scan = boto3.client("dynamodb").scan(TableName="threadline")
    return list(scan["Items"])


def bucket_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def customer_everywhere(
    client, put_shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
) -> str:
    """A customer who wrote by SMS with a photo and on WhatsApp, was answered, and a second
    customer who mailed; returns the first one's conversation thread."""
    document = shop_document(email={"address": "support@lojadaana.com.br"})
    assert put_shop("ana", document).status_code == 201
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    path = "/webhooks/twilio/ana"
    for n, fields in enumerate(
        (
            {"From": PHONE, "Body": "Meu CPF é 123", "NumMedia": "1", "MediaUrl0": PHOTO_URL},
            {"From": f"whatsapp:{PHONE}", "To": "whatsapp:+14155550101", "Body": "Oi de novo"},
        ),
        1,
    ):
        params = twilio_message(n, **fields)
        client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
        run_workers()
    sms_root = slack.roots()[0]
    reply = slack_thread_reply(sms_root.ts, "1764000500.000100", "Recebido!")
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    deliver(mime("Outra pessoa", sender="Bruno <bruno@example.net>"))
    run_workers()
    return sms_root.ts


def test_an_export_holds_every_conversation_on_every_channel(client, customer_everywhere):
    response = client.http.get(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert response.status_code == 200
    exported = json.loads(response.body)
    channels = sorted(c["conversation"]["channel"] for c in exported["conversations"])
    assert channels == ["sms", "whatsapp"]
    texts = [m["text"] for c in exported["conversations"] for m in c["messages"]]
    assert "Meu CPF é 123" in texts
    assert "Recebido!\n— Bia" in texts
    assert not any("PK" in m for c in exported["conversations"] for m in c["messages"])


def test_an_erasure_leaves_nothing_of_the_customer_and_a_receipt_naming_no_one(
    client, customer_everywhere, container, slack: FakeSlack
):
    before = len(table_items())
    assert any(key.startswith("ana/inbound/twilio:") for key in bucket_keys())

    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)

    assert response.status_code == 200
    receipt = json.loads(response.body)
    assert (receipt["conversations"], receipt["messages"], receipt["files"]) == (2, 3, 1)
    # The bot's cards and the customer's messages it posted are gone from Slack; the agent's
    # own reply is left (a bot token cannot delete it), its thread named for the admin
    sms_thread = slack.thread(customer_everywhere)
    assert (receipt["slack_messages_deleted"], receipt["slack_messages_left"]) == (4, 1)
    assert ("C0SUPPORT", customer_everywhere) in slack.deleted
    assert (sms_thread[0].channel, sms_thread[0].ts) in slack.deleted
    assert len(set(slack.deleted)) == 4
    assert receipt["slack_threads_left"] == [
        {"channel_id": "C0SUPPORT", "thread_ts": customer_everywhere}
    ]
    expected = hashlib.sha256(f"ana:{PHONE}".encode()).hexdigest()
    assert receipt["customer_sha256"] == expected
    # Nothing in the table names the customer or repeats what they or the agent wrote
    dump = json.dumps(table_items(), ensure_ascii=False)
    for trace in (PHONE, "Meu CPF", "Oi de novo", "Recebido!"):
        assert trace not in dump, trace
    assert len(table_items()) < before
    assert not any(key.startswith("ana/inbound/twilio:") for key in bucket_keys())
    # The other customer is untouched, the receipt kept, the thread pointer gone
    assert "Outra pessoa" in dump
    kept = stored_item("SHOP#ana#ERASURES", receipt["erased_at"])
    assert kept is not None
    assert PHONE not in json.dumps(kept, default=str)
    assert (
        container.store.find_conversation_by_thread(TEAM_ID, "C0SUPPORT", customer_everywhere)
        is None
    )
    # And an export finds nothing any more
    again = client.http.get(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert again.status_code == 404


def test_an_emailing_customers_raw_mail_is_erased_too(client, customer_everywhere):
    assert any(key.startswith("inbound-mail/") for key in bucket_keys())
    response = client.http.delete(
        f"/admin/shops/ana/customers/{quote('bruno@example.net')}", headers=ADMIN
    )
    assert json.loads(response.body)["files"] == 1
    assert not any(key.startswith("inbound-mail/") for key in bucket_keys())


def test_data_rights_need_the_token_and_a_shop(client, customer_everywhere):
    assert client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}").status_code == 401
    missing = client.http.get(f"/admin/shops/nope/customers/{quote(PHONE)}", headers=ADMIN)
    assert missing.status_code == 404


def test_slack_refusing_a_deletion_does_not_stop_the_erasure(
    client, customer_everywhere, slack: FakeSlack
):
    # Given Slack fails the first deletion
    slack.delete_failures.append(Retryable("Slack answered 503 to chat.delete"))
    # When the customer is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    # Then our data is erased all the same, and the post Slack kept is counted as left
    assert response.status_code == 200
    receipt = json.loads(response.body)
    assert receipt["messages"] == 3
    assert (receipt["slack_messages_deleted"], receipt["slack_messages_left"]) == (3, 2)
    again = client.http.get(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert again.status_code == 404


def test_the_bots_automatic_replies_are_deleted_with_the_customers_messages(
    client, put_shop, run_workers, slack: FakeSlack
):
    # Given a shop that answers every first message automatically (an acknowledgement, or
    # out of hours the out-of-hours reply)
    document = shop_document(sla={"targets": {"normal": {"first_response": 60}}}, auto_replies={})
    assert put_shop("ana", document).status_code == 201
    path = "/webhooks/twilio/ana"
    params = twilio_message(1, From=PHONE)
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()
    [root] = slack.roots()
    thread = slack.thread(root.ts)
    assert len(thread) == 2
    # When the customer is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    # Then the card, the customer's message and the automatic reply are all deleted
    receipt = json.loads(response.body)
    assert (receipt["slack_messages_deleted"], receipt["slack_messages_left"]) == (3, 0)
    assert set(slack.deleted) == {(p.channel, p.ts) for p in [root, *thread]}
