"""Refunds from Slack, through the routes and the workers, with the real Shopify adapter
against the Shopify stand-in: an allowed agent refunds one line through the modals and the
store records exactly one refund; the same submission again refunds nothing; someone not
allowed is refused; a refund above the limit waits for a second allowed person (not the
same one); Shopify's refusal is explained in the thread."""

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.commerce.shopify_refunds import ShopifyRefunds
from chalicelib.domain.orders import Money
from chalicelib.services.installs import Exchange
from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.shopify import ShopifyStandIn, demo_customers
from tests.fakes import FakeOrderDirectory, FakeSlack, RecordingTwilio
from tests.integration.conftest import Clock
from tests.integration.test_agent_tools import interact
from tests.integration.test_commerce import ACCESS_TOKEN, SHOPIFY, customer_writes, order
from tests.signing import CHANNEL_ID, TEAM_ID, shop_document
from tests.unit.test_shopify_adapter import STAND_IN_URL, InProcess

ACTIONS = {"allowed": ["S0SUPPORTLEADS", "U0ALICE"], "refund_limit": 200}
VIEWS = count(1)
PRESSES = count(1)


@pytest.fixture
def stand_in() -> ShopifyStandIn:
    shopify = ShopifyStandIn(Outbox())
    shopify.provision(ACCESS_TOKEN, demo_customers())
    return shopify


@pytest.fixture
def directory() -> FakeOrderDirectory:
    shopify = FakeOrderDirectory()
    spent = Money(amount=Decimal("389.80"), currency="BRL")
    shopify.add_customer(
        "ana", {"+5511987654321"}, [order("1041", 2, "129.90"), order("1042", 20, "259.90")], spent
    )
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
    desk = ShopifyRefunds(STAND_IN_URL)
    desk._session.mount(STAND_IN_URL, InProcess(stand_in))
    built = bootstrap.Container(
        settings,
        twilio=twilio,
        slack=slack.workspace,
        clock=clock,
        orders=directory,
        refund_desk=desk,
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def card_ts(client: Client, put_shop: Callable[..., Any], run_workers, slack: FakeSlack) -> str:
    """A shop that allows refunds; Ana wrote; her card shows her orders. Bob is a support
    lead (through the user group)."""
    document = shop_document(commerce=SHOPIFY, commerce_actions=ACTIONS)
    assert put_shop("ana", document).status_code == 201
    slack.user_groups["S0SUPPORTLEADS"] = ["U0BOB"]
    customer_writes(client, 1)
    run_workers()
    [root] = slack.roots()
    return root.ts


def card_refund_button(slack: FakeSlack, ts: str, number: str) -> dict[str, Any]:
    drawn = [u for u in slack.updates if u.ts == ts] or slack.roots()
    return next(
        element
        for block in drawn[-1].message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == f"refund_order#{number}"
    )


def press_button(
    client: Client, button: dict[str, Any], ts: str, user: str, thread_ts: str | None = None
) -> None:
    payload = {
        "type": "block_actions",
        "trigger_id": f"trigger-{next(PRESSES)}",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": ts},
        "message": {"ts": ts, "thread_ts": thread_ts or ts},
        "actions": [
            {
                "action_id": button["action_id"],
                "type": "button",
                "value": button["value"],
                "action_ts": f"{1764002000 + next(PRESSES)}.000100",
            }
        ],
    }
    assert interact(client, payload).status_code == 200


def submit(
    client: Client, view: dict[str, Any], user: str, view_id: str, values: dict[str, Any]
) -> Any:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "view": {
            "id": view_id,
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    }
    response = interact(client, payload)
    assert response.status_code == 200
    return json.loads(response.body) if response.body else None


def choices(
    lines: list[int], reason: str = "chegou rasgada", notify: bool = True
) -> dict[str, Any]:
    return {
        "lines": {"lines": {"selected_options": [{"value": str(i)} for i in lines]}},
        "reason": {"reason": {"value": reason}},
        "notify": {"notify": {"selected_options": [{"value": "notify"}] if notify else []}},
    }


def confirmation(
    client: Client, slack: FakeSlack, card_ts: str, user: str, lines: list[int]
) -> dict[str, Any]:
    """The confirmation modal `user` reaches from *Refund #1042* with these lines chosen."""
    press_button(client, card_refund_button(slack, card_ts, "1042"), card_ts, user)
    _, choice = slack.views[-1]
    assert choice["callback_id"] == "refund_choice"
    answer = submit(client, choice, user, f"V0CHOICE{next(VIEWS)}", choices(lines))
    assert answer["response_action"] == "update"
    view: dict[str, Any] = answer["view"]
    return view


def notes(slack: FakeSlack, card_ts: str) -> list[str]:
    return [post.message.text for post in slack.thread(card_ts)]


def test_an_allowed_agent_refunds_one_line_once(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Alice chose the first line of #1042 (2 × Camiseta básica)
    confirm = confirmation(client, slack, card_ts, "U0ALICE", [0])
    # The confirmation shows exactly what will happen
    shown = json.dumps(confirm["blocks"], ensure_ascii=False)
    assert "Refund 129.90 BRL" in shown
    assert "2 × Camiseta básica" in shown
    assert "chegou rasgada" in shown
    assert "Shopify emails them the refund" in shown
    assert confirm["submit"]["text"] == "Refund 129.90 BRL"

    # When she confirms
    assert submit(client, confirm, "U0ALICE", "V0CONFIRM1", {}) is None
    run_workers()

    # Then Shopify recorded exactly one refund, of that line
    [refund] = stand_in.refunds(ACCESS_TOKEN, "#1042")
    assert (refund.amount, refund.lines, refund.note, refund.notify) == (
        "129.90",
        [(10421, 2)],
        "chegou rasgada",
        True,
    )
    # And the thread says who, what, how much and Shopify's answer
    [note] = [text for text in notes(slack, card_ts) if "refunded" in text]
    assert "<@U0ALICE> refunded *129.90 BRL*" in note
    assert "partially refunded" in note

    # When the same submission comes again (a double click, Slack's retry)
    submit(client, confirm, "U0ALICE", "V0CONFIRM1", {})
    run_workers()

    # Then nothing more is refunded, nor told
    assert len(stand_in.refunds(ACCESS_TOKEN, "#1042")) == 1
    assert len([t for t in notes(slack, card_ts) if "refunded" in t]) == 1


def test_a_second_submission_after_the_refund_finds_nothing_left(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given two confirmations of the same line, reached before either was submitted
    first = confirmation(client, slack, card_ts, "U0ALICE", [0])
    second = confirmation(client, slack, card_ts, "U0ALICE", [0])

    # When both are submitted
    submit(client, first, "U0ALICE", "V0CONFIRM1", {})
    submit(client, second, "U0ALICE", "V0CONFIRM2", {})
    run_workers()

    # Then Shopify's state, checked before acting, keeps the second from refunding
    assert len(stand_in.refunds(ACCESS_TOKEN, "#1042")) == 1
    assert any("has nothing left to refund" in t for t in notes(slack, card_ts))


def test_someone_not_allowed_is_refused(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # When Mallory presses Refund
    press_button(client, card_refund_button(slack, card_ts, "1042"), card_ts, "U0MALLORY")

    # Then the modal only says she may not
    _, view = slack.views[-1]
    assert "You may not refund" in json.dumps(view)
    assert "callback_id" not in view

    # And a confirmation she submits anyway (one Alice reached) is refused too
    confirm = confirmation(client, slack, card_ts, "U0ALICE", [0])
    answer = submit(client, confirm, "U0MALLORY", "V0CONFIRM9", {})
    assert "You may not refund" in json.dumps(answer)
    run_workers()
    assert stand_in.refunds(ACCESS_TOKEN, "#1042") == []


def test_a_member_of_an_allowed_group_may_refund(client, card_ts, slack: FakeSlack):
    press_button(client, card_refund_button(slack, card_ts, "1042"), card_ts, "U0BOB")
    _, view = slack.views[-1]
    assert view["callback_id"] == "refund_choice"


def test_above_the_limit_a_second_allowed_person_approves(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Alice confirms the whole of #1042 (259.90 BRL, above the 200 limit)
    confirm = confirmation(client, slack, card_ts, "U0ALICE", [0, 1])
    assert confirm["submit"]["text"] == "Ask for approval"
    assert "Above the shop's limit of 200.00 BRL" in json.dumps(confirm, ensure_ascii=False)
    submit(client, confirm, "U0ALICE", "V0CONFIRM1", {})
    run_workers()

    # Then nothing is refunded: the thread asks for a second person
    assert stand_in.refunds(ACCESS_TOKEN, "#1042") == []
    [held] = [p for p in slack.thread(card_ts) if "must approve" in p.message.text]
    [approve] = [e for b in held.message.blocks if b["type"] == "actions" for e in b["elements"]]

    # When Alice approves her own refund, or Mallory approves it
    press_button(client, approve, held.ts, "U0ALICE", card_ts)
    press_button(client, approve, held.ts, "U0MALLORY", card_ts)
    run_workers()

    # Then it still waits, and the thread says why
    assert stand_in.refunds(ACCESS_TOKEN, "#1042") == []
    told = notes(slack, card_ts)
    assert any("<@U0ALICE> cannot approve" in t and "asked" in t for t in told)
    assert any("<@U0MALLORY> cannot approve" in t for t in told)

    # When Bob (a support lead) approves it, twice
    press_button(client, approve, held.ts, "U0BOB", card_ts)
    press_button(client, approve, held.ts, "U0BOB", card_ts)
    run_workers()

    # Then it is refunded once, and the note names both
    [refund] = stand_in.refunds(ACCESS_TOKEN, "#1042")
    assert refund.amount == "259.90"
    [done] = [t for t in notes(slack, card_ts) if "refunded *259.90 BRL*" in t]
    assert "approved by <@U0BOB>" in done
    assert "the whole order #1042" in done


def test_a_refusal_by_shopify_is_explained(
    client, card_ts, run_workers, slack: FakeSlack, stand_in: ShopifyStandIn
):
    # Given Shopify will refuse (the payment gateway declines)
    stand_in.refuse_next_refund("The payment gateway declined the refund", ["transactions"])
    confirm = confirmation(client, slack, card_ts, "U0ALICE", [1])

    # When Alice confirms
    submit(client, confirm, "U0ALICE", "V0CONFIRM1", {})
    run_workers()

    # Then nothing is refunded and the thread says why, in plain words
    assert stand_in.refunds(ACCESS_TOKEN, "#1042") == []
    [note] = [t for t in notes(slack, card_ts) if "Nothing was refunded" in t]
    assert "Shopify refused <@U0ALICE>'s refund of *130.00 BRL*" in note
    assert "The payment gateway declined the refund" in note
