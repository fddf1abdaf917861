"""Canned responses: a shop's saved replies, filled in for one conversation.

Placeholders are `{first_name}` (the customer's, from their WhatsApp profile), `{order_number}`
(the last order number the customer mentioned, or the one the agent typed), `{agent}` and
`{shop}`. A name the customer never gave leaves no gap: "Hi {first_name}, …" becomes "Hi, …".
The order placeholders (`{order_status}`, `{tracking_url}`, … see `domain.orders`) quote the
order the conversation is about, only ever the customer's own: without one, the response is
refused rather than sent with gaps.
"""

import re
import string
from collections.abc import Callable, Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.domain.orders import ORDER_PLACEHOLDERS

PLACEHOLDERS = frozenset({"first_name", "order_number", "agent", "shop"}) | ORDER_PLACEHOLDERS
# "#1042", "# 1042": how shops number orders, and how customers quote them.
_ORDER_NUMBER = re.compile(r"#\s?(\d{3,12})\b")


def placeholders_in(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def placeholder_check(allowed: frozenset[str]) -> Callable[[str], str]:
    """A validator for templates that may use the `allowed` placeholders only."""

    def check(value: str) -> str:
        try:
            used = placeholders_in(value)
        except ValueError as error:
            raise ValueError("unbalanced { or }: write {{ and }} for braces") from error
        unknown = used - allowed
        if unknown:
            names = ", ".join(f"{{{name}}}" for name in sorted(allowed))
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}: use {names}")
        return value

    return check


class CannedResponse(BaseModel):
    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    text: Annotated[str, AfterValidator(placeholder_check(PLACEHOLDERS))] = Field(
        min_length=1, max_length=1500
    )

    @property
    def needs_order_number(self) -> bool:
        return "order_number" in placeholders_in(self.text)

    @property
    def placeholders(self) -> set[str]:
        return placeholders_in(self.text)

    def render(
        self,
        *,
        first_name: str,
        order_number: str,
        agent: str,
        shop: str,
        **order: str,
    ) -> str:
        """The response filled in; `order` holds the order placeholders it uses."""
        return fill(
            self.text,
            **order,
            first_name=first_name,
            order_number=order_number,
            agent=agent,
            shop=shop,
        )


def fill(template: str, **values: str) -> str:
    """A template with its placeholders filled; an empty one leaves no gap behind."""
    filled = template.format(**values)
    # Neither a double space nor a space before punctuation.
    # (Each run is tried from its first character only: linear in the run's length.)
    filled = re.sub(r"(?<![ \t])[ \t]+([,.!?;:،।])", r"\1", filled)
    # "Obrigado, !" or "Köszönjük, , megkaptuk" left by a missing name.
    filled = re.sub(r"([,،])(?:\s*[,،])+", r"\1", filled)
    filled = re.sub(r"(?<![,،])[,،]+([.!?;:।])", r"\1", filled)
    return re.sub(r"[ \t]{2,}", " ", filled).strip()


def in_language(
    own: Mapping[str, str], shipped: Mapping[str, str], language: str, default: str
) -> str:
    """A wording in the customer's language: the shop's own, else the shipped one; then the
    same in the shop's default language, then in English."""
    for candidate in (language, default, "en"):
        if candidate in own:
            return own[candidate]
        if candidate in shipped:
            return shipped[candidate]
    return shipped["en"]


def first_name(customer_name: str | None) -> str:
    return (customer_name or "").split(" ")[0].strip()


def order_number_in(text: str) -> str | None:
    """The last order number a message quotes ("#1042"), if any."""
    found = _ORDER_NUMBER.findall(text)
    return found[-1] if found else None
