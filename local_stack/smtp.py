"""The local mail server: plays SES's receiving side on 127.0.0.1:2525.

It accepts mail for the addresses registered shops receive at (plus addresses too) and
refuses the rest at RCPT time. Each accepted message goes the way SES sends it in AWS: the
raw MIME into the bucket under `inbound-mail/`, a receipt notification (verdicts PASS) onto
the inbound-mail topic, and from there to the same handler.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.channels.email import split_address

INBOUND_MAIL_PREFIX = "inbound-mail/"


class ReceivingHandler:
    """aiosmtpd's handler hooks (`handle_RCPT`, `handle_DATA`)."""

    def __init__(
        self, shop_for_address: Any, s3: Any, sns: Any, bucket: str, topic_arn: str
    ) -> None:
        self._shop_for_address = shop_for_address
        self._s3 = s3
        self._sns = sns
        self._bucket = bucket
        self._topic_arn = topic_arn

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        base, _ = split_address(address)
        if self._shop_for_address(base) is None:
            return "550 5.1.1 No shop receives mail at this address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        ses_id = uuid.uuid4().hex
        key = INBOUND_MAIL_PREFIX + ses_id
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=raw)
        notification = {
            "notificationType": "Received",
            "mail": {
                "timestamp": datetime.now(UTC).isoformat(),
                "messageId": ses_id,
                "source": envelope.mail_from,
                "destination": list(envelope.rcpt_tos),
            },
            "receipt": {
                "recipients": list(envelope.rcpt_tos),
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": "PASS"},
                "action": {"type": "S3", "bucketName": self._bucket, "objectKey": key},
            },
        }
        self._sns.publish(TopicArn=self._topic_arn, Message=json.dumps(notification))
        return "250 Message accepted for delivery"


def start_smtp(host: str, port: int, handler: ReceivingHandler) -> Any:
    """Starts the server on a thread of its own; returns its controller (`.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller
