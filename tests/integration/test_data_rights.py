"""A customer's data: exported whole, or erased whole (messages, files, raw mail, pointers
and the texts repeated elsewhere) with a receipt that names no one."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from app import app
from chalicelib.channels.base import MediaFile
from chalicelib.domain.errors import Retryable
from chalicelib.settings import INBOUND_QUEUE, dead_letter_queue
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, MEDIA_BUCKET, PUBLIC_URL, stored_item
from tests.integration.test_email import deliver, mime
from tests.integration.test_reports import emf_metrics, values_of
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
    # And the photo the bot shared in the thread is deleted too
    assert (receipt["slack_files_deleted"], receipt["slack_files_left"]) == (1, [])
    assert slack.deleted_files == list(slack.shared_files)
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
        container.store.conversations.find_conversation_by_thread(
            TEAM_ID, "C0SUPPORT", customer_everywhere
        )
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


# Messages that belong to no conversation ------------------------------------------------------

MAIL = "ana.souza@gmail.com"
SHOP_MAIL = "support@lojadaana.com.br"


def write(client: Any, n: int, **fields: str) -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(n, **fields)
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200, response.body


def queued_and_dead(queue: str) -> int:
    sqs = boto3.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    total = 0
    for name in (queue, dead_letter_queue(queue)):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        total += sum(int(value) for value in attributes["Attributes"].values())
    return total


@pytest.fixture
def waiting_customer(
    client, put_shop, run_workers, twilio: RecordingTwilio, container, slack: FakeSlack
) -> None:
    """A customer who wrote by SMS (with a photo), WhatsApp and email (with an attachment),
    linked by the shop, to a shop that has not connected Slack: every message waits, stored;
    the first three in the dead-letter queue after their attempts, the last still queued."""
    assert (
        put_shop("ana", shop_document(slack=None, email={"address": SHOP_MAIL})).status_code == 201
    )
    link = client.http.post(
        f"/admin/shops/ana/customers/{quote(PHONE)}/links",
        headers=ADMIN,
        body=json.dumps({"address": MAIL}),
    )
    assert link.status_code == 200, link.body
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    write(client, 1, From=PHONE, Body="Meu CPF é 123", NumMedia="1", MediaUrl0=PHOTO_URL)
    write(client, 2, From=f"whatsapp:{PHONE}", To="whatsapp:+14155550101", Body="Oi de novo")
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    deliver(
        mime(
            "Segue a nota fiscal",
            sender=f"Ana Souza <{MAIL}>",
            to=SHOP_MAIL,
            attachment=("nota.pdf", "application/pdf", b"%PDF"),
        ),
        to=SHOP_MAIL,
    )
    run_workers()
    write(client, 3, From=PHONE, Body="Alguém aí?")
    assert slack.posts == []
    assert queued_and_dead(INBOUND_QUEUE) == 4


def test_messages_waiting_for_slack_are_exported(client, waiting_customer):
    # When the customer's data is exported before any conversation exists
    response = client.http.get(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    # Then it holds every message they wrote, on every channel and linked address
    assert response.status_code == 200, response.body
    exported = json.loads(response.body)
    assert exported["conversations"] == []
    outside = exported["messages_outside_conversations"]
    assert sorted(m["text"] for m in outside) == sorted(
        ["Meu CPF é 123", "Oi de novo", "Segue a nota fiscal", "Alguém aí?"]
    )
    assert not any(key.startswith("GSI") or key == "PK" for m in outside for key in m)


def test_a_customer_erased_while_their_messages_wait_is_never_posted(
    client, waiting_customer, put_shop, run_workers, container, slack: FakeSlack, capsys
):
    # Given raw mail and the attachment kept while the messages wait
    assert any(key.startswith("inbound-mail/") for key in bucket_keys())
    assert any(key.startswith("ana/inbound/email:") for key in bucket_keys())

    # When the customer is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)

    # Then the receipt counts the waiting messages and the mail's two files
    assert response.status_code == 200, response.body
    receipt = json.loads(response.body)
    assert (receipt["conversations"], receipt["messages"], receipt["files"]) == (0, 4, 2)
    assert receipt["messages_outside_conversations"] == 4
    # And nothing of them is left in the table or the bucket
    dump = json.dumps(table_items(), ensure_ascii=False)
    for trace in (PHONE, MAIL, "Meu CPF", "Oi de novo", "nota fiscal", "Alguém aí"):
        assert trace not in dump, trace
    assert bucket_keys() == []

    # When the shop connects Slack, and the queued copies, the dead letters redriven and the
    # schedule's requeue all reach the workers
    assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 200
    capsys.readouterr()
    run_workers()
    container.queues.redrive(INBOUND_QUEUE)
    run_workers()
    container.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)
    run_workers()

    # Then nothing of the erased customer is ever posted, nor a conversation opened: each
    # copy is dropped, counted
    assert slack.posts == []
    assert container.store.listings.recent_conversations("ana", 10) == []
    dropped = values_of(emf_metrics(capsys.readouterr().out), "CustomerMessageDropped")
    assert sorted(str(channel) for channel, values in dropped for _ in values) == [
        "email",
        "sms",
        "sms",
        "whatsapp",
    ]
    assert queued_and_dead(INBOUND_QUEUE) == 0
    assert PHONE not in json.dumps(table_items(), ensure_ascii=False)


def test_discarded_automated_mail_is_exported_and_erased_with_its_raw_copy(
    client, put_shop, run_workers, container
):
    # Given an auto-reply from a customer that answered none of the shop's mail: discarded,
    # in no conversation
    assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 201
    deliver(
        mime(
            "Estou de férias até segunda.",
            sender=f"Ana Souza <{MAIL}>",
            to=SHOP_MAIL,
            extra={"Auto-Submitted": "auto-replied"},
        ),
        to=SHOP_MAIL,
    )
    run_workers()
    assert container.store.counters.counters("ana") == {"automated_mail": 1}
    # Then an export shows it
    exported = client.http.get(f"/admin/shops/ana/customers/{quote(MAIL)}", headers=ADMIN)
    assert exported.status_code == 200, exported.body
    [discarded] = json.loads(exported.body)["messages_outside_conversations"]
    assert discarded["text"] == "Estou de férias até segunda."
    # And an erasure takes it and its raw mail
    erased = json.loads(
        client.http.delete(f"/admin/shops/ana/customers/{quote(MAIL)}", headers=ADMIN).body
    )
    assert (erased["messages"], erased["files"]) == (1, 1)
    assert bucket_keys() == []
    assert "férias" not in json.dumps(table_items(), ensure_ascii=False)


# Erased while a worker is at it ---------------------------------------------------------------


def items_of_shop_customers() -> list[str]:
    """The keys of every message and conversation item left in the table."""
    prefixes = ("SHOP#ana#MSG#", "SHOP#ana#CONV#", "SHOP#ana#MAILID#", "SHOP#ana#OPEN#")
    return [item["PK"]["S"] for item in table_items() if item["PK"]["S"].startswith(prefixes)]


def erase_before_next(monkeypatch, client, repository, method: str, customer: str) -> None:
    """The customer is erased just before the worker's next call of a repository's
    `method`."""
    original = getattr(repository, method)
    pending = [customer]

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        while pending:
            path = f"/admin/shops/ana/customers/{quote(pending.pop())}"
            assert client.http.delete(path, headers=ADMIN).status_code == 200
        return original(*args, **kwargs)

    monkeypatch.setattr(repository, method, interleaved)


def test_a_message_erased_while_it_is_processed_is_not_brought_back(
    client, shop, container, run_workers, monkeypatch, slack: FakeSlack
):
    # Given the customer is erased while the worker posts their first message, just before
    # it is recorded on its conversation
    erase_before_next(monkeypatch, client, container.store.conversations, "record_inbound", PHONE)
    write(client, 1, From=PHONE, Body="Meu CPF é 123")
    # When the workers go on (and retry what failed)
    run_workers()
    # Then neither the message nor its conversation comes back, not even in part
    assert items_of_shop_customers() == []
    assert container.store.listings.recent_conversations("ana", 10) == []


def test_automated_mail_erased_while_it_is_discarded_is_not_brought_back(
    client, put_shop, container, run_workers, monkeypatch
):
    assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 201
    erase_before_next(monkeypatch, client, container.store.inbound, "discard_inbound", MAIL)
    deliver(
        mime(
            "Estou de férias.",
            sender=f"Ana Souza <{MAIL}>",
            to=SHOP_MAIL,
            extra={"Auto-Submitted": "auto-replied"},
        ),
        to=SHOP_MAIL,
    )
    run_workers()
    assert items_of_shop_customers() == []


def test_a_message_posted_but_never_recorded_is_deleted_from_slack_too(
    client, shop, container, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a customer's message posted in its thread whose photo Slack never takes: the
    # message stays unrecorded (and ends in the dead-letter queue)
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    slack.upload_failures.extend(Retryable("Slack answered 503") for _ in range(10))
    write(client, 1, From=PHONE, Body="Meu CPF é 123", NumMedia="1", MediaUrl0=PHOTO_URL)
    run_workers()
    [root] = slack.roots()
    [posted] = slack.thread(root.ts)
    assert (stored_item(f"SHOP#ana#MSG#twilio:SM{1:032x}", "MESSAGE") or {})["status"] == "received"
    # When the customer is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    # Then the card and the posted message are deleted from Slack, and counted
    receipt = json.loads(response.body)
    assert (receipt["messages_outside_conversations"], receipt["files"]) == (1, 1)
    assert set(slack.deleted) == {(root.channel, root.ts), (posted.channel, posted.ts)}
    assert (receipt["slack_messages_deleted"], receipt["slack_messages_left"]) == (2, 0)


def test_an_erasure_deletes_what_dynamodb_hands_back_unprocessed(
    client, customer_everywhere, container, monkeypatch
):
    # Given DynamoDB throttles the erasure's first batch write, handing back an item of it
    real = container.store.client.batch_write_item
    throttled: list[dict[str, Any]] = []

    def throttling(**request: Any) -> Any:
        if throttled:
            return real(**request)
        [(table, writes)] = request["RequestItems"].items()
        keys = [write["DeleteRequest"]["Key"] for write in writes]
        [kept, *_] = [k for k in keys if stored_item(k["PK"]["S"], k["SK"]["S"]) is not None]
        throttled.append(kept)
        real(RequestItems={table: [w for w in writes if w["DeleteRequest"]["Key"] != kept]})
        return {"UnprocessedItems": {table: [{"DeleteRequest": {"Key": kept}}]}}

    monkeypatch.setattr(container.store.client, "batch_write_item", throttling)
    # When the customer is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    # Then the item handed back was deleted all the same
    assert response.status_code == 200
    [key] = throttled
    assert stored_item(key["PK"]["S"], key["SK"]["S"]) is None
    dump = json.dumps(table_items(), ensure_ascii=False)
    for trace in (PHONE, "Meu CPF", "Oi de novo", "Recebido!"):
        assert trace not in dump, trace


def test_messages_stored_before_the_index_are_filed_under_it_by_the_upgrade_step(
    client, shop, container
):
    # Given a waiting message stored before the messages index existed (no GSI2 keys)
    write(client, 1, From=PHONE, Body="Meu CPF é 123")
    boto3.client("dynamodb").update_item(
        TableName="threadline",
        Key={"PK": {"S": f"SHOP#ana#MSG#twilio:SM{1:032x}"}, "SK": {"S": "MESSAGE"}},
        UpdateExpression="REMOVE GSI2PK, GSI2SK",
    )
    assert container.store.inbound.stored_messages("ana", [PHONE]) == []
    # And a profile linked before it too
    link = client.http.post(
        f"/admin/shops/ana/customers/{quote(PHONE)}/links",
        headers=ADMIN,
        body=json.dumps({"address": MAIL}),
    )
    assert link.status_code == 200
    [profile] = [i for i in table_items() if i["SK"]["S"] == "PROFILE"]
    boto3.client("dynamodb").update_item(
        TableName="threadline",
        Key={"PK": profile["PK"], "SK": profile["SK"]},
        UpdateExpression="REMOVE GSI2PK, GSI2SK",
    )
    # When the upgrade step runs (twice: the second finds nothing left to do)
    assert container.store.upgrades.index_customer_data() == 2
    assert container.store.upgrades.index_customer_data() == 0
    assert container.store.profiles.erase_profiles("ana") == 1
    # Then an erasure finds the message
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert json.loads(response.body)["messages_outside_conversations"] == 1
    assert "Meu CPF" not in json.dumps(table_items(), ensure_ascii=False)


# Nothing derived from the customer is left -------------------------------------------------------


def edited(thread_ts: str, ts: str, text: str, edited_ts: str) -> bytes:
    """Slack's event for an agent's thread message edited."""
    message = json.loads(slack_thread_reply(thread_ts, ts, text))["event"]
    message["edited"] = {"user": "U0AGENT", "ts": edited_ts}
    payload = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event_id": f"Ev{edited_ts.replace('.', '')}",
        "event": {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": message["channel"],
            "ts": edited_ts,
            "message": message,
        },
    }
    return json.dumps(payload).encode()


def traces_of(container: Any, addresses: list[str]) -> set[str]:
    """Everything the table may hold that was derived from the customer: addresses, index
    digests, conversation ids, Slack ts of their threads and of every post in them,
    provider message ids and Message-IDs, and what they and the agents wrote."""
    from chalicelib.store._table import customer_digest

    traces = set(addresses) | {a.removeprefix("whatsapp:+") for a in addresses}
    traces |= {customer_digest(address) for address in addresses}
    for conversation in container.store.listings.conversations_of("ana", tuple(addresses)):
        traces |= {conversation.conversation_id, str(conversation.slack_thread_ts)}
        if conversation.customer_name:
            traces.add(conversation.customer_name)
        for item in container.store.listings.timeline("ana", conversation.conversation_id):
            traces |= {str(item[name]) for name in ("slack_ts", "text") if item.get(name)}
            if item.get("provider_message_id"):
                traces.add(str(item["provider_message_id"]).split("@")[0])
            email = item.get("email") or {}
            traces |= {str(email.get(name)) for name in ("message_id",) if email.get(name)}
    for item in container.store.inbound.stored_messages("ana", addresses):
        traces |= {str(item["provider_message_id"]), str(item["text"])}
    return {trace for trace in traces if trace}


def test_after_an_erasure_no_item_holds_anything_derived_from_the_customer(
    client, put_shop, run_workers, container, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a customer of a shop that answers automatically, who wrote by SMS (with a
    # photo), WhatsApp (with a profile name) and email, linked by the shop ...
    document = shop_document(
        email={"address": SHOP_MAIL},
        sla={"targets": {"normal": {"first_response": 60}}},
        auto_replies={},
    )
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    link = client.http.post(
        f"/admin/shops/ana/customers/{quote(PHONE)}/links",
        headers=ADMIN,
        body=json.dumps({"address": MAIL}),
    )
    assert link.status_code == 200
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    write(client, 1, From=PHONE, Body="Meu CPF é 123", NumMedia="1", MediaUrl0=PHOTO_URL)
    write(
        client,
        2,
        From=f"whatsapp:{PHONE}",
        To="whatsapp:+14155550101",
        Body="Oi de novo",
        ProfileName="Ana Souza",
    )
    run_workers()
    sms_root, whatsapp_root = slack.roots()
    # ... answered by an agent, who corrected the reply and a note about her ...
    for body in (
        slack_thread_reply(sms_root.ts, "1764000500.000100", "Recebido, Ana"),
        edited(sms_root.ts, "1764000500.000100", "Recebido, Ana Souza", "1764000501.000100"),
        slack_thread_reply(whatsapp_root.ts, "1764000600.000100", "note: Ana quer troca"),
        edited(
            whatsapp_root.ts,
            "1764000600.000100",
            "note: Ana Souza quer troca do pedido",
            "1764000601.000100",
        ),
    ):
        assert client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    # ... mailed (a Message-ID of her own) and was answered by mail ...
    deliver(
        mime(
            "Segue a nota",
            sender=f"Ana Souza <{MAIL}>",
            to=SHOP_MAIL,
            message_id="nota-1042@mail.example",
        ),
        to=SHOP_MAIL,
    )
    run_workers()
    mail_root = slack.roots()[-1]
    answer = slack_thread_reply(mail_root.ts, "1764000700.000100", "Obrigada, Ana")
    client.http.post("/slack/events", headers=slack_headers(answer), body=answer)
    run_workers()
    # ... and wrote once more, still waiting to be processed; another customer mailed too
    write(client, 3, From=PHONE, Body="Alguém aí?")
    deliver(mime("Outra pessoa", sender="Bruno <bruno@example.net>", to=SHOP_MAIL), to=SHOP_MAIL)
    addresses = [PHONE, f"whatsapp:{PHONE}", MAIL]
    traces = traces_of(container, addresses)
    assert {"Ana Souza", "nota-1042@mail.example", mail_root.ts, "Alguém aí?"} <= traces
    assert len(container.store.listings.conversations_of("ana", tuple(addresses))) == 3

    # When she is erased
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(PHONE)}", headers=ADMIN)
    assert response.status_code == 200

    # Then no item of the table, in its keys or attributes, holds anything derived from
    # her, but for the anonymous receipt
    items = [item for item in table_items() if item["PK"]["S"] != "SHOP#ana#ERASURES"]
    left = {
        trace: [item["PK"]["S"] for item in items if trace in json.dumps(item, ensure_ascii=False)]
        for trace in sorted(traces)
    }
    assert {trace: keys for trace, keys in left.items() if keys} == {}
    # While the other customer's conversation is all there
    assert "bruno@example.net" in json.dumps(items)


def test_a_reply_erased_while_its_delivery_is_shown_is_not_brought_back(
    client, shop, container, run_workers, monkeypatch, slack: FakeSlack
):
    # Given a customer's conversation, erased while the agent's reply to it is being shown
    # as sent in Slack
    write(client, 1, From=PHONE, Body="Meu CPF é 123")
    run_workers()
    [root] = slack.roots()
    erase_before_next(monkeypatch, client, container.store.replies, "mark_shown", PHONE)
    reply = slack_thread_reply(root.ts, "1764000500.000100", "Recebido!")
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()
    # Then no part of the reply's item is written back
    assert items_of_shop_customers() == []


# What the bot shared, and said elsewhere ------------------------------------------------------


def erase(client: Any, customer: str = PHONE) -> dict[str, Any]:
    response = client.http.delete(f"/admin/shops/ana/customers/{quote(customer)}", headers=ADMIN)
    assert response.status_code == 200, response.body
    receipt: dict[str, Any] = json.loads(response.body)
    return receipt


@pytest.fixture
def mail_shop(put_shop: Any) -> str:
    assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    return "ana"


def test_the_customers_whole_text_the_bot_uploaded_is_deleted_with_them(
    client, mail_shop, run_workers, slack: FakeSlack
):
    # Given a customer's mail longer than a post shows: its whole text follows in the thread
    # as message.txt, a file the bot uploaded
    sentence = "Meu CPF é 123.456.789-00 e o pedido não chegou. "
    deliver(mime(sentence * 200, sender=f"Ana Souza <{MAIL}>", to=SHOP_MAIL), to=SHOP_MAIL)
    run_workers()
    [root] = slack.roots()
    [(channel, thread_ts, [whole])] = slack.uploads
    assert (channel, thread_ts, whole.filename) == ("C0SUPPORT", root.ts, "message.txt")
    assert sentence.encode() in whole.content
    [file_id] = slack.shared_files
    # When the customer is erased (no agent wrote in the thread)
    receipt = erase(client, MAIL)
    # Then the file is deleted from Slack, counted, and nothing is left anywhere
    assert slack.deleted_files == [file_id]
    assert (receipt["slack_files_deleted"], receipt["slack_files_left"]) == (1, [])
    assert receipt["slack_threads_left"] == []
    assert receipt["slack_messages_left"] == 0


def test_a_file_slack_would_not_delete_is_listed_with_its_thread(
    client, customer_everywhere, slack: FakeSlack
):
    # Given Slack refuses to delete the customer's photo the bot shared
    [file_id] = slack.shared_files
    slack.delete_file_failures.append(Retryable("Slack answered 503 to files.delete"))
    # When the customer is erased
    receipt = erase(client)
    # Then the file is listed for the workspace's admin, in a thread listed too
    assert (receipt["slack_files_deleted"], receipt["slack_files_left"]) == (0, [file_id])
    assert {"channel_id": "C0SUPPORT", "thread_ts": customer_everywhere} in receipt[
        "slack_threads_left"
    ]
    assert slack.deleted_files == []


def test_files_shared_before_an_upload_failed_for_good_are_deleted_with_the_customer(
    client, mail_shop, container, run_workers, slack: FakeSlack, monkeypatch
):
    from tests.integration.test_media import failing_upload, mail_with_photos

    # Given a mail's 15 photos, whose first ten Slack took and whose last five it never
    # took: the message ends in the dead-letter queue, never recorded on its conversation
    failing_upload(monkeypatch, slack, set(range(2, 20)))
    deliver(mail_with_photos(15), to=SHOP_MAIL)
    run_workers()
    assert queued_and_dead(INBOUND_QUEUE) == 1
    assert len(slack.shared_files) == 10
    # When the customer is erased
    receipt = erase(client, MAIL)
    # Then the ten photos in the thread are deleted too
    assert receipt["messages_outside_conversations"] == 1
    assert sorted(slack.deleted_files) == sorted(slack.shared_files)
    assert receipt["slack_files_deleted"] == 10


SLA_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def escalated(client, put_shop, run_workers, slack: FakeSlack, clock) -> list[Any]:
    """A conversation that went unanswered to the second level: the lead (a direct message)
    and the escalation channel were told, naming the customer. Returns those two posts."""
    from tests.integration.test_sla import SLA, fire

    clock.now = SLA_START
    assert put_shop("ana", shop_document(sla=SLA)).status_code == 201
    write(client, 1, From=PHONE, ProfileName="Ana Souza")
    run_workers()
    assert fire(SLA_START + timedelta(minutes=120)) == 3
    run_workers()
    escalations = [p for p in slack.posts if p.channel in ("U0LEAD", "C0ESCALATE")]
    assert len(escalations) == 2
    assert all(PHONE in p.message.text for p in escalations)
    return escalations


def test_the_escalations_naming_the_customer_are_deleted_with_them(
    client, escalated, slack: FakeSlack
):
    lead, channel = escalated
    # When the customer is erased
    receipt = erase(client)
    # Then both are deleted where Slack put them: the lead's is in the bot's direct messages
    # with them, a channel of its own
    assert {("D0LEAD", lead.ts), ("C0ESCALATE", channel.ts)} <= set(slack.deleted)
    assert receipt["slack_messages_left"] == 0
    assert receipt["slack_posts_left"] == []


def test_an_escalation_slack_would_not_delete_is_listed_for_the_admin(
    client, escalated, slack: FakeSlack
):
    lead, _ = escalated
    # Given Slack refuses every deletion
    slack.delete_failures.extend(Retryable("Slack answered 503") for _ in range(20))
    # When the customer is erased
    receipt = erase(client)
    # Then each of the bot's posts beyond the thread is listed where it is
    assert {"channel_id": "D0LEAD", "ts": lead.ts} in receipt["slack_posts_left"]
    assert len(receipt["slack_posts_left"]) == 2
    assert receipt["slack_messages_deleted"] == 0


def test_an_escalation_posted_while_the_customer_is_erased_is_taken_back(
    client, put_shop, run_workers, slack: FakeSlack, clock, container, monkeypatch
):
    from tests.integration.test_sla import SLA, fire

    # Given an unanswered conversation reaching its second level, whose customer is erased
    # just as the lead is told
    clock.now = SLA_START
    assert put_shop("ana", shop_document(sla=SLA)).status_code == 201
    write(client, 1, From=PHONE)
    run_workers()
    erase_before_next(
        monkeypatch, client, container.store.conversations, "note_post_about_conversation", PHONE
    )
    # When the second level comes
    assert fire(SLA_START + timedelta(minutes=120)) == 3
    run_workers()
    # Then what was posted naming the customer, which the erasure could not find, is gone
    [lead] = [p for p in slack.posts if p.channel == "U0LEAD"]
    assert ("D0LEAD", lead.ts) in slack.deleted


def test_a_message_posted_while_its_customer_is_erased_is_taken_back(
    client, shop, container, run_workers, monkeypatch, slack: FakeSlack
):
    # Given the customer is erased just after their message is posted in its thread, before
    # the post is noted on the message
    erase_before_next(monkeypatch, client, container.store.inbound, "mark_posted", PHONE)
    write(client, 1, From=PHONE, Body="Meu CPF é 123")
    # When the workers go on
    run_workers()
    # Then the post, which the erasure could not find, is deleted, and nothing comes back
    [posted] = [p for p in slack.posts if p.thread_ts is not None]
    assert (posted.channel, posted.ts) in slack.deleted
    assert items_of_shop_customers() == []


def test_files_shared_while_their_customer_is_erased_are_taken_back(
    client, shop, container, run_workers, monkeypatch, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given the customer is erased just after their photo is shared, before it is noted
    twilio.media[PHOTO_URL] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    erase_before_next(monkeypatch, client, container.store.inbound, "mark_files_shared", PHONE)
    write(client, 1, From=PHONE, Body="olha", NumMedia="1", MediaUrl0=PHOTO_URL)
    # When the workers go on
    run_workers()
    # Then the photo, which the erasure could not find, is deleted from Slack
    [file_id] = slack.shared_files
    assert slack.deleted_files == [file_id]
    assert items_of_shop_customers() == []
