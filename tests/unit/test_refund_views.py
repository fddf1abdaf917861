"""What Slack shows of refunds stays within Block Kit's limits whatever Shopify or the agent
wrote (long titles, ten lines, RTL text, Slack's control characters), and says exactly what
will happen: the lines, the amount and currency, the reason, whether the customer is told,
and that a second person must approve above the limit."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.orders import LookupOutcome, Money, Order, OrderSummary
from chalicelib.domain.refunds import (
    REASON_MAX,
    RefundableLine,
    RefundableOrder,
    RefundDone,
    RefundLine,
    RefundPlan,
)
from chalicelib.domain.shop import CommerceActionsConfig, CommerceConfig, ShopifyConfig
from chalicelib.presentation.refunds import (
    approval_refused_note,
    awaiting_approval_note,
    refund_buttons,
    refund_choice_view,
    refund_confirm_view,
    refund_done_note,
    refund_refused_note,
    refusal_view,
)
from local_stack.slack_limits import message_refusal, view_refusal
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
BRL = "BRL"
TITLE = "Jaqueta <b>&| " + "ج" * 240
LINES = tuple(
    RefundableLine(
        line_item_id=f"gid://shopify/LineItem/{10_000_000_000 + n}",
        title=TITLE[:255],
        refundable_quantity=99_999,
        unit_price=Money(amount=Decimal("99999999.99"), currency=BRL),
    )
    for n in range(10)
)
ORDER = RefundableOrder(
    order_id="gid://shopify/Order/" + "9" * 20,
    number="9" * 20,
    total=Money(amount=Decimal("99999999.99"), currency=BRL),
    refunded=Money(amount=Decimal("10.00"), currency=BRL),
    lines=LINES,
)


def plan(**changes: object) -> RefundPlan:
    fields: dict[str, object] = {
        "shop_id": "acme",
        "conversation_ref": "acme:01JCONVERSATION",
        "order_number": "9" * 20,
        "order_id": ORDER.order_id,
        "lines": tuple(
            RefundLine(line_item_id=line.line_item_id, title=line.title[:60], quantity=2)
            for line in LINES
        ),
        "amount": Money(amount=Decimal("129.90"), currency=BRL),
        "reason": "<@U0EVERYONE> " + "ع" * (REASON_MAX - 14),
        "notify_customer": True,
        "requested_by": "U0ALICE",
        "submission_key": "acme:refund:V0" + "X" * 180,
    }
    return RefundPlan.model_validate({**fields, **changes})


def conversation() -> Conversation:
    orders = OrderSummary(
        outcome=LookupOutcome.FOUND,
        checked_at=datetime(2026, 11, 24, tzinfo=UTC),
        orders=tuple(
            Order(
                number=str(1040 + n),
                placed_at=datetime(2026, 11, 1 + n, tzinfo=UTC),
                total=Money(amount=Decimal("10"), currency=BRL),
                payment_status="refunded" if n == 3 else "paid",
                fulfilment_status="fulfilled",
            )
            for n in range(5)
        ),
    )
    return Conversation.model_validate(
        {
            "shop_id": "acme",
            "conversation_id": "01JCONVERSATION",
            "customer_address": "+5511987654321",
            "shop_address": "+5511900000000",
            "channel": "sms",
            "created_at": "2026-11-24T09:00:00Z",
            "updated_at": "2026-11-24T09:00:00Z",
            "last_customer_message_at": "2026-11-24T09:00:00Z",
            "slack_team_id": "T0TEAM",
            "slack_channel_id": "C0SUPPORT",
            "slack_thread_ts": "1764000000.000100",
            "orders": orders.model_dump(mode="json"),
        }
    )


def test_the_choice_modal_fits_with_ten_long_lines_and_keeps_its_metadata_whole() -> None:
    view = refund_choice_view(conversation(), ORDER, "C0SUPPORT", "1764000000.000100")

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    assert len(json.loads(view["private_metadata"])["lines"]) == 10
    lines = view["blocks"][1]["element"]
    assert len(lines["options"]) == 10
    assert lines["initial_options"] == lines["options"], "the whole order unless narrowed"


def test_lines_with_nothing_left_are_not_offered() -> None:
    refunded = LINES[0].model_copy(update={"refundable_quantity": 0})
    order = ORDER.model_copy(update={"lines": (refunded, LINES[1])})
    view = refund_choice_view(conversation(), order, "C0SUPPORT", "1764000000.000100")
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["0"]
    assert json.loads(view["private_metadata"])["lines"][0][0] == LINES[1].line_item_id


def test_the_confirmation_says_exactly_what_will_happen_within_slacks_limits() -> None:
    shown = plan()
    metadata = {
        "ch": "C0SUPPORT",
        "ts": "1764000000.000100",
        "plan": shown.model_dump(mode="json", exclude={"submission_key", "requested_by"}),
    }
    view = refund_confirm_view(shown, metadata, None)

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Refund 129.90 BRL* to the customer's original payment" in text
    assert "2 × Jaqueta &lt;b&gt;&amp;|" in text, "Shopify's titles escaped"
    assert "&lt;@U0EVERYONE&gt;" in text, "the reason escaped: no mention"
    assert "Shopify emails them the refund" in text
    assert view["submit"]["text"] == "Refund 129.90 BRL"
    assert "limit" not in text


def test_above_the_limit_the_confirmation_says_a_second_person_approves() -> None:
    limit = Money(amount=Decimal(200), currency=BRL)
    shown = plan(notify_customer=False, whole_order=True)
    view = refund_confirm_view(shown, {}, limit)
    text = json.dumps(view, ensure_ascii=False)
    assert view["submit"]["text"] == "Ask for approval"
    assert "Above the shop's limit of 200.00 BRL" in text
    assert "not told by Shopify" in text
    assert "the whole order #" in text


def test_the_notes_fit_and_the_approval_button_carries_the_key_whole() -> None:
    shown = plan()
    done = RefundDone(
        refund_id="gid://shopify/Refund/1",
        amount=shown.amount,
        order_refunded=shown.amount,
        financial_status="partially_refunded",
    )
    held = awaiting_approval_note(shown, Money(amount=Decimal(100), currency=BRL))
    notes = [
        refund_done_note(shown, done, "U0BOB"),
        refund_refused_note(shown, "<!channel> " + "x" * 3000),
        held,
        approval_refused_note("U0ALICE", same_person=True),
    ]
    for note in notes:
        assert message_refusal({"channel": "C0SUPPORT", "blocks": note.blocks}) is None
    [button] = held.blocks[-1]["elements"]
    assert json.loads(button["value"])["key"] == shown.submission_key
    assert "<!channel>" not in json.dumps(notes[1].blocks)


def test_refund_buttons_only_where_someone_may_act_and_only_for_refundable_orders() -> None:
    shop = acme(commerce=CommerceConfig(shopify=ShopifyConfig(domain="acme.myshopify.com")))
    assert refund_buttons(conversation(), shop) == []

    allowed = shop.model_copy(
        update={"commerce_actions": CommerceActionsConfig(allowed=["U0ALICE"])}
    )
    [block] = refund_buttons(conversation(), allowed)
    # The three latest, as on the card, but #1043, refunded already.
    assert [b["action_id"] for b in block["elements"]] == [
        "refund_order#1044",
        "refund_order#1042",
    ]
    assert message_refusal({"channel": "C0SUPPORT", "blocks": [block]}) is None


def test_a_refusal_is_a_modal_with_no_submit() -> None:
    view = refusal_view("You may not refund <here>")
    assert view_refusal(view) is None
    assert "submit" not in view
    assert "&lt;here&gt;" in json.dumps(view)
