"""The SQS FIFO queues between the webhook acks and the workers.

Inbound: one message per customer message; group = the customer within the shop (order per
customer, customers in parallel), dedup id = the provider's message id. Outbound: agent
replies and delivery updates; group = the conversation's Slack thread or the provider
message, dedup id = Slack's event id or the provider's message id and status.

Bodies are ASCII-only JSON: SQS refuses some characters a customer can send (U+FFFE,
U+FFFF), and escaped they travel safely while the stored copy keeps them as they are.
"""

from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from chalicelib.domain.conversation import AgentReply, DeliveryUpdate, InboundMessage, OutboundJob

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

OUTBOUND_JOB = TypeAdapter[AgentReply | DeliveryUpdate](OutboundJob)

# SQS allows these characters in group and deduplication ids; anything else is replaced.
_ID_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)


def _queue_id(value: str) -> str:
    cleaned = "".join(c if c in _ID_CHARACTERS else "_" for c in value)
    return cleaned[:128]


class Queues:
    def __init__(self, client: SQSClient, inbound_queue: str, outbound_queue: str) -> None:
        self._client = client
        self._inbound_name = inbound_queue
        self._outbound_name = outbound_queue

    # Resolved once per container: a cold start pays for it, the warm ack path does not.
    @cached_property
    def _inbound_url(self) -> str:
        return str(self._client.get_queue_url(QueueName=self._inbound_name)["QueueUrl"])

    @cached_property
    def _outbound_url(self) -> str:
        return str(self._client.get_queue_url(QueueName=self._outbound_name)["QueueUrl"])

    def send_inbound(self, message: InboundMessage) -> None:
        self._client.send_message(
            QueueUrl=self._inbound_url,
            MessageBody=message.model_dump_json(ensure_ascii=True),
            MessageGroupId=_queue_id(message.customer_key),
            MessageDeduplicationId=_queue_id(f"{message.shop_id}:{message.message_key}"),
        )

    def send_outbound(self, job: AgentReply | DeliveryUpdate) -> None:
        if isinstance(job, AgentReply):
            group, dedup = job.thread_key, job.event_id
        else:
            group = f"{job.shop_id}:{job.provider_message_id}"
            dedup = f"{group}:{job.status.value}"
        self._client.send_message(
            QueueUrl=self._outbound_url,
            MessageBody=job.model_dump_json(ensure_ascii=True),
            MessageGroupId=_queue_id(group),
            MessageDeduplicationId=_queue_id(dedup),
        )


def parse_inbound(body: str) -> InboundMessage:
    return InboundMessage.model_validate_json(body)


def parse_outbound(body: str) -> AgentReply | DeliveryUpdate:
    return OUTBOUND_JOB.validate_json(body)
