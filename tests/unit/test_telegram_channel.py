"""Telegram updates: the secret token, lenient and bounded parsing, refusals explained, and
long texts cut for Telegram. Nothing here talks HTTP."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from chalicelib.channels.base import DeliveryRefused, WebhookRequest
from chalicelib.channels.telegram import (
    FILE_PREFIX,
    MAX_UPDATE_BYTES,
    MESSAGE_LIMIT,
    TelegramChannel,
    TelegramRefusal,
    _refused,
    chat_of,
    message_parts,
    read_update,
    utf16_length,
)
from chalicelib.domain.errors import BadRequest, Forbidden, Retryable
from chalicelib.domain.messages import MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets, TelegramConfig
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

BOT_ID = "7012345678"
SECRET = "s3cret-token_of-the-shop"
RECEIVED_AT = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


def make_shop(*, bot: bool = True) -> Shop:
    return Shop(
        shop_id="kavezo",
        name="Kávézó",
        telegram=TelegramConfig(bot_id=BOT_ID) if bot else None,
    )


def make_secrets(secret: str | None = SECRET) -> ShopSecrets:
    return ShopSecrets(
        telegram_bot_token=SecretStr(f"{BOT_ID}:AAE" + "x" * 32),
        telegram_webhook_secret=SecretStr(secret) if secret else None,
    )


def update(**message: Any) -> dict[str, Any]:
    """A private chat's message as Telegram posts it (update 500); keywords add or replace
    fields of the message."""
    update_id = 500
    body: dict[str, Any] = {
        "message_id": 12,
        "from": {"id": 42, "is_bot": False, "first_name": "Ana", "language_code": "pt-br"},
        "chat": {"id": 42, "type": "private", "first_name": "Ana"},
        "date": 1774774800,
        "text": "Olá! Onde está meu pedido?",
    }
    body.update(message)
    return {"update_id": update_id, "message": body}


def request(body: dict[str, Any] | bytes, secret: str | None = SECRET) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"x-telegram-bot-api-secret-token": secret} if secret is not None else {}
    return WebhookRequest(url="https://x/webhooks/telegram/kavezo", body=raw, headers=headers)


def test_a_text_message_becomes_the_customers_message() -> None:
    # When
    message = TelegramChannel().parse_update(
        request(update()), make_shop(), received_at=RECEIVED_AT
    )
    # Then
    assert message is not None
    assert message.channel is Channel.TELEGRAM
    assert message.customer_address == "telegram:42"
    assert message.shop_address == f"telegram:bot{BOT_ID}"
    assert message.customer_name == "Ana"
    assert message.text == "Olá! Onde está meu pedido?"
    # update_id counts per bot: the bot is part of the dedup id.
    assert message.message_key == f"telegram:{BOT_ID}:500"


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_a_missing_or_wrong_secret_token_is_forbidden(secret: str | None) -> None:
    with pytest.raises(Forbidden):
        TelegramChannel().verify(request(update(), secret=secret), make_shop(), make_secrets())


def test_a_shop_without_a_webhook_secret_refuses_every_update() -> None:
    with pytest.raises(Forbidden):
        TelegramChannel().verify(request(update()), make_shop(), make_secrets(secret=None))


def test_the_right_secret_token_is_accepted() -> None:
    TelegramChannel().verify(request(update()), make_shop(), make_secrets())


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        json.dumps({"update_id": "500"}).encode(),
        json.dumps({"update_id": -1}).encode(),
        json.dumps({"update_id": True}).encode(),
        b"[" * 100_000 + b"]" * 100_000,
        b" " * (MAX_UPDATE_BYTES + 1),
    ],
)
def test_what_is_no_telegram_update_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        read_update(body)


@pytest.mark.parametrize(
    "body",
    [
        {"update_id": 1, "callback_query": {"id": "1"}},
        {"update_id": 1, "my_chat_member": {}},
        {"update_id": 1},
        update(chat={"id": -100123, "type": "supergroup", "title": "Fans"}),
        update(chat={"id": 42, "type": "group"}),
        update(**{"from": {"id": 9, "is_bot": True, "first_name": "Spam"}}),
        update(chat="not an object"),
        update(chat={"type": "private"}),
    ],
)
def test_updates_that_are_no_customer_message_are_acknowledged_and_kept_nowhere(
    body: dict[str, Any],
) -> None:
    assert read_update(json.dumps(body).encode()) is None


def test_a_huge_text_is_bounded() -> None:
    body = update(text="a" * 1_000_000)
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert len(read.text) <= MESSAGE_LIMIT * 2


def test_missing_fields_make_no_error() -> None:
    body = {"update_id": 7, "message": {"chat": {"id": 42, "type": "private"}}}
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert read.customer_name is None
    assert "cannot show" in read.text


def test_an_unknown_kind_of_message_is_a_clear_note() -> None:
    body = update(text=None, poll={"id": "1", "question": "Which?"})
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert read.text == "(a Telegram poll Threadline cannot show: ask the customer to write it out)"


def test_a_right_to_left_name_survives_as_given() -> None:
    sender = {"id": 42, "is_bot": False, "first_name": "\u202eمحمد", "last_name": "العلي"}
    read = read_update(json.dumps(update(**{"from": sender})).encode())
    assert read is not None
    # Kept as written: presentation escapes and isolates it wherever Slack shows it.
    assert read.customer_name == "\u202eمحمد العلي"


def test_a_username_stands_in_for_a_missing_name() -> None:
    read = read_update(json.dumps(update(**{"from": {"id": 42, "username": "ana_b"}})).encode())
    assert read is not None
    assert read.customer_name == "@ana_b"


def test_a_photo_comes_as_its_largest_downloadable_size_with_its_caption() -> None:
    sizes = [
        {"file_id": "small", "file_unique_id": "a", "width": 90, "height": 90},
        {"file_id": "large", "file_unique_id": "b", "width": 1280, "height": 1280},
        {"file_id": "huge", "file_unique_id": "c", "file_size": 30 * 1024 * 1024},
    ]
    body = update(photo=sizes, caption="Chegou assim")
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert [item.url for item in read.media] == [FILE_PREFIX + "large"]
    assert read.media[0].content_type == "image/jpeg"
    assert read.text == "Chegou assim"


@pytest.mark.parametrize(
    ("kind", "item", "content_type"),
    [
        ("document", {"file_id": "d1", "mime_type": "application/pdf"}, "application/pdf"),
        ("audio", {"file_id": "a1"}, "audio/mpeg"),
        ("voice", {"file_id": "v1", "mime_type": "audio/ogg"}, "audio/ogg"),
        ("video", {"file_id": "m1"}, "video/mp4"),
        ("sticker", {"file_id": "s1", "emoji": "😀", "is_video": True}, "video/webm"),
    ],
)
def test_files_of_each_kind_are_fetched_later_by_their_file_id(
    kind: str, item: dict[str, Any], content_type: str
) -> None:
    body = update(**{kind: item})
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    [media] = read.media
    assert media.url == FILE_PREFIX + item["file_id"]
    assert media.content_type == content_type


def test_a_file_with_a_hostile_id_is_not_fetched_and_said() -> None:
    body = update(document={"file_id": "../../etc/passwd"})
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert read.media == ()
    assert "document" in read.text


def test_a_location_and_a_contact_are_written_out() -> None:
    body = update(
        location={"latitude": -23.55052, "longitude": -46.633308},
        contact={"phone_number": "+5511987654321", "first_name": "Bia"},
    )
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert "📍 Location: -23.550520, -46.633308" in read.text
    assert "openstreetmap.org/?mlat=-23.550520&mlon=-46.633308" in read.text
    assert "👤 Contact: Bia, +5511987654321" in read.text


def test_a_location_out_of_range_is_said_unreadable() -> None:
    body = update(location={"latitude": 1e308, "longitude": "x"})
    del body["message"]["text"]
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert read.text == "(a location that could not be read)"


def test_a_reply_quotes_the_message_it_answers_in_one_short_line() -> None:
    body = update(reply_to_message={"message_id": 3, "text": "Seu pedido\nsaiu " + "x" * 500})
    read = read_update(json.dumps(body).encode())
    assert read is not None
    quoted, text = read.text.split("\n", 1)
    assert quoted.startswith("↩️ In reply to: “Seu pedido saiu x")
    assert len(quoted) < 230
    assert text == "Olá! Onde está meu pedido?"


def test_an_edit_arrives_as_a_message_marked_edited() -> None:
    body = update(text="Corrigindo: pedido 1043")
    body["edited_message"] = body.pop("message")
    read = read_update(json.dumps(body).encode())
    assert read is not None
    assert read.text == "✏️ Edited:\nCorrigindo: pedido 1043"


def test_a_long_text_goes_in_parts_within_telegrams_limit() -> None:
    text = ("palavra " * 1200).strip() + " 🙂" * 10
    parts = message_parts(text)
    assert len(parts) == 3
    assert all(utf16_length(part) <= MESSAGE_LIMIT for part in parts)
    assert " ".join(parts).split() == text.split()


def test_astral_characters_count_twice() -> None:
    parts = message_parts("🙂" * 3000)
    assert [utf16_length(part) for part in parts] == [4096, 1904]


def test_only_telegram_addresses_are_chats() -> None:
    assert chat_of("telegram:42") == 42
    assert chat_of("+5511987654321") is None
    assert chat_of("telegram:-100") is None


def test_a_blocked_bot_is_explained_with_its_code() -> None:
    refused = _refused(TelegramRefusal(403, "Forbidden: bot was blocked by the user"))
    assert isinstance(refused, DeliveryRefused)
    assert refused.error_code == "403"
    assert refused.reason == "the customer blocked the shop's Telegram bot"


def test_an_unknown_refusal_keeps_telegrams_words() -> None:
    refused = _refused(TelegramRefusal(400, "Bad Request: something new"))
    assert isinstance(refused, DeliveryRefused)
    assert refused.reason == "Telegram refused the message as invalid: Bad Request: something new"


def test_throttling_is_retried_after_what_telegram_asks() -> None:
    refused = _refused(TelegramRefusal(429, "Too Many Requests: retry after 7", 7))
    assert isinstance(refused, Retryable)
    assert refused.retry_after == 7


def reply_to_ana() -> OutboundMessage:
    return OutboundMessage(
        shop_id="kavezo",
        message_key="slack:C1:1.0",
        conversation_id="c1",
        channel=Channel.TELEGRAM,
        to="telegram:42",
        from_="telegram:bot" + BOT_ID,
        text="Olá",
        agent_user_id="U1",
        slack_channel_id="C1",
        slack_ts="1.0",
        slack_thread_ts="0.1",
        created_at=RECEIVED_AT,
    )


class _FileFound:
    status_code = 200

    @staticmethod
    def json() -> dict[str, Any]:
        return {"ok": True, "result": {"file_id": "AgAD", "file_path": "photos/file_1.jpg"}}


@pytest.mark.parametrize("call", ["sendMessage", "getFile", "file download"])
def test_an_unreachable_telegram_leaves_the_bot_token_out_of_the_error_and_its_cause(
    monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    import traceback

    import requests

    token = make_secrets().telegram_bot_token
    assert token is not None

    def unreachable(url: str, **_: Any) -> Any:
        if call == "file download" and url.endswith("/getFile"):
            return _FileFound()
        # As urllib3 words it: the URL (with the token in its path) in the message.
        raise requests.ConnectionError(f"Max retries exceeded with url: {url}")

    monkeypatch.setattr(requests, "post", unreachable)
    monkeypatch.setattr(requests, "get", unreachable)
    channel = TelegramChannel()
    attempt = (
        (lambda: channel.send(reply_to_ana(), make_shop(), make_secrets(), ""))
        if call == "sendMessage"
        else (
            lambda: channel.fetch_media(
                MediaItem(url=FILE_PREFIX + "AgAD"), make_shop(), make_secrets()
            )
        )
    )
    with pytest.raises(Retryable) as raised:
        attempt()
    # The batch processor's error, which Lambda logs, prints the whole chain.
    told = "".join(traceback.format_exception(raised.value))
    assert token.get_secret_value() not in told
