"""Refunds asked for from Slack, one item per modal submission (namespaced by the shop): the
claim that makes a double click, Slack's retry or a job's retry refund at most once, and the
state the refund moves through (held for approval, asked of the platform, done)."""

from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.domain.refunds import RefundPlan, RefundQuote, RefundRecord, RefundState
from chalicelib.store._table import (
    DynamoDBClient,
    Table,
    condition_failed,
    from_attributes,
    refund_key,
    to_attributes,
)


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
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={**refund_key(plan.shop_id, plan.submission_key), **to_attributes(values)},
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return _record(from_attributes(error.response["Item"]))
        return RefundRecord(plan=plan)

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
        names = {"#state": "state"}
        values: dict[str, object] = {":before": before.value, ":after": after.value}
        assignments = ["#state = :after"]
        if quote is not None:
            names["#quote"] = "quote"
            values[":quote"] = quote.model_dump_json()
            assignments.append("#quote = :quote")
        if approved_by is not None:
            names["#approved_by"] = "approved_by"
            values[":approved_by"] = approved_by
            assignments.append("#approved_by = :approved_by")
        try:
            self._table.client.update_item(
                TableName=self._table.name,
                Key=refund_key(shop_id, submission_key),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_exists(PK) AND #state = :before",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_attributes(values),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
