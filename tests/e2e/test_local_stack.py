"""The whole loop over real HTTP: customer → webhook → Slack thread → agent reply → Twilio,
with delivery callbacks, duplicates and refusals, against `python -m local_stack`."""

import json
import time
import uuid

import pytest

from local_stack.constants import LOCAL_SIGNING_SECRET
from local_stack.sandbox.outbox import OutboxEntry
from tests.e2e.conftest import RunningStack, http
from tests.signing import (
    ACCOUNT_SID,
    CHANNEL_ID,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

SLACK_SECRET = LOCAL_SIGNING_SECRET


def new_sid() -> int:
    return uuid.uuid4().int >> 2


def post_message(
    stack: RunningStack, shop_id: str, params: dict[str, str], token: str | None = None
):
    path = f"/webhooks/twilio/{shop_id}"
    headers = twilio_headers(stack.api + path, params, **({"token": token} if token else {}))
    return http("POST", stack.api + path, form(params), headers)


def post_reply(stack: RunningStack, body: bytes, **extra_headers: str):
    headers = {**slack_headers(body, SLACK_SECRET), **extra_headers}
    return http("POST", stack.api + "/slack/events", body, headers)


def thread_post_containing(stack: RunningStack, text: str) -> OutboxEntry:
    return stack.outbox.wait_for(
        lambda e: (
            e.method == "chat.postMessage"
            and "thread_ts" in e.payload
            and text in e.payload.get("text", "")
        ),
        timeout=20,
    )


@pytest.fixture(scope="module")
def shop(stack: RunningStack) -> str:
    answer = stack.admin("PUT", "/admin/shops/ana", shop_document())
    assert answer.status == 201, answer.body
    return "ana"


def test_a_customer_message_reaches_slack_and_the_agent_reply_reaches_the_customer(stack, shop):
    # Given a customer's WhatsApp message, signed as Twilio signs it
    params = twilio_message(
        new_sid(),
        From="whatsapp:+201001234567",
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        Body="مرحبا، أين طلبي؟ 📦 <!channel>",
        ProfileName="سارة",
        WaId="201001234567",
    )
    # When it is delivered to the webhook
    answer = post_message(stack, shop, params)
    # Then Twilio gets empty TwiML at once
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/xml"
    assert "<Response/>" in answer.body
    # And the message appears in a new thread under a root card, escaped and intact
    mirrored = thread_post_containing(stack, "مرحبا، أين طلبي؟ 📦 &lt;!channel&gt;")
    thread_ts = mirrored.payload["thread_ts"]
    [root] = [
        e
        for e in stack.outbox.entries("slack", "chat.postMessage")
        if e.payload["response"].get("ts") == thread_ts
    ]
    assert root.payload["channel"] == CHANNEL_ID
    assert "سارة" in json.dumps(root.payload["blocks"], ensure_ascii=False)

    # When an agent answers in the thread
    reply_ts = f"{time.time():.6f}"
    body = slack_thread_reply(thread_ts, reply_ts, "Seu pedido chega amanhã / طلبك يصل غدا")
    assert post_reply(stack, body).status == 200
    # Then Twilio is asked once to send it, on WhatsApp, from the number the customer wrote to
    sent = stack.outbox.wait_for(
        lambda e: e.method == "messages.create" and "طلبك" in e.payload.get("Body", ""),
        timeout=20,
    )
    assert sent.payload["To"] == "whatsapp:+201001234567"
    assert sent.payload["From"] == f"whatsapp:{WHATSAPP_NUMBER}"
    assert sent.payload["StatusCallback"] == f"{stack.api}/webhooks/twilio/{shop}/status"
    # And the delivery callbacks end as a read receipt on the agent's message
    stack.outbox.wait_for(
        lambda e: (
            e.method == "reactions.add"
            and e.payload.get("timestamp") == reply_ts
            and e.payload.get("name") == "eyes"
        ),
        timeout=20,
    )


def test_provider_retries_never_double_a_message_or_a_reply(stack, shop):
    # Given one SMS delivered three times (Twilio retries) and answered once
    params = twilio_message(new_sid(), Body="Retry me once 🔁", From="+5511911112222")
    answers = [post_message(stack, shop, params) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    mirrored = thread_post_containing(stack, "Retry me once 🔁")
    reply_ts = f"{time.time():.6f}"
    body = slack_thread_reply(mirrored.payload["thread_ts"], reply_ts, "Only once, promise")
    # When Slack retries the event delivery twice
    first = post_reply(stack, body)
    retries = [
        post_reply(
            stack, body, **{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}
        )
        for n in (1, 2)
    ]
    assert [first.status, *[r.status for r in retries]] == [200, 200, 200]
    stack.outbox.wait_for(
        lambda e: (
            e.method == "reactions.add"
            and e.payload.get("timestamp") == reply_ts
            and e.payload.get("name") == "white_check_mark"
        ),
        timeout=20,
    )
    # Then the message was posted once and the reply sent once
    posts = [
        e
        for e in stack.outbox.entries("slack", "chat.postMessage")
        if "Retry me once" in e.payload.get("text", "")
    ]
    sends = [
        e
        for e in stack.outbox.entries("twilio", "messages.create")
        if e.payload.get("Body") == "Only once, promise\n— Agent"
    ]
    assert len(posts) == 1
    assert len(sends) == 1
    assert sends[0].payload["From"] == SMS_NUMBER


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown shop", 404),
        ("bad signature", 403),
        ("missing signature", 403),
        ("other account", 403),
        ("malformed form", 400),
    ],
)
def test_refused_webhooks_get_a_clear_4xx_and_change_nothing(stack, shop, case, expected):
    # Given a webhook that must be refused
    marker = f"refused-{uuid.uuid4().hex}"
    params = twilio_message(new_sid(), Body=marker)
    shop_id, token, path_body = shop, None, None
    if case == "unknown shop":
        shop_id = "no-such-shop"
    elif case == "bad signature":
        token = "not-the-auth-token"
    elif case == "other account":
        params["AccountSid"] = "AC" + "9" * 32
    elif case == "malformed form":
        path_body = b"\xff\xfe" + marker.encode()
    # When it is delivered
    if case == "missing signature":
        answer = http(
            "POST",
            f"{stack.api}/webhooks/twilio/{shop_id}",
            form(params),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    elif path_body is not None:
        path = f"/webhooks/twilio/{shop_id}"
        headers = twilio_headers(stack.api + path, params)
        answer = http("POST", stack.api + path, path_body, headers)
    else:
        answer = post_message(stack, shop_id, params, token)
    # Then it is refused with a short JSON reason
    assert answer.status == expected
    assert answer.json()["error"]
    # And nothing reaches Slack
    time.sleep(1.0)
    assert not [e for e in stack.outbox.entries("slack") if marker in json.dumps(e.payload)]


def test_refused_slack_events_get_403_and_send_nothing(stack, shop):
    # Given an agent reply signed with the wrong secret, and one replayed after 10 minutes
    body = slack_thread_reply("1700000000.000100", f"{time.time():.6f}", "forged reply")
    forged = http("POST", stack.api + "/slack/events", body, slack_headers(body, "wrong-secret"))
    replayed = http(
        "POST",
        stack.api + "/slack/events",
        body,
        slack_headers(body, SLACK_SECRET, timestamp=int(time.time()) - 600),
    )
    # Then both are refused and nothing is sent
    assert (forged.status, replayed.status) == (403, 403)
    assert not [
        e for e in stack.outbox.entries("twilio") if "forged reply" in json.dumps(e.payload)
    ]


def test_the_admin_api_masks_secrets_over_http(stack, shop):
    # When the shop is read back
    answer = stack.admin("GET", f"/admin/shops/{shop}")
    # Then secrets are masked and the account is shown
    assert answer.status == 200
    document = answer.json()
    assert document["twilio"]["account_sid"] == ACCOUNT_SID
    assert document["twilio"]["auth_token"] == "********"
    assert document["slack"]["bot_token"] == "********"
    assert "test-twilio-auth-token" not in answer.body
