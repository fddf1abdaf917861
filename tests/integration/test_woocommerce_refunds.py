"""Refunds from Slack for a WooCommerce shop, through the routes and the workers, with the real
WooCommerce adapters (orders and refunds) against the WooCommerce stand-in: an allowed agent
refunds one line and the store records exactly one refund; the same submission again refunds
nothing; a refund the payment gateway declines is explained in WooCommerce's words."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.commerce.platform_refunds import PlatformRefunds
from chalicelib.commerce.platforms import PlatformOrders
from chalicelib.commerce.shopify import ShopifyOrders
from chalicelib.commerce.shopify_refunds import ShopifyRefunds
from chalicelib.commerce.woocommerce import WooCommerceOrders
from chalicelib.commerce.woocommerce_refunds import WooCommerceRefunds
from chalicelib.services.installs import Exchange
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.woocommerce import WooCommerceStandIn, demo_customers
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.integration.test_commerce import customer_writes
from tests.integration.test_refunds import (
    ACTIONS,
    card_refund_button,
    choices,
    notes,
    press_button,
    submit,
)
from tests.integration.test_woocommerce import KEY, SECRET, STAND_IN_URL, WOOCOMMERCE
from tests.signing import shop_document
from tests.unit.test_woocommerce_adapter import InProcess


@pytest.fixture
def stand_in() -> WooCommerceStandIn:
    woocommerce = WooCommerceStandIn(Outbox())
    woocommerce.provision(KEY, SECRET, demo_customers())
    return woocommerce


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    slack_oauth: Exchange | None,
    stand_in: WooCommerceStandIn,
) -> Iterator[bootstrap.Container]:
    orders = WooCommerceOrders(STAND_IN_URL)
    orders._session.mount(STAND_IN_URL, InProcess(stand_in))
    refunds = WooCommerceRefunds(STAND_IN_URL)
    refunds._session.mount(STAND_IN_URL, InProcess(stand_in))
    built = bootstrap.Container(
        settings,
        twilio=twilio,
        slack=slack.workspace,
        clock=clock,
        orders=PlatformOrders(ShopifyOrders("http://shopify.invalid"), orders),
        refund_desk=PlatformRefunds(ShopifyRefunds("http://shopify.invalid"), refunds),
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def card_ts(client: Client, put_shop: Callable[..., Any], run_workers, slack: FakeSlack) -> str:
    document = shop_document(commerce=WOOCOMMERCE, commerce_actions=ACTIONS)
    assert put_shop("ana", document).status_code == 201
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    return root.ts


def confirmation(client: Client, slack: FakeSlack, card_ts: str) -> dict[str, Any]:
    press_button(client, card_refund_button(slack, card_ts, "2042"), card_ts, "U0ALICE")
    _, choice = slack.views[-1]
    assert choice["callback_id"] == "refund_choice"
    assert "WooCommerce's refund email" in json.dumps(choice, ensure_ascii=False)
    answer = submit(client, choice, "U0ALICE", "V0WOOCHOICE", choices([0], notify=False))
    view: dict[str, Any] = answer["view"]
    return view


def test_an_allowed_agent_refunds_one_line_once(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: WooCommerceStandIn
):
    confirm = confirmation(client, slack, card_ts)
    assert confirm["submit"]["text"] == "Refund 129.90 BRL"

    submit(client, confirm, "U0ALICE", "V0WOO1", {})
    run_workers()
    submit(client, confirm, "U0ALICE", "V0WOO1", {})
    run_workers()

    [refund] = stand_in.refunds(KEY, 2042)
    assert (refund.amount, refund.reason, refund.api_refund, refund.lines) == (
        "129.90",
        "chegou rasgada",
        True,
        [(20421, 2, "129.90")],
    )
    [note] = [t for t in notes(slack, card_ts) if "refunded" in t]
    assert "<@U0ALICE> refunded *129.90 BRL*" in note
    assert "WooCommerce: refund of 129.90 BRL made" in note


def test_a_declined_refund_is_explained(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: WooCommerceStandIn
):
    stand_in.decline_next_refund(KEY, 2042, "Stripe: the charge was disputed")
    submit(client, confirmation(client, slack, card_ts), "U0ALICE", "V0WOO1", {})
    run_workers()

    assert stand_in.refunds(KEY, 2042) == []
    [note] = [t for t in notes(slack, card_ts) if "Nothing was refunded" in t]
    assert "WooCommerce refused <@U0ALICE>'s refund" in note
    assert "the charge was disputed" in note
