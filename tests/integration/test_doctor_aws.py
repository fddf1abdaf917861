"""What `threadline doctor` checks with the operator's AWS credentials, against moto
provisioned from infra/ as the local stack is: the table, queues and dead letters, the
schedule group and its role, SES receiving; each missing or refused resource named."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.domain.checks import Check, Verdict
from chalicelib.settings import OUTBOUND_QUEUE, SCHEDULE_GROUP, dead_letter_queue
from local_stack.provision import provision
from threadline_cli.doctor import AwsAccount, MailReceiving, aws_checks

ADDRESS = "ajuda@help.loja.example"


@pytest.fixture
def account(aws: None) -> AwsAccount:
    # As the local stack provisions it: the stack, and SES's rule set by API.
    provision(
        boto3.client("cloudformation"),
        boto3.client("scheduler"),
        boto3.client("secretsmanager"),
        boto3.client("ses"),
    )
    return AwsAccount()


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def failures(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if c.verdict is Verdict.FAILED}


def test_a_provisioned_account_passes_every_aws_check(account: AwsAccount) -> None:
    checks = aws_checks(account)
    assert failures(checks) == {}
    assert {c.name for c in checks} == {
        "table threadline",
        "queue threadline-inbound.fifo",
        "queue threadline-outbound.fifo",
        "queue threadline-timers.fifo",
        "queue threadline-inbound-dlq.fifo",
        "queue threadline-outbound-dlq.fifo",
        "queue threadline-timers-dlq.fifo",
        "queue threadline-mail-dlq",
        "schedule group threadline",
        "role threadline-scheduler-us-east-1",
    }


def test_dead_letters_waiting_fail_with_their_count_and_the_redrive(account: AwsAccount) -> None:
    sqs = boto3.client("sqs")
    queue = dead_letter_queue(OUTBOUND_QUEUE)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for n in range(2):
        sqs.send_message(
            QueueUrl=url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId=str(n)
        )

    check = by_name(aws_checks(account))[f"queue {queue}"]

    assert (check.verdict, check.detail) == (Verdict.FAILED, "2 records wait")
    assert "threadline dlq redrive outbound" in check.fix


def test_a_missing_schedule_group_fails_as_not_found(account: AwsAccount) -> None:
    boto3.client("scheduler").delete_schedule_group(Name=SCHEDULE_GROUP)

    assert failures(aws_checks(account)) == {
        f"schedule group {SCHEDULE_GROUP}": "not found in this account and region"
    }


def test_the_local_account_receives_mail_once_the_domain_is_verified(
    account: AwsAccount,
) -> None:
    # Given the template's rule set, active (what the local stack provisions)
    ses = boto3.client("ses")
    active = ses.describe_active_receipt_rule_set()
    assert active["Metadata"]["Name"] == "threadline"
    assert [rule["Name"] for rule in active["Rules"]] == ["store-and-notify"]
    # When the shop's domain is not verified yet, then only that fails
    assert failures(MailReceiving(account).checks(ADDRESS)) == {
        "domain help.loja.example": "not an SES identity"
    }
    # And once it is, receiving passes
    ses.verify_domain_identity(Domain="help.loja.example")
    assert failures(MailReceiving(account).checks(ADDRESS)) == {}


def test_receiving_fails_when_no_rule_set_is_active(account: AwsAccount) -> None:
    boto3.client("ses").set_active_receipt_rule_set()
    boto3.client("ses").verify_domain_identity(Domain="help.loja.example")

    [receiving, _] = MailReceiving(account).checks(ADDRESS)

    assert receiving.verdict is Verdict.FAILED
    assert receiving.subject == "Email"
    assert receiving.detail.startswith("no rule set is active, not 'threadline'")


class RefusingAccount(AwsAccount):
    """Credentials that may not read anything."""

    def client(self, service: str) -> Any:
        class Refusing:
            def __getattr__(self, operation: str) -> Any:
                def refuse(**_: Any) -> Any:
                    error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
                    raise ClientError(error, operation)  # type: ignore[arg-type]

                return refuse

        return Refusing()


def test_checks_the_credentials_may_not_make_name_the_permission(aws: None) -> None:
    checks = by_name(aws_checks(RefusingAccount()))
    assert {c.verdict for c in checks.values()} == {Verdict.FAILED}
    assert checks["table threadline"].fix == "your AWS credentials need dynamodb:DescribeTable"
    assert (
        checks["role threadline-scheduler-us-east-1"].fix == "your AWS credentials need iam:GetRole"
    )
