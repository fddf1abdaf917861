"""What callers and providers send, read strictly in one place: a JSON document (its nesting
bounded, any failure to parse it a 400) and a whole number written in ASCII digits (query
parameters, headers, form fields). Malformed input stops here as a `BadRequest` (or as None,
for the caller to refuse in its own words), never later as a 5xx.

`json.loads` fails on deep nesting with a `RecursionError`, which is no `ValueError`;
`str.isdigit` accepts "²", which `int` refuses; `int` accepts " 7", "٧" and "1_000".
"""

import json
import re
from typing import Any

from chalicelib.domain.errors import BadRequest

# Deeper than anything Threadline, Slack or an admin client sends; refused before any code
# walks the document.
MAX_JSON_DEPTH = 32
# Whole numbers of up to 18 digits fit a signed 64-bit integer (DynamoDB's and Slack's).
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def json_document(raw: bytes | str, what: str = "body") -> Any:
    """`raw` parsed as JSON (UTF-8, -16 or -32), nested at most `MAX_JSON_DEPTH` deep."""
    try:
        document = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError is a ValueError; RecursionError comes from deep nesting.
        raise BadRequest(f"{what} is not valid JSON") from error
    if _nested_deeper_than(document, MAX_JSON_DEPTH):
        raise BadRequest(f"{what} is nested too deeply")
    return document


def json_object(raw: bytes | str, what: str = "body") -> dict[str, Any]:
    """`raw` parsed as a JSON object (see `json_document`)."""
    document = json_document(raw, what)
    if not isinstance(document, dict):
        raise BadRequest(f"{what} is not a JSON object")
    return document


def _nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep; walked with a list, not by
    recursion, so the walk itself cannot overflow."""
    # Only arrays and objects are queued: a document's many strings and numbers cost nothing.
    pending: list[tuple[Any, int]] = [(document, 1)] if isinstance(document, dict | list) else []
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def whole_number(value: str) -> int | None:
    """`value` as a whole number when it is one in ASCII digits alone (no sign, spaces,
    underscores or other scripts' digits, at most 18 of them); None otherwise."""
    return int(value) if _WHOLE_NUMBER.fullmatch(value) else None


def number_parameter(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name` as a whole number from `low` to `high`, `default` when it
    is absent; anything else is refused."""
    given = query.get(name)
    if given is None:
        return default
    number = whole_number(given)
    if number is None or not low <= number <= high:
        raise BadRequest(f"{name} must be {low} to {high}")
    return number
