"""The sandbox's Bedrock stand-in answers boto3's bedrock-runtime client as Converse does:
a tool call for the triage asked, and the service's errors for what it refuses."""

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.domain.triage.record import TriageContext
from chalicelib.triage_engines.bedrock import TOOL_NAME, answer_of, converse_request
from local_stack.sandbox.bedrock import BedrockStandIn
from local_stack.sandbox.outbox import Outbox

MODEL = "amazon.nova-micro-v1:0"


@pytest.fixture
def stand_in() -> Iterator[BedrockStandIn]:
    bedrock = BedrockStandIn(Outbox())
    bedrock.start()
    yield bedrock
    bedrock.stop()


@pytest.fixture
def client(stand_in: BedrockStandIn) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=stand_in.base_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def request(text: str = "Onde está meu pedido?", **changes: Any) -> dict[str, Any]:
    return {**converse_request(MODEL, text, "pt", TriageContext()), **changes}


def error_of(client: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as refused:
        client.converse(**params)
    response = refused.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_it_answers_the_forced_tool_with_a_valid_triage(client: Any) -> None:
    answer = answer_of(client.converse(**request("Cadê meu pedido???")))

    assert answer.intent.value == "order_status"


def test_it_refuses_as_bedrock_does(client: Any, stand_in: BedrockStandIn) -> None:
    unknown_model = request(modelId="anthropic.claude-nonexistent-v9:0")
    assert error_of(client, **unknown_model) == ("ValidationException", 400)
    other_tool = request()
    other_tool["toolConfig"] = {**other_tool["toolConfig"], "toolChoice": {"tool": {"name": "x"}}}
    assert error_of(client, **other_tool) == ("ValidationException", 400)
    assistant_first = request(messages=[{"role": "assistant", "content": [{"text": "Oi"}]}])
    assert error_of(client, **assistant_first) == ("ValidationException", 400)
    stand_in.throttle()
    assert error_of(client, **request()) == ("ThrottlingException", 429)


def test_an_unsigned_request_is_refused(stand_in: BedrockStandIn) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "Oi"}]}]}).encode()
    unsigned = urllib.request.Request(
        f"{stand_in.base_url}/model/{MODEL}/converse", data=body, method="POST"
    )
    unsigned.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 403
    assert TOOL_NAME not in refused.value.read().decode()
