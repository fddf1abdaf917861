"""Shopify's webhooks, as pure rules: the signature, what a topic asks of Threadline, and
whose addresses a payload names.

`X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body with the app's secret,
compared in constant time before anything is read or written.
"""

import base64
import hashlib
import hmac
import re
from enum import StrEnum
from typing import Any

from chalicelib.domain.customers import verified_twins

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s\"\\]+@[^@\s\"\\]+\.[^@\s\"\\]+$")


def signature_valid(body: bytes, signature: str | None, secret: str) -> bool:
    if not signature or not secret:
        return False
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("utf-8"))


class WebhookWork(StrEnum):
    # An order or its shipment changed: the customer's summary is looked up again.
    REFRESH = "refresh"
    # Mandatory compliance topics.
    DATA_REQUEST = "data_request"
    REDACT_CUSTOMER = "redact_customer"
    REDACT_SHOP = "redact_shop"
    IGNORE = "ignore"


_REFRESHING = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/edited",
        "fulfillments/create",
        "fulfillments/update",
        "fulfillment_events/create",
        "refunds/create",
    }
)


def work_of(topic: str) -> WebhookWork:
    match topic.strip().lower():
        case "customers/data_request":
            return WebhookWork.DATA_REQUEST
        case "customers/redact":
            return WebhookWork.REDACT_CUSTOMER
        case "shop/redact":
            return WebhookWork.REDACT_SHOP
        case known if known in _REFRESHING:
            return WebhookWork.REFRESH
    return WebhookWork.IGNORE


def _texts(payload: dict[str, Any], *paths: tuple[str, ...]) -> list[str]:
    found = []
    for path in paths:
        value: Any = payload
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    return found


def customer_addresses(payload: dict[str, Any]) -> tuple[str, ...]:
    """The addresses a payload names its customer by, as conversations are keyed: the email
    in lower case, a phone number in E.164 (and its WhatsApp twins). An order, a fulfilment
    and a compliance request name them in these places."""
    candidates = _texts(
        payload,
        ("email",),
        ("contact_email",),
        ("phone",),
        ("customer", "email"),
        ("customer", "phone"),
    )
    addresses: list[str] = []
    for candidate in candidates:
        phone = re.sub(r"[\s().-]", "", candidate)
        if _E164.match(phone):
            # The number, and its twins on WhatsApp (through Twilio and the Cloud API).
            addresses += verified_twins(phone)
        elif _EMAIL.match(candidate):
            addresses.append(candidate.lower())
    return tuple(dict.fromkeys(addresses))
