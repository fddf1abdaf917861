"""Refunds asked for from Slack, one item per modal submission (namespaced by the shop): the
claim that makes a double click, Slack's retry or a job's retry refund at most once, and the
state the refund moves through (held for approval, asked of the platform, done)."""

from datetime import datetime

from chalicelib.domain.refunds import RefundPlan, RefundQuote, RefundRecord, RefundState
from chalicelib.store._claimed_actions import claim, move_state
from chalicelib.store._table import DynamoDBClient, Item, Table, refund_key


def _record(item: dict[str, object]) -> RefundRecord:
    quote = item.get("quote")
    return RefundRecord(
        plan=RefundPlan.model_validate_json(str(item["plan"])),
        state=RefundState(str(item["state"])),
        quote=RefundQuote.model_validate_json(str(quote)) if quote else None,
        approved_by=str(item["approved_by"]) if item.get("approved_by") else None,
    )


class RefundClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_refund(self, plan: RefundPlan, now: datetime, expires_at: int) -> RefundRecord:
        """Files a submitted refund under its key, unless it is filed already: then the
        record filed first, as it is now."""
        values = {
            "plan": plan.model_dump_json(),
            "state": RefundState.CLAIMED.value,
            "claimed_at": now.isoformat(),
            "expires_at": expires_at,
        }
        filed = claim(self._table, refund_key(plan.shop_id, plan.submission_key), values)
        return RefundRecord(plan=plan) if filed is None else _record(filed)

    def refund_record(self, shop_id: str, submission_key: str) -> RefundRecord | None:
        item = self._table.get(refund_key(shop_id, submission_key))
        return _record(item) if item else None

    def move_refund(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        quote: RefundQuote | None = None,
        approved_by: str | None = None,
    ) -> bool:
        """Moves a refund from `before` to `after` (keeping a quote or an approver); False when
        it is no longer in `before` (another job moved it first) or is gone."""
        kept: Item = {}
        if quote is not None:
            kept["quote"] = quote.model_dump_json()
        if approved_by is not None:
            kept["approved_by"] = approved_by
        return move_state(
            self._table, refund_key(shop_id, submission_key), before.value, after.value, kept
        )
