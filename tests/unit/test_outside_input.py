"""Outside input read strictly: JSON of bounded nesting, whole numbers in ASCII digits."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.outside_input import (
    MAX_JSON_DEPTH,
    json_document,
    json_object,
    number_parameter,
    whole_number,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_document_or_a_bad_request(raw: bytes) -> None:
    reason = None
    try:
        json_document(raw)
    except BadRequest as refused:
        reason = refused.reason
    assert reason in (None, "body is not valid JSON", "body is nested too deeply")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (nested(100_000), "body is not valid JSON"),
        (nested(MAX_JSON_DEPTH + 1), "body is nested too deeply"),
        ('{"a": ' + nested(MAX_JSON_DEPTH) + "}", "body is nested too deeply"),
        ("[NaN]", "body is not valid JSON"),
        ("-Infinity", "body is not valid JSON"),
        ("1" * 5000, "body is not valid JSON"),
        (b"\xff\xfe\x00[", "body is not valid JSON"),
    ],
    ids=["recursion", "one level too deep", "deep inside", "NaN", "infinity", "huge", "utf-16"],
)
def test_what_json_cannot_carry_is_refused(raw: str | bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        json_document(raw)
    assert refused.value.reason == reason


def test_nesting_up_to_the_bound_is_read() -> None:
    assert json_document(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    assert json_object('{"address": "+5511987654321"}', "link") == {"address": "+5511987654321"}
    with pytest.raises(BadRequest, match="link is not a JSON object"):
        json_object("[]", "link")


@given(st.integers(0, 10**18 - 1))
def test_ascii_digits_are_their_number(number: int) -> None:
    assert whole_number(str(number)) == number
    assert whole_number(f"{number:019d}") is None  # more than 18 digits


@given(st.text(max_size=20))
def test_anything_but_ascii_digits_is_no_number(text: str) -> None:
    is_plain = text.isascii() and text.isdigit() and len(text) <= 18
    assert (whole_number(text) is not None) == is_plain


@pytest.mark.parametrize("given_", ["²", "٣", " 7", "7 ", "1_0", "+1", "-1", "", "0x1"])
def test_a_parameter_in_other_digits_or_forms_is_refused(given_: str) -> None:
    with pytest.raises(BadRequest, match="limit must be 1 to 100"):
        number_parameter({"limit": given_}, "limit", default=50, low=1, high=100)


def test_a_parameter_absent_is_its_default_and_present_is_bounded() -> None:
    assert number_parameter({}, "limit", default=50, low=1, high=100) == 50
    assert number_parameter({"limit": "100"}, "limit", default=50, low=1, high=100) == 100
    with pytest.raises(BadRequest):
        number_parameter({"limit": "101"}, "limit", default=50, low=1, high=100)


def depth_of(document: object) -> int:
    """How deep arrays and objects nest in `document`, counted the plain recursive way."""
    if isinstance(document, dict):
        return 1 + max(map(depth_of, document.values()), default=0)
    if isinstance(document, list):
        return 1 + max(map(depth_of, document), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=60,
)


@given(json_values, st.integers(min_value=0, max_value=MAX_JSON_DEPTH - 1))
def test_nesting_is_refused_exactly_beyond_the_bound(document: object, wrapped: int) -> None:
    # Wrapped in enough arrays to come near the bound from either side
    raw = "[" * wrapped + json.dumps(document) + "]" * wrapped
    depth = depth_of(document) + wrapped
    if depth > MAX_JSON_DEPTH:
        with pytest.raises(BadRequest, match="nested too deeply"):
            json_document(raw)
    else:
        assert json_document(raw) == json.loads(raw)
