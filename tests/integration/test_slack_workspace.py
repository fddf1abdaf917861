"""The bot's Web API calls through the official client, against small local Slack stand-ins:
the sandbox for what works, and a server that answers 429 for rate limits."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.channels.base import MediaFile
from chalicelib.channels.slack import SlackWorkspace
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import SlackFile
from chalicelib.presentation.slack_blocks import SlackMessage
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn

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


class BrieflyRateLimited(BaseHTTPRequestHandler):
    """429 with Retry-After: 1 for the first call, then Slack's normal answer."""

    calls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).calls += 1
        limited = type(self).calls == 1
        body = (
            b'{"ok": false, "error": "ratelimited"}'
            if limited
            else b'{"ok": true, "channel": "C0SUPPORT", "ts": "1764000000.000200"}'
        )
        self.send_response(429 if limited else 200)
        if limited:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_brief_rate_limit_is_waited_out_in_place_by_slack_sdks_retry_handler():
    # Given Slack answering 429 with Retry-After: 1 once
    server = ThreadingHTTPServer(("127.0.0.1", 0), BrieflyRateLimited)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        workspace = SlackWorkspace("xoxb-test", f"http://127.0.0.1:{server.server_address[1]}/api/")
        # When the bot posts
        ts = workspace.post("C0SUPPORT", MESSAGE)
    finally:
        server.shutdown()
    # Then the client waited and posted on its second try
    assert ts == "1764000000.000200"
    assert BrieflyRateLimited.calls == 2


def test_a_rate_limited_call_is_retryable_after_slacks_retry_after(rate_limited_slack):
    # Given Slack answering 429 with Retry-After: 7
    workspace = SlackWorkspace("xoxb-test", rate_limited_slack)
    # When the bot posts
    with pytest.raises(Retryable) as refused:
        workspace.post("C0SUPPORT", MESSAGE)
    # Then (too long to wait in place) the worker is told to try again in 7 seconds
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


def test_files_go_up_into_a_thread_and_agents_files_come_down_with_the_bot_token():
    # Given the sandbox Slack API, and a file an agent attached there
    outbox = Outbox()
    slack = SlackStandIn(outbox)
    workspace = SlackWorkspace("xoxb-test", slack.start())
    try:
        attached = slack.add_file("recibo.pdf", b"%PDF-1.7 recibo", "application/pdf")
        # When the bot shares a customer's photo in a thread, and fetches the agent's file
        photo = MediaFile("ME1.jpg", "image/jpeg", b"\xff\xd8\xff photo")
        workspace.upload_files("C0SUPPORT", "1764000000.000100", [photo])
        fetched = workspace.download_file(
            SlackFile(id=attached["id"], name="recibo.pdf", url=attached["url_private_download"])
        )
        # And is asked to fetch a file from anywhere but Slack
        elsewhere = workspace.download_file(
            SlackFile(id="F0X", name="x", url="https://attacker.example/steal")
        )
    finally:
        slack.stop()
    # Then the upload went through Slack's three steps and was shared in the thread
    [completed] = outbox.entries("slack", "files.completeUploadExternal")
    assert completed.payload["thread_ts"] == "1764000000.000100"
    assert completed.payload["response"]["files"][0]["name"] == "ME1.jpg"
    # And the agent's file came down whole, while the bot token never left for elsewhere
    assert fetched == MediaFile("recibo.pdf", "application/octet-stream", b"%PDF-1.7 recibo")
    assert elsewhere is None


def test_a_file_slack_answers_with_its_sign_in_page_is_not_taken_for_the_file():
    outbox = Outbox()
    slack = SlackStandIn(outbox)
    url = slack.start()
    try:
        attached = slack.add_file("a.png", b"png", "image/png")
        # A workspace whose token does not reach the download (no Authorization sent)
        workspace = SlackWorkspace("", url)
        file = SlackFile(id=attached["id"], name="a.png", url=attached["url_private_download"])
        assert workspace.download_file(file) is None
    finally:
        slack.stop()


def test_the_bots_post_is_deleted_once_and_a_second_delete_counts_as_done():
    # Given the sandbox Slack API and a post of the bot's
    outbox = Outbox()
    slack = SlackStandIn(outbox)
    workspace = SlackWorkspace("xoxb-test", slack.start())
    try:
        ts = workspace.post("C0SUPPORT", MESSAGE)
        # When it is deleted twice (a retried erasure)
        workspace.delete("C0SUPPORT", ts)
        workspace.delete("C0SUPPORT", ts)
    finally:
        slack.stop()
    # Then Slack deleted it, and answered the second with message_not_found, which is no error
    deletes = outbox.entries("slack", "chat.delete")
    assert [e.payload["ts"] for e in deletes] == [ts, ts]
    assert [e.payload["response"].get("error") for e in deletes] == [None, "message_not_found"]


@pytest.fixture
def sandbox() -> Iterator[tuple[SlackStandIn, Outbox, str]]:
    outbox = Outbox()
    slack = SlackStandIn(outbox)
    url = slack.start()
    yield slack, outbox, url
    slack.stop()


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("message", "error", "problem"),
    [
        (SlackMessage("x", [section(f"file {n}") for n in range(51)]), "invalid_blocks", "/blocks"),
        (SlackMessage("x", [section("x" * 3001)]), "invalid_blocks", "/blocks/0/text/text"),
        (SlackMessage("x", [section("")]), "invalid_blocks", "/blocks/0/text/text"),
        (
            SlackMessage("x", [{"type": "context", "elements": [section("a")["text"]] * 11}]),
            "invalid_blocks",
            "/blocks/0/elements",
        ),
        (
            SlackMessage(
                "x", [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
            ),
            "invalid_blocks",
            "/blocks/0/text/text",
        ),
        (SlackMessage("x" * 40_001, [section("x")]), "msg_too_long", None),
        (SlackMessage("x", [section("x" * 3000)] * 5), "msg_blocks_too_long", None),
    ],
    ids=[
        "51 blocks",
        "section of 3,001",
        "empty section",
        "11 context elements",
        "header of 151",
        "text of 40,001",
        "15,000 in blocks",
    ],
)
def test_the_sandbox_refuses_what_slack_refuses_in_slacks_words(
    sandbox: tuple[SlackStandIn, Outbox, str],
    message: SlackMessage,
    error: str,
    problem: str | None,
) -> None:
    from slack_sdk.errors import SlackApiError

    _, outbox, url = sandbox
    # When the bot posts a message Slack would refuse
    with pytest.raises(SlackApiError) as refused:
        SlackWorkspace("xoxb-test", url).post("C0SUPPORT", message)
    # Then the answer is Slack's error, pointing at what is wrong, and nothing is posted
    assert refused.value.response["error"] == error
    if problem is not None:
        assert any(f"[json-pointer:{problem}]" in e for e in refused.value.response["errors"])
    assert [e.payload["response"]["ok"] for e in outbox.entries("slack", "chat.postMessage")] == [
        False
    ]


def test_a_modal_past_slacks_limits_is_refused_as_views_open_does(
    sandbox: tuple[SlackStandIn, Outbox, str],
) -> None:
    from slack_sdk.errors import SlackApiError

    _, _, url = sandbox
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title longer than 24 chars"},
        "blocks": [section("x")] * 101,
    }
    with pytest.raises(SlackApiError) as refused:
        SlackWorkspace("xoxb-test", url).open_view("1.2.3", view)
    assert refused.value.response["error"] == "invalid_arguments"
    problems = " ".join(refused.value.response["errors"])
    assert "[json-pointer:/view/title/text]" in problems
    assert "[json-pointer:/view/blocks]" in problems


def test_many_files_go_up_in_uploads_slack_takes(sandbox: tuple[SlackStandIn, Outbox, str]) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    _, outbox, url = sandbox
    photos = [MediaFile(f"foto-{n:02d}.png", "image/png", bytes([n]) * 8) for n in range(25)]

    # Given Slack failing a completion of more than 14 files
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-test", base_url=url).files_upload_v2(
            file_uploads=[{"content": f.content, "filename": f.filename} for f in photos[:15]],
            channel="C0SUPPORT",
        )
    assert refused.value.response["error"] == "internal_error"

    # When the bot shares a customer's 25 files in a thread
    SlackWorkspace("xoxb-test", url).upload_files("C0SUPPORT", "1764000000.000100", photos)

    # Then they go up ten at a time, and every one is shared
    completed = outbox.entries("slack", "files.completeUploadExternal")[1:]
    assert [len(c.payload["response"]["files"]) for c in completed] == [10, 10, 5]
    shared = [f["name"] for c in completed for f in c.payload["response"]["files"]]
    assert shared == [p.filename for p in photos]


def test_the_bots_files_are_deleted_by_the_ids_their_upload_gave(
    sandbox: tuple[SlackStandIn, Outbox, str],
) -> None:
    from slack_sdk.errors import SlackApiError

    stand_in, outbox, url = sandbox
    workspace = SlackWorkspace("xoxb-test", url)
    attached = stand_in.add_file("recibo.pdf", b"%PDF-1.7 recibo", "application/pdf")
    # Given a customer's two photos the bot shared in a thread
    photos = [MediaFile(f"foto-{n}.png", "image/png", bytes([n]) * 8) for n in range(2)]
    shared = workspace.upload_files("C0SUPPORT", "1764000000.000100", photos)
    assert len(shared) == 2
    assert set(shared) < set(stand_in.files())
    # When they are deleted, the first twice (a retried erasure)
    for file_id in (shared[0], *shared):
        workspace.delete_file(file_id)
    # Then Slack holds them no more; its "file_deleted" to the second try is no error
    assert stand_in.files() == [attached["id"]]
    answers = [e.payload["response"].get("error") for e in outbox.entries("slack", "files.delete")]
    assert answers == [None, "file_deleted", None]
    # While a file an agent attached is not the bot's to delete
    with pytest.raises(SlackApiError) as refused:
        workspace.delete_file(attached["id"])
    assert refused.value.response["error"] == "cant_delete_file"


def test_a_post_to_a_user_is_deleted_where_slack_put_it_their_direct_messages(
    sandbox: tuple[SlackStandIn, Outbox, str],
) -> None:
    from slack_sdk.errors import SlackApiError

    _, outbox, url = sandbox
    workspace = SlackWorkspace("xoxb-test", url)
    # When the bot posts to a user and to a channel
    dm = workspace.post_to("U0LEAD", MESSAGE)
    posted = workspace.post_to("C0ESCALATE", MESSAGE)
    # Then each is where Slack says: the user's direct messages are a channel of their own,
    # which deleting the post takes (the user's id names no channel)
    assert dm[0] == "D0LEAD"
    assert posted[0] == "C0ESCALATE"
    with pytest.raises(SlackApiError) as refused:
        workspace.delete("U0LEAD", dm[1])
    assert refused.value.response["error"] == "channel_not_found"
    workspace.delete(*dm)
    workspace.delete(*posted)
    answers = [e.payload["response"].get("error") for e in outbox.entries("slack", "chat.delete")]
    assert answers == ["channel_not_found", None, None]


class TestTheInboundWorkerAgainstTheSandbox:
    """The inbound worker sharing a customer's files through the real client and Slack's
    upload flow (the sandbox), where an upload can fail halfway."""

    @pytest.fixture
    def container(
        self, aws: None, settings: Any, twilio: Any, clock: Any, sandbox: Any
    ) -> Iterator[Any]:
        from chalicelib import bootstrap

        _, _, url = sandbox
        built = bootstrap.Container(
            settings,
            twilio=twilio,
            slack=lambda token: SlackWorkspace(token, url),
            clock=clock,
            slack_oauth=None,
        )
        bootstrap.use(built)
        yield built
        bootstrap.use(None)

    @pytest.fixture
    def mail_shop(self, put_shop: Any) -> str:
        import boto3

        from tests.integration.test_media import SHOP_MAIL
        from tests.signing import shop_document

        assert put_shop("ana", shop_document(email={"address": SHOP_MAIL})).status_code == 201
        boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
        return "ana"

    def test_a_customers_files_are_shared_once_when_an_upload_fails_halfway(
        self, client: Any, mail_shop: str, run_workers: Any, sandbox: Any
    ) -> None:
        import random

        from local_stack.sandbox.faults import Fault, Faults
        from tests.integration.test_email import deliver
        from tests.integration.test_media import SHOP_MAIL, mail_with_photos

        stand_in, outbox, _ = sandbox
        # Given Slack failing the second of the uploads that share a mail's 15 photos (ten
        # at a time): a seed whose first draw passes and second strikes
        seed = next(s for s in range(1000) if (r := random.Random(s)).random() >= 0.5 > r.random())
        stand_in.faults = Faults(seed)
        stand_in.faults.add("files.completeUploadExternal", Fault(500), rate=0.5, limit=1)
        # When the mail arrives and the worker (retried after the failure) posts it
        deliver(mail_with_photos(15), to=SHOP_MAIL)
        run_workers()
        # Then every photo is in the thread once: the retry does not share again what the
        # first try shared
        completed = [
            entry.payload["response"]
            for entry in outbox.entries("slack", "files.completeUploadExternal")
        ]
        shared = sorted(f["name"] for r in completed if r.get("ok") for f in r["files"])
        assert stand_in.faults.injected == {"files.completeUploadExternal": 1}
        assert shared == sorted(f"foto-{n:02d}.png" for n in range(15))


def test_a_user_groups_members_are_read_and_an_unknown_group_has_none():
    slack = SlackStandIn(Outbox())
    slack.add_user_group("S0SUPPORTLEADS", ["U0BOB", "U0CARLA"])
    workspace = SlackWorkspace("xoxb-test", slack.start())
    try:
        assert workspace.usergroup_members("S0SUPPORTLEADS") == ["U0BOB", "U0CARLA"]
        # A group deleted since the shop named it lets nobody in.
        assert workspace.usergroup_members("S0GONE") == []
    finally:
        slack.stop()
