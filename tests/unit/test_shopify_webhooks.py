"""Shopify's webhooks as pure rules: the signature checked over the raw body, what each topic
asks, and the addresses a payload names its customer by."""

import base64
import hashlib
import hmac

import pytest

from chalicelib.domain.shopify_webhooks import (
    WebhookWork,
    customer_addresses,
    signature_valid,
    work_of,
)

pytestmark = pytest.mark.unit
SECRET = "whsec"
BODY = b'{"id": 1, "email": "Ana@Example.com"}'


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_the_signature_is_the_base64_hmac_of_the_raw_body() -> None:
    assert signature_valid(BODY, signed(BODY), SECRET)
    assert not signature_valid(BODY + b" ", signed(BODY), SECRET)
    assert not signature_valid(BODY, signed(BODY, "other"), SECRET)
    assert not signature_valid(BODY, None, SECRET)
    assert not signature_valid(BODY, signed(BODY), "")


@pytest.mark.parametrize(
    ("topic", "work"),
    [
        ("orders/updated", WebhookWork.REFRESH),
        ("fulfillments/create", WebhookWork.REFRESH),
        ("fulfillment_events/create", WebhookWork.REFRESH),
        ("customers/data_request", WebhookWork.DATA_REQUEST),
        ("customers/redact", WebhookWork.REDACT_CUSTOMER),
        ("shop/redact", WebhookWork.REDACT_SHOP),
        ("products/update", WebhookWork.IGNORE),
    ],
)
def test_each_topic_asks_its_work(topic: str, work: WebhookWork) -> None:
    assert work_of(topic) is work


def test_a_payload_names_its_customer_by_email_and_e164_phone() -> None:
    payload = {
        "email": "Ana@Example.com",
        "phone": "+55 11 98765-4321",
        "customer": {"email": "ana@example.com", "phone": None, "first_name": "Ana"},
        "shipping_address": {"name": "Ana Souza"},
    }

    assert customer_addresses(payload) == (
        "ana@example.com",
        "+5511987654321",
        "whatsapp:+5511987654321",
        "wa:+5511987654321",
    )


def test_a_payload_without_usable_addresses_names_no_one() -> None:
    assert customer_addresses({"phone": "555-1234", "customer": "x", "email": 3}) == ()


def test_a_payload_reaches_the_customers_whatsapp_cloud_conversation_too() -> None:
    assert "wa:+5511987654321" in customer_addresses({"phone": "+5511987654321"})
