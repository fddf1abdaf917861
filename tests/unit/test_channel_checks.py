"""How `threadline doctor` judges a shop's Telegram bot (its webhook as getWebhookInfo tells
it) and its Meta token (accepted by the Graph API, each claimed id readable with it): passed,
or failed with what to do in plain words."""

import pytest

from chalicelib.domain.checks import (
    NO_BOT_TOKEN,
    GraphObject,
    Refusal,
    TelegramWebhookInfo,
    Verdict,
    meta_id_check,
    meta_token_check,
    telegram_webhook_check,
)
from chalicelib.domain.shop import Shop, ShopDocument
from chalicelib.domain.vocabulary import Channel
from tests.signing import shop_document

pytestmark = pytest.mark.unit

BOT_ID = "7000000001"
EXPECTED = "https://threadline.example.com/api/webhooks/telegram/ana"


def telegram_shop() -> Shop:
    document = shop_document(telegram={"bot_token": f"{BOT_ID}:" + "A" * 35})
    return ShopDocument.model_validate(document).split("ana")[0]


def test_a_bot_whose_webhook_comes_here_passes() -> None:
    found = TelegramWebhookInfo(url=EXPECTED, allowed_updates=("message", "edited_message"))
    check = telegram_webhook_check(telegram_shop(), found, EXPECTED)
    assert (check.subject, check.name, check.verdict) == ("Telegram", f"bot {BOT_ID}", "passed")
    # Telegram leaves out allowed_updates when the bot takes its default, messages included
    default = TelegramWebhookInfo(url=EXPECTED)
    assert telegram_webhook_check(telegram_shop(), default, EXPECTED).verdict is Verdict.PASSED


@pytest.mark.parametrize(
    ("found", "detail", "fix"),
    [
        (
            TelegramWebhookInfo(url="https://old.example/hook"),
            "updates go to https://old.example/hook",
            "threadline shop connect-telegram ana",
        ),
        (
            TelegramWebhookInfo(url=""),
            "updates go to nowhere (no webhook set)",
            "threadline shop connect-telegram ana",
        ),
        (
            TelegramWebhookInfo(url=EXPECTED, allowed_updates=("callback_query",)),
            "the bot receives only callback_query: customers' messages are not delivered",
            "threadline shop connect-telegram ana",
        ),
        (
            TelegramWebhookInfo(
                url=EXPECTED,
                last_error_message="Wrong response from the webhook: 403 Forbidden",
                pending_update_count=3,
            ),
            "Telegram's last delivery here failed: Wrong response from the webhook: 403 "
            "Forbidden; 3 updates wait",
            "threadline shop connect-telegram ana sets the webhook and its secret token again",
        ),
        (
            Refusal("401", "Unauthorized"),
            "Telegram refused the bot token (revoked, or another bot's)",
            "@BotFather",
        ),
        (
            Refusal(NO_BOT_TOKEN),
            "no token of this bot is stored",
            "threadline shop put with telegram.bot_token",
        ),
        (Refusal("unreachable", "Timeout"), "Telegram unreachable: Timeout", "try again"),
    ],
)
def test_a_bot_fails_with_what_is_wrong_and_what_to_do(
    found: TelegramWebhookInfo | Refusal, detail: str, fix: str
) -> None:
    check = telegram_webhook_check(telegram_shop(), found, EXPECTED)
    assert check.verdict is Verdict.FAILED
    assert check.detail.startswith(detail)
    assert fix in check.fix


def test_a_meta_token_graph_accepts_passes_and_each_readable_id_too() -> None:
    token = meta_token_check(GraphObject("61550000000001", "Threadline system user"))
    assert (token.subject, token.name, token.verdict) == ("Meta", "access token", "passed")
    assert token.detail == "accepted: it is 61550000000001 (Threadline system user)"
    page = meta_id_check(Channel.MESSENGER, "1122334455", GraphObject("1122334455", "Loja"))
    assert (page.name, page.verdict, page.detail) == (
        "messenger 1122334455",
        "passed",
        "readable with the shop's token (Loja)",
    )


@pytest.mark.parametrize(
    ("refusal", "detail", "fix"),
    [
        (
            Refusal("190", "Error validating access token: Session has expired"),
            "Meta refused the access token (expired or revoked)",
            "threadline shop put with meta.access_token",
        ),
        (Refusal("unreachable", "ConnectionError"), "Graph API unreachable", "try again"),
        (Refusal("2", "Service temporarily unavailable"), "Meta answered 2", "try again"),
    ],
)
def test_a_refused_meta_token_fails_with_what_to_do(
    refusal: Refusal, detail: str, fix: str
) -> None:
    check = meta_token_check(refusal)
    assert check.verdict is Verdict.FAILED
    assert check.detail.startswith(detail)
    assert fix in check.fix


def test_an_id_the_token_may_not_read_fails_with_what_to_do() -> None:
    refusal = Refusal("100", "Object with ID '17841400000000009' does not exist")
    check = meta_id_check(Channel.INSTAGRAM, "17841400000000009", refusal)
    assert (check.name, check.verdict) == ("instagram 17841400000000009", "failed")
    assert check.detail.startswith("the token may not read it (100: ")
    assert "threadline shop put" in check.fix
    assert "Business Settings" in check.fix
