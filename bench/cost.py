"""Figure 5: dollars per 1,000 messages and per 1,000 conversations, from the AWS calls the
ack figure counted, times public on-demand list prices (us-east-1)."""

from typing import Any

# us-east-1 on-demand list prices in dollars, as published on the AWS pricing pages (read
# 2025; DynamoDB's are those of its November 2024 on-demand price cut). docs/PERFORMANCE.md
# cites them and says which of the quantities below are assumptions.
PRICE = {
    "api_gateway_rest_request": 3.50 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,
    "cloudwatch_logs_gb": 0.50,
}
LAMBDA_GB = 0.5  # .chalice/config.json: lambda_memory_size 512
# Assumptions, not measurements: billed duration of a warm invocation, log volume, item size.
ACK_SECONDS = 0.05
WORKER_SECONDS = 0.15
LOG_BYTES_PER_INVOCATION = 1500
# Items up to 1 KB: a write is 1 unit, a transactional one 2 per item (2 items assumed);
# reads are strongly consistent (1 unit).
UNITS = {
    "dynamodb:PutItem": ("dynamodb_write_unit", 1),
    "dynamodb:UpdateItem": ("dynamodb_write_unit", 1),
    "dynamodb:DeleteItem": ("dynamodb_write_unit", 1),
    "dynamodb:TransactWriteItems": ("dynamodb_write_unit", 4),
    "dynamodb:GetItem": ("dynamodb_read_unit", 1),
    "dynamodb:Query": ("dynamodb_read_unit", 1),
    "sqs:SendMessage": ("sqs_fifo_request", 1),
    "sqs:ChangeMessageVisibility": ("sqs_fifo_request", 1),
    "sqs:ChangeMessageVisibilityBatch": ("sqs_fifo_request", 1),
    "sqs:GetQueueUrl": ("sqs_fifo_request", 1),
    # The reply worker's one read: conversation, reply and revision (3 items).
    "dynamodb:BatchGetItem": ("dynamodb_read_unit", 3),
}
# Lambda's event source mapping receives and deletes each batch: at low traffic a batch
# is one message.
ESM_REQUESTS_PER_MESSAGE = 2
# The stated message mix: a conversation is 3 customer messages (the first opens it) and
# 2 agent replies, each reply followed by 2 delivery callbacks (sent, delivered).
MIX = {
    "customer_message_new_conversation": 1,
    "customer_message_follow_up": 2,
    "agent_reply": 2,
    "status_callback": 4,
}
MESSAGES_PER_CONVERSATION = 5
HELP_DESK_SEAT_DOLLARS_PER_MONTH = 55.0  # assumption: Zendesk Suite Team, billed annually
SEATS = 5


def _aws_calls(calls: dict[str, int]) -> float:
    dollars = 0.0
    for call, count in calls.items():
        price, units = UNITS.get(call, ("dynamodb_read_unit", 0))
        dollars += PRICE[price] * units * count
    return dollars


def _invocation(seconds: float) -> float:
    logs = LOG_BYTES_PER_INVOCATION / 1e9 * PRICE["cloudwatch_logs_gb"]
    return PRICE["lambda_request"] + PRICE["lambda_gb_second"] * LAMBDA_GB * seconds + logs


def _event(ack: dict[str, int], worker: dict[str, int]) -> float:
    """One webhook: API Gateway, the ack invocation, a worker invocation and their calls."""
    return (
        PRICE["api_gateway_rest_request"]
        + _invocation(ACK_SECONDS)
        + _invocation(WORKER_SECONDS)
        + ESM_REQUESTS_PER_MESSAGE * PRICE["sqs_fifo_request"]
        + _aws_calls(ack)
        + _aws_calls(worker)
    )


def model(calls: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """`calls` as bench.ack counted them, by event and by path."""
    follow_up_ack = calls["customer_message_follow_up"]["ack"]
    per_event = {
        "customer_message_new_conversation": _event(
            follow_up_ack, calls["customer_message_new_conversation"]["worker"]
        ),
        "customer_message_follow_up": _event(
            follow_up_ack, calls["customer_message_follow_up"]["worker"]
        ),
        "agent_reply": _event(calls["agent_reply"]["ack"], calls["agent_reply"]["worker"]),
        "status_callback": _event(calls["status_sent"]["ack"], calls["status_sent"]["worker"]),
    }
    conversation = sum(per_event[name] * count for name, count in MIX.items())
    per_thousand_conversations = conversation * 1000
    return {
        "prices_us_east_1": PRICE,
        "mix_per_conversation": MIX,
        "dollars_per_event": per_event,
        "dollars_per_1000_messages": per_thousand_conversations / MESSAGES_PER_CONVERSATION,
        "dollars_per_1000_conversations": per_thousand_conversations,
        "help_desk_dollars_per_month_5_seats": HELP_DESK_SEAT_DOLLARS_PER_MONTH * SEATS,
        "conversations_per_month_for_the_same_dollars": (
            HELP_DESK_SEAT_DOLLARS_PER_MONTH * SEATS / conversation
        ),
    }
