"""The local stack's emulator writes DynamoDB's item answers as moto's handler built them,
without its generic serializer: the answers a client reads are the same, for every kind of
attribute value."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import BaseResponse
from moto.core.serialize import ResponseSerializer
from moto.dynamodb.responses import DynamoHandler

from local_stack.moto_patches import patch_emulator

TABLE = "answers"
EVERY_KIND = {
    "pk": {"S": "shop#ana"},
    "sk": {"S": "conversation#1"},
    "text": {"S": "שלום — Olá 👋"},
    "count": {"N": "12.5"},
    "photo": {"B": bytes(range(256))},
    "open": {"BOOL": True},
    "nothing": {"NULL": True},
    "history": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"B": b"\x00\xff"}}}]},
    "card": {"M": {"state": {"S": "sent"}, "ts": {"N": "1764000000.000100"}}},
    "tags": {"SS": ["vip", "late"]},
    "sizes": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"\x01", b"\x02\x03"]},
}
KEY = {"pk": EVERY_KIND["pk"], "sk": EVERY_KIND["sk"]}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch_emulator()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _item_calls(client: Any) -> list[dict[str, Any]]:
    """What the application asks of DynamoDB, each kind of item operation once."""
    answers = [
        client.put_item(TableName=TABLE, Item=EVERY_KIND, ReturnConsumedCapacity="TOTAL"),
        client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True),
        client.update_item(
            TableName=TABLE,
            Key=KEY,
            UpdateExpression="SET #c = #c + :one, card.#s = :state",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#c": "count", "#s": "state"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":state": {"S": "shown"}},
            ReturnValues="ALL_NEW",
        ),
        client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": EVERY_KIND["pk"]},
            Limit=1,
        ),
        client.scan(TableName=TABLE),
        client.batch_get_item(RequestItems={TABLE: {"Keys": [KEY]}}),
        client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": KEY}}]),
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": KEY,
                        "UpdateExpression": "SET #v = :v",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ExpressionAttributeValues": {":v": {"N": "2"}},
                    }
                }
            ]
        ),
        client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": EVERY_KIND}}]}),
        client.delete_item(TableName=TABLE, Key=KEY, ReturnValues="ALL_OLD"),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


def test_item_answers_read_the_same_as_through_motos_serializer(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _item_calls(dynamodb)
    monkeypatch.setattr(DynamoHandler, "serialized", BaseResponse.serialized)
    through_serializer = _item_calls(dynamodb)
    assert direct == through_serializer
    assert direct[1]["Item"]["photo"] == {"B": bytes(range(256))}
    assert direct[0]["ConsumedCapacity"]["TableName"] == TABLE


def test_item_answers_skip_the_serializer_and_refusals_still_read_as_refusals(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    serialize: Callable[..., Any] = ResponseSerializer.serialize
    used: list[str] = []

    def noting(self: Any, result: Any) -> Any:
        used.append(type(result).__name__)
        return serialize(self, result)

    monkeypatch.setattr(ResponseSerializer, "serialize", noting)
    _item_calls(dynamodb)
    assert used == []
    dynamodb.delete_item(TableName=TABLE, Key=KEY)
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=TABLE,
            Key=KEY,
            UpdateExpression="SET #v = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":v": {"N": "3"}},
        )


def test_an_update_expression_is_parsed_once_and_applied_to_each_item_anew(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.tokens import ExpressionTokenizer

    tokenize = ExpressionTokenizer.make_list
    tokenized: list[str] = []

    def noting(expression: str) -> Any:
        tokenized.append(expression)
        return tokenize(expression)

    monkeypatch.setattr(ExpressionTokenizer, "make_list", staticmethod(noting))
    expression = "SET #n = if_not_exists(#n, :zero) + :step, #who = :who REMOVE #gone"
    for conversation, step in (("1", "1"), ("2", "5"), ("1", "2")):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "shop#ana"}, "sk": {"S": f"conversation#{conversation}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#n": "count", "#who": "agent", "#gone": "draft"},
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":step": {"N": step},
                ":who": {"S": f"agent {step}"},
            },
        )
    assert tokenized.count(expression) == 1
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert {item["sk"]["S"]: (item["count"]["N"], item["agent"]["S"]) for item in items} == {
        "conversation#1": ("3", "agent 2"),
        "conversation#2": ("5", "agent 5"),
    }
    with pytest.raises(dynamodb.exceptions.ClientError, match="Invalid UpdateExpression"):
        dynamodb.update_item(TableName=TABLE, Key=KEY, UpdateExpression="SET = oops")
