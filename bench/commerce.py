"""Figure 7: what commerce adds to a customer's first message.

The orders lookup runs as its own job after the message is posted to Slack, so it must not
delay that post. Two shops on one local stack (over real HTTP, `python -m local_stack` in a
subprocess with its Shopify stand-in), one without commerce and one with Shopify, take turns
receiving a first message from a new customer; for each: webhook → the message's Slack
thread post, and for the shop with Shopify, webhook → the card redrawn with the lookup's
answer (the lookup job's own latency is the difference).

Then, in-process against moto (as the ack figures), the calls each first message costs:
AWS calls on the ack path and in the workers (the lookup job included), Shopify queries,
and Slack card redraws, without commerce and with it (for a customer the store knows and
one it does not).
"""

import io
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.ack import Harness, Signed, running_app
from bench.end_to_end import TimedOutbox
from bench.stats import percentile
from local_stack.constants import DEMO_SHOP, DEMO_SHOPIFY_TOKEN
from local_stack.sandbox.outbox import Outbox, OutboxEntry
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.e2e.conftest import RunningStack, http, running_stack
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    TEAM_ID,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

# Per shop: its SMS number and Slack channel (so their calls can be told apart).
PLAIN = ("bench-plain", "+14155550170", "C0BENCHPLAIN")
SELLS = ("bench-sells", "+14155550171", "C0BENCHSELLS")
# The card's orders section once the lookup answered, for a customer the store does not know.
LOOKED_UP = "No customer of the shop has this customer"
KNOWN_CUSTOMER = "+5511987654321"
SPACING_SECONDS = 0.5


def _document(shop: tuple[str, str, str], commerce: bool) -> dict[str, Any]:
    _, number, channel = shop
    extra: dict[str, Any] = {"commerce": DEMO_SHOP["commerce"]} if commerce else {}
    return shop_document(
        slack={"team_id": TEAM_ID, "channel_id": channel, "bot_token": BOT_TOKEN},
        twilio={
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "sms_numbers": [number],
            "whatsapp_numbers": [],
        },
        **extra,
    )


def _first_message(base_url: str, shop: tuple[str, str, str], customer: str, text: str) -> Signed:
    shop_id, number, _ = shop
    path = f"/webhooks/twilio/{shop_id}"
    params = twilio_message(uuid.uuid4().int >> 2, From=customer, To=number, Body=text)
    return Signed(path, twilio_headers(base_url + path, params), form(params))


class CardTimes(TimedOutbox):
    """The timed outbox, also noting when each card was first redrawn with its orders."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: dict[str, float] = {}

    def record(self, entry: OutboxEntry) -> None:
        if entry.method == "chat.update" and LOOKED_UP in json.dumps(entry.payload):
            self.looked_up.setdefault(str(entry.payload.get("ts")), time.perf_counter())
        super().record(entry)


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "messages": len(values),
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
    }


def _latencies(messages: int) -> dict[str, Any]:
    outbox = CardTimes()
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_stack(outbox, Path(scratch) / "stack.log") as stack,
    ):
        for shop, commerce in ((PLAIN, False), (SELLS, True)):
            answer = stack.admin("PUT", f"/admin/shops/{shop[0]}", _document(shop, commerce))
            if answer.status != 201:
                raise RuntimeError(f"shop not created on the local stack: {answer.body}")
        sent: dict[str, tuple[str, float]] = {}
        for _ in range(messages):
            for shop in (PLAIN, SELLS):
                # The marker the timed outbox knows (bench/end_to_end.py).
                marker = f"benchq{len(sent) + 1}x"
                customer = f"+55119{len(sent) + 1:08d}"
                request = _first_message(stack.api, shop, customer, f"Oi, tudo bem? {marker}")
                began = time.perf_counter()
                _post(stack, request)
                sent[marker] = (shop[0], began)
                time.sleep(SPACING_SECONDS)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _all_arrived(outbox, sent):
            time.sleep(0.2)
    to_slack: dict[str, list[float]] = {PLAIN[0]: [], SELLS[0]: []}
    to_orders: list[float] = []
    lookup_after_post: list[float] = []
    for marker, (shop_id, began) in sent.items():
        posted = outbox.arrived.get(marker)
        if posted is None:
            continue
        to_slack[shop_id].append(posted - began)
        looked_up = outbox.looked_up.get(outbox.thread_of.get(marker, ""))
        if shop_id == SELLS[0] and looked_up is not None:
            to_orders.append(looked_up - began)
            lookup_after_post.append(looked_up - posted)
    return {
        "first_message_to_slack_without_commerce": _ms(to_slack[PLAIN[0]]),
        "first_message_to_slack_with_commerce": _ms(to_slack[SELLS[0]]),
        "first_message_to_orders_on_card": _ms(to_orders),
        "lookup_job_after_slack_post": _ms(lookup_after_post),
        "sent_per_shop": messages,
    }


def _all_arrived(outbox: CardTimes, sent: dict[str, tuple[str, float]]) -> bool:
    return all(
        marker in outbox.arrived
        and (shop_id != SELLS[0] or outbox.thread_of.get(marker, "") in outbox.looked_up)
        for marker, (shop_id, _) in sent.items()
    )


def _post(stack: RunningStack, request: Signed) -> None:
    answer = http("POST", stack.api + request.path, request.body, request.headers)
    if answer.status != 200:
        raise RuntimeError(f"{request.path} answered {answer.status}: {answer.body}")


def _message_calls(harness: Harness, shopify: ShopifyStandIn, request: Signed) -> dict[str, Any]:
    """The calls one first message costs: AWS (ack, workers), Shopify, Slack redraws."""
    queries_before = len([e for e in shopify._own if e.method.startswith("Threadline")])
    redraws_before = len(harness.slack.updates)
    ack = harness.calls(lambda: harness.post(request))
    worker = harness.calls(harness.drain)
    queries = [e.method for e in shopify._own if e.method.startswith("Threadline")]
    return {
        "aws_ack": sum(ack.values()),
        "aws_worker": sum(worker.values()),
        "aws_ack_by_operation": ack,
        "aws_worker_by_operation": worker,
        "shopify_queries": len(queries) - queries_before,
        "slack_card_redraws": len(harness.slack.updates) - redraws_before,
    }


def _calls() -> dict[str, Any]:
    shopify = ShopifyStandIn(Outbox(io.StringIO()))
    shopify.provision(DEMO_SHOPIFY_TOKEN, demo_customers())
    url = shopify.start("127.0.0.1", 0)
    try:
        with running_app(shopify_api_url=url) as harness:
            for shop, commerce in ((PLAIN, False), (SELLS, True)):
                body = json.dumps(_document(shop, commerce)).encode()
                created = harness.client.http.put(
                    f"/admin/shops/{shop[0]}", headers=ADMIN, body=body
                )
                if created.status_code != 201:
                    raise RuntimeError(f"shop not created: {created.body!r}")
            cases = {
                "without_commerce": (PLAIN, "+5511900000002"),
                "with_commerce_known_customer": (SELLS, KNOWN_CUSTOMER),
                "with_commerce_unknown_customer": (SELLS, "+5511900000003"),
            }
            measured = {}
            for name, (shop, customer) in cases.items():
                # Warm: the shop's config and secrets are cached for a while per container.
                harness.post(_first_message(PUBLIC_URL, shop, "+5511900000001", "warm"))
                harness.drain()
                request = _first_message(PUBLIC_URL, shop, customer, "Oi")
                measured[name] = _message_calls(harness, shopify, request)
            return measured
    finally:
        shopify.stop()


def measure(messages: int = 20) -> dict[str, Any]:
    return {"latency": _latencies(messages), "calls_per_first_message": _calls()}
