"""The admin API, `PUT/GET /admin/shops/{shop_id}`, against moto with the real table, secrets
and chalice routes: what it answers, and what it leaves in DynamoDB and Secrets Manager."""

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from pydantic import SecretStr

from app import app
from chalicelib import bootstrap
from chalicelib.settings import SECRETS_PREFIX, Settings
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, ADMIN_TOKEN, PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

TABLE = "threadline"
MASK = "********"
BOB_NUMBER = "+14155550199"

PutShop = Callable[..., Any]


# State, read straight from moto -------------------------------------------------------------


@functools.cache
def aws_client(service: str) -> Any:
    """One client per service for the whole module: moto intercepts every client once it is
    imported, and each test's `aws` starts from the provisioned state."""
    return boto3.client(service)  # type: ignore[call-overload]


def table_items() -> list[dict[str, Any]]:
    pages = aws_client("dynamodb").get_paginator("scan").paginate(TableName=TABLE)
    return [item for page in pages for item in page["Items"]]


def stored_config(shop_id: str) -> dict[str, Any] | None:
    """The shop config item (`SHOP#{shop}` / `SHOP`), decoded."""
    response = aws_client("dynamodb").get_item(
        TableName=TABLE,
        Key={"PK": {"S": f"SHOP#{shop_id}"}, "SK": {"S": "SHOP"}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return json.loads(item["config"]["S"]) if item else None


def address_owner(address: str) -> str | None:
    """The shop that owns an inbound address (`ADDRESS#{address}` / `ADDRESS`)."""
    response = aws_client("dynamodb").get_item(
        TableName=TABLE,
        Key={"PK": {"S": f"ADDRESS#{address}"}, "SK": {"S": "ADDRESS"}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return item["shop_id"]["S"] if item else None


def stored_secret(shop_id: str) -> dict[str, str] | None:
    secrets = aws_client("secretsmanager")
    try:
        value = secrets.get_secret_value(SecretId=f"threadline/shops/{shop_id}")
    except secrets.exceptions.ResourceNotFoundException:
        return None
    document: dict[str, str] = json.loads(value["SecretString"])
    return document


def secret_names() -> list[str]:
    """The shops' secrets (the deployment's own is there from the start)."""
    listed = aws_client("secretsmanager").list_secrets()["SecretList"]
    return [s["Name"] for s in listed if s["Name"].startswith(SECRETS_PREFIX)]


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def sms_status(client: Client, n: int, token: str = AUTH_TOKEN, shop_id: str = "ana") -> int:
    """Delivers a customer SMS signed with `token`; returns the HTTP status."""
    params = twilio_message(n)
    path = f"/webhooks/twilio/{shop_id}"
    headers = twilio_headers(PUBLIC_URL + path, params, token)
    return int(client.http.post(path, headers=headers, body=form(params)).status_code)


def twilio_section(**changes: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sms_numbers": [SMS_NUMBER],
        "whatsapp_numbers": [WHATSAPP_NUMBER],
    }
    section.update(changes)
    return section


def bob_document(**twilio: Any) -> dict[str, Any]:
    return shop_document(
        name="Bob's Bikes",
        twilio=twilio_section(
            auth_token="bob-twilio-auth-token", sms_numbers=[BOB_NUMBER], whatsapp_numbers=[]
        )
        | twilio,
    )


def expected_shop(shop_id: str, document: dict[str, Any]) -> dict[str, Any]:
    """The shop JSON as the API shows `document`: secrets masked, id, email and webhook URLs
    filled in."""
    slack = {"channels": {}, **document["slack"], "bot_token": MASK}
    twilio = {"whatsapp_template": None, **document["twilio"], "auth_token": MASK}
    webhooks = {
        "twilio_messaging": f"{PUBLIC_URL}/webhooks/twilio/{shop_id}",
        "twilio_status_callback": f"{PUBLIC_URL}/webhooks/twilio/{shop_id}/status",
        "slack_events": f"{PUBLIC_URL}/slack/events",
        "slack_interactivity": f"{PUBLIC_URL}/slack/interactions",
        "slack_commands": f"{PUBLIC_URL}/slack/commands",
        "slack_oauth_redirect": f"{PUBLIC_URL}/slack/oauth_redirect",
    }
    replies = {
        "mode": "reply",
        "internal_prefix": "note:",
        "send_prefix": "send:",
        "grace_seconds": 10,
        "signature": "— {agent}",
    }
    return {
        "replies": replies,
        "canned_responses": [],
        "new_conversation_after_hours": None,
        "sla": None,
        "auto_replies": None,
        "csat": None,
        "retention_days": None,
        "digest": None,
        "telegram": None,
        "triage": None,
        "commerce": None,
        "commerce_actions": None,
        "order_updates": None,
        "meta": None,
        **document,
        "shop_id": shop_id,
        "slack": slack,
        "twilio": twilio,
        "email": None,
        "webhooks": webhooks,
    }


def document_without_secrets(secrets: str, **changes: Any) -> dict[str, Any]:
    """A shop document whose secrets are "left-out" or "masked" (sent back as the mask)."""
    document = shop_document(**changes)
    slack = {k: v for k, v in document["slack"].items() if k != "bot_token"}
    twilio = {k: v for k, v in document["twilio"].items() if k != "auth_token"}
    if secrets == "masked":
        slack["bot_token"] = twilio["auth_token"] = MASK
    return {**document, "slack": slack, "twilio": twilio}


# Create and read ----------------------------------------------------------------------------


def test_a_new_shop_is_created_and_shown_with_its_secrets_masked(client: Client) -> None:
    # Given a complete shop document
    document = shop_document()
    # When it is PUT, then read back
    created = client.http.put("/admin/shops/ana", headers=ADMIN, body=json.dumps(document).encode())
    read = client.http.get("/admin/shops/ana", headers=ADMIN)
    # Then the shop is created, and both answers show it with its secrets masked
    assert created.status_code == 201, created.body
    assert created.headers["Content-Type"].startswith("application/json")
    assert body_of(created) == expected_shop("ana", document)
    assert read.status_code == 200, read.body
    assert body_of(read) == body_of(created)
    # And the stored config is the shop, without secrets
    config = stored_config("ana")
    assert config is not None
    assert config["name"] == "Loja da Ana"
    assert config["twilio"]["sms_numbers"] == [SMS_NUMBER]
    assert "auth_token" not in config["twilio"]
    assert "bot_token" not in config["slack"]
    # And the shop owns its inbound addresses
    assert address_owner(SMS_NUMBER) == "ana"
    assert address_owner(f"whatsapp:{WHATSAPP_NUMBER}") == "ana"


def test_secrets_are_kept_in_secrets_manager_and_nowhere_else(client: Client) -> None:
    # Given a shop with distinctive secrets
    bot_token, auth_token = "xoxb-only-in-the-vault-1234", "twilio-only-in-the-vault-5678"
    document = shop_document(
        slack={"team_id": "T0SHOP1", "channel_id": "C0SUPPORT", "bot_token": bot_token},
        twilio=twilio_section(auth_token=auth_token),
    )
    # When it is created, read, and updated with its masked copy
    responses = [
        client.http.put("/admin/shops/ana", headers=ADMIN, body=json.dumps(document).encode())
    ]
    responses.append(client.http.get("/admin/shops/ana", headers=ADMIN))
    masked_copy = {k: v for k, v in body_of(responses[-1]).items() if k != "shop_id"}
    responses.append(
        client.http.put("/admin/shops/ana", headers=ADMIN, body=json.dumps(masked_copy).encode())
    )
    # Then every request succeeded and no answer contains a secret
    assert [r.status_code for r in responses] == [201, 200, 200]
    for response in responses:
        text = response.body.decode()
        assert bot_token not in text
        assert auth_token not in text
    # And no item of the table contains one
    items = table_items()
    assert items, "the shop was not stored"
    serialized = json.dumps(items)
    assert bot_token not in serialized
    assert auth_token not in serialized
    # And Secrets Manager holds both, under the shop's name
    assert stored_secret("ana") == {"slack_bot_token": bot_token, "twilio_auth_token": auth_token}


def test_reading_an_unknown_shop_is_404(client: Client, shop: str) -> None:
    # Given only the shop "ana"
    # When another shop is read
    response = client.http.get("/admin/shops/zoe", headers=ADMIN)
    # Then it is not found
    assert response.status_code == 404
    assert body_of(response) == {"error": "no shop zoe"}


def test_unicode_shop_names_round_trip(client: Client, put_shop: PutShop) -> None:
    for created_status, name in ((201, "متجر آنا للأحذية 👟"), (200, "अना की दुकान — जूते")):
        # Given a shop name in Arabic, then in Hindi
        # When the shop is PUT with it and read back
        written = put_shop("ana", shop_document(name=name))
        read = client.http.get("/admin/shops/ana", headers=ADMIN)
        # Then the name comes back unchanged, and is stored unchanged
        assert written.status_code == created_status, written.body
        assert body_of(written)["name"] == name
        assert body_of(read)["name"] == name
        assert read.headers["Content-Type"] == "application/json; charset=utf-8"
        assert (stored_config("ana") or {})["name"] == name


# Update -------------------------------------------------------------------------------------


@pytest.mark.parametrize("secrets", ["left-out", "masked"])
def test_an_update_without_new_secrets_keeps_the_stored_ones(
    client: Client, put_shop: PutShop, shop: str, secrets: str
) -> None:
    # Given ana's update that renames the shop but sends no secret (left out, or masked)
    document = document_without_secrets(secrets, name="Ana Calçados")
    # When it is PUT
    response = put_shop(shop, document)
    # Then it is an update, showing the secrets as still set
    assert response.status_code == 200, response.body
    assert body_of(response) == expected_shop(shop, document)
    # And the stored secrets are the original ones
    assert stored_secret(shop) == {"slack_bot_token": BOT_TOKEN, "twilio_auth_token": AUTH_TOKEN}
    # And a webhook signed with the original auth token is still accepted
    assert sms_status(client, 1) == 200


def test_an_update_with_a_new_auth_token_replaces_the_old_one(
    client: Client, put_shop: PutShop, shop: str
) -> None:
    # Given ana, whose webhooks are accepted with the original token
    assert sms_status(client, 1) == 200
    # When the auth token is rotated
    response = put_shop(shop, shop_document(twilio=twilio_section(auth_token="rotated-token")))
    # Then the update succeeds, the old token is refused and the new one accepted
    assert response.status_code == 200, response.body
    assert sms_status(client, 2, token=AUTH_TOKEN) == 403
    assert sms_status(client, 3, token="rotated-token") == 200
    # And the Slack token was kept
    assert stored_secret(shop) == {
        "slack_bot_token": BOT_TOKEN,
        "twilio_auth_token": "rotated-token",
    }


# Invalid shops ------------------------------------------------------------------------------


def test_an_invalid_shop_is_refused_with_field_paths_and_nothing_is_written(
    client: Client, put_shop: PutShop
) -> None:
    # Given a document with several invalid fields, and secrets of the right shape
    bot_token, auth_token = "xoxb-bad-doc-secret-1111", "bad-doc-auth-token-2222"
    document = shop_document(
        timezone="Mars/Olympus_Mons",
        slack={"team_id": "not-a-team", "channel_id": "C0SUPPORT", "bot_token": bot_token},
        twilio=twilio_section(auth_token=auth_token, sms_numbers=["555-0100"]),
    )
    # When it is PUT
    response = put_shop("ana", document)
    # Then it is refused, naming every invalid field by its path
    assert response.status_code == 400, response.body
    answer = body_of(response)
    assert answer["error"] == "invalid shop"
    fields = {error["field"] for error in answer["errors"]}
    assert {"timezone", "slack.team_id", "twilio.sms_numbers.0"} <= fields
    assert all(isinstance(error["error"], str) and error["error"] for error in answer["errors"])
    # And the answer echoes no submitted secret
    assert bot_token not in response.body.decode()
    assert auth_token not in response.body.decode()
    # And nothing was written: no item, no secret
    assert table_items() == []
    assert secret_names() == []


@pytest.mark.parametrize(
    ("document", "token", "field"),
    [
        (
            shop_document(
                slack={"team_id": "T0SHOP1", "channel_id": "C0SUPPORT", "bot_token": "xoxp-42"}
            ),
            "xoxp-42",
            "slack",
        ),
        (
            shop_document(twilio=twilio_section(auth_token="leaked-" + "t" * 130)),
            "leaked-" + "t" * 130,
            "twilio.auth_token",
        ),
    ],
    ids=["user-token-for-bot-token", "too-long-auth-token"],
)
def test_a_refused_token_is_never_echoed(
    put_shop: PutShop, document: Any, token: str, field: str
) -> None:
    # Given a document whose invalid value is a token
    # When it is PUT
    response = put_shop("ana", document)
    # Then it is refused, naming the field but not repeating the token
    assert response.status_code == 400, response.body
    assert field in {error["field"] for error in body_of(response)["errors"]}
    assert token not in response.body.decode()
    assert table_items() == []
    assert secret_names() == []


def test_a_new_shop_without_secrets_is_refused_naming_them(put_shop: PutShop) -> None:
    for secrets in ("left-out", "masked"):
        # Given a new shop's document whose secrets are left out, or masked
        document = document_without_secrets(secrets)
        # When it is PUT
        response = put_shop("ana", document)
        # Then it is refused, naming both missing secrets
        assert response.status_code == 400, response.body
        fields = {error["field"] for error in body_of(response)["errors"]}
        assert fields == {"slack.bot_token", "twilio.auth_token"}
    # And nothing was written
    assert stored_config("ana") is None
    assert secret_names() == []


@pytest.mark.parametrize(
    ("shop_id", "body", "content_type", "status"),
    [
        ("ana", b'{"name": "Loja da Ana", ', "application/json", 400),
        ("ana", b"\xff\xfe{}", "application/json", 400),
        ("ana", json.dumps([shop_document()]).encode(), "application/json", 400),
        ("Ana_Shop", json.dumps(shop_document()).encode(), "application/json", 400),
        ("a" * 64, json.dumps(shop_document()).encode(), "application/json", 400),
        ("ana", json.dumps(shop_document()).encode(), "text/plain", 415),
        ("ana", b"[" * 100_000, "application/json", 400),
    ],
    ids=[
        "invalid-json",
        "invalid-utf8",
        "json-array",
        "upper-case-and-underscore-id",
        "id-of-64-characters",
        "text-plain",
        "deeply-nested-json",
    ],
)
def test_a_malformed_request_is_refused_and_nothing_is_written(
    client: Client, shop_id: str, body: bytes, content_type: str, status: int
) -> None:
    # Given a request that is not a valid shop PUT
    headers = {**ADMIN, "Content-Type": content_type}
    # When it is sent
    response = client.http.put(f"/admin/shops/{shop_id}", headers=headers, body=body)
    # Then it is refused with a short JSON reason
    assert response.status_code == status, response.body
    answer = body_of(response)
    reason = answer.get("error") or answer.get("Message")
    assert isinstance(reason, str)
    assert 0 < len(reason) < 100
    # And nothing was written
    assert table_items() == []
    assert secret_names() == []


# Authentication -----------------------------------------------------------------------------


def test_the_admin_api_refuses_requests_without_the_admin_bearer_token(
    client: Client, shop: str
) -> None:
    body = json.dumps(shop_document(name="Hijacked")).encode()
    for authorization in (None, "Bearer wrong-token", f"Basic {ADMIN_TOKEN}", "Bearer "):
        # Given requests with no, a wrong, a Basic or an empty token
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        # When they change and read ana
        put = client.http.put(f"/admin/shops/{shop}", headers=headers, body=body)
        get = client.http.get(f"/admin/shops/{shop}", headers=headers)
        # Then both are refused with a Bearer challenge, revealing nothing
        for response in (put, get):
            assert response.status_code == 401, (authorization, response.body)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert body_of(response) == {"error": "missing or invalid bearer token"}
    # And ana is unchanged
    assert (stored_config(shop) or {})["name"] == "Loja da Ana"


@pytest.fixture
def admin_disabled(
    client: Client,
    container: bootstrap.Container,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
) -> Iterator[Client]:
    """The same deployment with THREADLINE_ADMIN_TOKEN unset."""
    disabled = bootstrap.Container(
        settings.model_copy(update={"admin_token": SecretStr("")}),
        twilio=twilio,
        slack=slack.workspace,
    )
    bootstrap.use(disabled)
    yield client
    bootstrap.use(container)


def test_the_admin_api_is_disabled_when_no_admin_token_is_configured(
    admin_disabled: Client,
) -> None:
    # Given a deployment without an admin token
    body = json.dumps(shop_document()).encode()
    for authorization in (f"Bearer {ADMIN_TOKEN}", "Bearer "):
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        # When a shop is PUT, with the usual token or an empty one
        response = admin_disabled.http.put("/admin/shops/ana", headers=headers, body=body)
        # Then it is refused, saying the admin API is disabled
        assert response.status_code == 401, response.body
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "disabled" in body_of(response)["error"]
    # And nothing was written
    assert table_items() == []
    assert secret_names() == []


# Inbound addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numbers", "address"),
    [
        ({"sms_numbers": [SMS_NUMBER]}, SMS_NUMBER),
        ({"whatsapp_numbers": [WHATSAPP_NUMBER]}, f"whatsapp:{WHATSAPP_NUMBER}"),
    ],
    ids=["sms", "whatsapp"],
)
def test_a_shop_cannot_claim_a_number_another_shop_owns(
    put_shop: PutShop, shop: str, numbers: dict[str, list[str]], address: str
) -> None:
    # Given ana, who owns her SMS and WhatsApp numbers
    # When bob claims one of them
    response = put_shop("bob", bob_document(**numbers))
    # Then bob is refused, naming the number
    assert response.status_code == 409, response.body
    assert address in body_of(response)["error"]
    # And nothing was written for bob: no config, no secret, no address
    assert stored_config("bob") is None
    assert stored_secret("bob") is None
    assert address_owner(BOB_NUMBER) is None
    # And ana still owns the number
    assert address_owner(address) == "ana"


def test_a_number_a_shop_dropped_can_be_claimed_by_another(put_shop: PutShop, shop: str) -> None:
    # Given ana drops her SMS number
    dropped = put_shop(shop, shop_document(twilio=twilio_section(sms_numbers=[])))
    assert dropped.status_code == 200, dropped.body
    assert address_owner(SMS_NUMBER) is None
    # When bob claims it
    response = put_shop("bob", bob_document(sms_numbers=[SMS_NUMBER]))
    # Then bob owns it, and ana keeps her WhatsApp number
    assert response.status_code == 201, response.body
    assert body_of(response)["twilio"]["sms_numbers"] == [SMS_NUMBER]
    assert address_owner(SMS_NUMBER) == "bob"
    assert address_owner(f"whatsapp:{WHATSAPP_NUMBER}") == "ana"


# Races and odd ids ---------------------------------------------------------------------------


def test_an_update_that_loses_a_number_race_changes_nothing(
    client: Client,
    container: bootstrap.Container,
    put_shop: PutShop,
    shop: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The availability check passes, then another shop claims the number before the write:
    the 409 must not leave the rotated token behind (at db8c573 it did)."""
    # Given bob claims a number between ana's availability check and her write
    check = container.store.shops.addresses_taken
    bob_answers: list[int] = []

    def check_then_bob_claims(candidate: Any) -> list[str]:
        taken = check(candidate)
        if candidate.shop_id == "ana" and not bob_answers:
            bob = put_shop("bob", bob_document(sms_numbers=["+14155550177"]))
            bob_answers.append(bob.status_code)
        return taken

    monkeypatch.setattr(container.store.shops, "addresses_taken", check_then_bob_claims)
    # When ana rotates her token and claims the same number
    update = shop_document(
        twilio=twilio_section(auth_token="rotated-token", sms_numbers=[SMS_NUMBER, "+14155550177"])
    )
    response = put_shop(shop, update)
    # Then she is refused, and bob owns the number
    assert bob_answers == [201]
    assert response.status_code == 409, response.body
    assert address_owner("+14155550177") == "bob"
    # And her shop is unchanged: webhooks signed with her current token are still accepted
    assert stored_secret(shop) == {"slack_bot_token": BOT_TOKEN, "twilio_auth_token": AUTH_TOKEN}
    assert sms_status(client, 1) == 200


def test_a_new_shop_that_loses_a_number_race_leaves_no_secret_behind(
    container: bootstrap.Container,
    put_shop: PutShop,
    shop: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given bob claims a number between carl's availability check and carl's first write
    check = container.store.shops.addresses_taken
    bob_answers: list[int] = []

    def check_then_bob_claims(candidate: Any) -> list[str]:
        taken = check(candidate)
        if candidate.shop_id == "carl" and not bob_answers:
            bob_answers.append(
                put_shop("bob", bob_document(sms_numbers=["+14155550188"])).status_code
            )
        return taken

    monkeypatch.setattr(container.store.shops, "addresses_taken", check_then_bob_claims)
    # When carl, a new shop, claims the same number
    carl = shop_document(twilio=twilio_section(sms_numbers=["+14155550188"], whatsapp_numbers=[]))
    response = put_shop("carl", carl)
    # Then carl is refused and nothing of carl exists: no config, no secret
    assert bob_answers == [201]
    assert response.status_code == 409, response.body
    assert stored_secret("carl") is None
    assert container.store.shops.get_shop("carl", fresh=True) is None


def _api_gateway_put(shop_id: str, body: str) -> dict[str, Any]:
    """A REST API proxy event as API Gateway delivers it: path parameters URL-decoded."""
    path = "/admin/shops/" + shop_id.replace("\n", "%0A")
    return {
        "resource": "/admin/shops/{shop_id}",
        "path": path,
        "httpMethod": "PUT",
        "headers": ADMIN,
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"shop_id": shop_id},
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/admin/shops/{shop_id}",
            "httpMethod": "PUT",
            "path": "/api" + path,
            "stage": "api",
        },
    }


def test_a_shop_id_with_a_trailing_newline_is_refused(
    container: bootstrap.Container, shop: str
) -> None:
    """`re.match(r"...$")` accepts "ana\\n", and Shop strips it back to "ana": at db8c573 this
    PUT answered 201 and overwrote ana. (chalice's test client cannot send it: it does not
    URL-decode path parameters the way API Gateway does.)"""
    # Given ana, and a PUT to `/admin/shops/ana%0A` as API Gateway hands it over
    event = _api_gateway_put("ana\n", json.dumps(shop_document(name="Hijacked")))
    # When the API handles it
    response = app(event, None)
    # Then it is refused as an invalid shop id, and ana is unchanged
    assert response["statusCode"] == 400, response["body"]
    assert (stored_config("ana") or {})["name"] == "Loja da Ana"
    assert secret_names() == ["threadline/shops/ana"]


def test_what_get_shows_can_be_put_back_as_it_is(client: Client, shop: str) -> None:
    # Given the shop as an operator reads it
    shown = client.http.get(f"/admin/shops/{shop}", headers=ADMIN)
    # When they send it back unchanged
    again = client.http.put(f"/admin/shops/{shop}", headers=ADMIN, body=shown.body)
    # Then it is accepted and nothing changed, secrets included
    assert again.status_code == 200, again.body
    assert json.loads(again.body) == json.loads(shown.body)
    assert stored_secret(shop) == {"slack_bot_token": BOT_TOKEN, "twilio_auth_token": AUTH_TOKEN}


def test_a_document_for_another_shop_id_is_refused(client: Client, shop: str) -> None:
    # Given ana's document sent to bob's URL
    shown = json.loads(client.http.get(f"/admin/shops/{shop}", headers=ADMIN).body)
    # When it is PUT
    response = client.http.put("/admin/shops/bob", headers=ADMIN, body=json.dumps(shown).encode())
    # Then it is refused, naming the field, and bob does not exist
    assert response.status_code == 400
    assert json.loads(response.body)["errors"] == [
        {"field": "shop_id", "error": "does not match the URL's shop id"}
    ]
    assert client.http.get("/admin/shops/bob", headers=ADMIN).status_code == 404


def test_without_slack_oauth_credentials_there_is_no_install_link(client: Client, shop: str):
    # Given a deployment without SLACK_CLIENT_ID / SLACK_CLIENT_SECRET
    shown = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)
    # Then the admin API offers no install link, and the install route is not there
    assert "slack_install" not in shown["webhooks"]
    response = client.http.get("/slack/install?shop=ana")
    assert response.status_code == 404
    assert json.loads(response.body)["error"] == "Slack installs are not configured"


# Deleting a shop -----------------------------------------------------------------------------


def test_a_shop_is_deleted_once_its_customers_are_erased_and_its_numbers_are_free(
    client: Client, put_shop: PutShop, shop: str, run_workers: Callable[[], int]
) -> None:
    # Given a customer wrote to ana
    params = twilio_message(1)
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()

    # Then deleting the shop is refused while the conversation is there, and nothing changes
    refused = client.http.delete("/admin/shops/ana", headers=ADMIN)
    assert refused.status_code == 409
    assert "erase its customers first" in body_of(refused)["error"]
    assert stored_config("ana") is not None

    # When the customer is erased, the shop is deleted
    customer = params["From"].replace("+", "%2B")
    assert (
        client.http.delete(f"/admin/shops/ana/customers/{customer}", headers=ADMIN).status_code
        == 200
    )
    deleted = client.http.delete("/admin/shops/ana", headers=ADMIN)
    assert deleted.status_code == 200, deleted.body
    assert body_of(deleted) == {"deleted": "ana", "messages": 0, "files": 0, "profiles": 0}

    # Then its configuration, counters and address claims are gone, its secret is scheduled
    # for deletion, and its numbers are free for another shop
    assert client.http.get("/admin/shops/ana", headers=ADMIN).status_code == 404
    left = [i for i in table_items() if i["PK"]["S"] in ("SHOP#ana", f"ADDRESS#{SMS_NUMBER}")]
    # (but the record of the deletion, which keeps the id from being reused for a while)
    assert [(i["PK"]["S"], i["SK"]["S"]) for i in left] == [("SHOP#ana", "DELETED")]
    secret = aws_client("secretsmanager").describe_secret(SecretId="threadline/shops/ana")
    assert "DeletedDate" in secret
    assert put_shop("bob", bob_document(sms_numbers=[SMS_NUMBER])).status_code == 201
    assert client.http.delete("/admin/shops/ana", headers=ADMIN).status_code == 404
