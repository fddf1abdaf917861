"""`chalice package --merge-template infra/template.json` makes one CloudFormation stack,
offline, that cfn-lint passes with zero errors; it encrypts data at rest, alarms on every
function's errors and every dead-letter queue, and grants no wildcard action."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROJECT_DIR

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--stage",
            "dev",
            "--merge-template",
            "infra/template.json",
            str(out),
        ],
        cwd=PROJECT_DIR,
        env={**env, "AWS_DEFAULT_REGION": "us-east-1"},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def resources(packaged: Path) -> dict[str, Any]:
    return dict(json.loads((packaged / "sam.json").read_text())["Resources"])


def test_the_stack_passes_cfn_lint_with_zero_errors(packaged: Path) -> None:
    linted = subprocess.run(
        [str(BIN / "cfn-lint"), str(packaged / "sam.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_data_is_encrypted_at_rest(packaged: Path) -> None:
    found = resources(packaged)
    assert found["ThreadlineTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    queues = [r for r in found.values() if r["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 6
    assert all(q["Properties"]["SqsManagedSseEnabled"] for q in queues)
    bucket = found["MediaBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_every_function_and_dead_letter_queue_has_an_alarm(packaged: Path) -> None:
    found = resources(packaged)
    functions = {k for k, r in found.items() if r["Type"] == "AWS::Serverless::Function"}
    dead_letters = {k for k in found if k.endswith("DeadLetterQueue")}
    alarmed = {
        dimension["Value"].get("Ref") or dimension["Value"]["Fn::GetAtt"][0]
        for r in found.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for dimension in r["Properties"]["Dimensions"]
    }
    assert functions == {
        "APIHandler",
        "ProcessInbound",
        "ProcessOutbound",
        "ProcessTimers",
        "ReceiveMail",
        "EmailEvents",
        "RequeueUnprocessed",
        "PostDigests",
    }
    assert functions | dead_letters <= alarmed


def test_no_role_grants_a_wildcard_action(packaged: Path) -> None:
    roles = [r for r in resources(packaged).values() if r["Type"] == "AWS::IAM::Role"]
    statements = [
        statement
        for role in roles
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    actions = [
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    # Eight functions share the policy file; the scheduler role sends to its queue.
    assert len(roles) == 9
    assert "sqs:SendMessage" in actions
    assert [a for a in actions if "*" in a] == []
