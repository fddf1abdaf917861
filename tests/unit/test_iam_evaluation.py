"""The policy tests' IAM evaluation refuses what IAM refuses: an action allowed on one
resource is not allowed on another (the dead-letter queues' AccessDenied), one function's
log group is not another's, and a passed role needs the service it is passed to."""

from tests.iam import Access, accesses, allows, function_logs, queue_arn

MAIN_QUEUES_ONLY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ChangeMessageVisibility"],
            "Resource": "arn:aws:sqs:*:*:threadline-inbound.fifo",
        }
    ]
}


def test_an_action_is_allowed_on_the_resources_named_only() -> None:
    main, dead_letters = (
        queue_arn("threadline-inbound.fifo"),
        queue_arn("threadline-inbound-dlq.fifo"),
    )
    assert allows(MAIN_QUEUES_ONLY, Access("sqs:ChangeMessageVisibility", main))
    assert not allows(MAIN_QUEUES_ONLY, Access("sqs:ChangeMessageVisibility", dead_letters))
    assert not allows(MAIN_QUEUES_ONLY, Access("sqs:DeleteMessage", main))


def test_a_functions_log_group_is_not_another_functions() -> None:
    own = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/threadline-dev:*",
            }
        ]
    }
    assert all(allows(own, access) for access in function_logs("threadline-dev"))
    other = function_logs("threadline-dev-process_inbound")
    assert not any(allows(own, access) for access in other)


def test_a_passed_role_needs_the_service_it_is_passed_to() -> None:
    pass_to_scheduler = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::*:role/threadline-scheduler-*",
                "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            }
        ]
    }
    role = "arn:aws:iam::123456789012:role/threadline-scheduler-us-east-1"
    schedule = {"Name": "n", "GroupName": "threadline", "Target": {"RoleArn": role}}
    [_, passed] = accesses("scheduler", "CreateSchedule", schedule)
    assert allows(pass_to_scheduler, passed)
    assert not allows(pass_to_scheduler, Access("iam:PassRole", role))


def test_a_deny_wins_and_a_batch_or_transaction_needs_its_parts() -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/threadline"
    writes = {
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*Item", "Resource": table},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
        ]
    }
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "threadline"}},
            {"Delete": {"TableName": "threadline"}},
        ]
    }
    put, delete = accesses("dynamodb", "TransactWriteItems", transaction)
    assert allows(writes, put)
    assert not allows(writes, delete)
    [batch] = accesses(
        "sqs", "DeleteMessageBatch", {"QueueUrl": "https://q/1/threadline-timers.fifo"}
    )
    assert batch == Access("sqs:DeleteMessage", queue_arn("threadline-timers.fifo"))
