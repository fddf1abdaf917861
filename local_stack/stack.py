"""Starts and stops the whole local stack in one process."""

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from chalicelib.settings import (
    DEPLOYMENT_SECRET,
    EMAIL_EVENTS_TOPIC,
    INBOUND_MAIL_TOPIC,
    SCHEDULE_GROUP,
    TABLE_NAME,
)
from local_stack.constants import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_INSTAGRAM_CUSTOMER,
    DEMO_META_INSTAGRAM_ID,
    DEMO_META_PAGE_ID,
    DEMO_META_PHONE_NUMBER_ID,
    DEMO_META_TOKEN,
    DEMO_SHOP,
    DEMO_SHOP_ID,
    DEMO_SHOPIFY_TOKEN,
    DEMO_SHOPIFY_WEBHOOK_SECRET,
    DEMO_SHOPS,
    DEMO_TELEGRAM_BOT,
    DEMO_TELEGRAM_BOT_TOKEN,
    DEMO_WOOCOMMERCE_CONSUMER_KEY,
    DEMO_WOOCOMMERCE_CONSUMER_SECRET,
    LOCAL_ADMIN_TOKEN,
    LOCAL_META_APP_SECRET,
    LOCAL_META_VERIFY_TOKEN,
    LOCAL_REGION,
    LOCAL_SIGNING_SECRET,
)
from local_stack.pump import BackgroundLoop, SchedulePump, pumps_for, sns_pumps_for, tickers_for

PROJECT_DIR = Path(__file__).resolve().parents[1]
# The deployment secret's fields as the local stack fills them in: from these variables
# when the caller sets them, else these values.
LOCAL_DEPLOYMENT_SECRET = {
    "admin_token": ("THREADLINE_ADMIN_TOKEN", LOCAL_ADMIN_TOKEN),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET", LOCAL_SIGNING_SECRET),
    "slack_client_id": ("SLACK_CLIENT_ID", ""),
    "slack_client_secret": ("SLACK_CLIENT_SECRET", ""),
    "meta_app_secret": ("META_APP_SECRET", LOCAL_META_APP_SECRET),
    "meta_verify_token": ("META_VERIFY_TOKEN", LOCAL_META_VERIFY_TOKEN),
}
LOCAL_DEPLOYMENT_SECRET_VARIABLES = {name for name, _ in LOCAL_DEPLOYMENT_SECRET.values()}
# As Lambda runs a queue's batches in concurrent invocations (one message group at a time
# each), as a deployment with WorkerMaximumConcurrency 16 would: a worker handles its batch
# one message after the other, each waiting on its emulated round trips, so with 4 workers
# replies waited in the queue (16/s: p95 5.4 s) while the emulator had time to spare.
WORKERS_PER_QUEUE = 16


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    aws_port: int = 4566
    slack_port: int = 8001
    twilio_port: int = 8002
    ses_port: int = 8003
    # 0: any free port (the functions are told the stand-in's URL).
    shopify_port: int = 0
    smtp_port: int = 2525
    telegram_port: int = 8004
    # None: serve the sandbox stand-in; a URL: use that API (the real one, or a test's).
    slack_api_url: str | None = None
    twilio_api_url: str | None = None
    # None: serve the Graph API stand-in (on a free port); a URL: use that Graph API.
    meta_graph_url: str | None = None
    environ: dict[str, str] = field(default_factory=dict)
    telegram_api_url: str | None = None


class LocalStack:
    def __init__(self, options: StackOptions, out: TextIO = sys.stdout) -> None:
        self.options = options
        self._out = out
        self._stoppers: list[Any] = []
        self._sandbox_outbox: Any = None

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        options = self.options
        self._check_ports_free()
        aws_url = self._start_emulator()
        slack_url = options.slack_api_url or self._start_slack_sandbox()
        twilio_url = options.twilio_api_url or self._start_twilio_sandbox()
        ses_url = self._start_ses_sandbox()
        telegram_url = options.telegram_api_url or self._start_telegram_sandbox()
        shopify_url = self._start_shopify_sandbox()
        woocommerce_url = self._start_woocommerce_sandbox()
        bedrock_url = self._start_bedrock_sandbox()
        env = {
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "THREADLINE_PUBLIC_URL": self.api_url,
            "POWERTOOLS_SERVICE_NAME": "threadline",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        # What the caller's environment sets wins (real tokens, a tunnel's public URL).
        given = {**os.environ, **options.environ}
        env.update({name: os.environ[name] for name in env if name in os.environ})
        env.update(
            {k: v for k, v in options.environ.items() if k not in LOCAL_DEPLOYMENT_SECRET_VARIABLES}
        )
        env["SLACK_API_URL"] = slack_url
        env["TWILIO_API_URL"] = twilio_url
        env["TELEGRAM_API_URL"] = telegram_url
        env["SHOPIFY_API_URL"] = shopify_url
        env["WOOCOMMERCE_API_URL"] = woocommerce_url
        # boto3's own per-service endpoint: sending mail goes to the SES stand-in.
        env["AWS_ENDPOINT_URL_SESV2"] = ses_url
        # ... and the bedrock triage engine's Converse to the Bedrock stand-in (Comprehend's
        # DetectSentiment is the emulator's).
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock_url
        # As in AWS, the functions' environment names the deployment's secret, which holds
        # the admin token and the Slack app's values.
        env["THREADLINE_DEPLOYMENT_SECRET"] = DEPLOYMENT_SECRET
        os.environ.update(env)
        deployment = {
            field: given.get(name, default)
            for field, (name, default) in LOCAL_DEPLOYMENT_SECRET.items()
        }
        os.environ["META_GRAPH_URL"] = options.meta_graph_url or self._start_meta_sandbox(
            deployment["meta_app_secret"]
        )

        import boto3

        from local_stack.provision import provision

        secretsmanager = boto3.client("secretsmanager")
        outputs = provision(
            boto3.client("cloudformation"),
            boto3.client("scheduler"),
            secretsmanager,
            boto3.client("ses"),
        )
        secretsmanager.put_secret_value(
            SecretId=DEPLOYMENT_SECRET, SecretString=json.dumps(deployment)
        )
        os.environ.setdefault("THREADLINE_MEDIA_BUCKET", outputs["MediaBucketName"])
        self._start_api()
        self._start_pumps()
        self._start_smtp(os.environ["THREADLINE_MEDIA_BUCKET"])
        self._print_banner(env, deployment["admin_token"], aws_url)

    def _check_ports_free(self) -> None:
        import socket

        options = self.options
        wanted = {
            "--port": options.port,
            "--aws-port": options.aws_port,
            "--ses-port": options.ses_port,
            "--smtp-port": options.smtp_port,
        }
        if options.slack_api_url is None:
            wanted["--slack-port"] = options.slack_port
        if options.twilio_api_url is None:
            wanted["--twilio-port"] = options.twilio_port
        if options.telegram_api_url is None:
            wanted["--telegram-port"] = options.telegram_port
        if options.shopify_port:
            wanted["--shopify-port"] = options.shopify_port
        for flag, port in wanted.items():
            with socket.socket() as probe:
                try:
                    probe.bind((options.host, port))
                except OSError:
                    raise SystemExit(
                        f"Port {port} is in use (another local stack?). Stop it, or choose "
                        f"another port with {flag}."
                    ) from None

    def _start_emulator(self) -> str:
        from local_stack.emulator import start_emulator

        self._stoppers.append(start_emulator(self.options.host, self.options.aws_port))
        return f"http://{self.options.host}:{self.options.aws_port}"

    def _start_slack_sandbox(self) -> str:
        from local_stack.sandbox.slack import SlackStandIn

        slack = SlackStandIn(self._outbox())
        # The demo shops' bot tokens, of their workspace (`threadline doctor` asks).
        for shop in DEMO_SHOPS:
            slack.install(shop["slack"]["bot_token"], shop["slack"]["team_id"], "Threadline Demo")
        url = slack.start(self.options.host, self.options.slack_port)
        self._stoppers.append(slack.stop)
        return url

    def _start_twilio_sandbox(self) -> str:
        from local_stack.sandbox.twilio import TwilioStandIn

        twilio = TwilioStandIn(self._outbox())
        # The demo shops' numbers, for `threadline shop connect-twilio` to point.
        twilio.provision(
            DEMO_ACCOUNT_SID,
            DEMO_AUTH_TOKEN,
            sms_numbers=tuple(n for shop in DEMO_SHOPS for n in shop["twilio"]["sms_numbers"]),
            whatsapp_numbers=tuple(
                n for shop in DEMO_SHOPS for n in shop["twilio"]["whatsapp_numbers"]
            ),
        )
        url = twilio.start(self.options.host, self.options.twilio_port)
        self._stoppers.append(twilio.stop)
        return url

    def _start_telegram_sandbox(self) -> str:
        from local_stack.sandbox.telegram import TelegramStandIn

        telegram = TelegramStandIn(self._outbox())
        telegram.add_bot(DEMO_TELEGRAM_BOT_TOKEN, DEMO_TELEGRAM_BOT)
        url = telegram.start(self.options.host, self.options.telegram_port)
        self._stoppers.append(telegram.stop)
        return url

    def _start_shopify_sandbox(self) -> str:
        from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
        from local_stack.sandbox.shopify_webhooks import WebhookSubscription

        shopify = ShopifyStandIn(self._outbox())
        shopify.provision(DEMO_SHOPIFY_TOKEN, demo_customers())
        # The demo store's webhooks go to the demo shop's route, as its app subscribes them.
        shopify.subscribe(
            DEMO_SHOPIFY_TOKEN,
            WebhookSubscription(
                f"{self.api_url}/webhooks/shopify/{DEMO_SHOP_ID}",
                DEMO_SHOPIFY_WEBHOOK_SECRET,
                DEMO_SHOP["commerce"]["shopify"]["domain"],
            ),
        )
        url = shopify.start(self.options.host, self.options.shopify_port)
        self._stoppers.append(shopify.stop)
        return url

    def _start_woocommerce_sandbox(self) -> str:
        from local_stack.sandbox.woocommerce import WooCommerceStandIn, demo_customers

        woocommerce = WooCommerceStandIn(self._outbox())
        woocommerce.provision(
            DEMO_WOOCOMMERCE_CONSUMER_KEY, DEMO_WOOCOMMERCE_CONSUMER_SECRET, demo_customers()
        )
        url = woocommerce.start(self.options.host)
        self._stoppers.append(woocommerce.stop)
        return url

    def _start_bedrock_sandbox(self) -> str:
        from local_stack.sandbox.bedrock import BedrockStandIn

        bedrock = BedrockStandIn(self._outbox())
        url = bedrock.start(self.options.host)
        self._stoppers.append(bedrock.stop)
        return url

    def _start_meta_sandbox(self, app_secret: str) -> str:
        from local_stack.sandbox.meta import MetaStandIn

        # Statuses come back to the local API, signed with the app secret it checks.
        meta = MetaStandIn(self._outbox(), app_secret, f"{self.api_url}/webhooks/meta")
        meta.provision(
            DEMO_META_TOKEN,
            whatsapp_numbers=(DEMO_META_PHONE_NUMBER_ID,),
            page_id=DEMO_META_PAGE_ID,
            instagram_id=DEMO_META_INSTAGRAM_ID,
            instagram_users=(DEMO_INSTAGRAM_CUSTOMER,),
        )
        url = meta.start(self.options.host, 0)
        self._stoppers.append(meta.stop)
        return url

    def _start_ses_sandbox(self) -> str:
        from local_stack.sandbox.ses import SesStandIn

        ses = SesStandIn(self._outbox(), on_sent=self._report_delivery)
        url = ses.start(self.options.host, self.options.ses_port)
        self._stoppers.append(ses.stop)
        return url

    def _report_delivery(self, message_id: str, source: str) -> None:
        """As SES's configuration set would: a Delivery event for each mail sent."""
        import json
        import threading

        import boto3

        def publish() -> None:
            sns = boto3.client("sns")
            topic = sns.create_topic(Name=EMAIL_EVENTS_TOPIC)["TopicArn"]
            event = {"eventType": "Delivery", "mail": {"messageId": message_id, "source": source}}
            sns.publish(TopicArn=topic, Message=json.dumps(event))

        threading.Timer(0.3, publish).start()

    def _start_smtp(self, bucket: str) -> None:
        import boto3

        from chalicelib.store.shops import Shops
        from local_stack.smtp import ReceivingHandler, start_smtp

        shops = Shops(boto3.client("dynamodb"), TABLE_NAME, cache_seconds=0)
        sns = boto3.client("sns")
        handler = ReceivingHandler(
            shops.shop_for_address,
            boto3.client("s3"),
            sns,
            bucket,
            sns.create_topic(Name=INBOUND_MAIL_TOPIC)["TopicArn"],
        )
        controller = start_smtp(self.options.host, self.options.smtp_port, handler)
        self._stoppers.append(controller.stop)

    def _outbox(self) -> Any:
        from local_stack.sandbox.outbox import Outbox

        if self._sandbox_outbox is None:
            self._sandbox_outbox = Outbox(self._out)
        return self._sandbox_outbox

    def _start_api(self) -> None:
        import threading

        from chalice.config import Config
        from chalice.local import create_local_server

        from app import app

        config = Config.create(
            chalice_stage="dev", app_name="threadline", project_dir=str(PROJECT_DIR)
        )
        server = create_local_server(app, config, self.options.host, self.options.port)
        thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
        thread.start()
        self._stoppers.append(server.shutdown)

    def _start_pumps(self) -> None:
        import boto3

        from app import app

        sqs = boto3.client("sqs")
        loops: list[BackgroundLoop] = [
            *pumps_for(app, sqs, concurrency=WORKERS_PER_QUEUE),
            *sns_pumps_for(app, boto3.client("sns"), sqs),
            *tickers_for(app),
            SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP),
        ]
        for loop in loops:
            loop.start()
        self._stoppers.append(lambda: _stop_together(loops))

    def _print_banner(self, env: dict[str, str], admin_token: str, aws_url: str) -> None:
        if admin_token != LOCAL_ADMIN_TOKEN:
            admin_token = "(THREADLINE_ADMIN_TOKEN from your environment)"
        lines = [
            "Threadline local stack is up.",
            f"  API            {self.api_url}",
            f"  AWS emulator   {aws_url}",
            f"  Slack API      {env['SLACK_API_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.slack_api_url else ""),
            f"  Twilio API     {env['TWILIO_API_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.twilio_api_url else ""),
            f"  Telegram API   {env['TELEGRAM_API_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.telegram_api_url else ""),
            f"  Meta Graph API {os.environ['META_GRAPH_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.meta_graph_url else ""),
            f"  SMTP (mail in) {self.options.host}:{self.options.smtp_port}  (SES receiving)",
            f"  SES (mail out) {env['AWS_ENDPOINT_URL_SESV2']}  (sandbox: mail prints below)",
            f"  Shopify API    {env['SHOPIFY_API_URL']}  (sandbox: seeded demo store; "
            f"webhooks to /webhooks/shopify/{DEMO_SHOP_ID})",
            f"  WooCommerce    {env['WOOCOMMERCE_API_URL']}  (sandbox: seeded store, key "
            "ck_ddd…/cs_ddd…)",
            f"  Bedrock        {env['AWS_ENDPOINT_URL_BEDROCK_RUNTIME']}  (sandbox: triage model)",
            f"  Admin token    {admin_token}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), file=self._out, flush=True)

    def stop(self) -> None:
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as error:  # keep stopping the rest
                print(f"stopping: {error}", file=self._out)


def _stop_together(loops: list[BackgroundLoop]) -> None:
    """Each loop waits up to a second for its queue: all are told first, so stopping costs
    one such wait, not one a loop."""
    for loop in loops:
        loop.signal_stop()
    for loop in loops:
        loop.stop()
