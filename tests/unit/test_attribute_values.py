"""Items are written in DynamoDB's attribute values exactly as boto3's serializer writes
them, whatever shortcut the store takes for plain strings."""

from decimal import Decimal
from enum import StrEnum

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.store._table import to_attributes


class Colour(StrEnum):
    RED = "red"


plain = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text()
    | st.binary(min_size=1)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
)
values = st.recursive(
    plain,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=8))
def test_every_value_is_written_as_boto3_writes_it(item: dict[str, object]) -> None:
    serializer = TypeSerializer()
    assert to_attributes(item) == {name: serializer.serialize(v) for name, v in item.items()}


def test_strings_of_other_types_and_sets_go_through_boto3() -> None:
    item = {"colour": Colour.RED, "tags": {"a", "b"}, "blob": Binary(b"x"), "n": Decimal("1.5")}
    serializer = TypeSerializer()
    assert to_attributes(item) == {name: serializer.serialize(v) for name, v in item.items()}
    assert to_attributes({"empty": "", "rtl": "مرحبا"}) == {
        "empty": {"S": ""},
        "rtl": {"S": "مرحبا"},
    }


def test_what_dynamodb_cannot_take_is_refused_as_before() -> None:
    with pytest.raises(TypeError):
        to_attributes({"ratio": 1.5})
