"""Webhooks from the WooCommerce stand-in, delivered as WooCommerce delivers them.

A webhook is created through the REST API (`POST /wp-json/wc/v3/webhooks`: name, topic,
delivery_url, secret); saving it sends the unsigned ping WooCommerce sends (a form body
`webhook_id=N`). Each delivery is a POST of the resource's JSON, signed with the webhook's
secret: `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body), with
`X-WC-Webhook-Source` (the site's URL), `-Topic`, `-Resource`, `-Event`, `-ID` and
`-Delivery-ID`. WooCommerce does not retry a failed delivery: it counts consecutive
failures and disables the webhook after five.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_FAILURES = 5
_TIMEOUT_SECONDS = 5.0


@dataclass
class WooWebhook:
    webhook_id: int
    name: str
    # "order.updated", "order.created", ... ("resource.event").
    topic: str
    delivery_url: str
    secret: str
    status: str = "active"
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        """As the REST API shows a webhook (never its secret)."""
        return {
            "id": self.webhook_id,
            "name": self.name,
            "status": self.status,
            "topic": self.topic,
            "resource": self.topic.split(".")[0],
            "event": self.topic.split(".")[-1],
            "delivery_url": self.delivery_url,
        }


def woocommerce_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class WooWebhookSender:
    """Delivers in the background (the change is answered first), once, recording each
    delivery; a webhook that failed five times in a row is disabled."""

    def __init__(self, record: Callable[[str, dict[str, Any]], None], site_url: str) -> None:
        self._record = record
        self.site_url = site_url
        self._deliveries = 0
        self._lock = threading.Lock()

    def ping(self, webhook: WooWebhook) -> None:
        body = f"webhook_id={webhook.webhook_id}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._start(webhook, body, headers)

    def send(self, webhooks: list[WooWebhook], topic: str, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        resource, _, event = topic.partition(".")
        for webhook in webhooks:
            if webhook.status != "active" or webhook.topic != topic:
                continue
            with self._lock:
                self._deliveries += 1
                delivery_id = self._deliveries
            headers = {
                "Content-Type": "application/json",
                "X-WC-Webhook-Source": self.site_url.rstrip("/") + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": woocommerce_signature(body, webhook.secret),
                "X-WC-Webhook-ID": str(webhook.webhook_id),
                "X-WC-Webhook-Delivery-ID": str(delivery_id),
            }
            self._start(webhook, body, headers)

    def _start(self, webhook: WooWebhook, body: bytes, headers: dict[str, str]) -> None:
        threading.Thread(target=self._deliver, args=(webhook, body, headers), daemon=True).start()

    def _deliver(self, webhook: WooWebhook, body: bytes, headers: dict[str, str]) -> None:
        import requests

        try:
            status = requests.post(
                webhook.delivery_url, data=body, headers=headers, timeout=_TIMEOUT_SECONDS
            ).status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            if 200 <= status < 300:
                webhook.failures = 0
            else:
                webhook.failures += 1
                if webhook.failures >= MAX_FAILURES:
                    webhook.status = "disabled"
        self._record(
            "webhook",
            {
                "topic": headers.get("X-WC-Webhook-Topic", "ping"),
                "address": webhook.delivery_url,
                "webhook_id": webhook.webhook_id,
                "status": status,
                "webhook_status": webhook.status,
            },
        )
