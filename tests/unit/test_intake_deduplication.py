"""The Twilio ack path's deduplication, on in-memory stand-ins: a provider's retry of a
message meets its first copy (conditional write semantics), is queued again only while that
copy waits unprocessed, and never under another shop's name."""

from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.twilio import TwilioChannel
from chalicelib.domain.messages import InboundMessage, InboundStatus
from chalicelib.domain.shop import Shop, ShopSecrets, SlackConfig, TwilioConfig
from chalicelib.secrets import DeploymentKeys, DeploymentSecrets
from chalicelib.services.intake import Intake
from chalicelib.settings import Settings

pytestmark = pytest.mark.unit

PUBLIC_URL = "https://threadline.example/api"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token"
NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def shop(shop_id: str) -> Shop:
    return Shop(
        shop_id=shop_id,
        name=shop_id.title(),
        timezone="Europe/Budapest",
        slack=SlackConfig(team_id="T0123ABC", channel_id=f"C0{shop_id.upper()}"),
        twilio=TwilioConfig(
            account_sid=ACCOUNT_SID,
            sms_numbers=["+3612345678" if shop_id == "kavezo" else "+3612345679"],
        ),
    )


class Messages:
    """Shops and customer messages, with DynamoDB's conditional put: the first copy wins."""

    def __init__(self, *shops: Shop) -> None:
        self.shops = {s.shop_id: s for s in shops}
        self.stored: dict[tuple[str, str], tuple[InboundMessage, InboundStatus]] = {}

    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None:
        return self.shops.get(shop_id)

    def save_inbound(
        self, message: InboundMessage, *, expires_at: int | None = None
    ) -> tuple[InboundMessage, InboundStatus] | None:
        key = (message.shop_id, message.message_key)
        if key in self.stored:
            return self.stored[key]
        self.stored[key] = (message, InboundStatus.RECEIVED)
        return None


class Vault:
    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets:
        return ShopSecrets(twilio_auth_token=SecretStr(AUTH_TOKEN))


class Queue:
    def __init__(self) -> None:
        self.sent: list[InboundMessage] = []

    def inbound_body(self, message: InboundMessage) -> str:
        return message.model_dump_json()

    def send_inbound(self, message: InboundMessage, body: str | None = None) -> None:
        self.sent.append(message)


def intake(messages: Messages, queue: Queue) -> Intake:
    settings = Settings.model_validate({"public_url": PUBLIC_URL})
    return Intake(
        settings,
        DeploymentSecrets.fixed(DeploymentKeys(slack_signing_secret=SecretStr("s"))),
        cast(Any, messages),
        cast(Any, messages),
        cast(Any, None),
        cast(Any, Vault()),
        cast(Any, queue),
        TwilioChannel(),
        cast(Any, None),
        lambda: NOW,
    )


def webhook(shop_id: str, sid: str, to: str = "+3612345678") -> WebhookRequest:
    url = f"{PUBLIC_URL}/webhooks/twilio/{shop_id}"
    params = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "+5511987654321",
        "To": to,
        "Body": "Olá",
        "NumMedia": "0",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return WebhookRequest(
        url=url, body=urlencode(params).encode(), headers={"x-twilio-signature": signature}
    )


SID = "SM" + "a" * 32


def test_twilios_retry_of_a_queued_message_is_stored_once_and_queued_once_more_only_if_waiting():
    # Given a message received and queued
    messages, queue = Messages(shop("kavezo")), Queue()
    ack = intake(messages, queue)
    ack.customer_message("kavezo", webhook("kavezo", SID))
    assert len(messages.stored) == 1
    assert len(queue.sent) == 1

    # When Twilio sends it again while it still waits: stored once, queued again (the
    # first send may be what failed; SQS's deduplication and the worker absorb the copy)
    ack.customer_message("kavezo", webhook("kavezo", SID))
    assert len(messages.stored) == 1
    assert len(queue.sent) == 2

    # When it has been processed and Twilio sends it once more: nothing at all
    key = ("kavezo", f"twilio:{SID}")
    messages.stored[key] = (messages.stored[key][0], InboundStatus.PROCESSED)
    ack.customer_message("kavezo", webhook("kavezo", SID))
    assert len(messages.stored) == 1
    assert len(queue.sent) == 2


def test_one_message_id_in_two_shops_is_two_messages():
    # Given two shops, and a provider id that (by chance or by forgery) both receive
    messages, queue = Messages(shop("kavezo"), shop("pekseg")), Queue()
    ack = intake(messages, queue)

    # When each shop's webhook gets it
    ack.customer_message("kavezo", webhook("kavezo", SID))
    ack.customer_message("pekseg", webhook("pekseg", SID, to="+3612345679"))

    # Then each shop stores and queues its own, neither taken for the other's
    assert sorted(messages.stored) == [("kavezo", f"twilio:{SID}"), ("pekseg", f"twilio:{SID}")]
    assert [m.shop_id for m in queue.sent] == ["kavezo", "pekseg"]
