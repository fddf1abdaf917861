"""Amazon SES (v2 API) imitated: raw `SendEmail`, shown in the outbox."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import Reply, Request, StandIn


class SesStandIn(StandIn):
    """Imitates SESv2's `SendEmail` (raw content): every mail is shown in the outbox, and
    `on_sent(message_id, source)` hears of it, as SES's delivery events would."""

    service = "ses"

    def __init__(self, outbox: Outbox, on_sent: Callable[[str, str], None] | None = None) -> None:
        super().__init__(outbox)
        self._on_sent = on_sent

    def _error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def _handle_api(self, request: Request) -> Reply:
        if not (request.verb == "POST" and request.path == "/v2/email/outbound-emails"):
            return self._unsupported(request)
        try:
            params = json.loads(request.body or b"{}")
            raw = base64.b64decode(params["Content"]["Raw"]["Data"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            body = {"message": "only raw content is imitated here"}
            self._record("send_email", {"response": body})
            return Reply(HTTPStatus.BAD_REQUEST, body)
        from email import message_from_bytes
        from email import policy as email_policy

        mail = message_from_bytes(raw, policy=email_policy.default)
        text = mail.get_body(("plain",)) if hasattr(mail, "get_body") else None
        message_id = uuid.uuid4().hex
        self._record(
            "send_email",
            {
                "From": str(mail.get("From", "")),
                "To": str(mail.get("To", "")),
                "Subject": str(mail.get("Subject", "")),
                "Message-ID": str(mail.get("Message-ID", "")),
                "In-Reply-To": str(mail.get("In-Reply-To", "")),
                "References": str(mail.get("References", "")),
                "Reply-To": str(mail.get("Reply-To", "")),
                "Body": text.get_content() if text is not None else "",
                "Attachments": [part.get_filename() for part in mail.iter_attachments()],
                "response": {"MessageId": message_id},
            },
        )
        if self._on_sent is not None:
            self._on_sent(message_id, str(params.get("FromEmailAddress", "")))
        return Reply(HTTPStatus.OK, {"MessageId": message_id})
