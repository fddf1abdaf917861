"""Returns started from Slack, one item per modal submission (namespaced by the shop): the
claim that makes a double click, Slack's retry or a job's retry open at most one return, and
the state it moves through (asked of the platform, done)."""

from datetime import datetime

from chalicelib.domain.refunds import RefundState
from chalicelib.domain.returns import ReturnPlan, ReturnRecord
from chalicelib.store._claimed_actions import claim, move_state
from chalicelib.store._table import DynamoDBClient, Table, return_key


def _record(item: dict[str, object]) -> ReturnRecord:
    return ReturnRecord(
        plan=ReturnPlan.model_validate_json(str(item["plan"])),
        state=RefundState(str(item["state"])),
    )


class ReturnClaims:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def claim_return(self, plan: ReturnPlan, now: datetime, expires_at: int) -> ReturnRecord:
        """Files a submitted return under its key, unless it is filed already: then the record
        filed first, as it is now."""
        values = {
            "plan": plan.model_dump_json(),
            "state": RefundState.CLAIMED.value,
            "claimed_at": now.isoformat(),
            "expires_at": expires_at,
        }
        filed = claim(self._table, return_key(plan.shop_id, plan.submission_key), values)
        return ReturnRecord(plan=plan) if filed is None else _record(filed)

    def move_return(
        self, shop_id: str, submission_key: str, before: RefundState, after: RefundState
    ) -> bool:
        """Moves a return from `before` to `after`; False when it is no longer in `before` or
        is gone."""
        return move_state(
            self._table, return_key(shop_id, submission_key), before.value, after.value, {}
        )
