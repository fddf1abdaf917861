"""Drafts an agent can send: what a model is given to draft a reply from (the conversation's
latest lines, the customer's own orders as the conversation keeps them, the customer's
language), and what its answer must be. A draft is only ever shown to the agent who asked;
they edit it and send it as any reply."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.orders import LookupOutcome, OrderSummary, order_state

# A reply as long as a customer would read; longer is no draft, but a letter.
DRAFT_CHARACTERS = 1500
# The customer's orders the model is told of, latest first: the ones a question is about.
ORDERS_TOLD = 3


class ModelDraft(BaseModel):
    """A draft a model wrote, as its answer must be: anything else is malformed."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    reply: str

    def shown(self) -> str:
        """The draft's text, its ends trimmed and at most `DRAFT_CHARACTERS` characters."""
        text = self.reply.strip()
        return text if len(text) <= DRAFT_CHARACTERS else text[: DRAFT_CHARACTERS - 1] + "…"


@dataclass(frozen=True)
class NoDraft:
    """Why there is no draft, in a few words the agent is shown (never the model's text)."""

    reason: str


def customer_language(items: Iterable[Mapping[str, object]]) -> str | None:
    """The language of the customer's latest message whose triage is stored; None when none
    is."""
    latest: tuple[str, str] | None = None
    for item in items:
        if "agent_user_id" in item or not isinstance(item.get("triage"), str):
            continue
        try:
            language = json.loads(str(item["triage"])).get("language")
        except (ValueError, AttributeError):
            continue
        at = str(item.get("received_at", ""))
        if isinstance(language, str) and language and (latest is None or at >= latest[0]):
            latest = (at, language)
    return latest[1] if latest else None


def order_facts(orders: OrderSummary | None) -> list[str]:
    """The customer's latest orders as lines of facts (none when the platform found none).
    Only what the conversation keeps: the orders of this customer, never another's."""
    if orders is None or orders.outcome is not LookupOutcome.FOUND:
        return []
    lines = []
    for order in orders.orders[:ORDERS_TOLD]:
        facts = [
            f"order {order.name}",
            f"placed {order.placed_at.date().isoformat()}",
            f"total {order.total.shown()}",
            f"state {order_state(order).replace('_', ' ')}",
            f"payment {order.payment_status.replace('_', ' ')}",
        ]
        if order.carrier:
            facts.append(f"carrier {order.carrier}")
        if order.tracking_number:
            facts.append(f"tracking number {order.tracking_number}")
        if order.tracking_url:
            facts.append(f"tracking link {order.tracking_url}")
        if order.estimated_delivery:
            facts.append(f"expected {order.estimated_delivery.date().isoformat()}")
        lines.append(", ".join(facts))
    return lines
