"""Canned responses: templates checked when the shop is saved, filled in without gaps."""

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.canned import CannedResponse, first_name, order_number_in
from chalicelib.domain.shop import ShopDocument

pytestmark = pytest.mark.unit

SHOP = {"name": "Toko Batik", "slack": {"team_id": "T0123ABC", "channel_id": "C0123ABC"}}


def fill(text: str, **values: str) -> str:
    defaults = {"first_name": "", "order_number": "", "agent": "Sari", "shop": "Toko Batik"}
    return CannedResponse(name="x", text=text).render(**(defaults | values))


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        (
            "Halo {first_name}, pesanan #{order_number} sudah dikirim.",
            {"first_name": "Budi", "order_number": "1042"},
            "Halo Budi, pesanan #1042 sudah dikirim.",
        ),
        ("Halo {first_name}, terima kasih!", {}, "Halo, terima kasih!"),
        ("Obrigado, {first_name}!", {}, "Obrigado!"),
        ("शुक्रिया {first_name}!", {"first_name": "राहुल"}, "शुक्रिया राहुल!"),
        ("شكراً {first_name}، طلبك في الطريق", {}, "شكراً، طلبك في الطريق"),
        ("Köszönjük! {agent}, {shop}", {}, "Köszönjük! Sari, Toko Batik"),
        ("Use {{braces}} literally", {}, "Use {braces} literally"),
    ],
)
def test_a_response_is_filled_in_without_gaps(
    template: str, values: dict[str, str], expected: str
) -> None:
    assert fill(template, **values) == expected


@pytest.mark.parametrize(
    "canned",
    [
        {"name": "x", "text": "Hi {customer}"},
        {"name": "x", "text": "Hi {first_name"},
        {"name": "x", "text": "Hi {0}"},
        {"name": "Has Spaces", "text": "Hi"},
        {"name": "x", "text": ""},
    ],
)
def test_a_broken_response_is_refused_when_the_shop_is_saved(canned: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate({**SHOP, "canned_responses": [canned]})
    assert error.value.errors()[0]["loc"][0] == "canned_responses"


def test_response_names_are_unique_within_a_shop() -> None:
    twice = [{"name": "thanks", "text": "Thanks!"}, {"name": "thanks", "text": "Ta!"}]
    with pytest.raises(ValidationError, match="unique: thanks"):
        ShopDocument.model_validate({**SHOP, "canned_responses": twice})


def test_a_response_knows_whether_it_needs_the_order_number() -> None:
    assert CannedResponse(name="a", text="#{order_number} shipped").needs_order_number
    assert not CannedResponse(name="b", text="Thanks {first_name}").needs_order_number


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Where is my order #10423?", "10423"),
        ("pedido # 5521 e depois #5522", "5522"),
        ("Call me at 555 1234", None),
        ("#12 is too short", None),
    ],
)
def test_the_last_quoted_order_number_is_found(text: str, found: str | None) -> None:
    assert order_number_in(text) == found


def test_the_first_name_is_the_first_word_of_the_profile_name() -> None:
    assert first_name("Ana Souza") == "Ana"
    assert first_name(None) == ""
