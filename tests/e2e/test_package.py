"""`chalice package --merge-template infra/template.json` makes one CloudFormation stack,
offline, that cfn-lint passes with zero errors; it encrypts data at rest, alarms on every
function's errors and every dead-letter queue, and grants no wildcard action. Its bundle
holds every runtime dependency, and every function is told the media bucket."""

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROJECT_DIR
from tests.iam import Access, allows, listed

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Packaging:
    out: Path
    output: str


@pytest.fixture(scope="module")
def packaging(tmp_path_factory: pytest.TempPathFactory) -> Packaging:
    out = tmp_path_factory.mktemp("package") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ran = subprocess.run(
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
        text=True,
        timeout=600,
    )
    return Packaging(out=out, output=ran.stdout + ran.stderr)


@pytest.fixture(scope="module")
def packaged(packaging: Packaging) -> Path:
    return packaging.out


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
    assert len(queues) == 7
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
        "TellDeadLetters",
    }
    assert functions | dead_letters <= alarmed


def test_each_function_has_its_own_role_with_its_own_policy_and_no_wildcard_action(
    packaged: Path,
) -> None:
    found = resources(packaged)
    roles = {k: r for k, r in found.items() if r["Type"] == "AWS::IAM::Role"}
    functions = {k: r for k, r in found.items() if r["Type"] == "AWS::Serverless::Function"}
    # Each function assumes a role of its own, holding exactly its own policy file ...
    assumed = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(assumed)) == len(functions) == 9
    for name, function in functions.items():
        handler = function["Properties"]["Handler"].removeprefix("app.")
        own = {"app": "api_handler"}.get(handler, handler)  # the API handler is the app
        policy_file = PROJECT_DIR / ".chalice" / f"policy-dev-{own}.json"
        [policy] = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"]
        assert policy["PolicyDocument"] == json.loads(policy_file.read_text()), name
    # ... and no role (the scheduler's included) grants a wildcard action
    actions = [
        action
        for role in roles.values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        for action in listed(statement["Action"])
    ]
    assert len(roles) == 10
    assert [a for a in actions if "*" in a] == []


@pytest.mark.parametrize(
    ("function", "queue"),
    [("ReceiveMail", "MailDeadLetterQueue"), ("EmailEvents", "EmailEventsDeadLetterQueue")],
)
def test_each_sns_triggered_function_gives_up_onto_its_own_alarmed_queue_only_it_may_write(
    packaged: Path, function: str, queue: str
) -> None:
    found = resources(packaged)
    sns_triggered = {
        name
        for name, r in found.items()
        if r["Type"] == "AWS::Serverless::Function"
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] == "SNS"
    }
    assert sns_triggered == {"ReceiveMail", "EmailEvents"}
    # Lambda's record of a notification the function failed 3 times goes to a queue...
    [config] = [
        r["Properties"]
        for r in found.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert config["MaximumRetryAttempts"] == 2
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": [queue, "Arn"]}
    properties = found[queue]["Properties"]
    # ... a standard one (Lambda cannot send to FIFO), large enough for a whole SNS event
    assert "FifoQueue" not in properties
    assert properties["MaximumMessageSize"] == 1_048_576
    # ... which only the function's role may send to
    queue_arn = f"arn:aws:sqs:us-east-1:123456789012:{properties['QueueName']}"
    senders = {
        name
        for name, r in found.items()
        if r["Type"] == "AWS::IAM::Role"
        for policy in r["Properties"].get("Policies", [])
        if allows(policy["PolicyDocument"], Access("sqs:SendMessage", queue_arn))
    }
    assert senders == {f"{function}Role"}
    # ... and both its depth and a record Lambda could not deliver there are alarmed
    alarmed = {
        (r["Properties"]["MetricName"], json.dumps(r["Properties"]["Dimensions"]))
        for r in found.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    depth = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    lost = [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert ("ApproximateNumberOfMessagesVisible", json.dumps(depth)) in alarmed
    assert ("DestinationDeliveryFailures", json.dumps(lost)) in alarmed


def pinned_requirements() -> dict[str, str]:
    """requirements.txt's `name==version` lines, names as wheel metadata directories spell them."""
    pins = {}
    for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "_", name.strip()).lower()] = version.strip()
    return pins


def test_chalice_installs_every_runtime_dependency(packaging: Packaging) -> None:
    assert "Could not install dependencies" not in packaging.output
    with zipfile.ZipFile(packaging.out / "deployment.zip") as bundle:
        names = set(bundle.namelist())
        for name, version in pinned_requirements().items():
            record = f"{name}-{version}.dist-info/RECORD"
            assert record in names, f"{name}=={version} is not in the bundle"
            # A wheel's RECORD lists its files; those in site-packages must all be bundled.
            installed = [
                row.split(",")[0]
                for row in bundle.read(record).decode().splitlines()
                if row and not row.startswith("..")
            ]
            assert installed
            assert set(installed) <= names, f"{name} is bundled incompletely"


def test_every_function_is_given_the_media_bucket(packaged: Path) -> None:
    # Any handler may reach the container's media store (mail intake, erasure, sending).
    functions = {
        name: r["Properties"]["Environment"]["Variables"]
        for name, r in resources(packaged).items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) == 9
    assert {
        name: variables.get("THREADLINE_MEDIA_BUCKET") for name, variables in functions.items()
    } == {name: {"Ref": "MediaBucket"} for name in functions}
