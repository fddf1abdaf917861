"""Shop config and secrets are cached per container: a change made through another
container must not lock customers out while the cache lasts."""

import json

from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.settings import Settings
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import PUBLIC_URL
from tests.signing import form, shop_document, twilio_headers, twilio_message

PATH = "/webhooks/twilio/ana"


def deliver(client: Client, params: dict[str, str], token: str) -> int:
    headers = twilio_headers(PUBLIC_URL + PATH, params, token)
    return client.http.post(PATH, headers=headers, body=form(params)).status_code


def test_a_warm_container_accepts_a_rotated_token_and_a_new_number(
    client, shop, settings: Settings
):
    # Given a warm container that has cached ana's config and token
    assert deliver(client, twilio_message(1), "test-twilio-auth-token") == 200
    warm = bootstrap.container()
    # When an operator rotates the token and adds a number through another container
    other = bootstrap.Container(settings, twilio=RecordingTwilio(), slack=FakeSlack().workspace)
    document = shop_document()
    document["twilio"] = {
        **document["twilio"],
        "auth_token": "rotated-auth-token",
        "sms_numbers": ["+14155550100", "+14155550177"],
    }
    created, _ = other.admin.put("ana", json.dumps(document).encode())
    assert created is False
    # Then the warm container accepts messages signed with the new token, to the new number
    bootstrap.use(warm)
    assert deliver(client, twilio_message(2, To="+14155550177"), "rotated-auth-token") == 200
    # And the old token is refused
    assert deliver(client, twilio_message(3), "test-twilio-auth-token") == 403


def test_forged_requests_do_not_each_force_a_fresh_read(client, shop, container):
    # Given a warm container
    assert deliver(client, twilio_message(1), "test-twilio-auth-token") == 200
    reads: list[str] = []
    container.store.client.meta.events.register(
        "before-call.dynamodb.GetItem", lambda **_: reads.append("GetItem")
    )
    # When forged requests arrive one after another
    statuses = [deliver(client, twilio_message(n), "forged-token") for n in range(10, 15)]
    # Then all are refused, and the config was re-read once, not five times
    assert statuses == [403] * 5
    assert reads == ["GetItem"]


def test_a_warm_container_validates_the_shops_config_and_secrets_once_per_read(
    client, shop, monkeypatch
):
    # Given a warm container, and the shop's models' validations counted from then on
    assert deliver(client, twilio_message(1), "test-twilio-auth-token") == 200
    validated: list[str] = []
    for model in (Shop, ShopSecrets):
        validate = model.model_validate

        def counted(document, *args, __validate=validate, __name=model.__name__, **kwargs):
            validated.append(__name)
            return __validate(document, *args, **kwargs)

        monkeypatch.setattr(model, "model_validate", counted)
    # When three more messages arrive while the cache holds the config and secrets
    statuses = [deliver(client, twilio_message(n), "test-twilio-auth-token") for n in (2, 3, 4)]
    # Then each was checked against them, and neither was validated again
    assert statuses == [200] * 3
    assert validated == []
    # And a forged one, which reads both afresh, gets them validated afresh
    assert deliver(client, twilio_message(5), "forged-token") == 403
    assert sorted(validated) == ["Shop", "ShopSecrets"]
