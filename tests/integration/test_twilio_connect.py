"""`POST /admin/shops/{shop_id}/twilio/connect`: a shop's numbers pointed at this deployment
through the official Twilio client, against moto and the sandbox's Twilio stand-in."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from pydantic import SecretStr

from chalicelib import bootstrap
from chalicelib.domain.shop import ShopSecrets
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.twilio import TwilioStandIn
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    shop_document,
)

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MESSAGING_URL = f"{PUBLIC_URL}/webhooks/twilio/ana"
STATUS_URL = f"{PUBLIC_URL}/webhooks/twilio/ana/status"
OTHER_NUMBER = "+14155550199"


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def twilio_api(outbox: Outbox) -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(outbox, callback_delay=60)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, twilio_api: TwilioStandIn) -> Settings:
    return settings.model_copy(update={"twilio_api_url": twilio_api.base_url})


def connect(client: Client, shop_id: str = "ana", **headers: str) -> Any:
    return client.http.post(
        f"/admin/shops/{shop_id}/twilio/connect", headers=headers or ADMIN, body=b""
    )


def results(response: Any) -> dict[str, tuple[str, str]]:
    return {n["number"]: (n["channel"], n["result"]) for n in json.loads(response.body)["numbers"]}


def test_the_shops_numbers_are_pointed_at_its_webhook(client, shop, twilio_api, outbox):
    # Given the shop's SMS number and WhatsApp sender in its Twilio account
    twilio_api.provision(
        ACCOUNT_SID, AUTH_TOKEN, sms_numbers=(SMS_NUMBER,), whatsapp_numbers=(WHATSAPP_NUMBER,)
    )
    # When an operator connects the shop
    response = connect(client)
    # Then both are connected
    assert response.status_code == 200, response.body
    assert results(response) == {
        SMS_NUMBER: ("sms", "connected"),
        WHATSAPP_NUMBER: ("whatsapp", "connected"),
    }
    assert json.loads(response.body)["webhook"] == MESSAGING_URL
    # And Twilio got the shop's inbound webhook for the number, by POST; the number's own
    # status callback (voice calls) untouched
    [number] = outbox.entries("twilio", "incoming_phone_numbers.update")
    assert (number.payload["PhoneNumber"], number.payload["SmsUrl"]) == (SMS_NUMBER, MESSAGING_URL)
    assert number.payload["SmsMethod"] == "POST"
    assert number.payload["response"]["status_callback"] == ""
    # And the WhatsApp sender got the webhook and the status callback, nothing else
    [sender] = outbox.entries("twilio", "senders.update")
    assert sender.payload["sender_id"] == f"whatsapp:{WHATSAPP_NUMBER}"
    assert sender.payload["webhook"] == {
        "callback_url": MESSAGING_URL,
        "callback_method": "POST",
        "status_callback_url": STATUS_URL,
        "status_callback_method": "POST",
    }
    assert set(sender.payload) == {"webhook", "sender_id", "response"}
    # And the token is never shown
    assert AUTH_TOKEN not in response.body.decode()


def test_numbers_not_in_the_account_are_reported_the_others_connected(
    client, put_shop, twilio_api, outbox
):
    # Given a shop with an SMS number and a WhatsApp number its Twilio account lacks
    document = shop_document()
    document["twilio"]["sms_numbers"] = [SMS_NUMBER, OTHER_NUMBER]
    assert put_shop("ana", document).status_code == 201
    # (one of its numbers longer by a digit: Twilio's filter matches it, it is no match)
    twilio_api.provision(ACCOUNT_SID, AUTH_TOKEN, sms_numbers=(SMS_NUMBER, OTHER_NUMBER + "0"))
    # When the shop is connected
    response = connect(client)
    # Then the number it has is connected; the others are not found, and left alone
    assert response.status_code == 200
    assert results(response) == {
        SMS_NUMBER: ("sms", "connected"),
        OTHER_NUMBER: ("sms", "not_found"),
        WHATSAPP_NUMBER: ("whatsapp", "not_found"),
    }
    assert len(outbox.entries("twilio", "incoming_phone_numbers.update")) == 1
    assert outbox.entries("twilio", "senders.update") == []


def test_a_number_whose_messages_go_to_an_application_needs_a_hand(client, shop, twilio_api):
    # Given the shop's number handled by a Messaging Service, which ignores its own webhook
    service = "MG" + "a" * 32
    twilio_api.provision(
        ACCOUNT_SID, AUTH_TOKEN, sms_numbers=(SMS_NUMBER,), sms_application_sid=service
    )
    # When the shop is connected
    response = connect(client)
    # Then the operator is told where the webhook must be set instead
    [number] = [n for n in json.loads(response.body)["numbers"] if n["number"] == SMS_NUMBER]
    assert number["result"] == "manual"
    assert service in number["detail"]


def test_credentials_twilio_refuses_are_a_refusal(client, shop, twilio_api, outbox):
    # Given a Twilio account whose token is not the one the shop stored
    twilio_api.provision(ACCOUNT_SID, "a-rotated-token", sms_numbers=(SMS_NUMBER,))
    # When the shop is connected
    response = connect(client)
    # Then it is refused with the reason, and nothing was changed
    assert response.status_code == 409
    assert json.loads(response.body) == {"error": "Twilio refused the shop's credentials"}
    assert outbox.entries("twilio", "incoming_phone_numbers.update") == []


def test_a_shop_without_a_stored_auth_token_is_refused(
    client, shop, container: bootstrap.Container, outbox
):
    # Given the shop's Twilio auth token gone from the secret store
    container.vault.put("ana", ShopSecrets(slack_bot_token=SecretStr(BOT_TOKEN)))
    # When the shop is connected
    response = connect(client)
    # Then it is refused before Twilio is asked
    assert response.status_code == 409
    assert "no Twilio auth token" in json.loads(response.body)["error"]
    assert outbox.entries("twilio") == []


def test_a_shop_without_twilio_is_refused(client, put_shop: Callable[..., Any]):
    assert put_shop("mail-only", shop_document(twilio=None)).status_code == 201
    response = connect(client, "mail-only")
    assert response.status_code == 409
    assert json.loads(response.body) == {"error": "shop mail-only has no Twilio account"}


def test_an_unknown_shop_is_not_found(client):
    response = connect(client, "nobody")
    assert response.status_code == 404


def test_the_admin_token_is_required(client, shop, twilio_api, outbox):
    twilio_api.provision(ACCOUNT_SID, AUTH_TOKEN, sms_numbers=(SMS_NUMBER,))
    response = connect(client, Authorization="Bearer wrong")
    assert response.status_code == 401
    assert outbox.entries("twilio") == []


def test_twilio_unreachable_is_worth_another_try(client, shop, twilio_api):
    # Given nothing listening where the Twilio API should be any more
    twilio_api.stop()
    # When the shop is connected, then the caller hears to try again
    response = connect(client)
    assert response.status_code == 503
    assert json.loads(response.body)["error"].startswith("Twilio unreachable")
