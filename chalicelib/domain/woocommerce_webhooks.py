"""WooCommerce's webhooks, as pure rules: what a topic asks of Threadline, whose addresses an
order names, and the unsigned ping a store sends when a webhook is saved.

`X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body with the webhook's secret,
as Shopify's is (`shopify_webhooks.signature_valid` checks both, in constant time).
"""

import re
from typing import Any

from chalicelib.domain.shopify_webhooks import customer_addresses

# WooCommerce's test delivery when a webhook is saved: a form body naming the webhook,
# unsigned; the store refuses to save the webhook unless it is answered 2xx.
_PING = re.compile(rb"^webhook_id=\d{1,20}$")


def is_ping(body: bytes) -> bool:
    return _PING.match(body.strip()) is not None


def refreshes(topic: str) -> bool:
    """Whether the topic tells of an order's change ("order.updated", "order.created", …)."""
    return topic.strip().lower().startswith("order.")


def order_addresses(payload: dict[str, Any]) -> tuple[str, ...]:
    """The addresses an order names its customer by (its billing email and phone), as
    conversations are keyed."""
    billing = payload.get("billing")
    return customer_addresses(billing) if isinstance(billing, dict) else ()
