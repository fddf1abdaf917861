"""What SES puts on the mail topics that is not a mail or a mail's event (its test
notification when a topic is set up, anything else) is logged and dropped: raising would
only have Lambda retry it twice and park it on a dead-letter queue, alarmed."""

import io
import json
from typing import Any

import pytest

from app import app
from chalicelib.settings import EMAIL_EVENTS_TOPIC, INBOUND_MAIL_TOPIC
from local_stack.pump import sns_event

# What SES publishes to a topic when a receipt rule or configuration set is pointed at it.
TEST_NOTIFICATION = json.dumps(
    {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": "You have successfully subscribed your Amazon SNS topic to receive "
        "'Received' notifications from Amazon SES.",
    }
)


@pytest.mark.parametrize(
    ("handler", "topic", "dropped"),
    [
        ("receive_mail", INBOUND_MAIL_TOPIC, "notification that is not a mail dropped"),
        ("email_events", EMAIL_EVENTS_TOPIC, "notification that is not a mail event dropped"),
    ],
)
@pytest.mark.parametrize("notice", [TEST_NOTIFICATION, "not json", json.dumps([1])])
def test_a_notice_that_is_not_a_mail_is_logged_and_dropped_not_retried(
    container: Any, log_lines: io.StringIO, handler: str, topic: str, dropped: str, notice: str
) -> None:
    # Given SES (or anyone allowed) publishes something that is not a mail on the topic
    event = sns_event(notice, f"arn:aws:sns:us-east-1:123456789012:{topic}")

    # When the function runs, it ends without raising (so Lambda does not retry it)
    app.handler_map[handler](event, None)

    # Then it said what it dropped
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    assert [line["message"] for line in lines if line.get("level") == "WARNING"] == [dropped]
