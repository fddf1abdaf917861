"""Media both ways: customers' attachments kept in S3 and uploaded into the thread; agents'
files kept in S3 and sent as media where the channel takes it, as links elsewhere."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from chalicelib.channels.base import MediaFile
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import MEDIA_BUCKET, PUBLIC_URL, Clock
from tests.signing import (
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0001"


def customer_sends(client: Any, **fields: str) -> None:
    params = twilio_message(1, **fields)
    path = "/webhooks/twilio/ana"
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200


def bucket_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_a_customers_photo_is_kept_and_shared_in_the_thread(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given Twilio holds the photo a WhatsApp customer sent
    twilio.media[MEDIA_URL] = MediaFile("ME0001.png", "image/png", PHOTO)

    # When the message arrives
    customer_sends(
        client,
        From=f"whatsapp:{CUSTOMER}",
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        Body="Chegou quebrado 😢",
        NumMedia="1",
        MediaUrl0=MEDIA_URL,
        MediaContentType0="image/png",
    )
    run_workers()

    # Then the text is in the thread, the photo uploaded under it, and a copy kept in S3
    [root] = slack.roots()
    [(channel, thread_ts, [uploaded])] = slack.uploads
    assert (channel, thread_ts) == (root.channel, root.ts)
    assert (uploaded.filename, uploaded.content) == ("ME0001.png", PHOTO)
    [key] = bucket_keys()
    assert key.startswith("ana/inbound/twilio:SM")
    assert key.endswith("/0-ME0001.png")
    kept = boto3.client("s3").get_object(Bucket=MEDIA_BUCKET, Key=key)
    assert kept["Body"].read() == PHOTO
    assert kept["ContentType"] == "image/png"


def test_an_attachment_the_provider_no_longer_has_is_noted_not_lost_in_silence(
    client, shop, run_workers, slack: FakeSlack
):
    customer_sends(client, Body="olha", NumMedia="1", MediaUrl0=MEDIA_URL)
    run_workers()
    [root] = slack.roots()
    assert slack.uploads == []
    assert "could not be fetched" in slack.thread(root.ts)[-1].message.text


def agent_file(file_id: str, name: str, size: int = len(PHOTO)) -> dict[str, Any]:
    return {
        "id": file_id,
        "name": name,
        "mimetype": "image/png",
        "size": size,
        "url_private_download": f"https://files.slack.com/files-pri/T0-{file_id}/download/{name}",
    }


@pytest.fixture
def thread(client, put_shop, run_workers, slack: FakeSlack):
    """A conversation thread, for a shop whose Twilio numbers are given."""

    def open_(customer_from: str, to: str, sms: str = SMS_NUMBER) -> str:
        document = shop_document()
        document["twilio"]["sms_numbers"] = [sms]
        assert put_shop("ana", document).status_code in (200, 201)
        customer_sends(client, From=customer_from, To=to)
        run_workers()
        return slack.roots()[-1].ts

    return open_


def test_an_agents_photo_goes_to_a_whatsapp_customer_as_media(
    client, thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a WhatsApp conversation, and a photo an agent attached in Slack
    thread_ts = thread(f"whatsapp:{CUSTOMER}", f"whatsapp:{WHATSAPP_NUMBER}")
    file = agent_file("F0PHOTO", "etiqueta.png")
    slack.files[file["url_private_download"]] = PHOTO

    # When the agent sends it with a line of text
    body = slack_thread_reply(
        thread_ts, "1764000500.000100", "Sua etiqueta de devolução", files=[file]
    )
    client.http.post("/slack/events", headers=_signed(body), body=body)
    run_workers()

    # Then the customer gets the text and the photo, fetched from S3 through a signed URL
    [sent] = twilio.sent
    assert sent.text == "Sua etiqueta de devolução\n— Bia"
    [url] = sent.media_urls
    assert urlsplit(url).path.endswith("/ana/outbound/F0PHOTO/etiqueta.png")
    assert "X-Amz-Signature=" in url
    assert bucket_keys() == ["ana/outbound/F0PHOTO/etiqueta.png"]


def test_an_agents_file_with_a_name_longer_than_s3_takes_still_goes(
    client, thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a photo an agent attached under a name of 1,500 bytes (S3 takes 1,024 a key)
    thread_ts = thread(f"whatsapp:{CUSTOMER}", f"whatsapp:{WHATSAPP_NUMBER}")
    file = agent_file("F0LONG", "etiqueta-de-devolução-" * 60 + ".png")
    slack.files[file["url_private_download"]] = PHOTO

    # When the agent sends it
    body = slack_thread_reply(thread_ts, "1764000500.000100", "Sua etiqueta", files=[file])
    client.http.post("/slack/events", headers=_signed(body), body=body)
    run_workers()

    # Then the customer gets it, kept under a key S3 takes
    [sent] = twilio.sent
    assert len(sent.media_urls) == 1
    [key] = bucket_keys()
    assert key.startswith("ana/outbound/F0LONG/etiqueta-de-devolu")
    assert len(key.encode()) <= 1024


def test_files_beyond_what_the_channel_carries_go_as_links_that_last_the_week(
    client, thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio, clock: Clock
):
    # Given an SMS conversation from a Brazilian number, which sends no MMS
    thread_ts = thread(CUSTOMER, "+5511912345678", sms="+5511912345678")
    file = agent_file("F0PDF", "nota.pdf")
    slack.files[file["url_private_download"]] = b"%PDF-1.7"

    # When an agent sends only a file
    sent_at = clock.now = datetime.now(UTC)
    body = slack_thread_reply(thread_ts, "1764000500.000100", "", files=[file])
    client.http.post("/slack/events", headers=_signed(body), body=body)
    run_workers()

    # Then the customer gets a link to it on Threadline itself (no presigned URL, which the
    # function's session credentials would end within hours), signed by the agent
    [sent] = twilio.sent
    assert sent.media_urls == ()
    first_line, signature = sent.text.split("\n")
    name, link = first_line.split(": ")
    assert (name, signature) == ("nota.pdf", "— Bia")
    assert link.startswith(f"{PUBLIC_URL}/media/")
    assert "X-Amz" not in link
    path = link.removeprefix(PUBLIC_URL)

    # And six days later the link still opens the file: a redirect to a URL presigned then,
    # for the few minutes the redirect needs
    clock.now = sent_at + timedelta(days=6)
    opened = client.http.get(path)
    assert opened.status_code == 302, opened.body
    assert opened.headers["Cache-Control"] == "no-store"
    location = opened.headers["Location"]
    assert urlsplit(location).path.endswith("/ana/outbound/F0PDF/nota.pdf")
    assert "X-Amz-Expires=300" in location
    assert requests.get(location, timeout=5).content == b"%PDF-1.7"

    # And a link changed by one character is refused, saying nothing more
    token = path.removeprefix("/media/")
    for at in (0, len(token) // 2, len(token) - 1):
        other = "A" if token[at] != "A" else "B"
        altered = client.http.get(f"/media/{token[:at]}{other}{token[at + 1 :]}")
        assert (altered.status_code, json.loads(altered.body)) == (
            403,
            {"error": "this link is not valid"},
        )

    # And eight days later the link has expired
    clock.now = sent_at + timedelta(days=8)
    expired = client.http.get(path)
    assert (expired.status_code, json.loads(expired.body)) == (
        403,
        {"error": "this link has expired"},
    )


def test_a_link_to_a_file_erased_since_says_it_is_gone(
    client, thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given a link sent to a customer
    thread_ts = thread(CUSTOMER, "+5511912345678", sms="+5511912345678")
    file = agent_file("F0PDF", "nota.pdf")
    slack.files[file["url_private_download"]] = b"%PDF-1.7"
    body = slack_thread_reply(thread_ts, "1764000500.000100", "", files=[file])
    client.http.post("/slack/events", headers=_signed(body), body=body)
    run_workers()
    link = twilio.sent[0].text.split("\n")[0].split(": ")[1]
    # When its file is erased (the customer's data erased, or its retention over)
    boto3.client("s3").delete_object(Bucket=MEDIA_BUCKET, Key="ana/outbound/F0PDF/nota.pdf")
    # Then the link answers 404, naming nothing
    gone = client.http.get(link.removeprefix(PUBLIC_URL))
    assert (gone.status_code, json.loads(gone.body)) == (
        404,
        {"error": "this file is no longer available"},
    )


def test_a_file_slack_will_not_give_is_reported_and_the_text_still_goes(
    client, thread, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    thread_ts = thread(CUSTOMER, SMS_NUMBER)
    huge = agent_file("F0BIG", "video.mov", size=50 * 1024 * 1024)
    body = slack_thread_reply(thread_ts, "1764000500.000100", "Veja o vídeo", files=[huge])
    client.http.post("/slack/events", headers=_signed(body), body=body)
    run_workers()
    assert [sent.text for sent in twilio.sent] == ["Veja o vídeo\n— Bia"]
    note = slack.thread(thread_ts)[-1].message.text
    assert "`video.mov`" in note
    assert "the rest of the reply went out" in note


def _signed(body: bytes) -> dict[str, str]:
    from tests.signing import slack_headers

    return slack_headers(body)


SHOP_MAIL = "support@lojadaana.com.br"
MAIL = "ana.souza@gmail.com"


def mail_with_photos(count: int) -> bytes:
    """A customer's mail carrying `count` small photos."""
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = f"Ana Souza <{MAIL}>"
    mail["To"] = SHOP_MAIL
    mail["Subject"] = "Fotos do pedido"
    mail["Message-ID"] = "<fotos-1042@mail.gmail.com>"
    mail.set_content("Seguem as fotos.")
    for n in range(count):
        mail.add_attachment(
            bytes([n]) * 8, maintype="image", subtype="png", filename=f"foto-{n:02d}.png"
        )
    return mail.as_bytes()


@pytest.fixture
def mail_shop(put_shop: Any, container: Any) -> str:
    assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    return "ana"


def failing_upload(monkeypatch: Any, slack: FakeSlack, failing: set[int]) -> None:
    """Slack fails the uploads numbered in `failing` (the first is 1), and takes the rest."""
    from chalicelib.domain.errors import Retryable
    from tests.fakes import FakeWorkspace

    upload = FakeWorkspace.upload_files
    calls = [0]

    def sometimes_failing(self: FakeWorkspace, *args: Any) -> list[str]:
        calls[0] += 1
        if calls[0] in failing:
            raise Retryable("Slack answered 500 to an upload")
        return upload(self, *args)

    monkeypatch.setattr(FakeWorkspace, "upload_files", sometimes_failing)


def test_a_mails_files_are_shared_once_when_an_upload_fails_halfway(
    client, mail_shop, run_workers, slack: FakeSlack, monkeypatch
):
    from tests.integration.test_email import deliver

    # Given Slack failing, once, the second of the uploads that share a mail's 15 photos
    failing_upload(monkeypatch, slack, {2})
    # When the mail arrives and the worker (retried after the failure) posts it
    deliver(mail_with_photos(15), to=SHOP_MAIL)
    run_workers()
    # Then every photo is in the thread once, ten and then the five left by the retry
    [root] = slack.roots()
    assert [(c, t, len(files)) for c, t, files in slack.uploads] == [
        (root.channel, root.ts, 10),
        (root.channel, root.ts, 5),
    ]
    shared = sorted(f.filename for _, _, files in slack.uploads for f in files)
    assert shared == [f"foto-{n:02d}.png" for n in range(15)]
    # And the message is in the thread once, its files noted as shared
    assert len(slack.thread(root.ts)) == 1
    [message] = [item for item in stored_customer_messages() if item.get("provider") == "email"]
    assert (message["files_posted"], message["files_shared"]) == (True, 15)
    assert sorted(message["slack_file_ids"]) == sorted(slack.shared_files)


def stored_customer_messages() -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    items = boto3.client("dynamodb").scan(TableName="threadline")["Items"]
    return [
        {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
        for item in items
        if item["SK"]["S"] == "MESSAGE"
    ]
