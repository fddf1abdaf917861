"""What Slack shows of order cancellations stays within Block Kit's limits whatever was typed
(long RTL notes, Slack's control characters), and says exactly what will happen: the refund
and its amount or none, restock, whether the customer is told, the reason, and that a
second person must approve a refund above the limit."""

import json
from decimal import Decimal

import pytest

from chalicelib.domain.cancellations import (
    CancelAccepted,
    CancellableOrder,
    CancelPlan,
    CancelReason,
)
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import REASON_MAX
from chalicelib.domain.shop import CommerceActionsConfig, CommerceConfig, ShopifyConfig
from chalicelib.presentation.cancellations import (
    cancel_accepted_note,
    cancel_approval_refused_note,
    cancel_awaiting_approval_note,
    cancel_buttons,
    cancel_choice_view,
    cancel_confirm_view,
    cancel_refused_note,
)
from local_stack.slack_limits import message_refusal, view_refusal
from tests.unit.test_refund_views import conversation
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
BRL = "BRL"
ORDER = CancellableOrder(
    order_id="gid://shopify/Order/" + "9" * 20,
    number="9" * 20,
    total=Money(amount=Decimal("99999999.99"), currency=BRL),
    refundable=Money(amount=Decimal("99999989.99"), currency=BRL),
    cancelled=False,
    fulfilment_status="unfulfilled",
)


def plan(**changes: object) -> CancelPlan:
    fields: dict[str, object] = {
        "shop_id": "acme",
        "conversation_ref": "acme:01JCONVERSATION",
        "order_number": "9" * 20,
        "order_id": ORDER.order_id,
        "restock": True,
        "refund": True,
        "refund_amount": Money(amount=Decimal("129.90"), currency=BRL),
        "notify_customer": True,
        "reason": CancelReason.INVENTORY,
        "note": "<@U0EVERYONE> " + "ع" * (REASON_MAX - 14),
        "requested_by": "U0ALICE",
        "submission_key": "acme:cancel:V0" + "X" * 180,
    }
    return CancelPlan.model_validate({**fields, **changes})


def test_the_choice_modal_fits_and_offers_shopifys_reasons() -> None:
    view = cancel_choice_view(conversation(), ORDER, "C0SUPPORT", "1764000000.000100")

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    assert json.loads(view["private_metadata"])["refundable"] == {
        "amount": "99999989.99",
        "currency": BRL,
    }
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    reasons = [o["value"] for o in blocks["reason"]["element"]["options"]]
    assert reasons == ["CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"]
    options = blocks["options"]["element"]
    assert [o["value"] for o in options["options"]] == ["restock", "refund", "notify"]
    assert "99999989.99 BRL" in options["options"][1]["text"]["text"]


def test_the_confirmation_says_exactly_what_will_happen_within_slacks_limits() -> None:
    shown = plan()
    metadata = {
        "ch": "C0SUPPORT",
        "ts": "1764000000.000100",
        "plan": shown.model_dump(mode="json", exclude={"submission_key", "requested_by"}),
    }
    view = cancel_confirm_view(shown, metadata, None)

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "*Refund:* 129.90 BRL back to the original payment" in text
    assert "items restocked" in text
    assert "Shopify emails them the cancellation" in text
    assert "items are out of stock" in text
    assert "&lt;@U0EVERYONE&gt;" in text, "the note escaped: no mention"
    assert view["submit"]["text"] == "Cancel order"
    assert "limit" not in text


def test_without_refund_nor_restock_the_confirmation_says_so() -> None:
    shown = plan(refund=False, restock=False, notify_customer=False, note="")
    text = json.dumps(cancel_confirm_view(shown, {}, None), ensure_ascii=False)
    assert "*Refund:* none" in text
    assert "items not restocked" in text
    assert "not told by Shopify" in text
    assert "Staff note" not in text


def test_above_the_limit_the_confirmation_says_a_second_person_approves() -> None:
    view = cancel_confirm_view(plan(), {}, Money(amount=Decimal(100), currency=BRL))
    assert view["submit"]["text"] == "Ask for approval"
    assert "above the shop's limit of 100.00 BRL" in json.dumps(view, ensure_ascii=False)


def test_the_notes_fit_and_the_approval_button_carries_the_key_whole() -> None:
    shown = plan()
    held = cancel_awaiting_approval_note(shown, Money(amount=Decimal(100), currency=BRL))
    pending = CancelAccepted(job_id="gid://shopify/Job/1", job_done=False, order_cancelled=False)
    notes = [
        cancel_accepted_note(shown, pending, "U0BOB"),
        cancel_refused_note(shown, "<!channel> " + "x" * 3000),
        held,
        cancel_approval_refused_note("U0ALICE", same_person=True),
    ]
    for note in notes:
        assert message_refusal({"channel": "C0SUPPORT", "blocks": note.blocks}) is None
    [button] = held.blocks[-1]["elements"]
    assert json.loads(button["value"])["key"] == shown.submission_key
    assert "<!channel>" not in json.dumps(notes[1].blocks)
    # Accepted but not cancelled yet: said so, as Shopify cancels in the background.
    assert "does not show as cancelled yet" in notes[0].text
    assert "approved by <@U0BOB>" in notes[0].text


def test_cancel_buttons_only_where_someone_may_act_and_only_for_open_unfulfilled_orders() -> None:
    shop = acme(commerce=CommerceConfig(shopify=ShopifyConfig(domain="acme.myshopify.com")))
    base = conversation()
    assert base.orders is not None
    orders = base.orders.orders
    changed = (
        orders[4].model_copy(update={"fulfilment_status": "unfulfilled"}),
        orders[3].model_copy(update={"fulfilment_status": "unfulfilled", "cancelled": True}),
        orders[2],
        orders[1].model_copy(update={"fulfilment_status": "unfulfilled"}),
    )
    with_orders = base.model_copy(
        update={"orders": base.orders.model_copy(update={"orders": changed})}
    )
    assert cancel_buttons(with_orders, shop) == []

    allowed = shop.model_copy(
        update={"commerce_actions": CommerceActionsConfig(allowed=["U0ALICE"])}
    )
    [block] = cancel_buttons(with_orders, allowed)
    # Of the three latest: #1044 (open, unfulfilled); #1043 is cancelled, #1042 fulfilled.
    assert [b["action_id"] for b in block["elements"]] == ["cancel_order#1044"]
    assert message_refusal({"channel": "C0SUPPORT", "blocks": [block]}) is None
