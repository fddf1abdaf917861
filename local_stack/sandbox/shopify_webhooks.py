"""Webhooks from the Shopify stand-in, delivered as Shopify delivers them.

Each delivery is a POST of the JSON payload to every subscribed address, signed with the
app's secret: `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body), with
`X-Shopify-Topic`, `X-Shopify-Shop-Domain`, `X-Shopify-API-Version`, `X-Shopify-Webhook-Id`
(the same on every retry of one delivery, as Threadline's dedup relies on) and
`X-Shopify-Triggered-At`. A non-2xx answer or no answer is retried with a growing wait, a
few times (Shopify retries for hours; a local run cannot wait that long).

A delivery can also be sent again on demand (`redeliver`), as Shopify does when an answer
came too late or was lost: the same body and headers, the same `X-Shopify-Webhook-Id`, or a
new id for the same event (as a second subscription's delivery carries).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The waits before each retry; Shopify's own schedule grows the same way, over 4 hours.
RETRY_WAITS_SECONDS = (0.5, 1.0, 2.0)
_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class WebhookSubscription:
    address: str
    # The app's secret, which signs every delivery.
    secret: str
    shop_domain: str
    api_version: str = "2026-07"


def shopify_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    body: bytes, subscription: WebhookSubscription, topic: str, webhook_id: str, triggered_at: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shopify_signature(body, subscription.secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": subscription.shop_domain,
        "X-Shopify-API-Version": subscription.api_version,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": triggered_at,
    }


class WebhookSender:
    """Delivers each webhook in the background (the change that caused it is answered first,
    as Shopify answers the mutation before its webhooks go out), recording every attempt."""

    def __init__(
        self,
        record: Callable[[str, dict[str, Any]], None],
        retry_waits: Sequence[float] = RETRY_WAITS_SECONDS,
    ) -> None:
        self._record = record
        self._retry_waits = tuple(retry_waits)
        # Every delivery sent, by its webhook id: (address, body, headers).
        self._sent: dict[str, tuple[str, bytes, dict[str, str]]] = {}
        self._sent_lock = threading.Lock()

    def send(self, subscriptions: Sequence[WebhookSubscription], topic: str, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        triggered_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        for subscription in subscriptions:
            webhook_id = str(uuid.uuid4())
            headers = signed_headers(body, subscription, topic, webhook_id, triggered_at)
            self._start(subscription.address, body, headers)

    def redeliver(self, webhook_id: str, same_id: bool = True) -> str:
        """Sends a past delivery again, in the background: with its own webhook id, or a new
        one; the id it goes with. KeyError when no delivery had that id."""
        with self._sent_lock:
            address, body, headers = self._sent[webhook_id]
        again = dict(headers)
        if not same_id:
            again["X-Shopify-Webhook-Id"] = str(uuid.uuid4())
        self._start(address, body, again)
        return again["X-Shopify-Webhook-Id"]

    def _start(self, address: str, body: bytes, headers: dict[str, str]) -> None:
        webhook_id = headers["X-Shopify-Webhook-Id"]
        with self._sent_lock:
            self._sent[webhook_id] = (address, body, headers)
        threading.Thread(
            target=self._deliver,
            args=(address, body, headers),
            name=f"shopify-webhook-{webhook_id}",
            daemon=True,
        ).start()

    def _deliver(self, address: str, body: bytes, headers: dict[str, str]) -> None:
        topic = headers["X-Shopify-Topic"]
        webhook_id = headers["X-Shopify-Webhook-Id"]
        for attempt, wait in enumerate((0.0, *self._retry_waits), start=1):
            time.sleep(wait)
            status = _post(address, body, headers)
            self._record(
                "webhook",
                {
                    "topic": topic,
                    "address": address,
                    "webhook_id": webhook_id,
                    "attempt": attempt,
                    "status": status,
                },
            )
            if 200 <= status < 300:
                return


def _post(address: str, body: bytes, headers: dict[str, str]) -> int:
    """The answer's status; 0 when nothing answered."""
    import requests

    try:
        return requests.post(
            address, data=body, headers=headers, timeout=_TIMEOUT_SECONDS
        ).status_code
    except requests.RequestException:
        return 0
