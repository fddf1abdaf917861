"""Creates Threadline's AWS resources in the local emulator from infra/template.json.

The template is the one deployed to AWS. Entries without a `Type` are overlays that
`chalice package --merge-template` merges into chalice's own resources (the SQS event
sources' ReportBatchItemFailures); they describe nothing standalone and are left out here,
as are alarms and log groups, which mean nothing without CloudWatch, SES's rules and
configuration set, which the local SMTP server and SES stand-in replace, and the settings
of chalice's functions (the SNS-triggered ones' on-failure destinations) and of API
Gateway's account, which exist only in AWS.
moto's CloudFormation cannot create schedule groups or secrets: they are created through
their APIs instead, a secret's generated value as Secrets Manager would generate it. Nor SES
receipt rule sets: given an SES client, the template's rule
set is created through the API and made active, its rules with their names and recipients
but no actions (the local SMTP server does what they do), so that `threadline doctor` finds
the emulator's account set up as a deployed one.
"""

import contextlib
import json
import secrets
import string
import time
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.json"
STACK_NAME = "threadline"
# Receiving and sending mail: locally the SMTP server and the SES stand-in play SES.
NOT_LOCAL = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::SES::ReceiptRuleSet",
        "AWS::SES::ReceiptRule",
        "AWS::SES::ConfigurationSet",
        "AWS::SES::ConfigurationSetEventDestination",
        # Permissions for SES, which moto's CloudFormation cannot create anyway.
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        # Settings of the functions chalice creates: locally, pumps call the handlers.
        "AWS::Lambda::EventInvokeConfig",
        # Lambda's and API Gateway's logs: locally, the processes' output.
        "AWS::Logs::LogGroup",
        "AWS::ApiGateway::Account",
    }
)
SCHEDULE_GROUP = "AWS::Scheduler::ScheduleGroup"
SECRET = "AWS::SecretsManager::Secret"
BY_API = frozenset({SCHEDULE_GROUP, SECRET})
RULE_SET = "AWS::SES::ReceiptRuleSet"
RULE = "AWS::SES::ReceiptRule"


def standalone_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    template["Resources"] = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Type", "AWS::CloudWatch::Alarm") not in NOT_LOCAL | BY_API
    }
    return template


def _properties_of(kind: str, path: Path) -> list[dict[str, Any]]:
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource.get("Type") == kind
    ]


def schedule_groups(path: Path = TEMPLATE) -> list[str]:
    return [properties["Name"] for properties in _properties_of(SCHEDULE_GROUP, path)]


def secret_documents(path: Path = TEMPLATE) -> dict[str, str]:
    """Each secret's name and first value: its GenerateSecretString's template with the
    generated key filled in (letters and digits, as the template asks)."""
    alphabet = string.ascii_letters + string.digits
    documents = {}
    for properties in _properties_of(SECRET, path):
        generate = properties["GenerateSecretString"]
        document = json.loads(generate["SecretStringTemplate"])
        document[generate["GenerateStringKey"]] = "".join(
            secrets.choice(alphabet) for _ in range(int(generate["PasswordLength"]))
        )
        documents[properties["Name"]] = json.dumps(document)
    return documents


def receipt_rule_sets(path: Path = TEMPLATE) -> dict[str, list[dict[str, Any]]]:
    """Each receipt rule set of the template, with its rules as `CreateReceiptRule` takes
    them, less their actions (and recipients not written out in the template)."""
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    resources: dict[str, Any] = template["Resources"]
    names = {
        logical: resource["Properties"]["RuleSetName"]
        for logical, resource in resources.items()
        if resource.get("Type") == RULE_SET
    }
    sets: dict[str, list[dict[str, Any]]] = {name: [] for name in names.values()}
    for resource in resources.values():
        if resource.get("Type") != RULE:
            continue
        properties = resource["Properties"]
        rule = properties["Rule"]
        recipients = rule.get("Recipients")
        sets[names[properties["RuleSetName"]["Ref"]]].append(
            {
                "Name": rule["Name"],
                "Enabled": rule.get("Enabled", False),
                **({"Recipients": recipients} if _written_out(recipients) else {}),
            }
        )
    return sets


def _written_out(recipients: Any) -> bool:
    return isinstance(recipients, list) and all(isinstance(r, str) for r in recipients)


def _activate_receipt_rules(ses: Any) -> None:
    for rule_set, rules in receipt_rule_sets().items():
        with contextlib.suppress(ses.exceptions.AlreadyExistsException):
            ses.create_receipt_rule_set(RuleSetName=rule_set)
            for rule in reversed(rules):  # each is put first: the template's order
                ses.create_receipt_rule(RuleSetName=rule_set, Rule=rule)
        ses.set_active_receipt_rule_set(RuleSetName=rule_set)


def provision(
    cloudformation: Any,
    scheduler: Any,
    secretsmanager: Any,
    ses: Any = None,
    timeout_seconds: float = 60.0,
) -> dict[str, str]:
    """Deploys the stack (once per emulator) and returns its outputs."""
    for group in schedule_groups():
        with contextlib.suppress(scheduler.exceptions.ConflictException):
            scheduler.create_schedule_group(Name=group)
    for name, document in secret_documents().items():
        with contextlib.suppress(secretsmanager.exceptions.ResourceExistsException):
            secretsmanager.create_secret(Name=name, SecretString=document)
    if ses is not None:
        _activate_receipt_rules(ses)
    body = json.dumps(standalone_template())
    existing = {
        stack["StackName"]
        for stack in cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])[
            "StackSummaries"
        ]
    }
    if STACK_NAME not in existing:
        cloudformation.create_stack(StackName=STACK_NAME, TemplateBody=body)
    deadline = time.monotonic() + timeout_seconds
    while True:
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if status.endswith("FAILED") or status.startswith("ROLLBACK"):
            raise RuntimeError(f"local stack {STACK_NAME}: {status}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"local stack {STACK_NAME} still {status}")
        time.sleep(0.2)
