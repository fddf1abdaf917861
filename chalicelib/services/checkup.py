"""The admin API's checkup: whether the deployment's settings and each shop's Slack,
Twilio, Telegram and Meta connections work. It runs here, with the shop's secrets as the
workers read them (docs/adr/0004-doctor-checks-with-secrets-server-side.md); only verdicts
leave, never a secret.
"""

from collections import Counter

from aws_lambda_powertools import Logger

from chalicelib.domain.checks import (
    META,
    NOT_YET,
    REINSTALL,
    SLACK,
    TELEGRAM,
    TWILIO,
    Check,
    CheckReport,
    Refusal,
    failed,
    meta_id_check,
    meta_token_check,
    not_configured,
    passed,
    public_url_check,
    signing_secret_check,
    slack_channel_check,
    slack_channels,
    slack_token_check,
    telegram_webhook_check,
    twilio_account_check,
    twilio_number_check,
)
from chalicelib.domain.errors import NotFound
from chalicelib.domain.shop import (
    Shop,
    ShopSecrets,
    is_shop_id,
    telegram_webhook_url,
    webhook_urls,
)
from chalicelib.secrets import DeploymentSecrets
from chalicelib.services.ports import (
    BotInspection,
    GraphInspection,
    NumberInspection,
    ShopLookup,
    ShopVault,
    SlackInspectionFactory,
)
from chalicelib.settings import Settings

logger = Logger(service="threadline", child=True)


class Checkup:
    def __init__(
        self,
        settings: Settings,
        deployment: DeploymentSecrets,
        shops: ShopLookup,
        vault: ShopVault,
        slack: SlackInspectionFactory,
        numbers: NumberInspection,
        bots: BotInspection,
        graph: GraphInspection,
    ) -> None:
        self._settings = settings
        self._deployment = deployment
        self._shops = shops
        self._vault = vault
        self._slack = slack
        self._numbers = numbers
        self._bots = bots
        self._graph = graph

    def deployment(self) -> CheckReport:
        """The settings every shop depends on (set or not; never their values)."""
        signing_secret = self._deployment.current().slack_signing_secret.get_secret_value()
        return CheckReport(
            checks=[
                public_url_check(self._settings.public_url),
                signing_secret_check(bool(signing_secret.strip())),
            ]
        )

    def shop(self, shop_id: str) -> CheckReport:
        """Every check of the shop's connections, one per provider that needs its secrets,
        and one for each channel Threadline does not have yet."""
        shop = self._shops.get_shop(shop_id, fresh=True) if is_shop_id(shop_id) else None
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        secrets = self._vault.get(shop_id, fresh=True)
        checks = [
            *self._slack_checks(shop, secrets),
            *self._twilio_checks(shop, secrets),
            *self._meta_checks(shop, secrets),
            *self._telegram_checks(shop, secrets),
            *NOT_YET,
        ]
        # Counts only: what failed is in the answer, and the log keeps no numbers or names.
        verdicts = Counter(check.verdict.value for check in checks)
        logger.info("shop checked", shop_id=shop_id, verdicts=dict(verdicts))
        return CheckReport(checks=checks)

    def _slack_checks(self, shop: Shop, secrets: ShopSecrets) -> list[Check]:
        if shop.slack is None:
            return [
                failed(
                    SLACK,
                    "workspace",
                    "not connected: customers' messages wait stored until it is",
                    f"send the shop its install link (threadline urls {shop.shop_id})",
                )
            ]
        token = secrets.slack_bot_token
        if token is None:
            return [failed(SLACK, "bot token", "none stored", REINSTALL.format(shop=shop.shop_id))]
        workspace = self._slack(token.get_secret_value())
        bot = workspace.bot()
        checks = [slack_token_check(shop, bot)]
        if isinstance(bot, Refusal):
            # Every channel would be refused the same way.
            return checks
        return checks + [
            slack_channel_check(shop, channel, uses, workspace.channel_state(channel))
            for channel, uses in slack_channels(shop).items()
        ]

    def _twilio_checks(self, shop: Shop, secrets: ShopSecrets) -> list[Check]:
        if shop.twilio is None:
            return [not_configured(TWILIO, "no Twilio account")]
        if secrets.twilio_auth_token is None:
            return [
                failed(
                    TWILIO,
                    "account",
                    f"no auth token stored for {shop.twilio.account_sid}",
                    "store it: threadline shop put with twilio.auth_token",
                )
            ]
        found = self._numbers.webhooks(shop, secrets)
        if isinstance(found, Refusal):
            return [twilio_account_check(shop, found)]
        expected = webhook_urls(self._settings.public_url, shop.shop_id)["twilio_messaging"]
        account = passed(TWILIO, "account", f"{shop.twilio.account_sid}: credentials accepted")
        return [account, *(twilio_number_check(shop, number, expected) for number in found)]

    def _telegram_checks(self, shop: Shop, secrets: ShopSecrets) -> list[Check]:
        if shop.telegram is None:
            return [not_configured(TELEGRAM, "no bot")]
        expected = telegram_webhook_url(self._settings.public_url, shop.shop_id)
        return [telegram_webhook_check(shop, self._bots.webhook_info(shop, secrets), expected)]

    def _meta_checks(self, shop: Shop, secrets: ShopSecrets) -> list[Check]:
        if shop.meta is None or not shop.meta.ids():
            return [not_configured(META, "no WhatsApp Cloud number, Page or Instagram account")]
        if secrets.meta_access_token is None:
            return [
                failed(
                    META,
                    "access token",
                    "none stored: nothing can be sent",
                    "store it: threadline shop put with meta.access_token",
                )
            ]
        token = secrets.meta_access_token.get_secret_value()
        me = self._graph.me(token)
        checks = [meta_token_check(me)]
        if isinstance(me, Refusal):
            # Every id would be refused the same way.
            return checks
        return checks + [
            meta_id_check(channel, meta_id, self._graph.read(meta_id, token))
            for channel, meta_id in shop.meta.ids().items()
        ]
