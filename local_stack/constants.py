"""What the local stack, its demo and the tests against it agree on: the stack's region,
admin token and Slack signing secret, and the demo shops whose Slack workspace and Twilio
numbers the sandboxes hold from the start."""

from typing import Any

LOCAL_REGION = "us-east-1"
LOCAL_ADMIN_TOKEN = "local-admin-token"
LOCAL_SIGNING_SECRET = "local-slack-signing-secret"
# The Meta app's secrets on the local stack, and what its Graph API stand-in accepts: a
# shop whose `meta` names these ids and this token is answered there.
LOCAL_META_APP_SECRET = "local-meta-app-secret"
LOCAL_META_VERIFY_TOKEN = "local-meta-verify-token"
DEMO_META_TOKEN = "EAAG-demo-meta-token"
DEMO_META_PHONE_NUMBER_ID = "100000000000001"
DEMO_META_PAGE_ID = "100000000000002"
DEMO_META_INSTAGRAM_ID = "17841400000000002"
# The Instagram-scoped id of the demo's customer who writes a DM.
DEMO_INSTAGRAM_CUSTOMER = "17840000000000123"

DEMO_SHOP_ID = "demo-shop"
DEMO_ACCOUNT_SID = "AC" + "d" * 32
DEMO_AUTH_TOKEN = "demo-twilio-auth-token"
DEMO_TEAM_ID = "T0DEMO"
DEMO_CHANNEL_ID = "C0DEMO"
# A bot the Telegram sandbox knows from the start: a shop given this token can
# `threadline shop connect-telegram` locally.
DEMO_TELEGRAM_BOT_TOKEN = "7000000001:AAdemo-telegram-bot-token-0000000"
DEMO_TELEGRAM_BOT = "threadline_demo_bot"
DEMO_SHOPIFY_TOKEN = "shpat_" + "d" * 32
DEMO_SHOPIFY_WEBHOOK_SECRET = "demo-shopify-webhook-secret"
# The WooCommerce stand-in's seeded store answers this REST API key (a second demo shop's).
DEMO_WOOCOMMERCE_CONSUMER_KEY = "ck_" + "d" * 40
DEMO_WOOCOMMERCE_CONSUMER_SECRET = "cs_" + "d" * 40
DEMO_SHOP: dict[str, Any] = {
    "name": "Loja Demo",
    "timezone": "America/Sao_Paulo",
    "slack": {
        "team_id": DEMO_TEAM_ID,
        "channel_id": DEMO_CHANNEL_ID,
        "bot_token": "xoxb-demo-token",
    },
    "twilio": {
        "account_sid": DEMO_ACCOUNT_SID,
        "auth_token": DEMO_AUTH_TOKEN,
        "sms_numbers": ["+14155550100"],
        "whatsapp_numbers": ["+14155550101"],
    },
    "replies": {"grace_seconds": 3, "signature": "— {agent}, {shop}"},
    "canned_responses": [
        {
            "name": "shipping",
            "text": "Olá {first_name}! Seu pedido #{order_number} saiu para entrega hoje.",
        },
        {
            "name": "tracking",
            "text": "Olá {first_name}! Seu pedido está {order_status}: {carrier} {tracking_url}",
        },
    ],
    "commerce": {
        "shopify": {
            "domain": "loja-demo.myshopify.com",
            "access_token": DEMO_SHOPIFY_TOKEN,
            "webhook_secret": DEMO_SHOPIFY_WEBHOOK_SECRET,
            "api_version": "2026-07",
        }
    },
    # The ids and token the Graph API stand-in holds, and the bot the Telegram one knows.
    "meta": {
        "access_token": DEMO_META_TOKEN,
        "messenger": {"page_id": DEMO_META_PAGE_ID},
        "instagram": {"account_id": DEMO_META_INSTAGRAM_ID},
    },
    "telegram": {"bot_token": DEMO_TELEGRAM_BOT_TOKEN},
}

SLA_SHOP_ID = "demo-sla"
SLA_CHANNEL_ID = "C0SLADEMO"
SLA_SHOP: dict[str, Any] = {
    "name": "Loja Pontual",
    "timezone": "America/Sao_Paulo",
    "slack": {
        "team_id": DEMO_TEAM_ID,
        "channel_id": SLA_CHANNEL_ID,
        "bot_token": "xoxb-demo-token",
    },
    "twilio": {
        "account_sid": DEMO_ACCOUNT_SID,
        "auth_token": DEMO_AUTH_TOKEN,
        "sms_numbers": ["+14155550110"],
        "whatsapp_numbers": [],
    },
    "replies": {"grace_seconds": 0},
    "sla": {
        "business_hours_only": False,
        "targets": {"normal": {"first_response": 10}},
        "on_call": ["S0ONCALL"],
        "lead_user_id": "U0LEAD",
        "escalation_channel_id": "C0ESCALATE",
    },
    "auto_replies": {"default_language": "pt"},
}

# Every demo shop: the local stack's Twilio sandbox holds their numbers.
DEMO_SHOPS = (DEMO_SHOP, SLA_SHOP)
