"""`chalice package --merge-template infra/template.json`, run as `make package` runs it (on
Python 3.13, the functions' runtime), makes one CloudFormation stack, offline, that cfn-lint
passes with zero errors; it encrypts data at rest, alarms on every function's errors and
every dead-letter queue, grants no wildcard action, creates things in the order they need,
and keeps what must outlive it. Its bundle holds every runtime dependency (the AWS SDK the
tests ran with and the time zone database included), runs on Python 3.13, and stays within
its size budget. No secret value is in the chalice config, the template or the stack: the
functions are told the name of the deployment's secret, which the stack creates and only
they may read."""

import fnmatch
import importlib.metadata
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

from chalicelib.bootstrap import AWS_SERVICES
from chalicelib.settings import DEPLOYMENT_SECRET, SECRET_VARIABLES
from tests.e2e.conftest import PROJECT_DIR
from tests.iam import Access, allows, listed
from threadline_cli.bundle import kept as bundled

BIN = Path(sys.executable).parent
# Where `make package` runs chalice: a virtualenv on Python 3.13 (the Makefile's).
PACKAGING = PROJECT_DIR / ".venv-package" / "bin"
RUNTIME = "python3.13"
# The bundle as `make package` makes it: 9.2 MB with the AWS SDK and its models of the eight
# services the functions call (29 MB with every model), twilio without its async stack and
# its products the adapter does not call (ADR 0009), then bytecode as far as DESIGN.md's
# budget of 10 MB allows (threadline_cli.bytecode).
ZIP_BUDGET_MB = 10
UNZIPPED_BUDGET_MB = 40


@dataclass(frozen=True)
class Packaging:
    out: Path
    output: str


@pytest.fixture(scope="module")
def packaging(tmp_path_factory: pytest.TempPathFactory) -> Packaging:
    # As operators package: `make package`, into a directory of the test's
    out = tmp_path_factory.mktemp("package") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ran = subprocess.run(
        ["make", "--no-print-directory", "package", f"PACKAGE_OUT={out}"],
        cwd=PROJECT_DIR,
        env={**env, "AWS_DEFAULT_REGION": "us-east-1"},
        check=True,
        capture_output=True,
        text=True,
        timeout=1500,
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
    assert len(queues) == 8
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
        for dimension in r["Properties"].get("Dimensions", [])
        if isinstance(dimension["Value"], dict)
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
    # (besides the functions': the scheduler's, and API Gateway's for its logs)
    assert len(roles) == 11
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
        (r["Properties"]["MetricName"], json.dumps(r["Properties"].get("Dimensions")))
        for r in found.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    depth = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    lost = [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert ("ApproximateNumberOfMessagesVisible", json.dumps(depth)) in alarmed
    assert ("DestinationDeliveryFailures", json.dumps(lost)) in alarmed


def template(packaged: Path) -> dict[str, Any]:
    return dict(json.loads((packaged / "sam.json").read_text()))


def of_type(found: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in found.items() if r["Type"] == kind}


def test_each_event_source_is_created_after_its_queue_or_topic(packaged: Path) -> None:
    # SAM makes each function's event source mapping (SQS) or subscription (SNS) from the
    # queue's or topic's ARN built by name, and makes it depend on the function only: the
    # function must wait for the queue or topic, or the first creation may fail.
    found = resources(packaged)
    named = {
        r["Properties"].get("QueueName") or r["Properties"].get("TopicName"): name
        for name, r in found.items()
        if r["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Topic")
    }
    sources = {
        function: named[
            event["Properties"]
            .get("Queue", event["Properties"].get("Topic"))["Fn::Sub"]
            .rsplit(":", 1)[1]
        ]
        for function, r in of_type(found, "AWS::Serverless::Function").items()
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] in ("SQS", "SNS")
    }
    assert len(sources) == 5
    for function, source in sources.items():
        assert source in found[function].get("DependsOn", []), function


def test_the_sqs_workers_concurrency_is_bounded_by_a_parameter(packaged: Path) -> None:
    found = template(packaged)
    parameter = found["Parameters"]["WorkerMaximumConcurrency"]
    assert parameter["MinValue"] == 2 <= parameter["Default"] <= parameter["MaxValue"]
    scaling = [
        event["Properties"].get("ScalingConfig")
        for r in of_type(found["Resources"], "AWS::Serverless::Function").values()
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert scaling == [{"MaximumConcurrency": {"Ref": "WorkerMaximumConcurrency"}}] * 3


def test_every_alarm_notifies_the_alarm_topic_given_or_created(packaged: Path) -> None:
    found = template(packaged)
    topic = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
    alarms = of_type(found["Resources"], "AWS::CloudWatch::Alarm")
    assert len(alarms) > 20
    assert {
        name: (a["Properties"].get("AlarmActions"), a["Properties"].get("OKActions"))
        for name, a in alarms.items()
    } == {name: ([topic], [topic]) for name in alarms}
    # The stack creates the topic when none is given
    assert found["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert found["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    assert found["Resources"]["AlarmTopic"]["Condition"] == "CreateAlarmTopic"


def test_stuck_queues_throttles_api_errors_and_mail_reputation_are_alarmed(packaged: Path) -> None:
    found = template(packaged)
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in of_type(found["Resources"], "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] != "ApproximateAgeOfOldestMessage"
    }
    # The age of the oldest message of each main queue: a stuck FIFO group
    aged = {
        dimension["Value"]["Fn::GetAtt"][0]
        for a in of_type(found["Resources"], "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"
        for dimension in a["Properties"]["Dimensions"]
    }
    assert aged == {"InboundQueue", "OutboundQueue", "TimersQueue"}
    # Lambda throttles, in the whole region (the functions share the account's quota)
    assert "Dimensions" not in watched[("AWS/Lambda", "Throttles")]
    # The API's 5xx, on the API and stage chalice deploys
    api = found["Resources"]["RestAPI"]["Properties"]
    assert watched[("AWS/ApiGateway", "5XXError")]["Dimensions"] == [
        {"Name": "ApiName", "Value": api["DefinitionBody"]["info"]["title"]},
        {"Name": "Stage", "Value": api["StageName"]},
    ]
    # SES's reputation, below the rates at which SES reviews the account (5%, 0.1%)
    assert watched[("AWS/SES", "Reputation.BounceRate")]["Threshold"] < 0.05
    assert watched[("AWS/SES", "Reputation.ComplaintRate")]["Threshold"] < 0.001


def test_every_function_logs_to_a_log_group_of_the_stack_made_before_it(packaged: Path) -> None:
    found = template(packaged)
    groups = {
        r["Properties"]["LogGroupName"]: (name, r["Properties"]["RetentionInDays"])
        for name, r in of_type(found["Resources"], "AWS::Logs::LogGroup").items()
    }
    functions = of_type(found["Resources"], "AWS::Serverless::Function")
    for name, function in functions.items():
        # A fixed name, so the group can be made first and named in the function's policy
        group = f"/aws/lambda/{function['Properties']['FunctionName']}"
        logical, retention = groups[group]
        assert retention == {"Ref": "LogRetentionDays"}
        assert logical in function["DependsOn"], name
        role = found["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
        [policy] = role["Properties"]["Policies"]
        stream = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:log-stream:1"
        assert allows(policy["PolicyDocument"], Access("logs:PutLogEvents", stream)), name
    assert found["Parameters"]["LogRetentionDays"]["Default"] == 30
    # The API's access logs too
    access = found["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    assert access["DestinationArn"]["Fn::GetAtt"][0] in {name for name, _ in groups.values()}


def test_raw_mail_expires_and_only_the_shops_mail_is_stored(packaged: Path) -> None:
    found = template(packaged)
    rules = found["Resources"]["MediaBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # Raw mail expires whatever its tags (mail for no shop, quarantined, a shop without
    # retention_days): S3 applies the shortest of the rules that match an object
    [raw] = [rule for rule in rules if rule.get("Prefix") == "inbound-mail/"]
    assert "TagFilters" not in raw
    assert raw["Status"] == "Enabled"
    assert raw["ExpirationInDays"] == {"Ref": "RawMailRetentionDays"}
    # SES stores mail for the shops' domains only, and with none given, no mail at all
    rule = found["Resources"]["StoreAndNotifyRule"]
    assert rule["Properties"]["Rule"]["Recipients"] == {"Ref": "MailDomains"}
    assert rule["Condition"] == "ReceivesMail"
    assert found["Parameters"]["MailDomains"]["Type"] == "CommaDelimitedList"


def test_the_api_answers_within_its_gateway_is_throttled_logged_and_has_one_stage(
    packaged: Path,
) -> None:
    found = template(packaged)
    # The handler gives up before API Gateway's 29 s integration timeout
    assert found["Resources"]["APIHandler"]["Properties"]["Timeout"] < 29
    api = found["Resources"]["RestAPI"]
    # An OpenApiVersion keeps SAM from adding a stage named "Stage" beside "api"
    assert api["Properties"]["OpenApiVersion"] == api["Properties"]["DefinitionBody"]["swagger"]
    [settings] = api["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    # Access logs need the account's API Gateway logging role, set before the stage
    assert "ApiGatewayLogging" in api["DependsOn"]
    logging_role = found["Resources"]["ApiGatewayLogging"]["Properties"]["CloudWatchRoleArn"]
    assert logging_role == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    # ... and name no customer: the route's template, never the path (which holds
    # customers' numbers and addresses) nor the caller's IP
    logged = json.loads(api["Properties"]["AccessLogSetting"]["Format"])
    assert "$context.resourcePath" in logged.values()
    assert not {"$context.path", "$context.identity.sourceIp"} & set(logged.values())


def test_the_table_and_the_media_bucket_outlive_the_stack(packaged: Path) -> None:
    found = resources(packaged)
    for kept in ("ThreadlineTable", "MediaBucket"):
        assert (found[kept]["DeletionPolicy"], found[kept]["UpdateReplacePolicy"]) == (
            "Retain",
            "Retain",
        )
    assert found["ThreadlineTable"]["Properties"]["DeletionProtectionEnabled"] is True


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
            # (less the SDK's models of services no function calls, trimmed on purpose)
            wanted = {path for path in installed if bundled(path)}
            assert wanted <= names, f"{name} is bundled incompletely"


def test_the_bundle_holds_no_development_tool(packaging: Packaging) -> None:
    # The local stack, the operators' CLI and its libraries are never deployed.
    with zipfile.ZipFile(packaging.out / "deployment.zip") as bundle:
        tops = {name.split("/")[0] for name in bundle.namelist()}
        chalicelib = {name for name in bundle.namelist() if name.startswith("chalicelib/")}
    assert not tops & {"local_stack", "threadline_cli", "typer", "rich"}
    assert not {top for top in tops if top.startswith(("typer-", "rich-"))}
    assert not {
        name
        for name in chalicelib
        if name.startswith("chalicelib/local/")
        or name in {"chalicelib/cli.py", "chalicelib/doctor.py"}
    }
    assert "chalicelib/bootstrap.py" in chalicelib


def test_every_function_runs_on_python_3_13_with_time_zones_from_the_bundle(
    packaged: Path,
) -> None:
    functions = of_type(resources(packaged), "AWS::Serverless::Function")
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {RUNTIME}
    # An empty search path: zoneinfo reads only the bundled tzdata, never the OS image's
    assert {
        f["Properties"]["Environment"]["Variables"]["PYTHONTZPATH"] for f in functions.values()
    } == {""}


BUNDLE_CHECK = """
import json, sys
from pathlib import Path
from zoneinfo import ZoneInfo

import boto3, botocore, pydantic_core
import app
from chalicelib import bootstrap
from chalicelib.services import mail_intake, reports
from chalicelib.channels import email, slack, twilio

ZoneInfo("America/Sao_Paulo")
for service in sorted(bootstrap.AWS_SERVICES):
    boto3.client(service, region_name="eu-west-1")
from twilio.request_validator import RequestValidator
from twilio.rest import Client
twilio = Client("AC" + "0" * 32, "token")
used = (twilio.messages, twilio.incoming_phone_numbers, twilio.applications,
        twilio.messaging.v1.services, twilio.messaging.v2.channels_senders)
try:
    import aiohttp
    async_stack = True
except ImportError:
    async_stack = False
print(json.dumps({
    "twilio": [type(product).__name__ for product in used],
    "aiohttp": async_stack,
    "python": list(sys.version_info[:2]),
    "handlers": sorted(app.app.handler_map),
    "sdk": {"boto3": boto3.__version__, "botocore": botocore.__version__},
    "sdk_from": [str(Path(m.__file__).parents[1]) for m in (boto3, botocore)],
    "models": sorted(p.name for p in (Path(botocore.__file__).parent / "data").iterdir()
                     if p.is_dir()),
}))
"""


def test_the_bundle_runs_on_python_3_13_with_the_sdk_the_tests_ran_with(
    packaging: Packaging, tmp_path: Path
) -> None:
    # Given the bundle unpacked as Lambda does, on Python 3.13 with nothing else on its path
    # (no site-packages, no time zones from the OS)
    task = tmp_path / "task"
    with zipfile.ZipFile(packaging.out / "deployment.zip") as bundle:
        bundle.extractall(task)
    ran = subprocess.run(
        [str(PACKAGING / "python"), "-S", "-c", BUNDLE_CHECK],
        cwd=tmp_path,
        env={"PYTHONPATH": str(task), "PYTHONTZPATH": "", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout)
    # Then the app and its handlers' modules import (compiled wheels built for 3.13) ...
    assert found["python"] == [3, 13]
    assert "process_inbound" in found["handlers"]
    # ... with the SDK the tests ran with, from the bundle, not the runtime's own
    assert found["sdk"] == {
        name: importlib.metadata.version(name) for name in ("boto3", "botocore")
    }
    assert found["sdk_from"] == [str(task)] * 2
    # ... and a client of every service the functions call is made from its models there
    assert found["models"] == sorted(AWS_SERVICES)
    # ... and twilio's client reaches every product the adapter calls, without aiohttp
    assert found["twilio"] == [
        "MessageList",
        "IncomingPhoneNumberList",
        "ApplicationList",
        "ServiceList",
        "ChannelsSenderList",
    ]
    assert found["aiohttp"] is False


def test_the_bundle_stays_within_its_size_budget(packaging: Packaging) -> None:
    deployment = packaging.out / "deployment.zip"
    with zipfile.ZipFile(deployment) as bundle:
        unzipped = sum(member.file_size for member in bundle.infolist())
    assert deployment.stat().st_size < ZIP_BUDGET_MB * 1_000_000
    assert unzipped < UNZIPPED_BUDGET_MB * 1_000_000


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
    """Whether an IAM statement may act on the ARN: one of its actions is of the ARN's
    service (a statement of another service's actions on `*`, such as Comprehend's, which
    has no resources, cannot) and its resources match (IAM's `*` and `?` as fnmatch's)."""
    service = arn.split(":")[2]
    named = statement["Action"]
    actions = named if isinstance(named, list) else [named]
    if not any(fnmatch.fnmatchcase(service, action.split(":")[0]) for action in actions):
        return False
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


def test_the_bundle_carries_bytecode_lambdas_python_reads_without_its_source(
    packaging: Packaging,
) -> None:
    # Lambda's task directory is read-only: bytecode the bundle lacks is compiled at every
    # cold start. The 3.13 interpreter's magic number, and hash-based unchecked flags (1).
    magic = subprocess.run(
        [
            str(PACKAGING / "python"),
            "-c",
            "import importlib.util, sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with zipfile.ZipFile(packaging.out / "deployment.zip") as bundle:
        names = set(bundle.namelist())
        compiled = {name for name in names if name.endswith(".cpython-313.pyc")}
        # the app's own modules first, the intake's among them
        assert {
            "__pycache__/app.cpython-313.pyc",
            "chalicelib/__pycache__/bootstrap.cpython-313.pyc",
            "chalicelib/services/__pycache__/intake.cpython-313.pyc",
        } <= compiled
        for name in compiled:
            header = bundle.read(name)[:8]
            assert header[:4] == magic, name
            assert int.from_bytes(header[4:8], "little") == 1, name
    assert "bytecode of" in packaging.output
