"""`chalice package --merge-template infra/template.json` makes one CloudFormation stack,
offline, that cfn-lint passes with zero errors; it encrypts data at rest, alarms on every
function's errors and every dead-letter queue, and grants no wildcard action. Its bundle
holds every runtime dependency, and every function is told the media bucket. No secret value
is in the chalice config, the template or the stack: the functions are told the name of the
deployment's secret, which the stack creates and only they may read."""

import fnmatch
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

from chalicelib.settings import DEPLOYMENT_SECRET, SECRET_VARIABLES
from tests.e2e.conftest import PROJECT_DIR

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
    # Nine functions share the policy file; the scheduler role sends to its queue.
    assert len(roles) == 10
    assert "sqs:SendMessage" in actions
    assert [a for a in actions if "*" in a] == []


def test_the_mail_ingester_gives_up_onto_its_own_alarmed_queue_and_only_it_may_write_there(
    packaged: Path,
) -> None:
    found = resources(packaged)
    # Lambda's record of a notification the ingester failed 3 times goes to a queue...
    [config] = [r for r in found.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    properties = config["Properties"]
    assert properties["FunctionName"] == {"Ref": "ReceiveMail"}
    assert properties["MaximumRetryAttempts"] == 2
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]}
    queue = found["MailDeadLetterQueue"]["Properties"]
    # ... a standard one (Lambda cannot send to FIFO), large enough for a whole SNS event
    assert "FifoQueue" not in queue
    assert queue["MaximumMessageSize"] == 1_048_576
    # ... which only the ingester's role may send to, and nothing else
    policies = [r for r in found.values() if r["Type"] == "AWS::IAM::Policy"]
    assert [(p["Properties"]["Roles"], p["Properties"]["PolicyDocument"]) for p in policies] == [
        (
            [{"Ref": "ReceiveMailRole"}],
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "FailedMailRecords",
                        "Effect": "Allow",
                        "Action": ["sqs:SendMessage"],
                        "Resource": destination,
                    }
                ],
            },
        )
    ]
    assert found["ReceiveMailRole"]["Type"] == "AWS::IAM::Role"
    # ... and a record Lambda could not deliver there is alarmed too
    alarmed = {
        (r["Properties"]["MetricName"], json.dumps(r["Properties"]["Dimensions"]))
        for r in found.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    lost = [{"Name": "FunctionName", "Value": {"Ref": "ReceiveMail"}}]
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


def environments(config: dict[str, Any]) -> list[dict[str, str]]:
    """Every block of environment variables in a chalice config: the app's, each stage's,
    each function's in each stage."""
    stages = list(config.get("stages", {}).values())
    functions = [f for stage in stages for f in stage.get("lambda_functions", {}).values()]
    return [block.get("environment_variables", {}) for block in (config, *stages, *functions)]


def test_no_secret_value_is_in_the_config_the_template_or_the_stack(packaged: Path) -> None:
    secret_variables = set(SECRET_VARIABLES.values())
    # Given what is tracked: the chalice config and the template merged into the stack
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    template = json.loads((PROJECT_DIR / "infra" / "template.json").read_text())
    # Then no environment of the config carries a secret's value ...
    assert [sorted(secret_variables & set(block)) for block in environments(config)] == [
        [] for _ in environments(config)
    ]
    # ... and every function of the stack is told only the deployment secret's name
    found = resources(packaged)
    functions = {
        name: r["Properties"]["Environment"]["Variables"]
        for name, r in found.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) == 9
    for variables in functions.values():
        assert secret_variables & set(variables) == set()
        assert variables["THREADLINE_DEPLOYMENT_SECRET"] == DEPLOYMENT_SECRET
    # ... a secret the stack creates with its admin token generated, leaving the Slack
    # app's values for the operator: no value of it is in the template or the stack
    for resources_of in (template["Resources"], found):
        [secret] = [
            r for r in resources_of.values() if r.get("Type") == "AWS::SecretsManager::Secret"
        ]
        properties = secret["Properties"]
        assert properties["Name"] == DEPLOYMENT_SECRET
        assert "SecretString" not in properties
        generated = properties["GenerateSecretString"]
        assert generated["GenerateStringKey"] == "admin_token"
        assert generated["PasswordLength"] >= 32
        assert json.loads(generated["SecretStringTemplate"]) == {
            "slack_signing_secret": "",
            "slack_client_id": "",
            "slack_client_secret": "",
        }


def reaches(statement: dict[str, Any], arn: str) -> bool:
    """Whether an IAM statement's resources match the ARN (IAM's `*` and `?` as fnmatch's)."""
    listed = statement["Resource"]
    resources = listed if isinstance(listed, list) else [listed]
    return any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources)


def test_the_functions_may_read_the_deployment_secret_and_nothing_else_may_reach_it(
    packaged: Path,
) -> None:
    # Given the secret's ARN as Secrets Manager makes it (its name and 6 random characters)
    arn = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{DEPLOYMENT_SECRET}-AbC123"
    statements = [
        statement
        for r in resources(packaged).values()
        if r["Type"] == "AWS::IAM::Role"
        for policy in r["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    # When the roles' statements that reach it are looked up
    reaching = [statement for statement in statements if reaches(statement, arn)]
    # Then the functions may read it, and do nothing else to it
    assert reaching
    assert {json.dumps(statement["Action"]) for statement in reaching} == {
        json.dumps(["secretsmanager:GetSecretValue"])
    }
    # And a secret whose name only begins the same is out of their reach
    longer = arn.replace("-AbC123", "-staging-AbC123")
    assert [statement for statement in statements if reaches(statement, longer)] == []
