"""`Queues.redrive` against SQS itself, whose answers botocore's Stubber plays: the move task
does the moving; a refusal of the task is shown, never taken for a missing operation."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib.queues import Queues
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE

ACCOUNT_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
ARN = "arn:aws:sqs:eu-west-1:123456789012:"


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "sqs", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with Stubber(client) as stubber:
        for queue, attributes in (
            ("threadline-outbound-dlq.fifo", {"ApproximateNumberOfMessages": "7"}),
            ("threadline-outbound.fifo", {}),
        ):
            stubber.add_response("get_queue_url", {"QueueUrl": ACCOUNT_URL + queue})
            stubber.add_response(
                "get_queue_attributes", {"Attributes": {"QueueArn": ARN + queue, **attributes}}
            )
        yield client, stubber
        # Nothing else was called: no dead letter received, sent or deleted.
        stubber.assert_no_pending_responses()


def test_where_sqs_has_the_move_task_it_moves_the_dead_letters(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-1"},
        {
            "SourceArn": ARN + "threadline-outbound-dlq.fifo",
            "DestinationArn": ARN + "threadline-outbound.fifo",
        },
    )

    redrive = Queues(client, INBOUND_QUEUE, OUTBOUND_QUEUE).redrive(OUTBOUND_QUEUE)

    assert (redrive.records, redrive.task_handle) == (7, "task-1")


@pytest.mark.parametrize(
    ("code", "status"), [("InvalidParameterValue", 400), ("AccessDenied", 403)]
)
def test_a_move_task_sqs_refuses_is_shown_not_replaced(
    sqs: tuple[Any, Stubber], code: str, status: int
) -> None:
    # Given SQS refusing the task (one is already running; the operator may not start one)
    client, stubber = sqs
    stubber.add_client_error("start_message_move_task", code, http_status_code=status)

    # Then the refusal reaches the operator, and nothing is moved by hand behind its back
    with pytest.raises(ClientError, match=code):
        Queues(client, INBOUND_QUEUE, OUTBOUND_QUEUE).redrive(OUTBOUND_QUEUE)
