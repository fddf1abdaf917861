"""Order cancellations asked for from Slack, one item per modal submission (namespaced by the
shop): the claim that makes a double click, Slack's retry or a job's retry cancel at most
once, and the state the cancellation moves through (held for approval, asked of the
platform, done)."""

from datetime import datetime

from chalicelib.domain.cancellations import CancelPlan, CancelRecord
from chalicelib.domain.refunds import RefundState
from chalicelib.store._claimed_actions import claim, move_state
from chalicelib.store._table import DynamoDBClient, Item, Table, cancel_key


def _record(item: dict[str, object]) -> CancelRecord:
    return CancelRecord(
        plan=CancelPlan.model_validate_json(str(item["plan"])),
        state=RefundState(str(item["state"])),
        approved_by=str(item["approved_by"]) if item.get("approved_by") else None,
    )


class CancelClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_cancel(self, plan: CancelPlan, now: datetime, expires_at: int) -> CancelRecord:
        """Files a submitted cancellation under its key, unless it is filed already: then the
        record filed first, as it is now."""
        values = {
            "plan": plan.model_dump_json(),
            "state": RefundState.CLAIMED.value,
            "claimed_at": now.isoformat(),
            "expires_at": expires_at,
        }
        filed = claim(self._table, cancel_key(plan.shop_id, plan.submission_key), values)
        return CancelRecord(plan=plan) if filed is None else _record(filed)

    def cancel_record(self, shop_id: str, submission_key: str) -> CancelRecord | None:
        item = self._table.get(cancel_key(shop_id, submission_key))
        return _record(item) if item else None

    def move_cancel(
        self,
        shop_id: str,
        submission_key: str,
        before: RefundState,
        after: RefundState,
        *,
        approved_by: str | None = None,
    ) -> bool:
        """Moves a cancellation from `before` to `after` (keeping its approver); False when it
        is no longer in `before` or is gone."""
        kept: Item = {"approved_by": approved_by} if approved_by is not None else {}
        return move_state(
            self._table, cancel_key(shop_id, submission_key), before.value, after.value, kept
        )
