"""The email adapter's own rules: SES's notifications read leniently, plus addresses, the
reply's MIME (threading headers, any script), and delivery events in an agent's words."""

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from chalicelib.channels.base import MediaFile
from chalicelib.channels.email import (
    EmailChannel,
    delivery_update,
    parse_delivery_event,
    parse_received,
    split_address,
)
from chalicelib.domain.email_threading import EmailEnvelope
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.messages import DeliveryStatus, OutboundMessage
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

SHOP = Shop.model_validate(
    {
        "shop_id": "alnoor",
        "name": "متجر النور",
        "email": {"address": "support@alnoor.store"},
    }
)


def reply(text: str = "شكراً لك، طلبك في الطريق.\n— سارة") -> OutboundMessage:
    return OutboundMessage(
        shop_id="alnoor",
        message_key="slack:C0SUPPORT:1764000500.000100",
        conversation_id="01KAQAXXXX",
        channel=Channel.EMAIL,
        to="fatima.ali@gmail.com",
        from_="support@alnoor.store",
        text=text,
        agent_user_id="U0SARA",
        agent_name="سارة",
        slack_channel_id="C0SUPPORT",
        slack_ts="1764000500.000100",
        slack_thread_ts="1764000000.000100",
        created_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        email=EmailEnvelope(
            subject="Re: طلب رقم 774",
            in_reply_to="CAJm4@mail.gmail.com",
            references=("first@mail.gmail.com", "CAJm4@mail.gmail.com"),
        ),
    )


@pytest.mark.parametrize(
    ("address", "split"),
    [
        ("Support+c01kaq@Shop.Example", ("support@shop.example", "c01kaq")),
        ("support@shop.example", ("support@shop.example", None)),
        ("support+@shop.example", ("support@shop.example", None)),
    ],
)
def test_plus_addresses_split_into_the_shop_address_and_its_tag(
    address: str, split: tuple[str, str | None]
) -> None:
    assert split_address(address) == split


def test_a_receipt_notification_is_read_with_whatever_keys_it_has() -> None:
    notification = {
        "notificationType": "Received",
        "mail": {"messageId": "abc123", "source": "x@y.example", "unknownKey": 1},
        "receipt": {
            "recipients": ["support@shop.example"],
            "spamVerdict": {"status": "FAIL"},
            "action": {"type": "S3", "bucketName": "b", "objectKey": "inbound-mail/abc123"},
        },
    }
    received = parse_received(json.dumps(notification))
    assert received.quarantine_reason == "spam"
    assert (received.receipt.action.bucket_name, received.receipt.action.object_key) == (
        "b",
        "inbound-mail/abc123",
    )


@pytest.mark.parametrize(
    "message", ["not json", json.dumps({"notificationType": "Bounce"}), json.dumps([1])]
)
def test_anything_but_a_receipt_notification_is_a_bad_request(message: str) -> None:
    with pytest.raises(BadRequest):
        parse_received(message)


def test_the_reply_threads_and_keeps_its_script_in_every_header_and_part() -> None:
    mail = EmailChannel(ses=None, s3=None, media_bucket="b").build(reply(), SHOP, [])  # type: ignore[arg-type]
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["From"] == '"سارة (متجر النور)" <support@alnoor.store>'
    assert parsed["Reply-To"] == "support+c01kaqaxxxx@alnoor.store"
    assert parsed["Subject"] == "Re: طلب رقم 774"
    assert parsed["In-Reply-To"] == "<CAJm4@mail.gmail.com>"
    assert parsed["References"] == "<first@mail.gmail.com> <CAJm4@mail.gmail.com>"
    text = parsed.get_body(("plain",))
    markup = parsed.get_body(("html",))
    assert text is not None
    assert markup is not None
    assert text.get_content().strip() == "شكراً لك، طلبك في الطريق.\n— سارة"
    assert '<body dir="auto"><p>شكراً لك، طلبك في الطريق.<br>— سارة</p>' in markup.get_content()
    # 7-bit on the wire, whatever the script
    assert all(byte < 128 for byte in mail.as_bytes())


def test_every_attempt_at_a_reply_carries_the_same_message_id() -> None:
    channel = EmailChannel(ses=None, s3=None, media_bucket="b")  # type: ignore[arg-type]
    first = channel.build(reply(), SHOP, [])["Message-ID"]
    again = channel.build(reply(), SHOP, [])["Message-ID"]
    assert first == again
    assert str(first).endswith("@alnoor.store>")


def test_html_in_a_reply_is_shown_as_text_not_run() -> None:
    mail = EmailChannel(ses=None, s3=None, media_bucket="b").build(  # type: ignore[arg-type]
        reply("<script>alert(1)</script>"), SHOP, []
    )
    markup = mail.get_body(("html",))
    assert markup is not None
    assert "&lt;script&gt;" in markup.get_content()


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ({"eventType": "Delivery"}, DeliveryStatus.DELIVERED, None),
        (
            {"eventType": "Bounce", "bounce": {"bounceType": "Permanent"}},
            DeliveryStatus.UNDELIVERED,
            "bounce:Permanent",
        ),
        (
            {"eventType": "Bounce", "bounce": {"bounceType": "Transient"}},
            DeliveryStatus.UNDELIVERED,
            "bounce:Transient",
        ),
        ({"eventType": "Complaint", "complaint": {}}, DeliveryStatus.FAILED, "complaint"),
        ({"eventType": "Reject"}, DeliveryStatus.FAILED, "reject"),
    ],
)
def test_ses_events_become_delivery_updates_with_reasons_agents_can_act_on(
    event: dict[str, object], status: DeliveryStatus, code: str | None
) -> None:
    parsed = parse_delivery_event(json.dumps({**event, "mail": {"messageId": "m1"}}))
    assert parsed is not None
    update = delivery_update(parsed, "alnoor")
    assert (update.provider_message_id, update.status, update.error_code) == ("m1", status, code)
    if code:
        described = EmailChannel(ses=None, s3=None, media_bucket="b").describe_error(code)  # type: ignore[arg-type]
        assert described != "the mail could not be delivered"


def test_events_we_do_not_track_are_skipped() -> None:
    assert (
        parse_delivery_event(json.dumps({"eventType": "Open", "mail": {"messageId": "m"}})) is None
    )


def test_a_reply_is_built_whatever_line_breaks_its_header_values_hold() -> None:
    # Given a reply whose subject, agent name, shop name, address, ids and file name hold
    # line breaks and control characters (stored before they were refused or cleaned)
    shop = SHOP.model_copy(update={"name": "متجر\r\nالنور"})
    message = reply().model_copy(
        update={
            "agent_name": "سارة\nأحمد",
            "to": "fatima.ali@gmail.com\r\n",
            "email": EmailEnvelope(
                subject="Re: طلب\r\nBcc: x@y.example\x00",
                in_reply_to="CAJm4@mail.gmail.com\r\nBcc: x@y.example",
                references=("first@mail.gmail.com", "bad id@x\n"),
            ),
        }
    )
    file = MediaFile("nota\r\n.pdf", "application/pdf\n", b"%PDF")

    # When it is built
    mail = EmailChannel(ses=None, s3=None, media_bucket="b").build(message, shop, [file])  # type: ignore[arg-type]

    # Then every header is one line, none was added, and the mail serialises
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Re: طلب Bcc: x@y.example"
    assert parsed["From"] == '"سارة أحمد (متجر النور)" <support@alnoor.store>'
    assert parsed["To"] == "fatima.ali@gmail.com"
    assert parsed["Bcc"] is None
    assert parsed["In-Reply-To"] is None
    assert parsed["References"] == "<first@mail.gmail.com>"
    [attached] = list(parsed.iter_attachments())
    assert attached.get_filename() == "nota .pdf"
