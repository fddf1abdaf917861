"""A shop's "Add to Slack": the OAuth state issued at the start is good once, before its
expiry and in the browser that started, and the bot token lands in the shop's secrets, never
in the installation record. Over the in-memory installation records and vault."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Installation

from chalicelib.domain.errors import Conflict, Forbidden
from chalicelib.domain.shop import Shop, ShopSecrets, SlackConfig
from chalicelib.secrets import DeploymentKeys, DeploymentSecrets
from chalicelib.services.installs import (
    STATE_LIFETIME,
    SlackInstalls,
    ThreadlineInstallationStore,
)
from chalicelib.settings import Settings
from tests.fakes import FakeInstallations, FakeSlack, FakeVault
from tests.unit.stand_ins import SetClock, ShopsInMemory

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TWILIO = ShopSecrets(twilio_auth_token=SecretStr("tw-ana"))


@dataclass
class Slack:
    """Slack's side of the code exchange: the installation each code grants."""

    team_id: str = "T0ANA"
    traded: list[str] = field(default_factory=list)

    def exchange(
        self, api_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> Installation:
        self.traded.append(code)
        return Installation(
            app_id="A0APP",
            team_id=self.team_id,
            team_name="Ana's workspace",
            bot_token=f"xoxb-{self.team_id.lower()}",
            bot_id="B0BOT",
            bot_user_id="U0BOT",
            bot_scopes=["chat:write"],
            user_id="U0INSTALLER",
            incoming_webhook_channel_id="C0CHOSEN",
            installed_at=1764000000.0,
        )


@dataclass
class Flow:
    installs: SlackInstalls
    records: FakeInstallations
    vault: FakeVault
    shops: ShopsInMemory
    slack: FakeSlack
    oauth: Slack
    clock: SetClock
    store: ThreadlineInstallationStore

    def start(self) -> str:
        """Follows the shop's install link; returns the state bound to the browser."""
        link = self.installs.install_link("ana")
        assert link is not None
        consent, state = self.installs.start(dict(parse_qsl(urlsplit(link).query)))
        assert dict(parse_qsl(urlsplit(consent).query))["state"] == state
        return state


@pytest.fixture
def flow() -> Flow:
    records, vault, shops = FakeInstallations(), FakeVault(), ShopsInMemory()
    shops.put_shop(Shop(shop_id="ana", name="Ana's Shop"), None)
    vault.put("ana", TWILIO)
    slack, oauth, clock = FakeSlack(), Slack(), SetClock(NOW)
    store = ThreadlineInstallationStore(records, vault)
    keys = DeploymentKeys(slack_client_id="1.2", slack_client_secret=SecretStr("client-secret"))
    installs = SlackInstalls(
        Settings(public_url="https://threadline.example"),
        DeploymentSecrets.fixed(keys),
        shops,
        records,
        vault,
        store,
        slack.workspace,
        clock,
        oauth.exchange,
    )
    return Flow(installs, records, vault, shops, slack, oauth, clock, store)


def test_an_install_connects_the_shop_and_keeps_the_token_in_its_secrets(flow: Flow) -> None:
    state = flow.start()
    shop, workspace = flow.installs.finish({"state": state, "code": "c-1"}, state)
    assert workspace == "Ana's workspace"
    assert shop.slack == SlackConfig(team_id="T0ANA", channel_id="C0CHOSEN")
    assert flow.shops.get_shop("ana") == shop
    stored = flow.vault.get("ana")
    assert stored.slack_bot_token == SecretStr("xoxb-t0ana")
    assert stored.twilio_auth_token == SecretStr("tw-ana")
    record = flow.records.get_installation(None, "T0ANA")
    assert record is not None
    assert record["shop_id"] == "ana"
    assert "xoxb-t0ana" not in str(record)
    found = flow.store.find_bot(enterprise_id=None, team_id="T0ANA")
    assert found is not None
    assert found.bot_token == "xoxb-t0ana"
    assert flow.slack.joined == [("xoxb-t0ana", "C0CHOSEN")]


def test_a_state_is_good_for_one_install(flow: Flow) -> None:
    state = flow.start()
    flow.installs.finish({"state": state, "code": "c-1"}, state)
    with pytest.raises(Forbidden, match="already completed"):
        flow.installs.finish({"state": state, "code": "c-2"}, state)
    assert flow.oauth.traded == ["c-1"]


def test_a_state_past_its_lifetime_installs_nothing(flow: Flow) -> None:
    state = flow.start()
    flow.clock.advance(STATE_LIFETIME)
    with pytest.raises(Forbidden, match="expired"):
        flow.installs.finish({"state": state, "code": "c-1"}, state)
    assert flow.oauth.traded == []
    assert flow.records.get_installation(None, "T0ANA") is None
    assert flow.vault.get("ana") == TWILIO


def test_a_state_from_another_browser_is_refused_and_left_for_its_own(flow: Flow) -> None:
    state = flow.start()
    other = flow.start()
    with pytest.raises(Forbidden, match="another browser"):
        flow.installs.finish({"state": state, "code": "c-1"}, other)
    flow.clock.advance(STATE_LIFETIME - timedelta(seconds=1))
    shop, _ = flow.installs.finish({"state": state, "code": "c-1"}, state)
    assert shop.slack is not None


def test_a_shop_of_another_workspace_is_not_carried_off(flow: Flow) -> None:
    state = flow.start()
    flow.installs.finish({"state": state, "code": "c-1"}, state)
    flow.oauth.team_id = "T0OTHER"
    state = flow.start()
    with pytest.raises(Conflict):
        flow.installs.finish({"state": state, "code": "c-2"}, state)
    assert flow.records.get_installation(None, "T0OTHER") is None
    assert flow.vault.get("ana").slack_bot_token == SecretStr("xoxb-t0ana")
    shop = flow.shops.get_shop("ana")
    assert shop is not None
    assert shop.slack is not None
    assert shop.slack.team_id == "T0ANA"
