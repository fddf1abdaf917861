"""The loosely typed values of a call's parameters, read as what they should be."""

import json
from typing import Any


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def as_blocks(value: Any) -> list[Any]:
    # Form posts carry blocks as a JSON string, JSON posts as a real list.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def as_object(value: Any) -> dict[str, Any] | None:
    # Form posts carry an object (message metadata) as a JSON string, JSON posts as itself.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
