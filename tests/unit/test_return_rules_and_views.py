"""Returns from Slack: the rule that decides whether a confirmed return still goes, and what
Slack shows of it within Block Kit's limits (ten long RTL titles, Slack's control characters
in the note), saying exactly what comes back and that nothing is refunded; the Slack limits
checker refuses a number input Slack would refuse."""

import json

import pytest

from chalicelib.domain.returns import (
    RETURN_NOTE_MAX,
    ReturnableLine,
    ReturnableOrder,
    ReturnCheck,
    ReturnLine,
    ReturnMade,
    ReturnPlan,
    ReturnReason,
    return_check,
)
from chalicelib.domain.shop import CommerceActionsConfig, CommerceConfig, ShopifyConfig
from chalicelib.presentation.returns import (
    return_buttons,
    return_choice_view,
    return_confirm_view,
    return_made_note,
    return_refused_note,
)
from local_stack.slack_limits import message_refusal, view_refusal
from tests.unit.test_refund_views import conversation
from tests.unit.use_cases import acme

pytestmark = pytest.mark.unit
TITLE = "Jaqueta <b>&| " + "ج" * 240
ORDER = ReturnableOrder(
    order_id="gid://shopify/Order/" + "9" * 20,
    number="9" * 20,
    lines=tuple(
        ReturnableLine(
            fulfillment_line_item_id=f"gid://shopify/FulfillmentLineItem/{10_000_000_000 + n}",
            title=TITLE[:255],
            quantity=99_999,
        )
        for n in range(10)
    ),
)


def plan(**changes: object) -> ReturnPlan:
    fields: dict[str, object] = {
        "shop_id": "acme",
        "conversation_ref": "acme:c1",
        "order_number": "1042",
        "order_id": "gid://shopify/Order/1042",
        "lines": (
            ReturnLine(fulfillment_line_item_id="F1", title="Camiseta <b>", quantity=2),
            ReturnLine(fulfillment_line_item_id="F2", title="Jaqueta", quantity=1),
        ),
        "reason": ReturnReason.SIZE_TOO_SMALL,
        "note": "<!channel> " + "ع" * (RETURN_NOTE_MAX - 11),
        "requested_by": "U0ALICE",
        "submission_key": "acme:return:V0" + "X" * 180,
    }
    return ReturnPlan.model_validate({**fields, **changes})


def returnable(f1: int, f2: int) -> ReturnableOrder:
    return ReturnableOrder(
        order_id="gid://shopify/Order/1042",
        number="1042",
        lines=(
            ReturnableLine(fulfillment_line_item_id="F1", title="Camiseta", quantity=f1),
            ReturnableLine(fulfillment_line_item_id="F2", title="Jaqueta", quantity=f2),
        ),
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (returnable(2, 1), ReturnCheck.GO),
        (returnable(5, 3), ReturnCheck.GO),
        (returnable(1, 1), ReturnCheck.CHANGED),
        (returnable(2, 0), ReturnCheck.CHANGED),
        (returnable(0, 0), ReturnCheck.NOTHING_LEFT),
    ],
)
def test_a_return_goes_only_while_every_line_can_still_be_returned(
    now: ReturnableOrder, expected: ReturnCheck
) -> None:
    assert return_check(plan(), now) is expected


def test_the_choice_modal_fits_with_ten_long_lines_and_keeps_its_metadata_whole() -> None:
    view = return_choice_view(conversation(), ORDER, "C0SUPPORT", "1764000000.000100")

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    assert len(json.loads(view["private_metadata"])["lines"]) == 10
    inputs = [b for b in view["blocks"] if b.get("block_id", "").startswith("qty")]
    assert len(inputs) == 10
    assert inputs[0]["element"]["max_value"] == "99999"
    assert [o["value"] for o in view["blocks"][-2]["element"]["options"]][:3] == [
        "DEFECTIVE",
        "NOT_AS_DESCRIBED",
        "WRONG_ITEM",
    ]


def test_the_confirmation_says_exactly_what_comes_back_within_slacks_limits() -> None:
    shown = plan()
    metadata = {
        "ch": "C0SUPPORT",
        "ts": "1764000000.000100",
        "plan": shown.model_dump(mode="json", exclude={"submission_key", "requested_by"}),
    }
    view = return_confirm_view(shown, metadata)

    assert view_refusal(view) is None
    assert len(view["private_metadata"]) <= 3000
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "2 × Camiseta &lt;b&gt;" in text
    assert "1 × Jaqueta" in text
    assert "size too small" in text
    assert "&lt;!channel&gt;" in text, "the note escaped: no mention"
    assert "nothing is refunded now" in text
    assert view["submit"]["text"] == "Open return"


def test_the_notes_fit_and_say_shopifys_answer() -> None:
    shown = plan()
    made = return_made_note(shown, ReturnMade(return_id="R1", name="#1042-R1", status="open"))
    refused = return_refused_note(shown, "<!here> " + "x" * 3000)
    for note in (made, refused):
        assert message_refusal({"channel": "C0SUPPORT", "blocks": note.blocks}) is None
    assert "return #1042-R1 is open" in made.text
    assert "<!here>" not in json.dumps(refused.blocks)


def test_return_buttons_only_where_someone_may_act_and_only_for_fulfilled_orders() -> None:
    shop = acme(commerce=CommerceConfig(shopify=ShopifyConfig(domain="acme.myshopify.com")))
    base = conversation()
    assert return_buttons(base, shop) == []
    assert base.orders is not None
    orders = base.orders.orders
    changed = (
        orders[4],
        orders[3].model_copy(update={"cancelled": True}),
        orders[2].model_copy(update={"fulfilment_status": "unfulfilled"}),
    )
    with_orders = base.model_copy(
        update={"orders": base.orders.model_copy(update={"orders": changed})}
    )
    allowed = shop.model_copy(
        update={"commerce_actions": CommerceActionsConfig(allowed=["U0ALICE"])}
    )
    [block] = return_buttons(with_orders, allowed)
    assert [b["action_id"] for b in block["elements"]] == ["return_order#1044"]
    assert message_refusal({"channel": "C0SUPPORT", "blocks": [block]}) is None


@pytest.mark.parametrize(
    "element",
    [
        {"type": "number_input", "action_id": "qty"},
        {"type": "number_input", "action_id": "qty", "is_decimal_allowed": False, "min_value": 0},
        {
            "type": "number_input",
            "action_id": "qty",
            "is_decimal_allowed": False,
            "min_value": "3",
            "max_value": "2",
        },
        {
            "type": "number_input",
            "action_id": "qty",
            "is_decimal_allowed": False,
            "max_value": "2",
            "initial_value": "1.5",
        },
    ],
)
def test_the_limits_checker_refuses_a_number_input_slack_would_refuse(
    element: dict[str, object],
) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Return"},
        "blocks": [
            {
                "type": "input",
                "block_id": "qty0",
                "label": {"type": "plain_text", "text": "How many"},
                "element": element,
            }
        ],
    }
    assert view_refusal(view) is not None
