"""Bad input on every HTTP route, drawn by hypothesis: malformed forms and JSON, huge bodies,
wrong content types, invalid UTF-8, missing, forged and replayed signatures, unknown shops,
another shop's account. No request gets a 5xx; a refusal is a 4xx with a short reason and
changes nothing (table, queues, secrets, media, schedules, Slack, Twilio); and no secret,
customer number or message body reaches a log line while they run."""

import dataclasses
import functools
import io
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from chalice.test import Client
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Installation

from app import app
from chalicelib import bootstrap
from chalicelib.services.installs import Exchange
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, TABLE_NAME, TIMERS_QUEUE, Settings
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.bad_input import (
    BOB_ACCOUNT_SID,
    BOB_AUTH_TOKEN,
    BOB_NUMBER,
    BOB_SHOPIFY_SECRET,
    BOB_TELEGRAM_SECRET,
    BOB_TELEGRAM_TOKEN,
    CAROL_WOOCOMMERCE_SECRET,
    FUZZ,
    GOOD_KEY,
    Probe,
    Route,
    admin_request,
    cursor_of,
    media_link,
    meta_handshake,
    meta_webhook,
    record,
    shopify_webhook,
    slack_event,
    slack_form,
    slack_install,
    slack_oauth_redirect,
    telegram_webhook,
    twilio_webhook,
    woocommerce_webhook,
)
from tests.integration.conftest import ADMIN_TOKEN, MEDIA_BUCKET, PUBLIC_URL
from tests.meta_payloads import META_APP_SECRET, META_VERIFY_TOKEN
from tests.signing import (
    AUTH_TOKEN,
    BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    form,
    shop_document,
    slack_headers,
    twilio_headers,
    twilio_message,
)

CUSTOMER_NUMBER = "+5511987654321"
CUSTOMER_TEXT = "Olá! Onde está meu pedido?"
SECRETS = (
    AUTH_TOKEN,
    BOB_AUTH_TOKEN,
    BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    ADMIN_TOKEN,
    BOB_TELEGRAM_TOKEN,
    BOB_TELEGRAM_SECRET,
    "oauth-client-secret",
    BOB_SHOPIFY_SECRET,
    "shpat_bob",
    CAROL_WOOCOMMERCE_SECRET,
    "cs_carol",
    META_APP_SECRET,
    META_VERIFY_TOKEN,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # "Add to Slack" configured, so its routes check links and states; Twilio's API unreachable.
    return Settings.model_validate(
        settings.model_dump()
        | {
            "slack_client_id": "1234.5678",
            "slack_client_secret": "oauth-client-secret",
            "twilio_api_url": "http://127.0.0.1:9",
            "telegram_api_url": "http://127.0.0.1:9",
            "meta_app_secret": META_APP_SECRET,
            "meta_verify_token": META_VERIFY_TOKEN,
        }
    )


@pytest.fixture
def slack_oauth() -> Exchange:
    def exchange(
        api_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> Installation:
        raise AssertionError("no probe can finish an install")

    return exchange


@pytest.fixture
def shops(
    put_shop: Callable[..., Any], shop: str, container: bootstrap.Container
) -> tuple[str, str]:
    """Ana, and bob on a Twilio account and token of its own, with a connected Telegram bot."""
    document = shop_document(name="Bob's Bikes")
    document["twilio"] = {
        "account_sid": BOB_ACCOUNT_SID,
        "auth_token": BOB_AUTH_TOKEN,
        "sms_numbers": [BOB_NUMBER],
        "whatsapp_numbers": [],
    }
    document["telegram"] = {"bot_token": BOB_TELEGRAM_TOKEN}
    document["commerce"] = {
        "shopify": {
            "domain": "bobs-bikes.myshopify.com",
            "access_token": "shpat_bob",
            "webhook_secret": BOB_SHOPIFY_SECRET,
        }
    }
    response = put_shop("bob", document)
    assert response.status_code == 201, response.body
    # As `connect-telegram` leaves it (without calling Telegram)
    secrets = container.vault.get("bob", fresh=True)
    secret = SecretStr(BOB_TELEGRAM_SECRET)
    container.vault.put("bob", secrets.model_copy(update={"telegram_webhook_secret": secret}))
    # And carol, on a WooCommerce store
    woocommerce = {
        "url": "https://carol.example",
        "consumer_key": "ck_carol",
        "consumer_secret": "cs_carol",
        "webhook_secret": CAROL_WOOCOMMERCE_SECRET,
    }
    carol = shop_document(name="Carol's Crafts", twilio=None, commerce={"woocommerce": woocommerce})
    response = put_shop("carol", carol)
    assert response.status_code == 201, response.body
    return shop, "bob"


@functools.cache
def aws_client(service: str) -> Any:
    """One client per service for the module (creating one costs more than a probe): moto
    intercepts them all, and each test's `aws` starts from the provisioned state."""
    return boto3.client(service)  # type: ignore[call-overload]


def world(slack: FakeSlack, twilio: RecordingTwilio) -> dict[str, Any]:
    """Everything a request could write: the table, the queues, secrets, media, schedules,
    and what was sent to Slack and Twilio."""
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    items = [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE_NAME)
        for item in page["Items"]
    ]
    depths = {}
    for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        depths[queue] = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    secrets = {
        secret["Name"]: secret.get("SecretVersionsToStages")
        for secret in aws_client("secretsmanager").list_secrets()["SecretList"]
    }
    media = aws_client("s3").list_objects_v2(Bucket=MEDIA_BUCKET).get("Contents", [])
    schedules = aws_client("scheduler").list_schedules()["Schedules"]
    return {
        "items": sorted(json.dumps(item, sort_keys=True) for item in items),
        "queues": depths,
        "secrets": secrets,
        "media": [(obj["Key"], obj["ETag"]) for obj in media],
        "schedules": sorted(schedule["Name"] for schedule in schedules),
        "slack": (
            len(slack.posts),
            len(slack.updates),
            len(slack.views),
            len(slack.joined),
            len(slack.deleted),
        ),
        "twilio": len(twilio.sent),
    }


def reason(response: Any) -> str:
    """A refusal's short reason: our JSON {"error"}, chalice's {"Message"}, or plain text."""
    body: str = response.body.decode("utf-8")
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    return (
        str(answer.get("error") or answer.get("Message") or "") if isinstance(answer, dict) else ""
    )


def probe(client: Client, request: Probe, slack: FakeSlack, twilio: RecordingTwilio) -> int:
    before = world(slack, twilio)
    response = client.http.request(
        request.method, request.path, headers=request.headers, body=request.body
    )
    status = response.status_code
    assert status < 500, (status, response.body[:300])
    if request.refuse_because:
        assert 400 <= status < 500, (request.refuse_because, status, response.body[:300])
    if 400 <= status < 500:
        why = reason(response)
        assert 0 < len(why) <= 200, (status, response.body[:300])
        assert "Traceback" not in why
        assert world(slack, twilio) == before, (status, why)
    return status


def routes() -> list[Route]:
    return sorted((method, path) for path, methods in app.routes.items() for method in methods)


def strategy_for(route: Route, container: bootstrap.Container) -> st.SearchStrategy[Probe]:
    method, path = route
    installs: Any = container.installs
    if path == "/webhooks/twilio/{shop_id}":
        return twilio_webhook(status_callback=False)
    if path == "/webhooks/twilio/{shop_id}/status":
        return twilio_webhook(status_callback=True)
    if path == "/slack/events":
        return slack_event()
    if path == "/webhooks/telegram/{shop_id}":
        return telegram_webhook()
    if path in ("/slack/interactions", "/slack/commands"):
        return slack_form(path)
    if path == "/slack/install":
        return slack_install(lambda shop_id: installs.install_link(shop_id))
    if path == "/slack/oauth_redirect":
        return slack_oauth_redirect()
    if path.startswith("/admin/"):
        return admin_request(method, path, tuple(app.routes[path][method].content_types))
    if path == "/media/{token}":
        return media_link(container.media_links.link)
    if path == "/webhooks/shopify/{shop_id}":
        return shopify_webhook()
    if path == "/webhooks/woocommerce/{shop_id}":
        return woocommerce_webhook()
    if path == "/webhooks/meta" and method == "POST":
        return meta_webhook(META_APP_SECRET)
    if path == "/webhooks/meta":
        return meta_handshake(META_VERIFY_TOKEN)
    raise LookupError(f"no bad-input strategy for {method} {path}")


@pytest.fixture
def log_lines_of_the_run(log_lines: io.StringIO) -> Iterator[io.StringIO]:
    yield log_lines
    lines = log_lines.getvalue().splitlines()
    for secret in (*SECRETS, CUSTOMER_NUMBER, CUSTOMER_TEXT):
        assert not [line for line in lines if secret in line], secret


def test_every_route_has_a_bad_input_strategy(container: bootstrap.Container) -> None:
    # A new route without a strategy fails here rather than going unprobed
    for route in routes():
        assert strategy_for(route, container) is not None


@pytest.mark.parametrize("route", routes(), ids=" ".join)
@FUZZ
@given(data=st.data())
def test_bad_input_gets_a_4xx_reason_and_changes_nothing(
    route: Route,
    data: st.DataObject,
    client: Client,
    container: bootstrap.Container,
    shops: tuple[str, str],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    log_lines_of_the_run: io.StringIO,
) -> None:
    # Given ana and bob, each with its own Twilio account
    # When a drawn request reaches the route
    request = data.draw(strategy_for(route, container), label="request")
    # Then it never fails the server, and a refusal is a short reason and no write
    record(route, probe(client, request, slack, twilio))


# What the probes found (hypothesis; the sizes by a directed probe), kept as examples ------

HUGE_MESSAGE = twilio_message(99, Body="é" * 300_000)
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EDIT_AT_NAN = json.dumps(
    {
        "type": "event_callback",
        "team_id": "T0SHOP1",
        "event_id": "Ev0NAN",
        "event": {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C0SUPPORT",
            "ts": "1764000600.000100",
            "message": {
                "type": "message",
                "user": "U0AGENT",
                "text": "corrigido",
                "ts": "1764000500.000100",
                "thread_ts": "1764000000.000001",
                "edited": {"user": "U0AGENT", "ts": "nan"},
            },
        },
    }
).encode()
FOUND: dict[str, Probe] = {
    # hmac.compare_digest raises TypeError on non-ASCII strings: it answered 503.
    "install link with a non-ASCII signature": Probe(
        "GET", "/slack/install?shop=ana&expires=9999999999&signature=%C3%A9", {}, b"", "forged"
    ),
    "install state and cookie non-ASCII": Probe(
        "GET",
        "/slack/oauth_redirect?state=%C3%A9&code=x",
        {"Cookie": "threadline_slack_state=%C3%A9"},
        b"",
        "no install was started",
    ),
    # Signed and valid, but larger than a table item may be: it answered 503.
    "signed message of 600 kB": Probe(
        "POST",
        "/webhooks/twilio/ana",
        twilio_headers(f"{PUBLIC_URL}/webhooks/twilio/ana", HUGE_MESSAGE),
        form(HUGE_MESSAGE),
        "too large",
    ),
    # Slack's `error` was echoed whole into the reason: any size, any text.
    "install error of 75,000 characters": Probe(
        "GET", "/slack/oauth_redirect?error=" + "%C3%A9" * 75_000, {}, b"", "Slack refused"
    ),
    # json.loads raised RecursionError, which no `except ValueError` caught: 503.
    "link body nested 100,000 deep": Probe(
        "POST",
        f"/admin/shops/ana/customers/{quote(CUSTOMER_NUMBER, safe='')}/links",
        {**ADMIN_HEADERS, "Content-Type": "application/json"},
        b"[" * 100_000,
        "not JSON",
    ),
    # "²".isdigit() is True, int("²") raises ValueError: 503.
    "limit of superscript two": Probe(
        "GET", "/admin/shops/ana/conversations?limit=%C2%B2", ADMIN_HEADERS, b"", "not a number"
    ),
    # A cursor's key values went to DynamoDB unchecked (moto takes a number; DynamoDB, 503).
    "cursor with a number for a key": Probe(
        "GET",
        "/admin/shops/ana/conversations?cursor=" + cursor_of(GOOD_KEY | {"GSI1SK": 5}),
        ADMIN_HEADERS,
        b"",
        "invalid cursor",
    ),
    # A day whose seven-day span leaves the calendar: OverflowError, 503.
    "report from the last day of 9999": Probe(
        "GET", "/admin/shops/ana/reports?from=9999-12-31", ADMIN_HEADERS, b"", "out of range"
    ),
    # float("nan") then int(): a signed edit answered 503, and Slack retried it.
    "edit whose ts is nan": Probe(
        "POST",
        "/slack/events",
        slack_headers(EDIT_AT_NAN),
        EDIT_AT_NAN,
        "not a Slack ts",
    ),
}


@pytest.mark.parametrize("request_", FOUND.values(), ids=FOUND)
def test_requests_once_answered_badly_are_refused_with_a_short_reason(
    request_: Probe,
    client: Client,
    shops: tuple[str, str],
    slack: FakeSlack,
    twilio: RecordingTwilio,
) -> None:
    # Given what once got a 5xx or an unbounded reason (a Slack request signed just now)
    if request_.path == "/slack/events":
        request_ = dataclasses.replace(request_, headers=slack_headers(request_.body))
    # When it arrives again
    status = probe(client, request_, slack, twilio)
    # Then it is refused as any other bad request
    assert 400 <= status < 500
