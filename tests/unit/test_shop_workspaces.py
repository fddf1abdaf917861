"""A shop's Slack client from the bot token in its secret: one answer when there is none
(WorkspaceUnavailable), which a worker's job turns into a retry."""

from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from chalicelib.channels.slack import ShopWorkspaces
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.shop import ShopSecrets
from chalicelib.services.ports import slack_or_retry
from tests.fakes import FakeSlack, refused_as_slack_does


@dataclass
class Secrets:
    """Shops' secrets in memory, read as the vault reads them: a shop without a secret has
    empty secrets, and a vault that cannot read raises."""

    stored: dict[str, ShopSecrets] = field(default_factory=dict)
    failure: Exception | None = None

    def get(self, shop_id: str) -> ShopSecrets:
        if self.failure is not None:
            raise self.failure
        return self.stored.get(shop_id, ShopSecrets())


@dataclass
class Client:
    token: str


@dataclass
class RevokedClient:
    """A workspace whose token Slack revoked: every call refused, in slack_sdk's words."""

    token: str

    def post(self, channel: str) -> str:
        refused_as_slack_does("chat.postMessage", {"ok": False, "error": "token_revoked"})
        return "never"


def workspaces(secrets: Secrets) -> ShopWorkspaces[Client]:
    return ShopWorkspaces(secrets.get, Client)


def test_a_shop_with_a_bot_token_gets_a_client_opened_with_it() -> None:
    secrets = Secrets({"ana": ShopSecrets(slack_bot_token=SecretStr("xoxb-ana"))})
    assert workspaces(secrets).slack_for("ana") == Client("xoxb-ana")


def test_a_secret_without_a_bot_token_is_no_workspace() -> None:
    secrets = Secrets({"ana": ShopSecrets(twilio_auth_token=SecretStr("twilio"))})
    with pytest.raises(WorkspaceUnavailable, match="no Slack bot token"):
        workspaces(secrets).slack_for("ana")


def test_a_shop_without_a_secret_is_no_workspace() -> None:
    with pytest.raises(WorkspaceUnavailable):
        workspaces(Secrets()).slack_for("ana")


def test_a_token_taken_out_of_the_secret_is_not_used_again() -> None:
    secrets = Secrets({"ana": ShopSecrets(slack_bot_token=SecretStr("xoxb-ana"))})
    shops = workspaces(secrets)
    assert shops.slack_for("ana") == Client("xoxb-ana")
    # When the token is removed from the shop's secret
    secrets.stored["ana"] = ShopSecrets()
    with pytest.raises(WorkspaceUnavailable):
        shops.slack_for("ana")


def test_a_token_slack_revoked_still_opens_a_client_whose_calls_slack_refuses() -> None:
    # Given a token Slack has revoked (nothing in the secret says so)
    secrets = Secrets({"ana": ShopSecrets(slack_bot_token=SecretStr("xoxb-revoked"))})
    shops = ShopWorkspaces(secrets.get, RevokedClient)
    # When its client is asked for, it is given without a call to Slack
    client = shops.slack_for("ana")
    assert client.token == "xoxb-revoked"
    # Then Slack's refusal comes with the first call, where callers handle Slack's errors
    with pytest.raises(SlackApiError) as raised:
        client.post("C0ANA")
    assert raised.value.response["error"] == "token_revoked"


def test_a_vault_that_cannot_read_fails_as_it_does() -> None:
    outage = ConnectionError("Secrets Manager unreachable")
    with pytest.raises(ConnectionError) as raised:
        workspaces(Secrets(failure=outage)).slack_for("ana")
    assert raised.value is outage


def test_a_workers_job_without_a_workspace_is_retried_later() -> None:
    with pytest.raises(Retryable, match="the shop has no Slack bot token") as raised:
        slack_or_retry(ShopWorkspaces(Secrets().get, FakeSlack().workspace), "ana")
    assert isinstance(raised.value.__cause__, WorkspaceUnavailable)
    assert raised.value.retry_after is None
