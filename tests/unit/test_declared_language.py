"""The language a customer's app declares decides where their words cannot: Telegram's
`from.language_code` read as a primary subtag, and automatic messages (auto-replies, CSAT,
order answers) falling back on it rather than on the shop's default."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.telegram import TelegramChannel
from chalicelib.domain.auto_replies import AutoReplyPolicy
from chalicelib.domain.conversation import Conversation, open_conversation, with_customer_message
from chalicelib.domain.csat import CsatPolicy
from chalicelib.domain.declared_language import declared_tag, fallback_language
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.shop import Shop, TelegramConfig
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.conversations import survey_language
from chalicelib.services.replies import customer_language

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "tag"),
    [
        ("pt-br", "pt"),
        ("pt_BR", "pt"),
        ("AR", "ar"),
        ("hu", "hu"),
        ("fil", "fil"),
        (" es ", "es"),
        ("", None),
        ("p", None),
        ("portuguese", None),
        ("x" * 40, None),
        ("1a-b", None),
        (None, None),
        (7, None),
    ],
)
def test_a_declared_tag_is_its_primary_subtag_or_nothing(given: object, tag: str | None) -> None:
    assert declared_tag(given) == tag


def test_the_declared_language_is_the_fallback_only_where_the_shop_speaks_it() -> None:
    assert fallback_language("pt", ["en", "pt"], "en") == "pt"
    assert fallback_language("fr", ["en", "pt"], "en") == "en"
    assert fallback_language(None, ["en", "pt"], "en") == "en"


def telegram_update(text: str, language_code: str | None) -> WebhookRequest:
    sender: dict[str, Any] = {"id": 42, "is_bot": False, "first_name": "Ana"}
    if language_code is not None:
        sender["language_code"] = language_code
    body = {
        "update_id": 9,
        "message": {
            "message_id": 1,
            "from": sender,
            "chat": {"id": 42, "type": "private"},
            "date": 1774774800,
            "text": text,
        },
    }
    return WebhookRequest(url="https://x", body=json.dumps(body).encode(), headers={})


@pytest.mark.parametrize(("code", "kept"), [("pt-br", "pt"), (None, None), ("🙂", None)])
def test_telegrams_language_code_goes_with_the_message(code: str | None, kept: str | None) -> None:
    shop = Shop(shop_id="ana", name="Ana", telegram=TelegramConfig(bot_id="7012345678"))

    message = TelegramChannel().parse_update(telegram_update("??", code), shop, received_at=AT)

    assert message is not None
    assert message.customer_language == kept


def message(text: str, language: str | None) -> InboundMessage:
    return InboundMessage(
        shop_id="ana",
        channel=Channel.TELEGRAM,
        provider="telegram",
        provider_message_id=f"1:{text}",
        customer_address="telegram:42",
        shop_address="telegram:bot1",
        text=text,
        received_at=AT,
        customer_language=language,
    )


def test_a_conversation_keeps_the_language_last_declared() -> None:
    opened = open_conversation(message("hi", "pt"), "01C")
    assert opened.customer_language == "pt"
    # A message with no declared language (a channel without one) keeps what was declared.
    assert with_customer_message(opened, message("??", None)).customer_language == "pt"
    assert with_customer_message(opened, message("??", "es")).customer_language == "es"


def conversation(preview: str, language: str | None) -> Conversation:
    return open_conversation(message(preview, language), "01C")


@pytest.mark.parametrize("preview", ["hi", "??", "ok 👍", "1042"])
def test_csat_and_order_answers_speak_the_declared_language_when_words_are_too_few(
    preview: str,
) -> None:
    shop = Shop(shop_id="ana", name="Ana", auto_replies=AutoReplyPolicy(default_language="en"))

    assert survey_language(conversation(preview, "pt"), CsatPolicy()) == "pt"
    assert customer_language(conversation(preview, "pt"), shop) == "pt"
    # Without a declared language, the shop's default, as before
    assert survey_language(conversation(preview, None), CsatPolicy()) == "en"
    assert customer_language(conversation(preview, None), shop) == "en"


def test_clear_words_outweigh_the_declared_language() -> None:
    spanish = conversation("Hola, ¿dónde está mi pedido? Lo compré la semana pasada.", "pt")

    assert survey_language(spanish, CsatPolicy()) == "es"
