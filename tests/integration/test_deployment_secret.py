"""The deployment's own secrets (admin token, Slack signing and client secrets) come from
the Secrets Manager secret the environment names, as in AWS: read once per container,
read again at once when a check against them fails, and never from the environment."""

import io
import json
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.settings import DEPLOYMENT_SECRET, Settings
from tests.integration.conftest import ADMIN_TOKEN, MEDIA_BUCKET, PUBLIC_URL
from tests.signing import SLACK_SIGNING_SECRET, shop_document, slack_headers

DEPLOYED = {
    "admin_token": "admin-token-kept-in-secrets-manager",
    "slack_signing_secret": "signing-secret-kept-in-secrets-manager",
    "slack_client_id": "1234.5678",
    "slack_client_secret": "client-secret-kept-in-secrets-manager",
}
CHALLENGE = json.dumps({"type": "url_verification", "challenge": "c0ffee"}).encode()


def keep(values: dict[str, Any] | str) -> None:
    """The operator writes the deployment's secret."""
    document = values if isinstance(values, str) else json.dumps(values)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=DEPLOYMENT_SECRET, SecretString=document
    )


@pytest.fixture
def settings(aws: None) -> Settings:
    # A function's environment as .chalice/config.json and the stack give it: the secret's
    # name, no secret values
    keep(DEPLOYED)
    return Settings.from_environ(
        {
            "THREADLINE_PUBLIC_URL": PUBLIC_URL,
            "THREADLINE_DEPLOYMENT_SECRET": DEPLOYMENT_SECRET,
            "THREADLINE_MEDIA_BUCKET": MEDIA_BUCKET,
        }
    )


@pytest.fixture
def reads(container: bootstrap.Container) -> list[str]:
    """Each time the container reads a secret's value from Secrets Manager."""
    seen: list[str] = []
    container.secrets_client.meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda params, **_: seen.append(params["SecretId"]),
    )
    return seen


def admin(client: Client, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return int(client.http.get("/admin/shops", headers=headers).status_code)


def slack(client: Client, signing_secret: str) -> int:
    headers = slack_headers(CHALLENGE, signing_secret)
    return int(client.http.post("/slack/events", headers=headers, body=CHALLENGE).status_code)


def test_the_admin_api_slack_and_installs_use_the_values_kept_in_secrets_manager(
    client: Client, settings: Settings, reads: list[str]
) -> None:
    # Given a function whose environment holds no secret value
    assert settings.deployment_secret == DEPLOYMENT_SECRET
    assert not settings.admin_token.get_secret_value()
    assert not settings.slack_signing_secret.get_secret_value()
    # When the admin API, Slack and an install link are used
    assert admin(client, DEPLOYED["admin_token"]) == 200
    assert admin(client, ADMIN_TOKEN) == 401
    assert slack(client, DEPLOYED["slack_signing_secret"]) == 200
    assert slack(client, SLACK_SIGNING_SECRET) == 403
    document = shop_document()
    del document["slack"]
    headers = {"Authorization": f"Bearer {DEPLOYED['admin_token']}"}
    created = client.http.put("/admin/shops/ana", headers=headers, body=json.dumps(document))
    link = json.loads(created.body)["webhooks"]["slack_install"]
    started = client.http.get(link.removeprefix(PUBLIC_URL))
    # Then each took the values kept in Secrets Manager (the install link is signed with the
    # client secret, and Slack's consent page names the client id) ...
    assert started.status_code == 302, started.body
    assert "client_id=1234.5678" in started.headers["Location"]
    # ... read once for all of them (one more read per refused check, once)
    assert reads == [DEPLOYMENT_SECRET] * 2


def test_values_rotated_in_secrets_manager_are_taken_at_once_by_a_warm_container(
    client: Client, reads: list[str]
) -> None:
    # Given a warm container
    assert admin(client, DEPLOYED["admin_token"]) == 200
    # When the operator rotates the admin token and the Slack signing secret
    keep(DEPLOYED | {"admin_token": "a-new-admin-token", "slack_signing_secret": "a-new-one"})
    # Then the new values are accepted from their first request, and the old ones refused
    assert admin(client, "a-new-admin-token") == 200
    assert slack(client, "a-new-one") == 200
    assert admin(client, DEPLOYED["admin_token"]) == 401
    assert slack(client, DEPLOYED["slack_signing_secret"]) == 403
    # And the secret was read twice: once warm, once when the new token was refused
    assert reads == [DEPLOYMENT_SECRET] * 2


def test_forged_requests_do_not_each_force_a_read(client: Client, reads: list[str]) -> None:
    # Given a warm container
    assert admin(client, DEPLOYED["admin_token"]) == 200
    # When forged tokens and signatures arrive one after another
    statuses = [admin(client, f"forged-{n}") for n in range(5)]
    statuses += [slack(client, f"forged-{n}") for n in range(5)]
    # Then all are refused, and the secret was read again once, not ten times
    assert statuses == [401] * 5 + [403] * 5
    assert reads == [DEPLOYMENT_SECRET] * 2


@pytest.mark.parametrize(
    "document",
    [
        "admin-token-kept-in-secrets-manager",
        json.dumps({"admin_token": ["admin-token-kept-in-secrets-manager"]}),
    ],
    ids=["not JSON", "a field of the wrong type"],
)
def test_an_unreadable_secret_answers_503_and_no_value_is_logged(
    client: Client, log_lines: io.StringIO, document: str
) -> None:
    # Given a deployment secret the operator mistyped
    keep(document)
    # When the admin API is called
    status = admin(client, DEPLOYED["admin_token"])
    # Then it is unavailable (the caller may try again), and the log says why without values
    assert status == 503
    lines = log_lines.getvalue()
    assert "deployment secret unreadable" in lines
    assert DEPLOYED["admin_token"] not in lines


def test_a_missing_secret_answers_503(client: Client) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=DEPLOYMENT_SECRET, ForceDeleteWithoutRecovery=True
    )
    assert admin(client, DEPLOYED["admin_token"]) == 503
    assert slack(client, DEPLOYED["slack_signing_secret"]) == 503
