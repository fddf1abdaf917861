"""The language a customer's app declares (Telegram's `from.language_code`, an IETF tag such
as "pt-br"), among those the shop answers in. It decides only where the text is no evidence
("hi", "??", an emoji): it stands in for the shop's default as the fallback of detection."""

import re
from collections.abc import Iterable

# A primary language subtag (ISO 639: two or three letters), then anything.
_PRIMARY = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")
MAX_TAG = 35


def declared_tag(value: object) -> str | None:
    """A platform's language tag as kept with a message: its primary subtag, lower case;
    None for anything that is not a tag."""
    if not isinstance(value, str) or len(value) > MAX_TAG:
        return None
    found = _PRIMARY.match(value.strip())
    return found.group(1).lower() if found else None


def fallback_language(declared: str | None, languages: Iterable[str], default: str) -> str:
    """The declared language when the shop answers in it, else the shop's default."""
    return declared if declared is not None and declared in set(languages) else default
