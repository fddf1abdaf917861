"""Every setting in one place.

Environment variables are read when `Settings.from_environ()` is called (by the composition
root, on first use), never at import: chalice imports app.py when packaging, and its test
client sets environment variables only for the duration of a call. Resource names that
decorators need at import time are plain constants, shared with infra/template.json.

The deployment's own secrets (the admin token, the Slack app's signing and client secrets)
live in one Secrets Manager secret, which THREADLINE_DEPLOYMENT_SECRET names and
`chalicelib.secrets.DeploymentSecrets` reads; nothing secret sits in the environment of a
deployed function. Without that name (tests, a laptop) they come from the environment
variables below, as `Settings` fields.
"""

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

TABLE_NAME = "threadline"
INBOUND_QUEUE = "threadline-inbound.fifo"
OUTBOUND_QUEUE = "threadline-outbound.fifo"
TIMERS_QUEUE = "threadline-timers.fifo"


def dead_letter_queue(queue: str) -> str:
    """Where a queue's messages go after their last try (infra/template.json)."""
    return queue.replace(".fifo", "-dlq.fifo")


SCHEDULE_GROUP = "threadline"
INBOUND_MAIL_TOPIC = "threadline-inbound-mail"
# The mail ingester's on-failure destination: Lambda's record of each notification it
# gave up on (infra/template.json).
FAILED_MAIL_QUEUE = "threadline-mail-dlq"
EMAIL_EVENTS_TOPIC = "threadline-email-events"
# The same for the SES delivery events handler.
FAILED_EMAIL_EVENTS_QUEUE = "threadline-email-events-dlq"
SECRETS_PREFIX = "threadline/shops/"
# The deployment's secret, as the stack creates it (infra/template.json) and
# .chalice/config.json names it.
DEPLOYMENT_SECRET = "threadline/deployment"
# The environment variables that carry secret values, by field: for running without the
# deployment secret only (tests, a laptop). A deployed function's environment has none.
SECRET_VARIABLES = {
    "admin_token": "THREADLINE_ADMIN_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_client_secret": "SLACK_CLIENT_SECRET",
    "meta_app_secret": "META_APP_SECRET",
    "meta_verify_token": "META_VERIFY_TOKEN",
}


class Settings(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    public_url: str
    # The Secrets Manager secret holding the admin token and the Slack app's credentials;
    # unset, the four fields below are those values.
    deployment_secret: str = ""
    admin_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    # The Slack app's OAuth credentials, for "Add to Slack"; unset turns installs off.
    slack_client_id: str = ""
    slack_client_secret: SecretStr = SecretStr("")
    slack_api_url: str = "https://slack.com/api/"
    twilio_api_url: str = "https://api.twilio.com"
    table_name: str = TABLE_NAME
    inbound_queue: str = INBOUND_QUEUE
    outbound_queue: str = OUTBOUND_QUEUE
    timers_queue: str = TIMERS_QUEUE
    schedule_group: str = SCHEDULE_GROUP
    # The media bucket's name is per account and region (infra/template.json).
    media_bucket: str = ""
    secrets_prefix: str = SECRETS_PREFIX
    shop_cache_seconds: int = 60
    # How long a warm container trusts a secret it read (a shop's, the deployment's) before
    # reading it again: a rotated-out value stops working within this time.
    secrets_cache_seconds: int = 300
    retry_base_seconds: float = 10.0
    # How long an SLA target minute lasts: 60, or a second or two to demo escalations.
    sla_minute_seconds: float = 60.0
    # The Telegram Bot API (a stand-in locally): the only host shops' bot tokens go to.
    telegram_api_url: str = "https://api.telegram.org"

    # Replaces every Shopify store's host (a local stand-in); empty: each store's own.
    shopify_api_url: str = ""
    # The Meta app's secrets (see DeploymentKeys), and the Graph API with its version.
    meta_app_secret: SecretStr = SecretStr("")
    meta_verify_token: SecretStr = SecretStr("")
    meta_graph_url: str = "https://graph.facebook.com"
    # How long the inbound worker waits for a Comprehend or Bedrock triage before it reads
    # the message with the rules engine instead (the message waits for it to reach Slack).
    triage_seconds: float = Field(default=2.0, gt=0, le=10)
    # Replaces every WooCommerce store's URL (a local stand-in); empty: each store's own.
    woocommerce_api_url: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "public_url": env.get("THREADLINE_PUBLIC_URL", "").rstrip("/"),
        }
        optional = {
            "deployment_secret": "THREADLINE_DEPLOYMENT_SECRET",
            **SECRET_VARIABLES,
            "slack_api_url": "SLACK_API_URL",
            "slack_client_id": "SLACK_CLIENT_ID",
            "twilio_api_url": "TWILIO_API_URL",
            "table_name": "THREADLINE_TABLE",
            "secrets_prefix": "THREADLINE_SECRETS_PREFIX",
            "media_bucket": "THREADLINE_MEDIA_BUCKET",
            "shop_cache_seconds": "THREADLINE_SHOP_CACHE_SECONDS",
            "retry_base_seconds": "THREADLINE_RETRY_BASE_SECONDS",
            "sla_minute_seconds": "THREADLINE_SLA_MINUTE_SECONDS",
            "telegram_api_url": "TELEGRAM_API_URL",
            "shopify_api_url": "SHOPIFY_API_URL",
            "meta_graph_url": "META_GRAPH_URL",
            "triage_seconds": "THREADLINE_TRIAGE_SECONDS",
            "woocommerce_api_url": "WOOCOMMERCE_API_URL",
        }
        values.update({field: env[name] for field, name in optional.items() if env.get(name)})
        return cls.model_validate(values)
