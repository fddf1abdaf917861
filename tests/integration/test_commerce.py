"""Commerce in the thread (Shopify): the customer's orders looked up after their message is in
Slack, shown on the card and refreshed on demand; order placeholders only ever about the
customer's own order; Shopify's webhooks verified first and acted on once."""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.orders import Money, Order
from chalicelib.services.installs import Exchange
from chalicelib.settings import TABLE_NAME, Settings
from tests.fakes import FakeOrderDirectory, FakeSlack, RecordingTwilio
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock, stored_item
from tests.integration.test_agent_tools import interact, shortcut, submission
from tests.integration.test_card_actions import press
from tests.signing import form, shop_document, twilio_headers, twilio_message

CUSTOMER = "+5511987654321"
WEBHOOK_SECRET = "shopify-webhook-secret"
ACCESS_TOKEN = "shpat_" + "a" * 32
SHOPIFY = {
    "shopify": {
        "domain": "loja-da-ana.myshopify.com",
        "access_token": ACCESS_TOKEN,
        "webhook_secret": WEBHOOK_SECRET,
        "api_version": "2026-07",
    }
}
CANNED = [{"name": "tracking", "text": "Seu pedido está {order_status}: {tracking_url}"}]


def order(number: str, day: int, total: str, **fields: Any) -> Order:
    return Order(
        number=number,
        placed_at=datetime(2026, 11, day, 12, tzinfo=UTC),
        total=Money(amount=Decimal(total), currency="BRL"),
        payment_status="paid",
        fulfilment_status=fields.pop("fulfilment_status", "unfulfilled"),
        **fields,
    )


IN_TRANSIT = order(
    "1042",
    20,
    "259.90",
    fulfilment_status="fulfilled",
    delivery_status="in_transit",
    carrier="Correios",
    tracking_number="BR987654321",
    tracking_url="https://rastreio.example/BR987654321",
)


@pytest.fixture
def directory() -> FakeOrderDirectory:
    shopify = FakeOrderDirectory()
    spent = Money(amount=Decimal("389.80"), currency="BRL")
    shopify.add_customer("ana", {CUSTOMER}, [order("1041", 2, "129.90"), IN_TRANSIT], spent)
    # Another customer of the shop, whose order Ana must never be told of.
    shopify.add_customer("bruno", {"+5521998877665"}, [order("1043", 22, "59.00")], None)
    return shopify


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    slack_oauth: Exchange | None,
    directory: FakeOrderDirectory,
) -> Iterator[bootstrap.Container]:
    built = bootstrap.Container(
        settings, twilio=twilio, slack=slack.workspace, clock=clock, orders=directory
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def shop(put_shop: Callable[..., Any]) -> str:
    response = put_shop("ana", shop_document(commerce=SHOPIFY, canned_responses=CANNED))
    assert response.status_code == 201, response.body
    return "ana"


def customer_writes(client: Client, n: int, body: str = "Oi! Onde está meu pedido?") -> None:
    path = "/webhooks/twilio/ana"
    params = twilio_message(n, Body=body)
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    assert response.status_code == 200


def card_of(slack: FakeSlack) -> str:
    """The card as last drawn, its blocks as JSON."""
    [root] = slack.roots()
    drawn = [u for u in slack.updates if u.ts == root.ts] or [root]
    return json.dumps(drawn[-1].message.blocks, ensure_ascii=False)


def shopify_webhook(
    client: Client,
    topic: str,
    payload: dict[str, Any],
    webhook_id: str,
    secret: str = "",
    domain: str = "loja-da-ana.myshopify.com",
) -> Any:
    body = json.dumps(payload).encode()
    digest = hmac.new((secret or WEBHOOK_SECRET).encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": domain,
    }
    return client.http.post("/webhooks/shopify/ana", headers=headers, body=body)


def table_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(
        TableName=TABLE_NAME, ConsistentRead=True
    )["Items"]
    return items


def outbound_waiting() -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="threadline-outbound.fifo")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


# Looked up after the message is in Slack ----------------------------------------------------


def test_the_message_reaches_slack_while_shopify_is_down_and_the_orders_fill_in_later(
    client, shop, run_workers_once, run_workers, slack: FakeSlack, directory
):
    # Given Shopify is down
    directory.down = True

    # When the customer's first message is processed
    customer_writes(client, 1)
    run_workers_once()

    # Then it is in the thread whatever Shopify does
    [root] = slack.roots()
    assert "Onde está meu pedido?" in slack.thread(root.ts)[0].message.text
    run_workers_once()
    assert directory.asked, "the lookup ran after the post"
    assert "Orders unavailable" in card_of(slack)

    # And once Shopify answers again, the retried lookup fills the card in
    directory.down = False
    run_workers()
    card = card_of(slack)
    assert "#1042" in card
    assert "#1041" in card
    assert "https://rastreio.example/BR987654321|BR987654321" in card
    assert "389.80 BRL" in card
    assert card.index("#1042") < card.index("#1041"), "latest first"


def test_the_lookup_asks_by_the_customers_phone_never_their_name(
    client, shop, run_workers, directory
):
    customer_writes(client, 1)
    run_workers()
    [asked] = directory.asked
    assert asked.phones == (CUSTOMER,)
    assert asked.emails == ()


def test_refresh_orders_looks_the_customer_up_again(
    client, shop, run_workers, slack: FakeSlack, directory
):
    # Given a card with the customer's orders
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    assert "Refresh orders" in card_of(slack)
    # ... and a new order since
    addresses, orders, spent = directory.customers["ana"]
    directory.add_customer("ana", addresses, [*orders, order("1044", 25, "10.00")], spent)

    # When an agent presses Refresh orders
    assert press(client, "refresh_orders", root.ts, f"ana:{_conversation_id()}") == 200
    run_workers()

    # Then the card shows it
    assert "#1044" in card_of(slack)
    assert len(directory.asked) == 2


def _conversation_id() -> str:
    [item] = [
        i
        for i in table_items()
        if i["SK"]["S"] == "CONVERSATION" and i["PK"]["S"].startswith("SHOP#ana#CONV#")
    ]
    return str(item["conversation_id"]["S"])


# Another customer's order ------------------------------------------------------------------


def test_another_customers_order_number_reveals_nothing(
    client, shop, run_workers, slack: FakeSlack, twilio: RecordingTwilio
):
    # Given Ana quotes the number of Bruno's order
    customer_writes(client, 1, "Onde está o pedido #1043?")
    run_workers()

    # Then the card says only that the number is not hers
    card = card_of(slack)
    assert "#1043 is not one of their orders" in card
    assert "59.00" not in card

    # And a canned response quoting the order is refused, with the reason, and nothing sent
    [root] = slack.roots()
    interact(client, shortcut(root.ts))
    [(_, view)] = slack.views
    response = interact(client, submission(view, "tracking"))
    errors = json.loads(response.body)["errors"]
    assert "#1043 is not one of this customer's orders" in errors["order_number"]
    assert "59.00" not in errors["order_number"]
    run_workers()
    assert twilio.sent == []

    # While her own order is quoted with its tracking link
    interact(client, submission(view, "tracking", order_number="1042"))
    run_workers()
    [sent] = twilio.sent
    assert sent.text.startswith("Seu pedido está enviado: https://rastreio.example/BR987654321")


# Webhooks ------------------------------------------------------------------------------------


def test_a_forged_webhook_writes_nothing(client, shop, run_workers, slack: FakeSlack):
    customer_writes(client, 1)
    run_workers()
    items, waiting = table_items(), outbound_waiting()

    response = shopify_webhook(
        client, "orders/updated", {"phone": CUSTOMER}, "w-1", secret="not-the-secret"
    )

    assert response.status_code == 403
    assert table_items() == items
    assert outbound_waiting() == waiting


def test_another_stores_webhook_signed_with_the_same_app_secret_acts_on_nothing(
    client, shop, run_workers, directory
):
    # Given the customer's open conversation (and one app, so one secret, for two stores)
    customer_writes(client, 1)
    run_workers()
    items, waiting, asked = table_items(), outbound_waiting(), len(directory.asked)

    # When another store's order webhook is posted to this shop's URL
    payload = {"id": 1, "name": "#1042", "customer": {"phone": CUSTOMER, "email": None}}
    response = shopify_webhook(
        client, "orders/updated", payload, "w-other", domain="another-store.myshopify.com"
    )

    # Then it is refused and changes nothing
    assert response.status_code == 403
    assert table_items() == items
    assert outbound_waiting() == waiting
    run_workers()
    assert len(directory.asked) == asked


def test_an_order_update_refreshes_the_open_conversation_once_per_webhook_id(
    client, shop, run_workers, directory
):
    customer_writes(client, 1)
    run_workers()
    payload = {"id": 1, "name": "#1042", "customer": {"phone": CUSTOMER, "email": None}}

    assert shopify_webhook(client, "orders/updated", payload, "w-7").status_code == 200
    run_workers()
    assert len(directory.asked) == 2

    # Shopify delivering the same webhook again is acknowledged and not acted on
    assert shopify_webhook(client, "orders/updated", payload, "w-7").status_code == 200
    run_workers()
    assert len(directory.asked) == 2
    assert stored_item("SHOP#ana#WEBHOOK#shopify:w-7", "RECEIVED") is not None


def test_a_duplicate_data_request_is_told_once(client, shop, slack: FakeSlack):
    payload = {"customer": {"phone": CUSTOMER}, "data_request": {"id": 9999}}

    for _ in range(2):
        assert shopify_webhook(client, "customers/data_request", payload, "w-dr").status_code == 200

    told = [p for p in slack.posts if "data request 9999" in p.message.text]
    assert len(told) == 1
    assert CUSTOMER not in told[0].message.text


def test_an_order_of_someone_without_a_conversation_is_acknowledged_and_ignored(
    client, shop, run_workers, directory
):
    payload = {"id": 2, "email": "someone@example.com", "phone": "+5521998877665"}

    assert shopify_webhook(client, "orders/create", payload, "w-8").status_code == 200

    assert outbound_waiting() == 0
    assert directory.asked == []


def test_a_customers_redaction_drops_their_order_summary(
    client, shop, run_workers, slack: FakeSlack
):
    customer_writes(client, 1)
    run_workers()
    assert "#1042" in card_of(slack)
    payload = {"customer": {"id": 7001, "phone": CUSTOMER}, "orders_to_redact": [1]}

    assert shopify_webhook(client, "customers/redact", payload, "w-9").status_code == 200

    [item] = [i for i in table_items() if i["SK"]["S"] == "CONVERSATION"]
    assert "orders" not in item
    assert "#1042" not in card_of(slack)


# The shop's Shopify secrets -----------------------------------------------------------------


def test_the_shopify_secrets_are_masked_and_kept_out_of_the_table(client, shop):
    answer = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)

    shown = answer["commerce"]["shopify"]
    assert shown["access_token"] == shown["webhook_secret"] == "********"
    assert answer["webhooks"]["shopify"] == f"{PUBLIC_URL}/webhooks/shopify/ana"
    stored = json.dumps(table_items())
    assert ACCESS_TOKEN not in stored
    assert WEBHOOK_SECRET not in stored


def test_a_refused_token_is_shown_on_the_card_and_not_retried(
    client, shop, run_workers, slack: FakeSlack, directory
):
    directory.refusing = "Shopify refused the access token (HTTP 401)"

    customer_writes(client, 1)
    run_workers()

    assert "Shopify refused the access token (HTTP 401)" in card_of(slack)
    assert len(directory.asked) == 1


def test_an_order_number_the_card_does_not_hold_looks_the_customer_up_again(
    client, shop, run_workers, slack: FakeSlack, directory
):
    customer_writes(client, 1, "Oi!")
    run_workers()
    customer_writes(client, 2, "E o pedido #1041?")
    run_workers()
    # Held already: no lookup. A number it does not hold: one more.
    assert len(directory.asked) == 1
    customer_writes(client, 3, "Na verdade é o #1099")
    run_workers()
    assert [keys.quoted_number for keys in directory.asked] == [None, "1099"]
