"""Returns started from Slack, through the routes and the workers, with the real Shopify
adapter against the Shopify stand-in: an allowed agent opens a return of one line through the
modals and the store records exactly one return; the same submission again opens nothing;
more than is returnable is refused in the modal; someone not allowed is refused; a second
submission of the same items finds them returned already."""

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.commerce.shopify_returns import ShopifyReturns
from chalicelib.domain.orders import Money
from chalicelib.services.installs import Exchange
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.fakes import FakeOrderDirectory, FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.integration.test_commerce import ACCESS_TOKEN, SHOPIFY, customer_writes, order
from tests.integration.test_refunds import ACTIONS, notes, press_button, submit
from tests.signing import shop_document
from tests.unit.test_shopify_adapter import STAND_IN_URL, InProcess

VIEWS = count(1)


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(ACCESS_TOKEN, demo_customers())
    return shopify


@pytest.fixture
def directory() -> FakeOrderDirectory:
    shopify = FakeOrderDirectory()
    spent = Money(amount=Decimal("389.80"), currency="BRL")
    orders = [
        order("1041", 2, "129.90", fulfilment_status="fulfilled"),
        order("1042", 20, "259.90", fulfilment_status="fulfilled"),
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
    desk = ShopifyReturns(STAND_IN_URL)
    desk._session.mount(STAND_IN_URL, InProcess(stand_in))
    built = bootstrap.Container(
        settings,
        twilio=twilio,
        slack=slack.workspace,
        clock=clock,
        orders=directory,
        return_desk=desk,
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def card_ts(client: Client, put_shop: Callable[..., Any], run_workers, slack: FakeSlack) -> str:
    document = shop_document(commerce=SHOPIFY, commerce_actions=ACTIONS)
    assert put_shop("ana", document).status_code == 201
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    return root.ts


def return_button(slack: FakeSlack, ts: str, number: str) -> dict[str, Any]:
    drawn = [u for u in slack.updates if u.ts == ts] or slack.roots()
    return next(
        element
        for block in drawn[-1].message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == f"return_order#{number}"
    )


def choices(quantities: dict[int, str], reason: str = "SIZE_TOO_SMALL") -> dict[str, Any]:
    return {
        **{f"qty{i}": {"qty": {"value": typed}} for i, typed in quantities.items()},
        "reason": {"reason": {"selected_option": {"value": reason}}},
        "note": {"note": {"value": "ficou apertada"}},
    }


def choice_view(client: Client, slack: FakeSlack, card_ts: str, user: str) -> dict[str, Any]:
    press_button(client, return_button(slack, card_ts, "1042"), card_ts, user)
    _, view = slack.views[-1]
    return view


def confirmation(client: Client, slack: FakeSlack, card_ts: str, user: str) -> dict[str, Any]:
    """The confirmation `user` reaches from *Return #1042* with one shirt chosen."""
    choice = choice_view(client, slack, card_ts, user)
    assert choice["callback_id"] == "return_choice"
    answer = submit(client, choice, user, f"V0RETCHOICE{next(VIEWS)}", choices({0: "1"}))
    assert answer["response_action"] == "update"
    view: dict[str, Any] = answer["view"]
    return view


def test_an_allowed_agent_opens_a_return_once(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Alice chose one of the two shirts of #1042
    confirm = confirmation(client, slack, card_ts, "U0ALICE")
    shown = json.dumps(confirm["blocks"], ensure_ascii=False)
    assert "1 × Camiseta básica" in shown
    assert "size too small" in shown
    assert "ficou apertada" in shown
    assert "nothing is refunded now" in shown

    # When she confirms, and the same submission comes again
    assert submit(client, confirm, "U0ALICE", "V0RETURN1", {}) is None
    run_workers()
    submit(client, confirm, "U0ALICE", "V0RETURN1", {})
    run_workers()

    # Then Shopify recorded exactly one open return, of that line
    [made] = stand_in.returns(ACCESS_TOKEN, "#1042")
    assert (made.status, made.lines) == ("OPEN", [(10421, 1, "SIZE_TOO_SMALL", "ficou apertada")])
    # And the thread says who, what and Shopify's answer, once
    [note] = [t for t in notes(slack, card_ts) if "opened a return" in t]
    assert "<@U0ALICE> opened a return of #1042: 1 × Camiseta básica" in note
    assert "return #1042-R1 is open" in note


def test_more_than_can_be_returned_is_refused_in_the_modal(
    client, card_ts, slack: FakeSlack, stand_in: ShopifyStandIn
):
    choice = choice_view(client, slack, card_ts, "U0ALICE")
    answer = submit(client, choice, "U0ALICE", "V0RETCHOICE99", choices({0: "3"}))
    assert answer == {"response_action": "errors", "errors": {"qty0": "More than can be returned."}}
    answer = submit(client, choice, "U0ALICE", "V0RETCHOICE98", choices({}))
    assert answer["response_action"] == "errors"


def test_the_same_items_returned_meanwhile_open_nothing_more(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    first = confirmation(client, slack, card_ts, "U0ALICE")
    # Ana bought two shirts: a third return of one finds none left.
    second = confirmation(client, slack, card_ts, "U0ALICE")
    third = confirmation(client, slack, card_ts, "U0ALICE")
    for view_id, view in (("V0RET1", first), ("V0RET2", second), ("V0RET3", third)):
        submit(client, view, "U0ALICE", view_id, {})
    run_workers()

    assert len(stand_in.returns(ACCESS_TOKEN, "#1042")) == 2
    assert any("can no longer be returned in that number" in t for t in notes(slack, card_ts))


def test_someone_not_allowed_is_refused(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    view = choice_view(client, slack, card_ts, "U0MALLORY")
    assert "You may not start returns" in json.dumps(view)

    confirm = confirmation(client, slack, card_ts, "U0ALICE")
    answer = submit(client, confirm, "U0MALLORY", "V0RETURN9", {})
    assert "You may not start returns" in json.dumps(answer)
    run_workers()
    assert stand_in.returns(ACCESS_TOKEN, "#1042") == []


def test_a_tampered_modal_is_refused_with_a_reason(client, card_ts, slack: FakeSlack):
    choice = choice_view(client, slack, card_ts, "U0ALICE")
    metadata = json.loads(choice["private_metadata"]) | {"order": "not a number"}
    tampered = choice | {"private_metadata": json.dumps(metadata)}

    answer = submit(client, tampered, "U0ALICE", "V0RETCHOICE97", choices({0: "1"}))

    assert answer == {
        "response_action": "errors",
        "errors": {"reason": "This return can no longer be made: press Return again."},
    }
