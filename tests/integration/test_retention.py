"""A shop's retention period: its customers' records carry DynamoDB TTL expiries (a message
after it was written, a conversation and its pointers after its last activity) and their
files S3 retention tags; the shop's own records never expire."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.channels.base import MediaFile
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import MEDIA_BUCKET, PUBLIC_URL, Clock, stored_item
from tests.integration.test_email import deliver, mime
from tests.signing import (
    CHANNEL_ID,
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

NOW = datetime(2025, 11, 24, 17, 0, tzinfo=UTC)
PHONE = "+5511987654321"
PHOTO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
SMS_KEY = f"twilio:SM{1:032x}"


def days_after(at: datetime, days: int = 90) -> int:
    return int((at + timedelta(days=days)).timestamp())


def tags(key: str) -> list[dict[str, str]]:
    return list(boto3.client("s3").get_object_tagging(Bucket=MEDIA_BUCKET, Key=key)["TagSet"])


def write(client: Any, n: int, **fields: str) -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(n, **fields)
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200, response.body


def test_a_retention_period_outside_the_allowed_ones_is_refused_naming_them(put_shop):
    refused = put_shop("ana", shop_document(retention_days=45))
    assert refused.status_code == 400
    [error] = json.loads(refused.body)["errors"]
    assert error["field"] == "retention_days"
    assert "30, 90, 180, 365, 730, 1825" in error["error"]
    accepted = put_shop("ana", shop_document(retention_days=365))
    assert accepted.status_code == 201
    assert json.loads(accepted.body)["retention_days"] == 365


def test_messages_expire_after_the_period_and_the_conversation_after_its_last_activity(
    client, put_shop, run_workers, clock: Clock, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a shop keeping its customers' data for 90 days, and a customer's SMS with a photo
    clock.now = NOW
    assert put_shop("ana", shop_document(retention_days=90)).status_code == 201
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    write(client, 1, NumMedia="1", MediaUrl0=PHOTO_URL)
    run_workers()
    [root] = slack.roots()
    conversation = stored_item("SHOP#ana#MSG#" + SMS_KEY, "MESSAGE")
    assert conversation is not None
    conversation_pk = f"SHOP#ana#CONV#{conversation['conversation_id']}"
    # Then the message expires 90 days after it was written, its photo is tagged to as well
    assert conversation["expires_at"] == days_after(NOW)
    assert tags(f"ana/inbound/{SMS_KEY}/0-ME1.jpg") == [
        {"Key": "threadline-retention-days", "Value": "90"}
    ]
    # And the conversation and its pointers 90 days after this activity
    pointers = [
        (conversation_pk, "CONVERSATION"),
        (f"SHOP#ana#OPEN#{PHONE}", "POINTER"),
        (f"SLACK#{TEAM_ID}#{CHANNEL_ID}#{root.ts}", "POINTER"),
    ]
    for pk, sk in pointers:
        assert (stored_item(pk, sk) or {}).get("expires_at") == days_after(NOW), pk

    # When an agent answers two days later
    later = NOW + timedelta(days=2)
    clock.now = later
    reply_ts = f"{int(later.timestamp()) - 60}.000100"
    reply = slack_thread_reply(root.ts, reply_ts, "Chega amanhã")
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()

    # Then the reply and its provider pointer expire 90 days after it was written...
    [sent] = twilio.sent
    outbound = stored_item(f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{reply_ts}", "MESSAGE")
    assert outbound is not None
    assert outbound["expires_at"] == days_after(later)
    assert (stored_item(f"SHOP#ana#PROVIDER#{sent.sid}", "POINTER") or {}).get(
        "expires_at"
    ) == days_after(later)
    # ... the conversation and its pointers moved along, the customer's message did not
    for pk, sk in pointers:
        assert (stored_item(pk, sk) or {}).get("expires_at") == days_after(later), pk
    assert (stored_item("SHOP#ana#MSG#" + SMS_KEY, "MESSAGE") or {})["expires_at"] == days_after(
        NOW
    )
    # And the shop's own record never expires
    assert "expires_at" not in (stored_item("SHOP#ana", "SHOP") or {})


def test_received_mail_and_its_attachments_are_tagged_once_the_shop_is_known(
    client, put_shop, run_workers, clock: Clock
):
    # Given a shop with an address, keeping data for 30 days
    clock.now = NOW
    document = shop_document(email={"address": "support@lojadaana.com.br"}, retention_days=30)
    assert put_shop("ana", document).status_code == 201
    # When a mail with an attachment arrives
    deliver(mime("Segue a nota", attachment=("nota.pdf", "application/pdf", b"%PDF")))
    run_workers()
    # Then SES's raw copy and the kept attachment are both tagged for 30 days
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET)["Contents"]
    keys = [item["Key"] for item in listed]
    [raw] = [key for key in keys if key.startswith("inbound-mail/")]
    [attachment] = [key for key in keys if key.startswith("ana/inbound/email:")]
    expected = [{"Key": "threadline-retention-days", "Value": "30"}]
    assert tags(raw) == expected
    assert tags(attachment) == expected


def test_a_shop_without_a_retention_period_keeps_everything_untagged(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    write(client, 1, NumMedia="1", MediaUrl0=PHOTO_URL)
    run_workers()
    [root] = slack.roots()
    message = stored_item("SHOP#ana#MSG#" + SMS_KEY, "MESSAGE")
    conversation = stored_item(
        f"SHOP#ana#CONV#{(message or {}).get('conversation_id')}", "CONVERSATION"
    )
    pointer = stored_item(f"SLACK#{TEAM_ID}#{CHANNEL_ID}#{root.ts}", "POINTER")
    for item in (message, conversation, pointer):
        assert item is not None
        assert "expires_at" not in item
    assert tags(f"ana/inbound/{SMS_KEY}/0-ME1.jpg") == []


def test_an_open_pointer_past_its_expiry_gives_way_to_a_new_conversation(
    client, put_shop, run_workers, clock: Clock, slack: FakeSlack, container
):
    # Given a conversation whose records expired, the conversation deleted by TTL already
    # and its open pointer not yet (TTL deletes within days, in no order)
    clock.now = NOW
    assert put_shop("ana", shop_document(retention_days=30)).status_code == 201
    write(client, 1)
    run_workers()
    first = stored_item("SHOP#ana#MSG#" + SMS_KEY, "MESSAGE")
    assert first is not None
    boto3.client("dynamodb").delete_item(
        TableName="threadline",
        Key={
            "PK": {"S": f"SHOP#ana#CONV#{first['conversation_id']}"},
            "SK": {"S": "CONVERSATION"},
        },
    )
    # When the customer writes again after the period
    clock.now = NOW + timedelta(days=31)
    write(client, 2)
    run_workers()
    # Then a new conversation opens, with its own card
    assert len(slack.roots()) == 2
    opened = container.store.conversations.find_open_conversation("ana", PHONE)
    assert opened is not None
    assert opened.conversation_id != first["conversation_id"]


def test_quarantined_mail_expires_with_the_shops_retention_too(client, put_shop, run_workers):
    # Given a shop keeping its customers' data for 30 days
    document = shop_document(email={"address": "support@lojadaana.com.br"}, retention_days=30)
    assert put_shop("ana", document).status_code == 201
    # When SES finds a mail to be spam (a customer's, maybe, wrongly)
    deliver(mime("Segue a nota"), spam="FAIL")
    run_workers()
    # Then its raw copy, kept for an operator, is tagged to expire with the shop's data
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET)["Contents"]
    [raw] = [item["Key"] for item in listed if item["Key"].startswith("inbound-mail/")]
    assert tags(raw) == [{"Key": "threadline-retention-days", "Value": "30"}]
