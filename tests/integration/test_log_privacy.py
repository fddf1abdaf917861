"""No secret, customer number, email address or message body in any log line of a busy flow:
shops set up with their secrets, messages in and out on SMS and email, a failure retried,
mail for no shop, requests refused for a wrong token or signature."""

import io
import json
import logging
import sys
from typing import Any

import boto3

from chalicelib.bootstrap import RedactingFilter, RedactingFormatter
from chalicelib.domain.errors import Retryable
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN_TOKEN, PUBLIC_URL
from tests.integration.test_email import deliver, mime
from tests.signing import (
    AUTH_TOKEN,
    BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

PHONE = "+5511987654321"
EMAIL = "ana.souza@gmail.com"
BODY = "Meu pedido secreto número 77"


def test_a_busy_flow_logs_no_number_address_or_body(
    client, put_shop, run_workers, slack: FakeSlack, log_lines: io.StringIO
):
    document = shop_document(email={"address": "support@lojadaana.com.br"})
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    # An SMS whose first processing fails with a message that names the customer
    params = twilio_message(1, From=PHONE, Body=BODY)
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    slack.failures.append(Retryable(f"Slack refused the post for {PHONE}"))
    run_workers()
    # A mail, and the agent's replies to both
    deliver(mime(BODY, sender=f"Ana <{EMAIL}>"))
    run_workers()
    for n, root in enumerate(slack.roots()):
        reply = slack_thread_reply(root.ts, f"1764000500.00010{n}", f"Resposta para {EMAIL}")
        client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()
    deliver(mime("?", to="nobody@elsewhere.example"), to="nobody@elsewhere.example")
    # Requests refused: a wrong admin token, a forged Twilio signature, a Slack event signed
    # with another secret
    client.http.get("/admin/shops", headers={"Authorization": f"Bearer {AUTH_TOKEN}"})
    client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params, BOT_TOKEN), body=form(params)
    )
    reply = slack_thread_reply("1.2", "1764000600.000100", BODY)
    client.http.post("/slack/events", headers=slack_headers(reply, AUTH_TOKEN), body=reply)

    lines = log_lines.getvalue().splitlines()
    assert any('"message":"customer message posted"' in line for line in lines)
    secrets = (AUTH_TOKEN, BOT_TOKEN, SLACK_SIGNING_SECRET, ADMIN_TOKEN)
    for secret in (PHONE, EMAIL, BODY, "nobody@elsewhere.example", *secrets):
        assert not [line for line in lines if secret in line], secret


def test_the_formatter_redacts_inside_fields_lists_and_messages() -> None:
    formatter = RedactingFormatter()
    line = formatter.serialize(
        {
            "message": f"failed for whatsapp:{PHONE}",
            "to": [EMAIL, "ok"],
            "nested": {"from": f"Ana <{EMAIL}>"},
            "count": 3,
        }
    )
    parsed: dict[str, Any] = json.loads(line)
    assert parsed["message"] == "failed for whatsapp:[redacted]"
    assert parsed["to"] == ["[redacted]", "ok"]
    assert parsed["nested"] == {"from": "Ana <[redacted]>"}
    assert parsed["count"] == 3


def test_the_filter_redacts_other_libraries_lines_and_their_tracebacks() -> None:
    try:
        raise ValueError(f"no route to {PHONE}")
    except ValueError:
        record = logging.LogRecord(
            "library", logging.WARNING, __file__, 1, "failed for %s", (EMAIL,), sys.exc_info()
        )
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "failed for [redacted]" in text
    assert "ValueError: no route to [redacted]" in text
    assert PHONE not in text
    assert EMAIL not in text
