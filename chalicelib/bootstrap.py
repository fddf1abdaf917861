"""The composition root: the one place that builds real adapters and wires the use cases.

Everything is built on first use, never at import, so a cold start pays only for what its
event needs. Tests build a `Container` with their own settings and fakes and install it
with `use()`.
"""

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib.domain.vocabulary import META_CHANNELS, Channel

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from chalicelib.channels.base import ChannelAdapter, OutboundChannel, UpdateChannel
    from chalicelib.media import MediaStore
    from chalicelib.metrics import CloudWatchMetrics
    from chalicelib.queues import Queues, Schedules
    from chalicelib.secrets import DeploymentSecrets, SecretVault
    from chalicelib.services.agent_tools import AgentTools
    from chalicelib.services.cancellations import CancelActions
    from chalicelib.services.checkup import Checkup
    from chalicelib.services.commerce_webhooks import ShopifyWebhooks
    from chalicelib.services.conversations import CardActions, InboundProcessor
    from chalicelib.services.customers import Customers
    from chalicelib.services.data_rights import CustomerData
    from chalicelib.services.dead_letters import DeadLetterWatch
    from chalicelib.services.drafts import ReplyDrafts
    from chalicelib.services.handoff import HandoffSummaries
    from chalicelib.services.installs import Exchange, SlackInstalls
    from chalicelib.services.intake import Intake
    from chalicelib.services.mail_intake import MailIntake
    from chalicelib.services.media_links import MediaLinks
    from chalicelib.services.meta_intake import MetaIntake
    from chalicelib.services.meta_routes import MetaRoutes
    from chalicelib.services.order_updates import OrderUpdates
    from chalicelib.services.orders import OrderLookups
    from chalicelib.services.ports import (
        CancelDesk,
        Clock,
        IdFactory,
        OrderContacts,
        OrderDirectory,
        RefundDesk,
        ReturnDesk,
        SlackFactory,
        SlackInspection,
        SlackPort,
        TriageEngine,
        Workspaces,
    )
    from chalicelib.services.recovery import Redelivery
    from chalicelib.services.refunds import RefundActions
    from chalicelib.services.replies import ReplyDispatcher
    from chalicelib.services.reports import Reports
    from chalicelib.services.returns import ReturnActions
    from chalicelib.services.shop_messages import ShopMessages
    from chalicelib.services.shops import ShopAdmin
    from chalicelib.services.telegram_bots import TelegramConnect
    from chalicelib.services.triage import MessageTriage
    from chalicelib.services.twilio_numbers import TwilioConnect
    from chalicelib.services.woocommerce_webhooks import WooCommerceWebhooks
    from chalicelib.settings import Settings
    from chalicelib.store.cancellations import CancelClaims
    from chalicelib.store.claims import DeadLetterClaims, ShopMessageClaims
    from chalicelib.store.conversations import Conversations
    from chalicelib.store.counters import Counters
    from chalicelib.store.digests import Digests
    from chalicelib.store.erasure import Erasures
    from chalicelib.store.inbound import InboundMessages
    from chalicelib.store.installs import Installations
    from chalicelib.store.listings import ConversationListings
    from chalicelib.store.opt_outs import OptOuts
    from chalicelib.store.profiles import Profiles
    from chalicelib.store.refunds import RefundClaims
    from chalicelib.store.replies import Replies
    from chalicelib.store.returns import ReturnClaims
    from chalicelib.store.shops import Shops
    from chalicelib.store.upgrades import Upgrades
    from chalicelib.store.webhooks import WebhookClaims

# Phone numbers (E.164, with or without whatsapp:) and email addresses, wherever a log
# line would carry one: in a field, in an exception's message, in a traceback.
_PERSONAL = re.compile(r"\+\d{7,15}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return _PERSONAL.sub("[redacted]", value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """The same redaction for plain log lines that other libraries write (powertools' batch
    processor logs a failed record's exception, whose message may name a customer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.getMessage())
        record.args = ()
        if record.exc_info:
            # Set even where another handler cached the traceback: formatters reuse it.
            record.exc_text = _redacted(logging.Formatter().formatException(record.exc_info))
        return True


class RedactingFormatter(LambdaPowertoolsFormatter):
    """powertools' JSON lines, with customers' numbers and addresses taken out. Message
    bodies are never logged in the first place."""

    def serialize(self, log: "LogRecord") -> str:
        return super().serialize(_redacted(log))


# The parent of every module's child logger: JSON lines, service "threadline".
logger = Logger(service="threadline", logger_formatter=RedactingFormatter())
# Lambda's own handler, which other libraries' records reach through the root logger.
for _handler in logging.getLogger().handlers:
    _handler.addFilter(RedactingFilter())


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_ulid() -> str:
    from ulid import ULID

    return str(ULID())


# The AWS services the functions call. The Lambda bundle carries the SDK's models of these
# alone (threadline_cli/bundle.py): a client for any other would fail in AWS, so it is
# refused here, in tests too.
AWS_SERVICES = frozenset(
    {
        "dynamodb",
        "s3",
        "scheduler",
        "secretsmanager",
        "sesv2",
        "sqs",
        "comprehend",
        "bedrock-runtime",
    }
)


def _aws_client(service: str, region: str | None = None, **config: Any) -> Any:
    """A client of one of AWS_SERVICES, in `region` (None: the function's), with `config`
    overriding the timeouts and retries below."""
    import boto3
    from botocore.config import Config

    if service not in AWS_SERVICES:
        raise ValueError(f"{service} is not among the services the bundle carries models of")

    # Short timeouts: the ack path has a provider waiting, and SQS retries the workers.
    # Presigned S3 URLs are SigV4, the only kind that lasts up to a week.
    settings: dict[str, Any] = {
        "connect_timeout": 2,
        "read_timeout": 5,
        "retries": {"mode": "standard", "max_attempts": 3},
        "signature_version": "s3v4" if service == "s3" else None,
        **config,
    }
    return boto3.client(service, region_name=region, config=Config(**settings))  # type: ignore[call-overload]


def _triage_client(service: str, seconds: float) -> Callable[[str | None], Any]:
    """Clients of a triage engine's service, by region: one retry at most, and timeouts
    within the time the worker waits for the engine."""

    def client(region: str | None) -> Any:
        return _aws_client(
            service,
            region,
            connect_timeout=min(1.0, seconds),
            read_timeout=seconds,
            retries={"mode": "standard", "total_max_attempts": 2},
        )

    return client


class ClientOnFirstUse:
    """A boto3 client made when first used: building the intake wires the table's
    repositories, but a Slack event's ack never calls DynamoDB, and making its client (loading
    its service model) is the dearest of the three an ack may make."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    @cached_property
    def _client(self) -> Any:
        return self._make()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# How long a hand-off summary may take the shop's model: a few triage deadlines, at most this.
SUMMARY_SECONDS_FACTOR = 4
SUMMARY_SECONDS_CAP = 10.0


class Repositories:
    """The table's repositories, one a kind of item, over one client: each built on first
    use."""

    def __init__(self, client: "DynamoDBClient", table_name: str, shop_cache_seconds: int) -> None:
        self.client = client
        self._table_name = table_name
        self._shop_cache_seconds = shop_cache_seconds

    @cached_property
    def shops(self) -> "Shops":
        from chalicelib.store.shops import Shops

        return Shops(self.client, self._table_name, self._shop_cache_seconds)

    @cached_property
    def counters(self) -> "Counters":
        from chalicelib.store.counters import Counters

        return Counters(self.client, self._table_name)

    @cached_property
    def inbound(self) -> "InboundMessages":
        from chalicelib.store.inbound import InboundMessages

        return InboundMessages(self.client, self._table_name)

    @cached_property
    def conversations(self) -> "Conversations":
        from chalicelib.store.conversations import Conversations

        return Conversations(self.client, self._table_name)

    @cached_property
    def listings(self) -> "ConversationListings":
        from chalicelib.store.listings import ConversationListings

        return ConversationListings(self.client, self._table_name)

    @cached_property
    def replies(self) -> "Replies":
        from chalicelib.store.replies import Replies

        return Replies(self.client, self._table_name)

    @cached_property
    def profiles(self) -> "Profiles":
        from chalicelib.store.profiles import Profiles

        return Profiles(self.client, self._table_name)

    @cached_property
    def erasures(self) -> "Erasures":
        from chalicelib.store.erasure import Erasures

        return Erasures(self.client, self._table_name)

    @cached_property
    def installations(self) -> "Installations":
        from chalicelib.store.installs import Installations

        return Installations(self.client, self._table_name)

    @cached_property
    def digests(self) -> "Digests":
        from chalicelib.store.digests import Digests

        return Digests(self.client, self._table_name)

    @cached_property
    def dead_letter_claims(self) -> "DeadLetterClaims":
        from chalicelib.store.claims import DeadLetterClaims

        return DeadLetterClaims(self.client, self._table_name)

    @cached_property
    def shop_message_claims(self) -> "ShopMessageClaims":
        from chalicelib.store.claims import ShopMessageClaims

        return ShopMessageClaims(self.client, self._table_name)

    @cached_property
    def upgrades(self) -> "Upgrades":
        from chalicelib.store.upgrades import Upgrades

        return Upgrades(self.client, self._table_name)

    @cached_property
    def webhook_claims(self) -> "WebhookClaims":
        from chalicelib.store.webhooks import WebhookClaims

        return WebhookClaims(self.client, self._table_name)

    @cached_property
    def refund_claims(self) -> "RefundClaims":
        from chalicelib.store.refunds import RefundClaims

        return RefundClaims(self.client, self._table_name)

    @cached_property
    def opt_outs(self) -> "OptOuts":
        from chalicelib.store.opt_outs import OptOuts

        return OptOuts(self.client, self._table_name)

    @cached_property
    def cancel_claims(self) -> "CancelClaims":
        from chalicelib.store.cancellations import CancelClaims

        return CancelClaims(self.client, self._table_name)

    @cached_property
    def return_claims(self) -> "ReturnClaims":
        from chalicelib.store.returns import ReturnClaims

        return ReturnClaims(self.client, self._table_name)


class Container:
    def __init__(
        self,
        settings: "Settings | None" = None,
        *,
        twilio: "ChannelAdapter | None" = None,
        slack: "SlackFactory | None" = None,
        slack_oauth: "Exchange | None" = None,
        email: "OutboundChannel | None" = None,
        orders: "OrderDirectory | None" = None,
        clock: "Clock" = utc_now,
        new_id: "IdFactory" = new_ulid,
        telegram: "UpdateChannel | None" = None,
        meta: "OutboundChannel | None" = None,
        refund_desk: "RefundDesk | None" = None,
        cancel_desk: "CancelDesk | None" = None,
        return_desk: "ReturnDesk | None" = None,
    ) -> None:
        self._refund_desk = refund_desk
        self._cancel_desk = cancel_desk
        self._return_desk = return_desk
        self._settings = settings
        self._meta = meta
        self._twilio = twilio
        self._slack = slack
        self._slack_oauth = slack_oauth
        self._email = email
        self._orders = orders
        self.clock = clock
        self.new_id = new_id
        self._telegram = telegram

    @cached_property
    def settings(self) -> "Settings":
        from chalicelib.settings import Settings

        return self._settings or Settings.from_environ()

    @cached_property
    def store(self) -> Repositories:
        client = cast("DynamoDBClient", ClientOnFirstUse(lambda: _aws_client("dynamodb")))
        return Repositories(client, self.settings.table_name, self.settings.shop_cache_seconds)

    @cached_property
    def secrets_client(self) -> "SecretsManagerClient":
        """Secrets Manager, for the shops' secrets and the deployment's."""
        return _aws_client("secretsmanager")

    @cached_property
    def vault(self) -> "SecretVault":
        from chalicelib.secrets import SecretVault

        return SecretVault(
            self.secrets_client, self.settings.secrets_prefix, self.settings.secrets_cache_seconds
        )

    @cached_property
    def deployment(self) -> "DeploymentSecrets":
        from chalicelib.secrets import DeploymentKeys, DeploymentSecrets

        settings = self.settings
        if settings.deployment_secret:
            return DeploymentSecrets.in_secrets_manager(
                self.secrets_client,
                settings.deployment_secret,
                settings.secrets_cache_seconds,
            )
        return DeploymentSecrets.fixed(
            DeploymentKeys(
                admin_token=settings.admin_token,
                slack_signing_secret=settings.slack_signing_secret,
                slack_client_id=settings.slack_client_id,
                slack_client_secret=settings.slack_client_secret,
                meta_app_secret=settings.meta_app_secret,
                meta_verify_token=settings.meta_verify_token,
            )
        )

    @cached_property
    def queues(self) -> "Queues":
        from chalicelib.queues import Queues

        return Queues(_aws_client("sqs"), self.settings.inbound_queue, self.settings.outbound_queue)

    @cached_property
    def schedules(self) -> "Schedules":
        from chalicelib.queues import Schedules

        return Schedules(
            _aws_client("scheduler"),
            _aws_client("sqs"),
            self.settings.schedule_group,
            self.settings.timers_queue,
        )

    @cached_property
    def twilio(self) -> "ChannelAdapter":
        if self._twilio is not None:
            return self._twilio
        import logging

        from chalicelib.channels.twilio import TwilioChannel

        # twilio's HTTP client logs every request body at INFO: customers' text and numbers.
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
        return TwilioChannel(self.settings.twilio_api_url)

    @cached_property
    def email(self) -> "OutboundChannel":
        if self._email is not None:
            return self._email
        from chalicelib.channels.email import EmailChannel

        return EmailChannel(_aws_client("sesv2"), _aws_client("s3"), self.settings.media_bucket)

    @cached_property
    def telegram(self) -> "UpdateChannel":
        if self._telegram is not None:
            return self._telegram
        from chalicelib.channels.telegram import TelegramChannel

        return TelegramChannel(self.settings.telegram_api_url)

    def channel_for(self, channel: Channel) -> "OutboundChannel":
        if channel is Channel.TELEGRAM:
            return self.telegram
        if channel in META_CHANNELS:
            return self.meta
        return self.email if channel is Channel.EMAIL else self.twilio

    @cached_property
    def meta(self) -> "OutboundChannel":
        if self._meta is not None:
            return self._meta
        from chalicelib.channels.meta import MetaChannel
        from chalicelib.channels.meta_graph import GraphApi

        return MetaChannel(GraphApi(self.settings.meta_graph_url))

    @cached_property
    def meta_intake(self) -> "MetaIntake":
        from chalicelib.services.meta_intake import MetaIntake

        return MetaIntake(
            self.deployment,
            self.store.shops,
            self.store.inbound,
            self.queues,
            self.metrics,
            self.clock,
            self.settings.shop_cache_seconds,
        )

    @cached_property
    def slack(self) -> "SlackFactory":
        if self._slack is not None:
            return self._slack
        from chalicelib.channels.slack import SlackWorkspace

        api_url = self.settings.slack_api_url

        def workspace(token: str) -> "SlackPort":
            return SlackWorkspace(token, api_url)

        return workspace

    @cached_property
    def workspaces(self) -> "Workspaces":
        from chalicelib.channels.slack import ShopWorkspaces

        return ShopWorkspaces(self.vault.get, self.slack)

    @cached_property
    def admin(self) -> "ShopAdmin":
        from chalicelib.services.shops import ShopAdmin

        store = self.store
        return ShopAdmin(
            store.shops,
            store.conversations,
            store.listings,
            store.inbound,
            store.profiles,
            store.digests,
            self.vault,
            self.settings.public_url,
            self.installs,
            self.media,
            self.new_id,
            self.clock,
            self.settings.shop_cache_seconds,
            store.opt_outs,
        )

    @cached_property
    def twilio_numbers(self) -> "TwilioConnect":
        from chalicelib.channels.twilio import TwilioNumbers
        from chalicelib.services.twilio_numbers import TwilioConnect

        numbers = TwilioNumbers(self.settings.twilio_api_url)
        return TwilioConnect(self.store.shops, self.vault, self.settings.public_url, numbers)

    @cached_property
    def telegram_bots(self) -> "TelegramConnect":
        from chalicelib.channels.telegram import TelegramWebhooks
        from chalicelib.services.telegram_bots import TelegramConnect

        webhooks = TelegramWebhooks(self.settings.telegram_api_url)
        return TelegramConnect(self.store.shops, self.vault, self.settings.public_url, webhooks)

    @cached_property
    def checkup(self) -> "Checkup":
        from chalicelib.channels.meta_graph import GraphApi
        from chalicelib.channels.meta_inspection import GraphApiInspection
        from chalicelib.channels.slack import SlackWorkspace
        from chalicelib.channels.telegram_inspection import TelegramBotInspection
        from chalicelib.channels.twilio import TwilioNumbers
        from chalicelib.services.checkup import Checkup

        api_url = self.settings.slack_api_url

        def workspace(token: str) -> "SlackInspection":
            return SlackWorkspace(token, api_url)

        numbers = TwilioNumbers(self.settings.twilio_api_url)
        return Checkup(
            self.settings,
            self.deployment,
            self.store.shops,
            self.vault,
            workspace,
            numbers,
            bots=TelegramBotInspection(self.settings.telegram_api_url),
            graph=GraphApiInspection(GraphApi(self.settings.meta_graph_url)),
        )

    @cached_property
    def installs(self) -> "SlackInstalls":
        # slack_sdk's OAuth module loads only where shops install the app.
        from chalicelib.services.installs import SlackInstalls, ThreadlineInstallationStore

        return SlackInstalls(
            self.settings,
            self.deployment,
            self.store.shops,
            self.store.installations,
            self.vault,
            ThreadlineInstallationStore(self.store.installations, self.vault),
            self.slack,
            self.clock,
            **({"exchange": self._slack_oauth} if self._slack_oauth else {}),
        )

    @cached_property
    def intake(self) -> "Intake":
        from chalicelib.services.intake import Intake

        return Intake(
            self.settings,
            self.deployment,
            self.store.shops,
            self.store.inbound,
            self.store.replies,
            self.vault,
            self.queues,
            self.twilio,
            self.agent_tools,
            self.clock,
            self.telegram,
            refunds=lambda: self.refunds,
            cancellations=lambda: self.cancellations,
            returns=lambda: self.returns,
        )

    @cached_property
    def agent_tools(self) -> "AgentTools":
        from chalicelib.services.agent_tools import AgentTools

        store = self.store
        return AgentTools(store.shops, store.conversations, store.listings, self.workspaces)

    @cached_property
    def inbound(self) -> "InboundProcessor":
        from chalicelib.services.conversations import InboundProcessor
        from chalicelib.services.opt_outs import OptOutKeeper

        store = self.store
        return InboundProcessor(
            store.shops,
            store.inbound,
            store.conversations,
            store.profiles,
            self.vault,
            self.channel_for,
            self.workspaces,
            self.media,
            self.schedules,
            self.queues,
            self.new_id,
            self.metrics,
            self.clock,
            self.settings.sla_minute_seconds,
            self.triage,
            self.handoffs,
            OptOutKeeper(store.opt_outs, store.profiles),
        )

    @cached_property
    def triage(self) -> "MessageTriage":
        from chalicelib.domain.triage.rules import RulesEngine
        from chalicelib.services.triage import MessageTriage
        from chalicelib.triage_engines.bedrock import BedrockEngine
        from chalicelib.triage_engines.comprehend import ComprehendEngine
        from chalicelib.triage_engines.guard import Bounded

        rules = RulesEngine()
        seconds = self.settings.triage_seconds
        bounded = Bounded(seconds)
        engines: dict[str, TriageEngine] = {
            rules.name: rules,
            ComprehendEngine.name: ComprehendEngine(
                _triage_client("comprehend", seconds), rules, self.metrics, bounded
            ),
            BedrockEngine.name: BedrockEngine(
                _triage_client("bedrock-runtime", seconds), rules, self.metrics, bounded
            ),
        }
        return MessageTriage(
            self.store.conversations,
            self.schedules,
            engines,
            self.clock,
            self.settings.sla_minute_seconds,
        )

    @cached_property
    def media(self) -> "MediaStore":
        from chalicelib.media import MediaStore

        return MediaStore(_aws_client("s3"), self.settings.media_bucket)

    @cached_property
    def mail_intake(self) -> "MailIntake":
        # The email parser's libraries load only where mail arrives.
        from chalicelib.services.mail_intake import MailIntake

        store = self.store
        return MailIntake(
            store.shops, store.inbound, store.counters, self.queues, self.media, self.clock
        )

    @cached_property
    def customer_data(self) -> "CustomerData":
        from chalicelib.services.data_rights import CustomerData

        store = self.store
        return CustomerData(
            store.shops,
            store.conversations,
            store.listings,
            store.inbound,
            store.profiles,
            store.erasures,
            self.media,
            self.clock,
            self.workspaces,
            store.opt_outs,
        )

    @cached_property
    def dead_letters(self) -> "DeadLetterWatch":
        from chalicelib.services.dead_letters import DeadLetterWatch

        store = self.store
        return DeadLetterWatch(
            store.shops,
            store.conversations,
            store.inbound,
            store.dead_letter_claims,
            self.queues,
            self.workspaces,
            self.clock,
        )

    @cached_property
    def shop_messages(self) -> "ShopMessages":
        from chalicelib.services.shop_messages import ShopMessages

        store = self.store
        return ShopMessages(
            store.shops,
            store.shop_message_claims,
            store.conversations,
            self.queues,
            self.clock,
            self.new_id,
        )

    @cached_property
    def customers(self) -> "Customers":
        from chalicelib.services.customers import Customers

        store = self.store
        return Customers(store.shops, store.profiles, store.listings, self.clock, self.new_id)

    @cached_property
    def card_actions(self) -> "CardActions":
        from chalicelib.services.conversations import CardActions

        return CardActions(
            self.store.shops,
            self.store.conversations,
            self.workspaces,
            self.schedules,
            self.queues,
            self.clock,
            self.metrics,
            self.handoffs,
        )

    @cached_property
    def handoffs(self) -> "HandoffSummaries":
        from chalicelib.services.handoff import HandoffSummaries
        from chalicelib.triage_engines.bedrock_summary import BedrockSummaries
        from chalicelib.triage_engines.guard import Bounded

        # An agent waits for it rather than a customer's message: longer than triage, bounded.
        seconds = min(SUMMARY_SECONDS_CAP, SUMMARY_SECONDS_FACTOR * self.settings.triage_seconds)
        summariser = BedrockSummaries(
            _triage_client("bedrock-runtime", seconds), Bounded(seconds, workers=2), self.metrics
        )
        return HandoffSummaries(self.store.listings, summariser)

    @cached_property
    def drafts(self) -> "ReplyDrafts":
        from chalicelib.services.drafts import ReplyDrafts
        from chalicelib.triage_engines.bedrock_draft import BedrockDrafts
        from chalicelib.triage_engines.guard import Bounded

        # An agent waits for it, as for a summary: longer than triage, bounded.
        seconds = min(SUMMARY_SECONDS_CAP, SUMMARY_SECONDS_FACTOR * self.settings.triage_seconds)
        drafter = BedrockDrafts(
            _triage_client("bedrock-runtime", seconds), Bounded(seconds, workers=2), self.metrics
        )
        store = self.store
        return ReplyDrafts(
            store.shops, store.conversations, store.listings, self.workspaces, drafter, self.metrics
        )

    @cached_property
    def redelivery(self) -> "Redelivery":
        from chalicelib.services.recovery import Redelivery

        return Redelivery(self.store.shops, self.store.inbound, self.queues, self.media, self.clock)

    @cached_property
    def replies(self) -> "ReplyDispatcher":
        from chalicelib.services.replies import ReplyDispatcher

        return ReplyDispatcher(
            self.settings,
            self.store.shops,
            self.store.conversations,
            self.store.replies,
            self.store.counters,
            self.vault,
            self.channel_for,
            self.workspaces,
            self.media,
            self.media_links,
            self.clock,
            self.metrics,
        )

    @cached_property
    def media_links(self) -> "MediaLinks":
        from chalicelib.services.media_links import MediaLinks

        return MediaLinks(self.deployment, self.media, self.settings.public_url, self.clock)

    @cached_property
    def metrics(self) -> "CloudWatchMetrics":
        from chalicelib.metrics import CloudWatchMetrics

        return CloudWatchMetrics()

    def flush_metrics(self) -> None:
        """Writes the metrics gathered in this invocation, if any were (cached_property keeps
        a built value in the instance's __dict__)."""
        if "metrics" in self.__dict__:
            self.metrics.flush()

    @cached_property
    def order_directory(self) -> "OrderDirectory":
        if self._orders is not None:
            return self._orders
        from chalicelib.commerce.platforms import PlatformOrders
        from chalicelib.commerce.shopify import ShopifyOrders
        from chalicelib.commerce.woocommerce import WooCommerceOrders

        return PlatformOrders(
            ShopifyOrders(self.settings.shopify_api_url),
            WooCommerceOrders(self.settings.woocommerce_api_url),
        )

    @cached_property
    def orders(self) -> "OrderLookups":
        from chalicelib.services.orders import OrderLookups

        store = self.store
        return OrderLookups(
            store.shops,
            store.conversations,
            store.profiles,
            self.vault,
            self.order_directory,
            self.workspaces,
            self.queues,
            self.metrics,
            self.clock,
        )

    @cached_property
    def refund_desk(self) -> "RefundDesk":
        if self._refund_desk is not None:
            return self._refund_desk
        from chalicelib.commerce.platform_refunds import PlatformRefunds
        from chalicelib.commerce.shopify_refunds import ShopifyRefunds
        from chalicelib.commerce.woocommerce_refunds import WooCommerceRefunds

        return PlatformRefunds(
            ShopifyRefunds(self.settings.shopify_api_url),
            WooCommerceRefunds(self.settings.woocommerce_api_url),
        )

    @cached_property
    def refunds(self) -> "RefundActions":
        from chalicelib.services.refunds import RefundActions

        store = self.store
        return RefundActions(
            store.shops,
            store.conversations,
            self.vault,
            self.refund_desk,
            store.refund_claims,
            self.workspaces,
            self.queues,
            self.clock,
        )

    @cached_property
    def cancel_desk(self) -> "CancelDesk":
        if self._cancel_desk is not None:
            return self._cancel_desk
        from chalicelib.commerce.shopify_cancellations import ShopifyCancellations

        return ShopifyCancellations(self.settings.shopify_api_url)

    @cached_property
    def cancellations(self) -> "CancelActions":
        from chalicelib.services.cancellations import CancelActions

        store = self.store
        return CancelActions(
            store.shops,
            store.conversations,
            self.vault,
            self.cancel_desk,
            store.cancel_claims,
            self.workspaces,
            self.queues,
            self.clock,
        )

    @cached_property
    def return_desk(self) -> "ReturnDesk":
        if self._return_desk is not None:
            return self._return_desk
        from chalicelib.commerce.shopify_returns import ShopifyReturns

        return ShopifyReturns(self.settings.shopify_api_url)

    @cached_property
    def returns(self) -> "ReturnActions":
        from chalicelib.services.returns import ReturnActions

        store = self.store
        return ReturnActions(
            store.shops,
            store.conversations,
            self.vault,
            self.return_desk,
            store.return_claims,
            self.workspaces,
            self.queues,
            self.clock,
        )

    @cached_property
    def shopify_webhooks(self) -> "ShopifyWebhooks":
        from chalicelib.services.commerce_webhooks import ShopifyWebhooks

        store = self.store
        return ShopifyWebhooks(
            store.shops,
            self.vault,
            store.conversations,
            store.listings,
            store.webhook_claims,
            self.queues,
            self.workspaces,
            self.metrics,
            self.clock,
            self.order_updates,
        )

    @cached_property
    def order_updates(self) -> "OrderUpdates":
        from chalicelib.services.order_updates import OrderUpdates

        store = self.store
        return OrderUpdates(
            store.conversations,
            store.profiles,
            store.opt_outs,
            store.webhook_claims,
            self.queues,
            self.metrics,
            self.clock,
            self.vault,
            self.order_contacts,
        )

    @cached_property
    def order_contacts(self) -> "OrderContacts":
        from chalicelib.commerce.shopify_contacts import ShopifyOrderContacts

        return ShopifyOrderContacts(self.settings.shopify_api_url)

    @cached_property
    def woocommerce_webhooks(self) -> "WooCommerceWebhooks":
        from chalicelib.services.woocommerce_webhooks import WooCommerceWebhooks

        store = self.store
        return WooCommerceWebhooks(
            store.shops,
            self.vault,
            store.conversations,
            store.webhook_claims,
            self.queues,
            self.metrics,
            self.clock,
            self.order_updates,
        )

    @cached_property
    def reports(self) -> "Reports":
        from chalicelib.services.reports import Reports

        store = self.store
        return Reports(
            store.shops,
            store.listings,
            store.digests,
            self.workspaces,
            self.clock,
            self.new_id,
            self.metrics,
        )

    @cached_property
    def meta_routes(self) -> "MetaRoutes":
        from chalicelib.services.meta_routes import MetaRoutes

        return MetaRoutes(
            self.store.shops, self.store.inbound, self.queues, self.metrics, self.inbound
        )


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def use(replacement: Container | None) -> None:
    """Installs the container the handlers use (tests); None goes back to the real one."""
    global _container
    _container = replacement
