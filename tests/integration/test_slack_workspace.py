"""The bot's Web API calls through the official client, against small local Slack stand-ins:
the sandbox for what works, and a server that answers 429 for rate limits."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.channels.slack import SlackWorkspace
from chalicelib.domain.errors import Retryable
from chalicelib.domain.slack_view import SlackMessage
from chalicelib.local.sandbox import Outbox, SlackStandIn

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MESSAGE = SlackMessage(
    text="Olá 📦", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Olá 📦"}}]
)


class RateLimited(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"ok": false, "error": "ratelimited"}'
        self.send_response(429)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def rate_limited_slack() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RateLimited)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()


def test_a_rate_limited_call_is_retryable_after_slacks_retry_after(rate_limited_slack):
    # Given Slack answering 429 with Retry-After: 7
    workspace = SlackWorkspace("xoxb-test", rate_limited_slack)
    # When the bot posts
    with pytest.raises(Retryable) as refused:
        workspace.post("C0SUPPORT", MESSAGE)
    # Then the worker is told to try again in 7 seconds
    assert refused.value.retry_after == 7


def test_posts_and_reactions_reach_slack_through_the_official_client():
    # Given the sandbox Slack API
    outbox = Outbox()
    slack = SlackStandIn(outbox)
    workspace = SlackWorkspace("xoxb-test", slack.start())
    try:
        # When the bot posts in a thread, reacts, and takes the reaction back
        ts = workspace.post("C0SUPPORT", MESSAGE, thread_ts="1764000000.000100")
        workspace.react("C0SUPPORT", ts, "outbox_tray")
        workspace.unreact("C0SUPPORT", ts, "outbox_tray")
    finally:
        slack.stop()
    # Then Slack received them with the thread, text and blocks intact
    [post] = outbox.entries("slack", "chat.postMessage")
    assert post.payload["thread_ts"] == "1764000000.000100"
    assert post.payload["text"] == "Olá 📦"
    assert post.payload["unfurl_links"] is False
    assert [e.method for e in outbox.entries("slack")] == [
        "chat.postMessage",
        "reactions.add",
        "reactions.remove",
    ]
