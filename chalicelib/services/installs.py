"""Shops connecting their own Slack workspace with "Add to Slack" (OAuth v2).

An operator hands the shop its install link (from the admin API: signed, valid a week).
`/slack/install` checks it, issues a one-use state bound to the shop (and to the browser by
a cookie) and sends the browser to Slack's consent page, where the installer also picks the
channel. `/slack/oauth_redirect` consumes the state, trades the code for the installation,
keeps it through slack_sdk's installation-store interface, and points the shop's Slack
section at that workspace and channel.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from logging import Logger as StdLogger
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore

from chalicelib.channels.slack import authorize_url, exchange_code
from chalicelib.domain.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.domain.outside_input import whole_number
from chalicelib.domain.shop import Shop, SlackConfig
from chalicelib.domain.vocabulary import Channel
from chalicelib.secrets import DeploymentKeys, DeploymentSecrets
from chalicelib.services.ports import (
    Clock,
    InstallationRecords,
    ShopRecords,
    ShopVault,
    SlackFactory,
)
from chalicelib.settings import Settings

logger = Logger(service="threadline", child=True)

INSTALL_LINK_LIFETIME = timedelta(days=7)
STATE_LIFETIME = timedelta(minutes=10)
STATE_COOKIE = "threadline_slack_state"
Exchange = Callable[[str, str, str, str, str], Installation]
_SLACK_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
# What `secrets.token_urlsafe` gives: the only state values Threadline ever sets.
_STATE_VALUE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of any two strings (hmac's refuses non-ASCII ones)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def state_in_cookies(header: str) -> str | None:
    """The install state bound to this browser, from its Cookie header: the first
    well-formed value of the state cookie. Read pair by pair, because `http.cookies` drops
    the whole header for one malformed cookie beside ours (another site's on the same
    domain, a quote left open), and the install would then fail as started elsewhere."""
    for pair in header.split(";"):
        name, _, value = pair.partition("=")
        if name.strip() == STATE_COOKIE and _STATE_VALUE.fullmatch(value.strip()):
            return value.strip()
    return None


def _installs_configured(keys: DeploymentKeys) -> bool:
    return bool(keys.slack_client_id and keys.slack_client_secret.get_secret_value())


def _signature(keys: DeploymentKeys, shop_id: str, expires: str) -> str:
    """An install link's signature, keyed with the Slack app's client secret."""
    key = keys.slack_client_secret.get_secret_value().encode("utf-8")
    return hmac.new(key, f"{shop_id}:{expires}".encode(), hashlib.sha256).hexdigest()


class ThreadlineInstallationStore(InstallationStore):
    """slack_sdk's installation store over Threadline's table (what Slack granted) and the
    shops' secrets (the bot token), so no token ever sits in a plain table item."""

    def __init__(self, records: InstallationRecords, vault: ShopVault) -> None:
        self._install_records = records
        self._vault = vault

    @property
    def logger(self) -> StdLogger:
        import logging

        return logging.getLogger(__name__)

    def save(self, installation: Installation) -> None:
        shop_id = (installation.custom_values or {}).get("shop_id")
        if not shop_id or not installation.team_id:
            raise ValueError("an installation belongs to a shop and a workspace")
        self._install_records.put_installation(
            {
                "shop_id": shop_id,
                "app_id": installation.app_id,
                "enterprise_id": installation.enterprise_id,
                "team_id": installation.team_id,
                "team_name": installation.team_name,
                "bot_id": installation.bot_id,
                "bot_user_id": installation.bot_user_id,
                "bot_scopes": ",".join(installation.bot_scopes or []),
                "user_id": installation.user_id,
                "incoming_webhook_channel_id": installation.incoming_webhook_channel_id,
                "is_enterprise_install": bool(installation.is_enterprise_install),
                "installed_at": str(installation.installed_at),
            }
        )

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        values = self._install_records.get_installation(enterprise_id, team_id or "")
        if values is None:
            return None
        token = self._vault.get(str(values["shop_id"])).slack_bot_token
        return Installation(
            app_id=values.get("app_id"),
            enterprise_id=values.get("enterprise_id"),
            team_id=values.get("team_id"),
            team_name=values.get("team_name"),
            bot_token=token.get_secret_value() if token else None,
            bot_id=values.get("bot_id"),
            bot_user_id=values.get("bot_user_id"),
            bot_scopes=str(values.get("bot_scopes", "")),
            user_id=str(values.get("user_id", "")),
            incoming_webhook_channel_id=values.get("incoming_webhook_channel_id"),
            is_enterprise_install=bool(values.get("is_enterprise_install")),
            installed_at=float(values["installed_at"]) if values.get("installed_at") else None,
            custom_values={"shop_id": values["shop_id"]},
        )

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = self.find_installation(enterprise_id=enterprise_id, team_id=team_id)
        return installation.to_bot() if installation and installation.bot_token else None

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self._install_records.delete_installation(enterprise_id, team_id or "")

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._install_records.delete_installation(enterprise_id, team_id or "")


class SlackInstalls:
    def __init__(
        self,
        settings: Settings,
        deployment: DeploymentSecrets,
        shops: ShopRecords,
        records: InstallationRecords,
        vault: ShopVault,
        installations: InstallationStore,
        slack: SlackFactory,
        clock: Clock,
        exchange: Exchange = exchange_code,
    ) -> None:
        self._settings = settings
        self._deployment = deployment
        self._shops = shops
        self._install_records = records
        self._vault = vault
        self._installations = installations
        self._slack = slack
        self._clock = clock
        self._exchange = exchange

    @property
    def _redirect_uri(self) -> str:
        return f"{self._settings.public_url}/slack/oauth_redirect"

    def install_link(self, shop_id: str) -> str | None:
        """The shop's "Add to Slack" link; None while the app has no OAuth credentials."""
        keys = self._deployment.current()
        if not _installs_configured(keys):
            return None
        expires = str(int((self._clock() + INSTALL_LINK_LIFETIME).timestamp()))
        signature = _signature(keys, shop_id, expires)
        query = urlencode({"shop": shop_id, "expires": expires, "signature": signature})
        return f"{self._settings.public_url}/slack/install?{query}"

    def start(self, query: dict[str, str]) -> tuple[str, str]:
        """Checks an install link; returns Slack's consent URL and the state to bind."""
        shop_id, expires = query.get("shop", ""), query.get("expires", "")

        def signed(keys: DeploymentKeys) -> DeploymentKeys:
            if not _installs_configured(keys):
                raise NotFound("Slack installs are not configured")
            if not _same(query.get("signature", ""), _signature(keys, shop_id, expires)):
                raise Forbidden("this install link is not valid")
            return keys

        keys = self._deployment.checked(signed)
        expires_at = whole_number(expires)
        if expires_at is None:
            raise Forbidden("this install link is not valid")
        now = self._clock()
        if expires_at < now.timestamp():
            raise Forbidden("this install link has expired: ask for a new one")
        if self._shops.get_shop(shop_id, fresh=True) is None:
            raise NotFound("no such shop")
        state = secrets.token_urlsafe(24)
        self._install_records.issue_oauth_state(state, shop_id, now + STATE_LIFETIME)
        consent = authorize_url(
            self._settings.slack_api_url, keys.slack_client_id, state, self._redirect_uri
        )
        return consent, state

    def finish(self, query: dict[str, str], cookie_state: str | None) -> tuple[Shop, str]:
        """Completes an install; returns the shop and the workspace's name."""
        if query.get("error"):
            # Slack's codes are short words; anything else is not echoed back.
            code = query["error"] if _SLACK_ERROR_CODE.fullmatch(query["error"]) else "unknown"
            raise BadRequest(f"Slack did not install the app: {code}")
        state, code = query.get("state", ""), query.get("code", "")
        if not state or not code:
            raise BadRequest("missing code or state")
        # Bound to the browser that started: a link forwarded mid-flow cannot finish it.
        if not cookie_state or not _same(state, cookie_state):
            raise Forbidden("this install was started in another browser")
        shop_id = self._install_records.consume_oauth_state(state, self._clock())
        if shop_id is None:
            raise Forbidden("this install has expired or was already completed")
        keys = self._deployment.current()
        installation = self._exchange(
            self._settings.slack_api_url,
            keys.slack_client_id,
            keys.slack_client_secret.get_secret_value(),
            code,
            self._redirect_uri,
        )
        shop = self._connect(shop_id, installation)
        return shop, installation.team_name or installation.team_id or ""

    def _connect(self, shop_id: str, installation: Installation) -> Shop:
        previous = self._shops.get_shop(shop_id, fresh=True)
        if previous is None:
            raise NotFound("no such shop")
        if not installation.team_id or not installation.bot_token:
            raise Forbidden("Slack granted no bot to this install")
        same_team = previous.slack is not None and previous.slack.team_id == installation.team_id
        if previous.slack is not None and not same_team:
            # An install link in the wrong hands must not carry a shop's customers off to
            # another workspace: moving one is an operator's decision.
            raise Conflict(
                "this shop is connected to another Slack workspace; an operator must "
                "disconnect it first (the shop JSON without its slack section)"
            )
        channel = installation.incoming_webhook_channel_id or (
            previous.slack.channel_id if previous.slack and same_team else None
        )
        if channel is None:
            raise BadRequest("choose the channel for conversations on Slack's consent page")
        installation.set_custom_value("shop_id", shop_id)
        self._installations.save(installation)
        routes: dict[Channel, str] = (
            dict(previous.slack.channels) if previous.slack and same_team else {}
        )
        slack = SlackConfig(team_id=installation.team_id, channel_id=channel, channels=routes)
        shop = previous.model_copy(update={"slack": slack})
        stored = self._vault.get(shop_id, fresh=True)
        self._vault.put(
            shop_id,
            stored.model_copy(update={"slack_bot_token": SecretStr(installation.bot_token)}),
        )
        self._shops.put_shop(shop, previous)
        try:
            self._slack(installation.bot_token).join(channel)
        except Exception:
            logger.warning("channel not joined; invite the app", shop_id=shop_id)
        logger.info("slack connected", shop_id=shop_id, team_id=installation.team_id)
        return shop
