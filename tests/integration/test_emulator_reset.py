"""Each integration test starts from the emulator as provisioned (conftest's `aws`): what one
test leaves in any resource it can touch is gone for the next, and what it starts from is
what provisioning from infra/ makes."""

import json
from typing import Any

import boto3
import pytest
from moto.core.base_backend import BackendDict

from local_stack.provision import provision
from tests.integration.emulator_state import Snapshot, state_of

QUEUE = "threadline-inbound.fifo"


def observed() -> dict[str, Any]:
    """Everything a test can leave behind, as the AWS APIs show it."""
    dynamodb, sqs, s3 = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    scheduler, secrets = boto3.client("scheduler"), boto3.client("secretsmanager")
    ses, sesv2, sns = boto3.client("ses"), boto3.client("sesv2"), boto3.client("sns")
    cloudwatch = boto3.client("cloudwatch")
    tables = dynamodb.list_tables()["TableNames"]
    queues = sqs.list_queues().get("QueueUrls", [])
    buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    groups = [group["Name"] for group in scheduler.list_schedule_groups()["ScheduleGroups"]]
    secret_names = [secret["Name"] for secret in secrets.list_secrets()["SecretList"]]
    counts = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return {
        "items": {
            table: dynamodb.scan(TableName=table, ConsistentRead=True)["Items"] for table in tables
        },
        "messages": {
            url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(counts))["Attributes"]
            for url in queues
        },
        "objects": {
            bucket: s3.list_object_versions(Bucket=bucket).get("Versions", []) for bucket in buckets
        },
        "schedules": {
            group: scheduler.list_schedules(GroupName=group)["Schedules"] for group in groups
        },
        "secrets": {
            name: secrets.get_secret_value(SecretId=name)["SecretString"] for name in secret_names
        },
        "mail sent": ses.get_send_quota()["SentLast24Hours"],
        "identities": sesv2.list_email_identities()["EmailIdentities"],
        "topics": sns.list_topics()["Topics"],
        "subscriptions": sns.list_subscriptions()["Subscriptions"],
        "metrics": cloudwatch.list_metrics()["Metrics"],
    }


def leave_something_everywhere() -> None:
    """What tests do: write items, leave messages queued and in flight (with deduplication
    ids remembered), store objects, schedule, rotate a secret, send mail, verify an
    identity, subscribe, put metrics."""
    from chalicelib.settings import TABLE_NAME

    boto3.client("dynamodb").put_item(
        TableName=TABLE_NAME, Item={"PK": {"S": "SHOP#left"}, "SK": {"S": "over"}}
    )
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    for n in range(2):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{n}",
            MessageGroupId=f"g{n}",
            MessageDeduplicationId=f"d{n}",
        )
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)
    s3 = boto3.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        s3.put_object(Bucket=bucket["Name"], Key="left/over", Body=b"x")
    scheduler = boto3.client("scheduler")
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        scheduler.create_schedule(
            Name="left-over",
            GroupName=group["Name"],
            ScheduleExpression="at(2030-01-01T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:x", "RoleArn": "arn:aws:iam::1:r"},
        )
    secrets = boto3.client("secretsmanager")
    for secret in secrets.list_secrets()["SecretList"]:
        secrets.put_secret_value(SecretId=secret["Name"], SecretString=json.dumps({"k": "new"}))
    sesv2 = boto3.client("sesv2")
    sesv2.create_email_identity(EmailIdentity="left.example")
    sesv2.send_email(
        FromEmailAddress="a@left.example",
        Destination={"ToAddresses": ["b@example.com"]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    )
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="left-over")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="c@example.com")
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Left", MetricData=[{"MetricName": "over", "Value": 1}]
    )


def test_a_restore_leaves_nothing_a_test_did(aws: None, provisioned: Snapshot) -> None:
    # Given a test's starting point, and a test that touched every kind of resource
    before = observed()
    leave_something_everywhere()
    after = observed()
    assert all(after[kind] != before[kind] for kind in before), [
        kind for kind in before if after[kind] == before[kind]
    ]
    # (the check each test's setup makes would see it)
    assert state_of() != provisioned.state

    # When the next test's setup restores the emulator
    provisioned.restore()

    # Then nothing of it is left anywhere in moto's state, nor in what the APIs show
    assert state_of() == provisioned.state
    assert observed() == before
    # and SQS has forgotten the deduplication ids the test sent
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody="m0", MessageGroupId="g0", MessageDeduplicationId="d0"
    )
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert answer["Attributes"]["ApproximateNumberOfMessages"] == "1"


def _as_provisioning_makes_it() -> dict[str, Any]:
    """`observed` less what provisioning draws at random: secrets' values."""
    seen = observed()
    seen["secrets"] = sorted(seen["secrets"])
    return seen


def _described() -> dict[str, Any]:
    """The resources' configuration, less creation times and random ids."""
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    volatile = {"CreationDateTime", "CreatedTimestamp", "LastModifiedTimestamp", "TableId"}

    def stable(description: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in description.items() if key not in volatile}

    return {
        "tables": [
            stable(dynamodb.describe_table(TableName=name)["Table"])
            for name in dynamodb.list_tables()["TableNames"]
        ],
        "queues": [
            stable(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
            for url in sqs.list_queues().get("QueueUrls", [])
        ],
        "stack": sorted(
            (resource["LogicalResourceId"], resource["ResourceType"])
            for resource in boto3.client("cloudformation").list_stack_resources(
                StackName="threadline"
            )["StackResourceSummaries"]
        ),
    }


@pytest.mark.usefixtures("aws")
def test_a_test_starts_from_what_provisioning_makes(provisioned: Snapshot) -> None:
    # Given the state a test starts from
    restored = (_as_provisioning_makes_it(), _described())

    # When the emulator is emptied and provisioned afresh
    BackendDict.reset()
    provision(
        boto3.client("cloudformation"), boto3.client("scheduler"), boto3.client("secretsmanager")
    )

    # Then both are the same
    assert (_as_provisioning_makes_it(), _described()) == restored
    provisioned.restore()


def test_outside_this_layers_tests_moto_is_stopped_and_empty(provisioned: Snapshot) -> None:
    # The snapshot taken, moto intercepts nothing and holds nothing: a unit or end-to-end
    # test run next in this process meets no emulator
    from moto.core.models import botocore_stubber

    assert not botocore_stubber.enabled
    assert state_of() == {}
