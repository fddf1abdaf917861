"""Text that must stay on one line: a mail header, and what becomes one (a shop's name, the
subject of a message it sends, a customer's name or subject read from a mail).

A line break in a header value would end the header (RFC 5322), so the standard library
refuses to write one, and the reply carrying it fails on every retry. Input from people we
trust to fix it (the admin API) is refused; what arrives from outside (mail) is cleaned.
"""

import re
from typing import Annotated

from pydantic import AfterValidator

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, and any run of whitespace, collapsed into one space.
_BREAKS = re.compile("[\\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def single_line(text: str) -> str:
    """`text` on one line: control characters, line breaks and runs of whitespace become one
    space; the ends are trimmed."""
    return _BREAKS.sub(" ", text).strip()


def _refuse_line_breaks(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line, without line breaks or control characters")
    return value


# A field that becomes a mail header: refused (400) when it holds a line break.
SingleLine = Annotated[str, AfterValidator(_refuse_line_breaks)]
