"""The Slack and Twilio sandbox stand-ins, driven through the official clients over 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from chalicelib.channels.slack import SlackWorkspace
from chalicelib.domain.errors import Retryable
from chalicelib.presentation.slack_blocks import SlackMessage
from local_stack.sandbox.faults import Fault, Faults
from local_stack.sandbox.outbox import Outbox, OutboxEntry
from local_stack.sandbox.slack import SlackStandIn
from local_stack.sandbox.twilio import TwilioStandIn

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "secret-token"
ARABIC = "مرحبا، كيف يمكنني مساعدتك؟"
HINDI = "नमस्ते, आपका ऑर्डर भेज दिया गया है"
EMOJI = "📦🚚✅👍🏽"
SLACK_TS = re.compile(r"^\d{10}\.\d{6}$")


# --------------------------------------------------------------------------- helpers


class StandInHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends what twilio's client meant for api.twilio.com to the stand-in instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base_url = base_url
        if self.session is not None:
            self.session.trust_env = False  # a proxy from the environment must not see 127.0.0.1

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(
            method, url.replace("https://api.twilio.com", self._base_url, 1), *args, **kwargs
        )


class CallbackReceiver:
    """A tiny status-callback endpoint: records each POST; path /fail answers 500."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
                receiver.received.append(
                    {
                        "url": receiver.root + self.path,
                        "params": form,
                        "signature": self.headers.get("X-Twilio-Signature", ""),
                        "content_type": self.headers.get("Content-Type", ""),
                    }
                )
                self.send_response(500 if self.path.startswith("/fail") else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read().decode("utf-8"))


def callback_for(sid: str, status: str) -> Callable[[OutboxEntry], bool]:
    def matches(entry: OutboxEntry) -> bool:
        return (
            entry.method == "status_callback"
            and entry.payload.get("MessageSid") == sid
            and entry.payload.get("MessageStatus") == status
        )

    return matches


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def outbox(stream: io.StringIO) -> Outbox:
    return Outbox(stream)


@pytest.fixture
def slack_stand_in(outbox: Outbox) -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn(outbox)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def slack(slack_stand_in: SlackStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack_stand_in.base_url)


@pytest.fixture
def twilio_stand_in(outbox: Outbox) -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(outbox, callback_delay=0.01)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def twilio(twilio_stand_in: TwilioStandIn) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=StandInHttpClient(twilio_stand_in.base_url))


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver()
    yield server
    server.stop()


# --------------------------------------------------------------------------- Slack


def test_post_message_with_blocks_in_a_thread_is_answered_recorded_and_printed(
    slack: WebClient, slack_stand_in: SlackStandIn, outbox: Outbox, stream: io.StringIO
) -> None:
    # Given a message in three scripts, with blocks, replying in a thread
    text = f"{ARABIC}\n{HINDI} {EMOJI}"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]

    # When the official client posts it
    response = slack.chat_postMessage(
        channel="C123", text=text, blocks=blocks, thread_ts="1764000000.000100"
    )

    # Then Slack's answer shape comes back
    assert response["ok"] is True
    assert response["channel"] == "C123"
    assert SLACK_TS.match(response["ts"])
    assert response["message"]["thread_ts"] == "1764000000.000100"
    assert response["message"]["text"] == text
    # And the call is recorded with the decoded JSON body, the token kept out of it
    [entry] = outbox.entries("slack", "chat.postMessage")
    assert entry.payload["text"] == text
    assert entry.payload["blocks"] == blocks
    assert entry.payload["thread_ts"] == "1764000000.000100"
    assert entry.payload["response"]["ts"] == response["ts"]
    assert "xoxb-test" not in json.dumps(entry.payload)
    # And the terminal shows every script intact
    printed = stream.getvalue()
    assert "[slack] chat.postMessage #C123 (thread 1764000000.000100): " + ARABIC in printed
    assert f"{HINDI} {EMOJI}" in printed


def test_blocks_only_message_prints_the_first_section_text(
    slack: WebClient, stream: io.StringIO
) -> None:
    # Given a message with blocks but no top-level text
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "New conversation"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Customer:* {ARABIC}"}},
    ]

    # When it is posted as a new thread
    # slack_sdk nags about the missing top-level text; that is expected here
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        response = slack.chat_postMessage(channel="C123", blocks=blocks)

    # Then the first section's text is what the terminal shows
    assert response["ok"] is True
    assert (
        f"[slack] chat.postMessage #C123 (new thread {response['ts']}): *Customer:* {ARABIC}"
        in stream.getvalue()
    )


def test_message_ts_is_unique_and_increasing(slack: WebClient) -> None:
    # Given / When several messages are posted quickly
    stamps = [slack.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(5)]

    # Then every ts is distinct, Slack-formatted and increasing
    assert len(set(stamps)) == 5
    assert all(SLACK_TS.match(ts) for ts in stamps)
    assert [float(ts) for ts in stamps] == sorted(float(ts) for ts in stamps)
    assert stamps == sorted(stamps)


def test_reactions_and_updates_are_answered_and_printed(
    slack: WebClient, outbox: Outbox, stream: io.StringIO
) -> None:
    # Given a posted message
    ts = slack.chat_postMessage(channel="C123", text="Where is my order?")["ts"]

    # When a reaction is added (a form-encoded call) and removed, and the message is edited
    added = slack.reactions_add(channel="C123", timestamp=ts, name="white_check_mark")
    removed = slack.reactions_remove(channel="C123", timestamp=ts, name="white_check_mark")
    updated = slack.chat_update(channel="C123", ts=ts, text=f"Edited {EMOJI}")

    # Then all succeed with Slack's shapes
    assert added["ok"] is True
    assert removed["ok"] is True
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C123", ts, f"Edited {EMOJI}")
    # And the form fields are recorded like JSON ones
    [reaction] = outbox.entries("slack", "reactions.add")
    assert reaction.payload == {
        "channel": "C123",
        "timestamp": ts,
        "name": "white_check_mark",
        "response": {"ok": True},
    }
    printed = stream.getvalue()
    assert f"[slack] reactions.add :white_check_mark: on C123/{ts}" in printed
    assert f"[slack] reactions.remove :white_check_mark: on C123/{ts}" in printed
    assert f"[slack] chat.update #C123 (message {ts}): Edited {EMOJI}" in printed


def test_permalink_ephemeral_and_auth_test(slack: WebClient) -> None:
    # Given a posted message
    ts = slack.chat_postMessage(channel="C123", text="hello")["ts"]

    # When the other imitated methods are called
    permalink = slack.chat_getPermalink(channel="C123", message_ts=ts)
    ephemeral = slack.chat_postEphemeral(channel="C123", user="U42", text="only you")
    identity = slack.auth_test()

    # Then they answer like Slack
    assert permalink["permalink"] == (
        f"https://sandbox.slack.invalid/archives/C123/p{ts.replace('.', '')}"
    )
    assert SLACK_TS.match(ephemeral["message_ts"])
    assert (identity["user_id"], identity["bot_id"]) == ("UBOT", "BSANDBOX")


def test_a_token_belongs_to_its_workspace_until_revoked(
    slack_stand_in: SlackStandIn, slack: WebClient
) -> None:
    # Given the token installed in a workspace
    slack_stand_in.install("xoxb-test", "T0LOJA", "Loja")
    assert (slack.auth_test()["team_id"], slack.auth_test()["team"]) == ("T0LOJA", "Loja")

    # When it is revoked
    slack_stand_in.revoke("xoxb-test")

    # Then Slack refuses every call made with it, as it does a revoked token
    calls: list[Callable[[], Any]] = [
        slack.auth_test,
        lambda: slack.chat_postMessage(channel="C1", text="hi"),
    ]
    for call in calls:
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == "token_revoked"
    # And a token installed again works again
    slack_stand_in.install("xoxb-test", "T0LOJA")
    assert slack.auth_test()["ok"]


def test_the_bot_is_in_a_channel_until_removed_and_joins_it_again(
    slack_stand_in: SlackStandIn, slack: WebClient
) -> None:
    assert slack.conversations_info(channel="C0SUPPORT")["channel"]["is_member"] is True
    slack_stand_in.remove_bot("C0SUPPORT")
    slack_stand_in.remove_bot("G0PRIVATE")

    found = slack.conversations_info(channel="C0SUPPORT")["channel"]
    assert (found["name"], found["is_member"], found["is_private"]) == ("c0support", False, False)
    # A private channel is hidden from those outside it, and cannot be joined
    for call in (slack.conversations_info, slack.conversations_join):
        with pytest.raises(SlackApiError) as raised:
            call(channel="G0PRIVATE")
        assert raised.value.response["error"] in (
            "channel_not_found",
            "method_not_supported_for_channel_type",
        )
    slack.conversations_join(channel="C0SUPPORT")
    assert slack.conversations_info(channel="C0SUPPORT")["channel"]["is_member"] is True


def test_a_call_without_token_is_not_authed(slack_stand_in: SlackStandIn, outbox: Outbox) -> None:
    # Given a client without a token
    anonymous = WebClient(base_url=slack_stand_in.base_url)

    # When it posts
    with pytest.raises(SlackApiError) as raised:
        anonymous.chat_postMessage(channel="C123", text="hi")

    # Then Slack's answer is not_authed, and the attempt is still recorded
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "not_authed"
    assert outbox.entries("slack")[0].payload["response"]["error"] == "not_authed"


@pytest.mark.parametrize(
    ("method", "body", "error"),
    [
        ("chat.postMessage", {"text": "no channel"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "C1"}, "no_text"),
        ("chat.update", {"channel": "C1", "text": "x"}, "message_not_found"),
        ("reactions.add", {"channel": "C1", "name": "eyes"}, "no_item_specified"),
        ("reactions.add", {"channel": "C1", "timestamp": "1.000001"}, "invalid_name"),
        ("files.upload", {"channel": "C1"}, "unknown_method"),
    ],
)
def test_invalid_slack_calls_are_refused_and_still_recorded(
    slack: WebClient,
    outbox: Outbox,
    stream: io.StringIO,
    method: str,
    body: dict[str, str],
    error: str,
) -> None:
    # Given / When a call Slack would refuse
    with pytest.raises(SlackApiError) as raised:
        slack.api_call(method, json=body)

    # Then the error is Slack's, recorded and printed
    assert raised.value.response["error"] == error
    assert outbox.entries("slack", method)[0].payload["response"]["error"] == error
    assert f"[slack] {method} ✗ {error}" in stream.getvalue()


# --------------------------------------------------------------------------- Twilio


def test_sms_is_created_and_signed_status_callbacks_arrive_in_order(
    twilio: Client, outbox: Outbox, stream: io.StringIO, receiver: CallbackReceiver
) -> None:
    # Given a status callback URL (with a query string, which Twilio signs too)
    callback_url = f"{receiver.root}/twilio/status?shop=demo"

    # When the official client sends an SMS in Arabic
    message = twilio.messages.create(
        to="+15550002222", from_="+15550001111", body=ARABIC, status_callback=callback_url
    )

    # Then the returned resource parses like a real one
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert message.body == ARABIC
    assert message.account_sid == ACCOUNT_SID
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.date_created is not None
    assert message.date_created.tzinfo is not None
    assert message.error_code is None
    # And sent then delivered are posted, signed with the account's auth token
    outbox.wait_for(callback_for(message.sid, "delivered"), timeout=3)
    assert [hit["params"]["MessageStatus"] for hit in receiver.received] == ["sent", "delivered"]
    validator = RequestValidator(AUTH_TOKEN)
    for hit in receiver.received:
        assert hit["url"] == callback_url
        assert hit["content_type"] == "application/x-www-form-urlencoded"
        assert validator.validate(hit["url"], hit["params"], hit["signature"]) is True
        assert hit["params"]["MessageSid"] == hit["params"]["SmsSid"] == message.sid
        assert hit["params"]["AccountSid"] == ACCOUNT_SID
        assert hit["params"]["ApiVersion"] == "2010-04-01"
        assert (hit["params"]["From"], hit["params"]["To"]) == ("+15550001111", "+15550002222")
    # And the send and the callbacks are recorded and printed
    [created] = outbox.entries("twilio", "messages.create")
    assert created.payload["Body"] == ARABIC
    assert created.payload["StatusCallback"] == callback_url
    printed = stream.getvalue()
    assert f"[twilio] SMS +15550001111 → +15550002222: {ARABIC}" in printed
    assert f"[twilio] status {message.sid} → sent" in printed
    assert f"[twilio] status {message.sid} → delivered" in printed


def test_whatsapp_with_media_gets_a_read_callback_and_can_be_fetched(
    twilio: Client, outbox: Outbox, stream: io.StringIO, receiver: CallbackReceiver
) -> None:
    # Given a WhatsApp reply in Hindi with two pictures
    media = ["https://example.invalid/a.jpg", "https://example.invalid/b.jpg"]

    # When it is sent with a status callback
    message = twilio.messages.create(
        to="whatsapp:+919800000000",
        from_="whatsapp:+15550001111",
        body=f"{HINDI} {EMOJI}",
        media_url=media,
        status_callback=f"{receiver.root}/status",
    )
    outbox.wait_for(callback_for(message.sid, "read"), timeout=3)

    # Then sent, delivered and read arrive in order, each validly signed
    assert [hit["params"]["MessageStatus"] for hit in receiver.received] == [
        "sent",
        "delivered",
        "read",
    ]
    validator = RequestValidator(AUTH_TOKEN)
    assert all(
        validator.validate(hit["url"], hit["params"], hit["signature"]) for hit in receiver.received
    )
    # And the repeatable MediaUrl is recorded as a list
    [created] = outbox.entries("twilio", "messages.create")
    assert created.payload["MediaUrl"] == media
    assert message.num_media == "2"
    # And the stored resource has moved on to read
    assert twilio.messages(message.sid).fetch().status == "read"
    printed = stream.getvalue()
    assert (
        f"[twilio] WhatsApp whatsapp:+15550001111 → whatsapp:+919800000000: {HINDI} {EMOJI}"
        in printed
    )
    assert "media: https://example.invalid/b.jpg" in printed


def test_a_messaging_service_template_without_body_is_accepted(twilio: Client) -> None:
    # Given / When a template message is sent through a messaging service, no callback
    message = twilio.messages.create(
        to="whatsapp:+15550002222",
        messaging_service_sid="MG" + "1" * 32,
        content_sid="HX" + "2" * 32,
        content_variables=json.dumps({"1": "Amal"}),
    )

    # Then it is queued
    assert message.status == "queued"
    assert message.messaging_service_sid == "MG" + "1" * 32


def test_mismatched_credentials_are_refused_with_401(
    twilio_stand_in: TwilioStandIn, outbox: Outbox
) -> None:
    # Given a client whose basic-auth username is not the account in the URL
    intruder = Client(
        "AC" + "9" * 32,
        AUTH_TOKEN,
        account_sid=ACCOUNT_SID,
        http_client=StandInHttpClient(twilio_stand_in.base_url),
    )

    # When it tries to send
    with pytest.raises(TwilioRestException) as raised:
        intruder.messages.create(to="+15550002222", from_="+15550001111", body="hi")

    # Then Twilio's authentication error comes back, and nothing is queued
    assert raised.value.status == 401
    assert raised.value.code == 20003
    [entry] = outbox.entries("twilio")
    assert entry.payload["response"]["code"] == 20003


def test_missing_basic_auth_is_refused_with_401(twilio_stand_in: TwilioStandIn) -> None:
    # Given / When a raw request without credentials
    status, body = post_raw(
        f"{twilio_stand_in.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        b"To=%2B15550002222&From=%2B15550001111&Body=hi",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    # Then
    assert (status, body["code"], body["message"]) == (401, 20003, "Authenticate")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "from_": "+15550001111", "body": "hi"}, 21604),
        ({"to": "+15550002222", "from_": "+15550001111"}, 21602),
        ({"to": "+15550002222", "body": "hi"}, 21603),
    ],
)
def test_incomplete_messages_are_refused_with_400(
    twilio: Client, stream: io.StringIO, fields: dict[str, str], code: int
) -> None:
    # Given / When a message lacking a required part
    with pytest.raises(TwilioRestException) as raised:
        twilio.messages.create(**fields)

    # Then Twilio's validation error comes back and is printed
    assert raised.value.status == 400
    assert raised.value.code == code
    assert f"(code {code})" in stream.getvalue()


def test_fetching_an_unknown_message_is_404(twilio: Client) -> None:
    # Given / When
    with pytest.raises(TwilioRestException) as raised:
        twilio.messages("SM" + "f" * 32).fetch()

    # Then
    assert raised.value.status == 404


def test_a_failing_callback_is_printed_and_ignored(
    twilio: Client, outbox: Outbox, stream: io.StringIO, receiver: CallbackReceiver
) -> None:
    # Given one callback URL nobody listens on and one that answers 500
    dead_url = f"http://127.0.0.1:{closed_port()}/status"
    failing_url = f"{receiver.root}/fail"

    # When messages are sent with them
    dead = twilio.messages.create(
        to="+15550002222", from_="+15550001111", body="a", status_callback=dead_url
    )
    failing = twilio.messages.create(
        to="+15550002222", from_="+15550001111", body="b", status_callback=failing_url
    )
    refused = outbox.wait_for(callback_for(dead.sid, "delivered"), timeout=3)
    answered_500 = outbox.wait_for(callback_for(failing.sid, "delivered"), timeout=3)

    # Then each failure is recorded and printed, and the stand-in keeps serving
    assert "error" in refused.payload["response"]
    assert answered_500.payload["response"]["status"] == 500
    assert f"✗ callback to {dead_url} failed" in stream.getvalue()
    assert twilio.messages.create(to="+15550002222", from_="+15550001111", body="c").sid


def test_stop_does_not_wait_for_a_pending_callback_delay(outbox: Outbox) -> None:
    # Given a stand-in with a long callback delay and a message waiting on it
    stand_in = TwilioStandIn(outbox, callback_delay=30)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=StandInHttpClient(stand_in.start()))
    client.messages.create(
        to="+15550002222",
        from_="+15550001111",
        body="later",
        status_callback=f"http://127.0.0.1:{closed_port()}/status",
    )

    # When it is stopped
    started = time.monotonic()
    stand_in.stop()

    # Then it stops at once and sends nothing more
    assert time.monotonic() - started < 1.5
    assert outbox.entries(method="status_callback") == []


# --------------------------------------------------------------------------- shared


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/x-www-form-urlencoded", b"no-equals-sign"),
        ("application/x-www-form-urlencoded", b"Body=%FF%FE"),
        ("application/x-www-form-urlencoded", b"\xff\xfe"),
        ("text/xml", b"<a/>"),
    ],
)
def test_a_malformed_body_is_a_400_json_answer_and_the_servers_survive(
    slack_stand_in: SlackStandIn,
    twilio_stand_in: TwilioStandIn,
    slack: WebClient,
    content_type: str,
    body: bytes,
) -> None:
    # Given / When a malformed body reaches each stand-in
    headers = {"Content-Type": content_type, "Authorization": "Bearer xoxb-test"}
    slack_status, slack_body = post_raw(slack_stand_in.base_url + "chat.postMessage", body, headers)
    twilio_status, twilio_body = post_raw(
        f"{twilio_stand_in.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        body,
        headers,
    )

    # Then both answer 400 JSON in their own shape and keep working
    assert (slack_status, slack_body["ok"]) == (400, False)
    assert (twilio_status, twilio_body["status"]) == (400, 400)
    assert slack.chat_postMessage(channel="C1", text="still alive")["ok"] is True


def test_outbox_endpoint_lists_each_servers_own_entries(
    slack: WebClient,
    twilio: Client,
    slack_stand_in: SlackStandIn,
    twilio_stand_in: TwilioStandIn,
) -> None:
    # Given one call to each stand-in, sharing one outbox
    slack.chat_postMessage(channel="C1", text=EMOJI)
    twilio.messages.create(to="+15550002222", from_="+15550001111", body=ARABIC)

    # When another process reads GET /_outbox
    slack_entries = get_json(slack_stand_in.base_url.removesuffix("api/") + "_outbox")
    twilio_entries = get_json(twilio_stand_in.base_url + "/_outbox")

    # Then each lists only its own, Unicode intact
    assert [(e["service"], e["method"]) for e in slack_entries] == [("slack", "chat.postMessage")]
    assert slack_entries[0]["payload"]["text"] == EMOJI
    assert [(e["service"], e["method"]) for e in twilio_entries] == [("twilio", "messages.create")]
    assert twilio_entries[0]["payload"]["Body"] == ARABIC


def test_wait_for_times_out_with_timeout_error() -> None:
    # Given an outbox that never receives a match
    outbox = Outbox()
    outbox.record(OutboxEntry("slack", "auth.test", {}))

    # When / Then waiting for one gives up after the timeout
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        outbox.wait_for(lambda entry: entry.method == "chat.postMessage", timeout=0.1)
    assert 0.09 <= time.monotonic() - started < 1.0


def test_wait_for_wakes_up_when_a_match_is_recorded() -> None:
    # Given an entry recorded from another thread shortly
    outbox = Outbox()
    wanted = OutboxEntry("twilio", "messages.create", {"Body": EMOJI})
    timer = threading.Timer(0.05, outbox.record, args=(wanted,))
    timer.start()

    # When waiting for it
    found = outbox.wait_for(lambda entry: entry.service == "twilio", timeout=3)

    # Then it is returned as soon as it arrives
    timer.join()
    assert found is wanted


def test_a_stream_that_cannot_encode_a_script_gets_escapes_not_a_crash() -> None:
    # Given an ASCII-only terminal
    raw = io.BytesIO()
    ascii_terminal = io.TextIOWrapper(raw, encoding="ascii")
    outbox = Outbox(ascii_terminal)

    # When an Arabic message is recorded
    outbox.record(
        OutboxEntry(
            "slack",
            "chat.postMessage",
            {"channel": "C1", "text": ARABIC, "response": {"ok": True, "ts": "1.000001"}},
        )
    )

    # Then it is recorded intact and printed escaped
    assert outbox.entries()[0].payload["text"] == ARABIC
    assert b"\\u0645" in raw.getvalue()


def test_control_characters_from_customers_are_shown_not_obeyed(stream: io.StringIO) -> None:
    # Given a customer text carrying a terminal escape sequence
    outbox = Outbox(stream)
    payload = {"To": "+1555", "From": "+1666", "Body": "hi\x1b[2J", "response": {"sid": "SM1"}}

    # When it is recorded
    outbox.record(OutboxEntry("twilio", "messages.create", payload))

    # Then the printout shows the escape instead of clearing the screen
    assert "\x1b" not in stream.getvalue()
    assert "hi\\x1b[2J" in stream.getvalue()


# --------------------------------------------------------------------------- injected faults


def test_slack_answers_an_injected_429_with_retry_after_then_serves_again(
    slack_stand_in: SlackStandIn, outbox: Outbox
) -> None:
    # Given one rate limit injected on chat.postMessage
    slack_stand_in.faults.add(
        "chat.postMessage", Fault(status=429, headers=(("Retry-After", "7"),)), limit=1
    )
    client = WebClient(token="xoxb-test", base_url=slack_stand_in.base_url)

    # When the bot posts twice
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="first")
    second = client.chat_postMessage(channel="C1", text="second")

    # Then the first call got Slack's 429 with its Retry-After and posted nothing
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert second["ok"] is True
    posts = outbox.entries("slack", "chat.postMessage")
    assert [p.payload["text"] for p in posts] == ["second"]
    assert [f.payload for f in outbox.entries("slack", "fault")] == [
        {"method": "chat.postMessage", "status": 429, "Retry-After": "7"}
    ]
    assert slack_stand_in.faults.injected == {"chat.postMessage": 1}


@pytest.mark.parametrize("retry_after", ["\u00b2", "1_0"])
def test_a_retry_after_that_is_not_ascii_digits_is_retried_without_a_delay(
    slack_stand_in: SlackStandIn, retry_after: str
) -> None:
    # Given Slack rate-limiting a post with a Retry-After that is no plain number
    slack_stand_in.faults.add(
        "chat.postMessage", Fault(status=429, headers=(("Retry-After", retry_after),)), limit=3
    )
    workspace = SlackWorkspace("xoxb-test", slack_stand_in.base_url)

    # When the bot posts, then the job is to be retried (with the queue's own backoff)
    with pytest.raises(Retryable) as raised:
        workspace.post("C1", SlackMessage(text="hello", blocks=[]))
    assert raised.value.retry_after is None


def test_twilio_injected_5xx_creates_nothing_and_a_delay_creates_then_answers_late(
    twilio_stand_in: TwilioStandIn, outbox: Outbox
) -> None:
    # Given a 503 and then an answer held back, injected on message creation
    twilio_stand_in.faults.add("messages.create", Fault(status=503), limit=1)
    twilio_stand_in.faults.add("messages.create", Fault(delay_seconds=0.5), limit=1)
    client = Client(
        ACCOUNT_SID, AUTH_TOKEN, http_client=StandInHttpClient(twilio_stand_in.base_url)
    )

    # When the client sends twice
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to="+15550002222", from_="+15550001111", body="one")
    client.messages.create(to="+15550002222", from_="+15550001111", body="two")

    # Then the 503 sent nothing, the held-back call still sent its message
    assert raised.value.status == 503
    created = outbox.entries("twilio", "messages.create")
    assert [c.payload["Body"] for c in created] == ["two"]
    assert twilio_stand_in.faults.injected == {"messages.create": 2}


def test_faults_strike_at_their_rate_reproducibly_and_clear() -> None:
    # Given two fault sets with the same seed, striking half the calls
    first, second = Faults(seed=3), Faults(seed=3)
    for faults in (first, second):
        faults.add("chat.postMessage", Fault(), rate=0.5)

    # When each is asked about the same 200 calls
    strikes = [
        [f.strike("chat.postMessage") is not None for _ in range(200)] for f in (first, second)
    ]

    # Then both strike the same calls, about half of them, and never another method
    assert strikes[0] == strikes[1]
    assert 60 < sum(strikes[0]) < 140
    assert first.strike("reactions.add") is None
    first.clear()
    assert first.strike("chat.postMessage") is None
    assert first.injected == {}


def test_a_thread_is_read_back_with_its_metadata_in_pages(
    slack_stand_in: SlackStandIn, slack: WebClient
) -> None:
    from datetime import UTC, datetime

    from chalicelib.channels.slack import SlackWorkspace
    from chalicelib.presentation.slack_blocks import SlackMessage

    workspace = SlackWorkspace("xoxb-test", slack_stand_in.base_url)
    root = workspace.post("C1", SlackMessage("card", []))
    marks = [{"event_type": "threadline_test", "event_payload": {"n": str(n)}} for n in range(3)]
    replies = [
        workspace.post("C1", SlackMessage(f"reply {n}", [], metadata=mark), thread_ts=root)
        for n, mark in enumerate(marks)
    ]
    workspace.post("C1", SlackMessage("elsewhere", [], metadata=marks[1]), thread_ts=replies[0])
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)

    # Found by its metadata in its own thread, and not among messages older than asked for
    assert workspace.find_posted("C1", root, marks[1], long_ago) == replies[1]
    assert workspace.find_posted("C1", root, {"event_type": "other"}, long_ago) is None
    after = datetime.fromtimestamp(float(replies[2]), UTC)
    assert workspace.find_posted("C1", root, marks[1], after) is None

    # Pages: the parent first, then the replies, metadata only when asked for
    first = slack.conversations_replies(channel="C1", ts=root, limit=2)
    assert [m["text"] for m in first["messages"]] == ["card", "reply 0"]
    assert all("metadata" not in m for m in first["messages"])
    cursor = first["response_metadata"]["next_cursor"]
    rest = slack.conversations_replies(
        channel="C1", ts=root, limit=2, cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["reply 1", "reply 2"]
    assert [m["metadata"] for m in rest["messages"]] == marks[1:]
    assert rest["has_more"] is False
