"""What refunds, cancellations and returns asked for from Slack share in the table: one item
per modal submission, filed once (a double click, Slack's retry or a job's retry finds the
first), then moved forward one state at a time, each move conditional on the state before."""

from botocore.exceptions import ClientError

from chalicelib.store._table import (
    Attributes,
    Item,
    Table,
    condition_failed,
    from_attributes,
    to_attributes,
)


def claim(table: Table, item_key: Attributes, values: Item) -> Item | None:
    """Files `values` under `item_key` unless something is filed there already: then that
    item, as it is now; None when this claim filed it."""
    try:
        table.client.put_item(
            TableName=table.name,
            Item={**item_key, **to_attributes(values)},
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not condition_failed(error):
            raise
        return from_attributes(error.response["Item"])
    return None


def move_state(table: Table, item_key: Attributes, before: str, after: str, kept: Item) -> bool:
    """Moves the item's `state` from `before` to `after`, setting `kept` alongside; False when
    it is no longer in `before` (another job moved it first) or is gone."""
    names = {"#state": "state"}
    values: Item = {":before": before, ":after": after}
    assignments = ["#state = :after"]
    for name, value in kept.items():
        names[f"#{name}"] = name
        values[f":{name}"] = value
        assignments.append(f"#{name} = :{name}")
    try:
        table.client.update_item(
            TableName=table.name,
            Key=item_key,
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
