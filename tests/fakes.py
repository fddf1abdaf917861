"""In-memory stand-ins for the ports that talk to Slack and Twilio."""

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.channels.base import DeliveryRefused, MediaFile, SendReceipt
from chalicelib.channels.twilio import TwilioChannel
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import DeliveryStatus, MediaItem, OutboundMessage, SlackFile
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.presentation.slack_blocks import SlackMessage
from local_stack.slack_limits import message_refusal, view_refusal


@dataclass
class SlackPost:
    token: str
    channel: str
    message: SlackMessage
    thread_ts: str | None
    ts: str


@dataclass
class FakeSlack:
    """Every workspace's posts and reactions, by token; ts values increase like Slack's."""

    posts: list[SlackPost] = field(default_factory=list)
    updates: list[SlackPost] = field(default_factory=list)
    reactions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    views: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)
    # Files agents attached, by download URL; and what was uploaded into threads.
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[str, str | None, list[MediaFile]]] = field(default_factory=list)
    upload_failures: list[Exception] = field(default_factory=list)
    # Display names by user id; users.info knows nobody else.
    names: dict[str, str] = field(default_factory=lambda: {"U0AGENT": "Bia"})
    # (channel, ts) of the messages deleted; queue exceptions to make the next deletes fail.
    deleted: list[tuple[str, str]] = field(default_factory=list)
    delete_failures: list[Exception] = field(default_factory=list)
    # Files the bot shared, by the id Slack gave each; the ids of those deleted, and
    # exceptions to make the next file deletions fail.
    shared_files: dict[str, MediaFile] = field(default_factory=dict)
    deleted_files: list[str] = field(default_factory=list)
    delete_file_failures: list[Exception] = field(default_factory=list)
    _clock: Any = field(default_factory=lambda: itertools.count(1))

    def workspace(self, token: str) -> "FakeWorkspace":
        return FakeWorkspace(self, token)

    def roots(self) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts is None]

    def thread(self, thread_ts: str) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts == thread_ts]


def refused_as_slack_does(method: str, refusal: dict[str, Any] | None) -> None:
    """Raises what slack_sdk's WebClient raises when Slack refuses a call (`ok: false`)."""
    if refusal is None:
        return
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url=f"https://slack.com/api/{method}",
        req_args={},
        data=refusal,
        headers={},
        status_code=200,
    )
    raise SlackApiError(f"The request to the Slack API failed. ({method})", response)  # type: ignore[no-untyped-call]


def direct_messages(destination: str) -> str:
    """Where Slack puts a message posted to a user: the bot's direct messages with them,
    a channel of its own (D…)."""
    return "D" + destination[1:] if destination[:1] in ("U", "W") else destination


def message_params(channel: str, message: SlackMessage) -> dict[str, Any]:
    """What SlackWorkspace sends for a message."""
    return {"channel": channel, "text": message.text, "blocks": message.blocks}


@dataclass
class FakeWorkspace:
    """One workspace of FakeSlack: it refuses, as Slack does, what Slack would refuse
    (blocks past Block Kit's limits, a text too long), with slack_sdk's error."""

    slack: FakeSlack
    token: str

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        if self.slack.failures:
            raise self.slack.failures.pop(0)
        refused_as_slack_does("chat.postMessage", message_refusal(message_params(channel, message)))
        ts = f"1764000000.{next(self.slack._clock):06d}"
        self.slack.posts.append(SlackPost(self.token, channel, message, thread_ts, ts))
        return ts

    def post_to(self, destination: str, message: SlackMessage) -> tuple[str, str]:
        return direct_messages(destination), self.post(destination, message)

    def find_posted(
        self, channel: str, thread_ts: str, metadata: dict[str, Any], since: datetime
    ) -> str | None:
        # The fake's clock is not the messages' clock: `since` narrows nothing here.
        return next(
            (
                p.ts
                for p in self.slack.posts
                if (p.channel, p.thread_ts) == (channel, thread_ts)
                and p.message.metadata == metadata
            ),
            None,
        )

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        refused_as_slack_does("chat.update", message_refusal(message_params(channel, message)))
        self.slack.updates.append(SlackPost(self.token, channel, message, None, ts))

    def delete(self, channel: str, ts: str) -> None:
        if self.slack.delete_failures:
            raise self.slack.delete_failures.pop(0)
        if direct_messages(channel) != channel:
            # A user id names no channel: their direct messages have an id of their own.
            refused_as_slack_does("chat.delete", {"ok": False, "error": "channel_not_found"})
        if (channel, ts) in self.slack.deleted:
            return
        self.slack.deleted.append((channel, ts))

    def display_name(self, user_id: str) -> str | None:
        return self.slack.names.get(user_id)

    def join(self, channel: str) -> None:
        self.slack.joined.append((self.token, channel))

    def permalink(self, channel: str, ts: str) -> str:
        return f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        refused_as_slack_does("views.open", view_refusal(view))
        self.slack.views.append((trigger_id, view))

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[MediaFile]
    ) -> list[str]:
        if self.slack.upload_failures:
            raise self.slack.upload_failures.pop(0)
        self.slack.uploads.append((channel, thread_ts, files))
        ids = [f"F{len(self.slack.shared_files) + n:08d}" for n in range(1, len(files) + 1)]
        self.slack.shared_files.update(zip(ids, files, strict=True))
        return ids

    def delete_file(self, file_id: str) -> None:
        if self.slack.delete_file_failures:
            raise self.slack.delete_file_failures.pop(0)
        if file_id not in self.slack.deleted_files:
            self.slack.deleted_files.append(file_id)

    def download_file(self, file: SlackFile) -> MediaFile | None:
        content = self.slack.files.get(file.url)
        if content is None:
            return None
        return MediaFile(filename=file.name, content_type=file.mimetype, content=content)

    # Like SlackWorkspace: adding a reaction twice or removing a missing one is harmless.
    def react(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name not in shown:
            shown.append(name)

    def unreact(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name in shown:
            shown.remove(name)


@dataclass
class SentMessage:
    to: str
    from_: str
    text: str
    status_callback: str
    sid: str
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


class RecordingTwilio(TwilioChannel):
    """The real Twilio adapter (signatures, parsing), with sending recorded instead of made.

    Queue exceptions in `failures` to make the next sends fail before sending; count
    `lost_answers` to make the next sends go out but time out before Twilio's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentMessage] = []
        self.failures: list[Retryable | DeliveryRefused] = []
        self.lost_answers = 0
        # Customers' attachments Twilio holds, by media URL.
        self.media: dict[str, MediaFile] = {}

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        return self.media.get(item.url)

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        if self.failures:
            raise self.failures.pop(0)
        sid = f"SM{len(self.sent) + 1:032x}"
        self.sent.append(
            SentMessage(
                message.to,
                message.from_,
                message.text,
                status_callback,
                sid,
                media_urls,
                message.content_sid,
                message.content_variables,
            )
        )
        if self.lost_answers:
            self.lost_answers -= 1
            raise Retryable("Twilio unreachable: ReadTimeout")
        return SendReceipt(provider_message_id=sid, status=DeliveryStatus.QUEUED)

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        return [
            SendReceipt(provider_message_id=sent.sid, status=DeliveryStatus.QUEUED)
            for sent in self.sent
            if (sent.to, sent.from_, sent.text) == (message.to, message.from_, message.text)
        ]
