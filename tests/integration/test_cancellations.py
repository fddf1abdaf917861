"""Order cancellations from Slack, through the routes and the workers, with the real Shopify
adapter against the Shopify stand-in: an allowed agent cancels an unfulfilled order through
the modals and the store records exactly one cancellation; the same submission again
cancels nothing; someone not allowed is refused; a cancellation refunding above the limit
waits for a second allowed person; an order cancelled already is explained and left alone."""

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.commerce.shopify_cancellations import ShopifyCancellations
from chalicelib.domain.orders import Money
from chalicelib.services.installs import Exchange
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import SeededOrder, ShopifyStandIn, demo_customers
from local_stack.sandbox.shopify_refunds import SeededLine
from tests.fakes import FakeOrderDirectory, FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.integration.test_commerce import ACCESS_TOKEN, SHOPIFY, customer_writes, order
from tests.integration.test_refunds import ACTIONS, notes, press_button, submit
from tests.signing import shop_document
from tests.unit.test_shopify_adapter import STAND_IN_URL, InProcess

VIEWS = count(1)


def _unfulfilled(number: str, day: int, total: str) -> SeededOrder:
    return SeededOrder(
        name=f"#{number}",
        created_at=f"2026-11-{day}T12:00:00Z",
        total=total,
        currency="BRL",
        lines=[SeededLine(int(number) * 10 + 1, "Vestido floral", 1, total)],
    )


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    customers = demo_customers()
    # Ana's two orders not shipped yet: one below the shop's limit, one above it.
    customers[0].orders += [_unfulfilled("1044", 23, "89.90"), _unfulfilled("1045", 24, "349.00")]
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(ACCESS_TOKEN, customers)
    return shopify


@pytest.fixture
def directory() -> FakeOrderDirectory:
    shopify = FakeOrderDirectory()
    spent = Money(amount=Decimal("828.70"), currency="BRL")
    orders = [
        order("1042", 20, "259.90", fulfilment_status="fulfilled"),
        order("1044", 23, "89.90"),
        order("1045", 24, "349.00"),
    ]
    shopify.add_customer("ana", {"+5511987654321"}, orders, spent)
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
    stand_in: ShopifyStandIn,
) -> Iterator[bootstrap.Container]:
    desk = ShopifyCancellations(STAND_IN_URL)
    desk._session.mount(STAND_IN_URL, InProcess(stand_in))
    built = bootstrap.Container(
        settings,
        twilio=twilio,
        slack=slack.workspace,
        clock=clock,
        orders=directory,
        cancel_desk=desk,
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def card_ts(client: Client, put_shop: Callable[..., Any], run_workers, slack: FakeSlack) -> str:
    """A shop that allows actions; Ana wrote; her card shows her orders. Bob is a support
    lead (through the user group)."""
    document = shop_document(commerce=SHOPIFY, commerce_actions=ACTIONS)
    assert put_shop("ana", document).status_code == 201
    slack.user_groups["S0SUPPORTLEADS"] = ["U0BOB"]
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    return root.ts


def cancel_buttons(slack: FakeSlack, ts: str) -> dict[str, dict[str, Any]]:
    drawn = [u for u in slack.updates if u.ts == ts] or slack.roots()
    return {
        element["action_id"]: element
        for block in drawn[-1].message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"].startswith("cancel_order#")
    }


def choices(refund: bool = True, reason: str = "CUSTOMER", note: str = "") -> dict[str, Any]:
    chosen = ["restock", "notify", *(["refund"] if refund else [])]
    return {
        "options": {"options": {"selected_options": [{"value": v} for v in chosen]}},
        "reason": {"reason": {"selected_option": {"value": reason}}},
        "note": {"note": {"value": note}},
    }


def confirmation(
    client: Client, slack: FakeSlack, card_ts: str, user: str, number: str, refund: bool = True
) -> dict[str, Any]:
    """The confirmation modal `user` reaches from *Cancel #number*."""
    press_button(client, cancel_buttons(slack, card_ts)[f"cancel_order#{number}"], card_ts, user)
    _, choice = slack.views[-1]
    assert choice["callback_id"] == "cancel_choice"
    answer = submit(
        client, choice, user, f"V0CANCELCHOICE{next(VIEWS)}", choices(refund, note="trocou")
    )
    assert answer["response_action"] == "update"
    view: dict[str, Any] = answer["view"]
    return view


def test_only_unfulfilled_orders_offer_a_cancel_button(card_ts, slack: FakeSlack):
    assert sorted(cancel_buttons(slack, card_ts)) == ["cancel_order#1044", "cancel_order#1045"]


def test_an_allowed_agent_cancels_an_order_once(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Alice reached the confirmation of #1044, refunding it
    confirm = confirmation(client, slack, card_ts, "U0ALICE", "1044")
    # It shows exactly what will happen
    shown = json.dumps(confirm["blocks"], ensure_ascii=False)
    assert "*Refund:* 89.90 BRL back to the original payment" in shown
    assert "items restocked" in shown
    assert "Shopify emails them the cancellation" in shown
    assert "trocou" in shown
    assert confirm["submit"]["text"] == "Cancel order"

    # When she confirms
    assert submit(client, confirm, "U0ALICE", "V0CANCEL1", {}) is None
    run_workers()

    # Then Shopify recorded exactly one cancellation, as chosen, and the refund it made
    cancellations = stand_in.cancellations(ACCESS_TOKEN)
    assert list(cancellations) == ["#1044"]
    made = cancellations["#1044"]
    assert (made.reason, made.restock, made.refund, made.notify, made.staff_note) == (
        "CUSTOMER",
        True,
        True,
        True,
        "trocou",
    )
    assert [r.amount for r in stand_in.refunds(ACCESS_TOKEN, "#1044")] == ["89.90"]
    # And the thread says who, what, and Shopify's answer (an accepted job)
    [note] = [t for t in notes(slack, card_ts) if "asked Shopify to cancel" in t]
    assert "<@U0ALICE>" in note
    assert "89.90 BRL back to the original payment" in note
    assert "Shopify accepted it (job gid://shopify/Job/" in note
    assert "now shows as cancelled" in note

    # When the same submission comes again (a double click, Slack's retry)
    submit(client, confirm, "U0ALICE", "V0CANCEL1", {})
    run_workers()

    # Then nothing more is done, nor told
    assert len(stand_in.cancellations(ACCESS_TOKEN)) == 1
    assert len(stand_in.refunds(ACCESS_TOKEN, "#1044")) == 1
    assert len([t for t in notes(slack, card_ts) if "asked Shopify to cancel" in t]) == 1


def test_an_order_cancelled_already_is_explained_and_left_alone(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given two confirmations of #1044, reached before either was submitted
    first = confirmation(client, slack, card_ts, "U0ALICE", "1044", refund=False)
    second = confirmation(client, slack, card_ts, "U0ALICE", "1044", refund=False)

    # When both are submitted
    submit(client, first, "U0ALICE", "V0CANCEL1", {})
    submit(client, second, "U0ALICE", "V0CANCEL2", {})
    run_workers()

    # Then the state read before acting keeps the second from asking Shopify again
    assert len(stand_in.cancellations(ACCESS_TOKEN)) == 1
    assert stand_in.refunds(ACCESS_TOKEN, "#1044") == []
    assert any("is cancelled already on Shopify" in t for t in notes(slack, card_ts))

    # And Cancel pressed again only says so
    press_button(client, cancel_buttons(slack, card_ts)["cancel_order#1044"], card_ts, "U0ALICE")
    _, view = slack.views[-1]
    assert "is cancelled already" in json.dumps(view)
    assert "callback_id" not in view


def test_someone_not_allowed_is_refused(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    press_button(client, cancel_buttons(slack, card_ts)["cancel_order#1044"], card_ts, "U0MALLORY")
    _, view = slack.views[-1]
    assert "You may not cancel orders" in json.dumps(view)

    # A confirmation she submits anyway (one Alice reached) is refused too
    confirm = confirmation(client, slack, card_ts, "U0ALICE", "1044")
    answer = submit(client, confirm, "U0MALLORY", "V0CANCEL9", {})
    assert "You may not cancel orders" in json.dumps(answer)
    run_workers()
    assert stand_in.cancellations(ACCESS_TOKEN) == {}


def test_a_refund_above_the_limit_waits_for_a_second_allowed_person(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Alice confirms cancelling #1045 with its refund (349.00 BRL, above 200)
    confirm = confirmation(client, slack, card_ts, "U0ALICE", "1045")
    assert confirm["submit"]["text"] == "Ask for approval"
    assert "above the shop's limit of 200.00 BRL" in json.dumps(confirm, ensure_ascii=False)
    submit(client, confirm, "U0ALICE", "V0CANCEL1", {})
    run_workers()

    # Then nothing is cancelled: the thread asks for a second person
    assert stand_in.cancellations(ACCESS_TOKEN) == {}
    [held] = [p for p in slack.thread(card_ts) if "must approve" in p.message.text]
    [approve] = [e for b in held.message.blocks if b["type"] == "actions" for e in b["elements"]]

    # When Alice approves it herself, then Mallory
    press_button(client, approve, held.ts, "U0ALICE", card_ts)
    press_button(client, approve, held.ts, "U0MALLORY", card_ts)
    run_workers()
    assert stand_in.cancellations(ACCESS_TOKEN) == {}
    told = notes(slack, card_ts)
    assert any("<@U0ALICE> cannot approve this cancellation" in t for t in told)
    assert any("<@U0MALLORY> cannot approve this cancellation" in t for t in told)

    # When Bob approves it, twice
    press_button(client, approve, held.ts, "U0BOB", card_ts)
    press_button(client, approve, held.ts, "U0BOB", card_ts)
    run_workers()

    # Then it is cancelled once, with its refund, and the note names both
    assert list(stand_in.cancellations(ACCESS_TOKEN)) == ["#1045"]
    assert [r.amount for r in stand_in.refunds(ACCESS_TOKEN, "#1045")] == ["349.00"]
    [done] = [t for t in notes(slack, card_ts) if "asked Shopify to cancel" in t]
    assert "approved by <@U0BOB>" in done


def test_without_a_refund_no_approval_is_needed(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    confirm = confirmation(client, slack, card_ts, "U0ALICE", "1045", refund=False)
    assert confirm["submit"]["text"] == "Cancel order"
    submit(client, confirm, "U0ALICE", "V0CANCEL1", {})
    run_workers()
    assert stand_in.cancellations(ACCESS_TOKEN)["#1045"].refund is False
    assert stand_in.refunds(ACCESS_TOKEN, "#1045") == []


def test_a_refusal_by_shopify_is_explained(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Shopify will refuse (a payment still being authorised)
    stand_in.refuse_next_cancel("Order has pending payment authorizations")
    confirm = confirmation(client, slack, card_ts, "U0ALICE", "1044")

    # When Alice confirms
    submit(client, confirm, "U0ALICE", "V0CANCEL1", {})
    run_workers()

    # Then nothing is cancelled and the thread says why
    assert stand_in.cancellations(ACCESS_TOKEN) == {}
    [note] = [t for t in notes(slack, card_ts) if "Nothing was cancelled" in t]
    assert "Shopify refused <@U0ALICE>'s request to cancel order #1044" in note
    assert "Order has pending payment authorizations" in note


def test_a_tampered_modal_is_refused_with_a_reason(client, card_ts, slack: FakeSlack):
    press_button(client, cancel_buttons(slack, card_ts)["cancel_order#1044"], card_ts, "U0ALICE")
    _, choice = slack.views[-1]
    metadata = json.loads(choice["private_metadata"]) | {"order": "not a number"}
    tampered = choice | {"private_metadata": json.dumps(metadata)}

    answer = submit(client, tampered, "U0ALICE", "V0CANCELCHOICE99", choices())

    assert answer == {
        "response_action": "errors",
        "errors": {"reason": "This cancellation can no longer be made: press Cancel again."},
    }
