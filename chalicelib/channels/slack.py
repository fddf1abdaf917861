"""Slack, the agents' workplace: signed requests in (Events API, interactivity, slash
commands), Web API calls out through the official client.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

from chalicelib.channels.base import MEDIA_LIMIT_BYTES, MediaFile, WebhookRequest, download
from chalicelib.channels.slack_cancellations import (
    CancelInteraction,
    cancel_press,
    cancel_submission,
    is_cancel_action,
)
from chalicelib.channels.slack_refunds import (
    RefundInteraction,
    is_refund_action,
    refund_press,
    refund_submission,
)
from chalicelib.channels.slack_returns import (
    ReturnInteraction,
    is_return_action,
    return_press,
    return_submission,
)
from chalicelib.domain.errors import BadRequest, Forbidden, Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import (
    AgentReply,
    CannedReply,
    CardAction,
    ConversationAction,
    SnoozeOption,
)
from chalicelib.domain.messages import ReplyRevision, SlackFile
from chalicelib.domain.outside_input import json_object, whole_number
from chalicelib.domain.shop import ShopSecrets
from chalicelib.domain.vocabulary import Priority
from chalicelib.presentation.cancellations import CANCEL_CHOICE, CANCEL_CONFIRM
from chalicelib.presentation.refunds import REFUND_CHOICE, REFUND_CONFIRM
from chalicelib.presentation.returns import RETURN_CHOICE, RETURN_CONFIRM
from chalicelib.presentation.slack_blocks import SlackMessage

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store import Installation

    from chalicelib.domain.checks import Refusal, SlackBot, SlackChannelState


def verify_request(request: WebhookRequest, signing_secret: str) -> None:
    """Slack's v0 signature over the raw body, within the 5-minute replay window."""
    from slack_sdk.signature import SignatureVerifier

    if not signing_secret.strip():
        raise Forbidden("Slack signing secret is not configured")
    if not request.headers.get("x-slack-signature"):
        raise Forbidden("missing X-Slack-Signature")
    try:
        valid = SignatureVerifier(signing_secret).is_valid_request(request.body, request.headers)
    except (ValueError, TypeError):
        # A non-numeric timestamp, a body that is not UTF-8 or a signature that is not ASCII
        # cannot be a valid signature.
        valid = False
    if not valid:
        raise Forbidden("invalid or expired Slack signature")


# Agents' own messages in a thread: plain, also sent to the channel, or with a file.
REPLY_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_REFERENCE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_SCHEME = re.compile(r"^(?:https?://|mailto:)")


def _written_out(reference: re.Match[str]) -> str:
    target, label = reference.group(1), reference.group(2)
    if target[0] in "@#!":
        # Mentions: users, channels, @here and friends.
        sigil = "#" if target[0] == "#" else "@"
        return sigil + (label or target[1:].split("^")[0])
    shown = target.removeprefix("mailto:")
    if not label or label in (target, _SCHEME.sub("", target)):
        return label or shown
    return f"{label} ({shown})"


def plain_text(message_text: str) -> str:
    """An agent's Slack message as the customer should read it: links and mentions written
    out, and Slack's escapes (&amp; &lt; &gt;) decoded."""
    text = _REFERENCE.sub(_written_out, message_text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class UrlVerification:
    challenge: str


@dataclass(frozen=True)
class IgnoredEvent:
    why: str


SlackEvent = UrlVerification | AgentReply | ReplyRevision | IgnoredEvent


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"missing or invalid {name}")
    return value


# A Slack timestamp: seconds, a dot, microseconds ("1764000000.000100").
_SLACK_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")


def _ts(value: object, name: str) -> str:
    """A message or action timestamp; anything else would fail later as a number."""
    text = _text(value, name)
    if not _SLACK_TS.fullmatch(text):
        raise BadRequest(f"missing or invalid {name}")
    return text


def parse_event(body: bytes) -> SlackEvent:
    """An Events API request: a URL check, an agent's thread reply, or something we skip.

    Only human messages inside a thread qualify (also those sent to the channel too): bot
    messages (our own posts included), edits, deletions and other subtypes, and top-level
    channel messages are skipped."""
    payload = json_object(body)
    kind = payload.get("type")
    if kind == "url_verification":
        return UrlVerification(challenge=_text(payload.get("challenge"), "challenge"))
    if kind != "event_callback":
        return IgnoredEvent(f"type {kind!r}")
    event = payload.get("event")
    if not isinstance(event, dict):
        raise BadRequest("missing or invalid event")
    if event.get("type") != "message":
        return IgnoredEvent(f"event {event.get('type')!r}")
    if event.get("subtype") in REVISION_SUBTYPES:
        return _revision(payload, event)
    if event.get("bot_id") or event.get("subtype") not in REPLY_SUBTYPES:
        return IgnoredEvent("bot message or message subtype")
    thread_ts, ts, text = event.get("thread_ts"), event.get("ts"), event.get("text")
    if not thread_ts or thread_ts == ts:
        return IgnoredEvent("not a thread reply")
    text = text if isinstance(text, str) else ""
    files = _files(event.get("files"))
    if not text.strip() and not files:
        return IgnoredEvent("nothing to send")
    return AgentReply(
        event_id=_text(payload.get("event_id"), "event_id"),
        team_id=_text(payload.get("team_id") or event.get("team"), "team_id"),
        channel_id=_text(event.get("channel"), "event.channel"),
        thread_ts=_ts(thread_ts, "event.thread_ts"),
        ts=_ts(ts, "event.ts"),
        user_id=_text(event.get("user"), "event.user"),
        text=plain_text(text),
        files=files,
    )


REVISION_SUBTYPES = frozenset({"message_changed", "message_deleted"})


def _revision(payload: dict[str, Any], event: dict[str, Any]) -> ReplyRevision | IgnoredEvent:
    """An agent's edit or deletion of a message in a thread. Other changes Slack reports the
    same way (a link unfurled, a thread's reply count) are skipped."""
    deleted = event.get("subtype") == "message_deleted"
    message = _object(event, "previous_message" if deleted else "message")
    ts = event.get("deleted_ts") if deleted else message.get("ts")
    thread_ts = message.get("thread_ts")
    if message.get("bot_id") or not thread_ts or thread_ts == ts:
        return IgnoredEvent("not an agent's thread message")
    edited = _object(message, "edited")
    if not deleted and not edited:
        return IgnoredEvent("not an edit")
    text = message.get("text")
    return ReplyRevision(
        team_id=_text(payload.get("team_id"), "team_id"),
        channel_id=_text(event.get("channel"), "event.channel"),
        ts=_ts(ts, "event ts"),
        text=None if deleted else plain_text(text if isinstance(text, str) else ""),
        revised_ts=_ts(event.get("ts") if deleted else edited.get("ts"), "revision ts"),
        thread_ts=_text(thread_ts, "thread_ts"),
    )


SEND_TO_CUSTOMER = "send_to_customer"
CANNED_RESPONSE = "canned_response"


def _files(listed: object) -> tuple[SlackFile, ...]:
    """The files of a message that can be downloaded (not external links, not tombstones)."""
    if not isinstance(listed, list):
        return ()
    files = []
    for item in listed:
        if not isinstance(item, dict):
            continue
        url = item.get("url_private_download") or item.get("url_private")
        if not isinstance(url, str) or not isinstance(item.get("id"), str):
            continue
        files.append(
            SlackFile(
                id=item["id"],
                name=str(item.get("name") or item["id"]),
                mimetype=str(item.get("mimetype") or "application/octet-stream"),
                size=item["size"] if isinstance(item.get("size"), int) else 0,
                url=url,
            )
        )
    return tuple(files)


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
# chat.postEphemeral's refusals that no retry changes: the channel or the user is gone, or
# the bot or the user is not in the channel.
_EPHEMERAL_FINAL = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "user_not_in_channel",
        "user_not_found",
        "is_archived",
    }
)


def _user_id(payload: dict[str, Any]) -> str:
    user_id = _text(_object(payload, "user").get("id"), "user.id")
    if not _USER_ID.match(user_id):
        raise BadRequest("missing or invalid user.id")
    return user_id


@dataclass(frozen=True)
class CannedPicker:
    """The "Canned response" shortcut on a message of a conversation thread: the modal to
    choose one must open within 3 seconds of `trigger_id`."""

    trigger_id: str
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str


Interaction = (
    ConversationAction
    | AgentReply
    | CannedPicker
    | CannedReply
    | IgnoredEvent
    | RefundInteraction
    | CancelInteraction
    | ReturnInteraction
)


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest("body is not a valid form") from error


def parse_interaction(body: bytes) -> Interaction:
    """An interactivity request (a form with one `payload` field): a press on one of a
    conversation card's buttons, a message shortcut ("Send to customer", "Canned
    response"), the canned-response modal submitted, or something we skip."""
    payload = json_object(_form(body).get("payload", ""), "payload")
    if payload.get("type") == "message_action":
        if payload.get("callback_id") == CANNED_RESPONSE:
            return _canned_picker(payload)
        return _send_to_customer(payload)
    if payload.get("type") == "view_submission":
        view = _object(payload, "view")
        if view.get("callback_id") in (REFUND_CHOICE, REFUND_CONFIRM):
            return refund_submission(payload, view, _user_id(payload))
        if view.get("callback_id") in (CANCEL_CHOICE, CANCEL_CONFIRM):
            return cancel_submission(payload, view, _user_id(payload))
        if view.get("callback_id") in (RETURN_CHOICE, RETURN_CONFIRM):
            return return_submission(payload, view, _user_id(payload))
        return _canned_choice(payload)
    if payload.get("type") != "block_actions":
        return IgnoredEvent(f"interaction {payload.get('type')!r}")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadRequest("missing or invalid actions")
    pressed = actions[0]
    if is_refund_action(pressed.get("action_id")):
        container = _object(payload, "container")
        message_ts = _ts(container.get("message_ts"), "container.message_ts")
        return refund_press(payload, pressed, _user_id(payload), message_ts)
    if is_cancel_action(pressed.get("action_id")):
        container = _object(payload, "container")
        message_ts = _ts(container.get("message_ts"), "container.message_ts")
        return cancel_press(payload, pressed, _user_id(payload), message_ts)
    if is_return_action(pressed.get("action_id")):
        container = _object(payload, "container")
        message_ts = _ts(container.get("message_ts"), "container.message_ts")
        return return_press(payload, pressed, _user_id(payload), message_ts)
    if pressed.get("action_id") not in {action.value for action in CardAction}:
        return IgnoredEvent(f"action {pressed.get('action_id')!r}")
    user, team, container = (_object(payload, name) for name in ("user", "team", "container"))
    user_id = _user_id(payload)
    action = CardAction(pressed["action_id"])
    priority: Priority | None = None
    snooze: SnoozeOption | None = None
    if action in (CardAction.SET_PRIORITY, CardAction.SNOOZE):
        # A select's option carries "<conversation ref>#<choice>".
        selected = pressed.get("selected_option")
        value = _text(selected.get("value") if isinstance(selected, dict) else None, "option")
        ref, _, chosen = value.rpartition("#")
        try:
            if action is CardAction.SET_PRIORITY:
                priority = Priority(chosen)
            else:
                snooze = SnoozeOption(chosen)
        except ValueError as error:
            raise BadRequest(f"missing or invalid {action.value} option") from error
    else:
        ref = _text(pressed.get("value"), "actions.value")
    return ConversationAction(
        action=action,
        priority=priority,
        snooze=snooze,
        conversation_ref=ref,
        team_id=_text(team.get("id") or user.get("team_id"), "team.id"),
        channel_id=_text(container.get("channel_id"), "container.channel_id"),
        message_ts=_ts(container.get("message_ts"), "container.message_ts"),
        user_id=user_id,
        action_ts=_ts(pressed.get("action_ts"), "actions.action_ts"),
    )


def _send_to_customer(payload: dict[str, Any]) -> AgentReply | IgnoredEvent:
    """The "Send to customer" message shortcut on an agent's message in a conversation
    thread: that message goes to the customer, whatever the shop's reply mode."""
    if payload.get("callback_id") != SEND_TO_CUSTOMER:
        return IgnoredEvent(f"shortcut {payload.get('callback_id')!r}")
    message = _object(payload, "message")
    ts, thread_ts = message.get("ts"), message.get("thread_ts")
    if message.get("bot_id") or not thread_ts or thread_ts == ts:
        return IgnoredEvent("not an agent's thread message")
    text = message.get("text")
    action_ts = _ts(payload.get("action_ts"), "action_ts")
    _user_id(payload)
    return AgentReply(
        event_id=f"shortcut:{action_ts}",
        team_id=_text(_object(payload, "team").get("id"), "team.id"),
        channel_id=_text(_object(payload, "channel").get("id"), "channel.id"),
        thread_ts=_ts(thread_ts, "message.thread_ts"),
        ts=_ts(ts, "message.ts"),
        user_id=_text(message.get("user"), "message.user"),
        text=plain_text(text if isinstance(text, str) else ""),
        files=_files(message.get("files")),
        explicit=True,
        requested_ts=action_ts,
    )


# Files shared by one upload: Slack fails past 14 (python-slack-sdk#1653); a customer's
# mail may carry many more.
FILES_PER_UPLOAD = 10

# Slack's Retry-After up to this long is waited out in place; longer, the job goes back to
# its queue with that delay, which keeps the conversation's order without holding a worker.
WAIT_IN_PLACE_SECONDS = 2


def _brief_rate_limit_retry() -> Any:
    """slack_sdk's rate-limit retry handler, for short Retry-After values only."""
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    class BriefRateLimitRetry(RateLimitErrorRetryHandler):
        def _can_retry(self, *, response: Any = None, **context: Any) -> bool:
            if response is None or response.status_code != 429:
                return False
            # Headers come as lists of values; without Retry-After, slack_sdk waits a second.
            header = next(
                (v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"]
            )
            seconds = whole_number(str(header[0] if isinstance(header, list) else header))
            return seconds is not None and seconds <= WAIT_IN_PLACE_SECONDS

    return BriefRateLimitRetry(max_retry_count=2)


def _root(api_url: str) -> str:
    """The scheme and host of an API URL, with a trailing slash."""
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}/"


# User ids are unique across workspaces, so one cache serves every shop.
_DISPLAY_NAMES: dict[str, tuple[str, float]] = {}
DISPLAY_NAME_CACHE_SECONDS = 3600.0


def _canned_picker(payload: dict[str, Any]) -> CannedPicker:
    message = _object(payload, "message")
    _user_id(payload)
    return CannedPicker(
        trigger_id=_text(payload.get("trigger_id"), "trigger_id"),
        team_id=_text(_object(payload, "team").get("id"), "team.id"),
        channel_id=_text(_object(payload, "channel").get("id"), "channel.id"),
        # On the card itself or on any message of its thread.
        thread_ts=_ts(message.get("thread_ts") or message.get("ts"), "message.ts"),
        user_id=_user_id(payload),
    )


def _canned_choice(payload: dict[str, Any]) -> CannedReply | IgnoredEvent:
    view = _object(payload, "view")
    if view.get("callback_id") != CANNED_RESPONSE:
        return IgnoredEvent(f"view {view.get('callback_id')!r}")
    target = json_object(str(view.get("private_metadata", "")), "private_metadata")
    values = _object(_object(view, "state"), "values")
    chosen = _object(_object(values, "response"), "response")
    option = _object(chosen, "selected_option")
    order = _object(_object(values, "order_number"), "order_number").get("value")
    return CannedReply(
        view_id=_text(view.get("id"), "view.id"),
        conversation_ref=_text(target.get("ref"), "private_metadata.ref"),
        team_id=_text(_object(payload, "team").get("id"), "team.id"),
        channel_id=_text(target.get("channel"), "private_metadata.channel"),
        thread_ts=_ts(target.get("thread_ts"), "private_metadata.thread_ts"),
        user_id=_user_id(payload),
        name=_text(option.get("value"), "the chosen response"),
        order_number=order.strip() if isinstance(order, str) and order.strip() else None,
    )


@dataclass(frozen=True)
class SlashCommand:
    """`/threadline <text>` typed by an agent."""

    team_id: str
    team_domain: str
    channel_id: str
    user_id: str
    text: str


def parse_command(body: bytes) -> SlashCommand:
    form = _form(body)
    user_id = _text(form.get("user_id"), "user_id")
    if not _USER_ID.match(user_id):
        raise BadRequest("missing or invalid user_id")
    return SlashCommand(
        team_id=_text(form.get("team_id"), "team_id"),
        team_domain=form.get("team_domain", ""),
        channel_id=_text(form.get("channel_id"), "channel_id"),
        user_id=user_id,
        text=form.get("text", "").strip(),
    )


class SlackWorkspace:
    """One shop's Slack workspace, as its bot sees it."""

    def __init__(self, bot_token: str, api_url: str) -> None:
        from slack_sdk import WebClient
        from slack_sdk.http_retry import default_retry_handlers

        self._token = bot_token
        self._api_url = api_url
        self._client = WebClient(
            token=bot_token,
            base_url=api_url,
            timeout=10,
            retry_handlers=[*default_retry_handlers(), _brief_rate_limit_retry()],
        )

    def _call(self, method: str, *, read: bool = False, **arguments: Any) -> dict[str, Any]:
        """Calls a Web API method: writes with a JSON body, reads (which take no JSON) with
        query parameters."""
        from slack_sdk.errors import SlackApiError

        try:
            if read:
                response = self._client.api_call(method, http_verb="GET", params=arguments)
            else:
                response = self._client.api_call(method, json=arguments)
        except SlackApiError as error:
            status = error.response.status_code
            if status == 429 or status >= 500:
                retry_after = whole_number(str(error.response.headers.get("Retry-After")))
                raise Retryable(
                    f"Slack answered {status} to {method}", retry_after=retry_after
                ) from error
            raise
        except OSError as error:
            raise Retryable(f"Slack unreachable: {type(error).__name__}") from error
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        """Posts a message (in a thread when `thread_ts` is given) and returns its ts."""
        return str(self._post_message(channel, message, thread_ts)["ts"])

    def post_to(self, destination: str, message: SlackMessage) -> tuple[str, str]:
        """Posts a message to a channel, or to a user (a user id: the bot's direct messages
        with them); returns where it is as Slack names it, (channel id, ts), which is what
        deleting it takes: a user id is no channel to `chat.delete`."""
        answer = self._post_message(destination, message, None)
        return str(answer["channel"]), str(answer["ts"])

    def _post_message(
        self, channel: str, message: SlackMessage, thread_ts: str | None
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "channel": channel,
            "text": message.text,
            "blocks": message.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        if message.metadata is not None:
            arguments["metadata"] = message.metadata
        return self._call("chat.postMessage", **arguments)

    def find_posted(
        self, channel: str, thread_ts: str, metadata: dict[str, Any], since: datetime
    ) -> str | None:
        """The ts of the message in a thread that carries `metadata`, among those posted
        since `since`; None when there is none. How a retry tells whether an earlier
        attempt's post went through."""
        arguments: dict[str, Any] = {
            "channel": channel,
            "ts": thread_ts,
            "oldest": f"{since.timestamp():.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        while True:
            page = self._call("conversations.replies", read=True, **arguments)
            for message in page.get("messages", []):
                if isinstance(message, dict) and message.get("metadata") == metadata:
                    return str(message["ts"])
            cursor = _object(page, "response_metadata").get("next_cursor")
            if not cursor:
                return None
            arguments["cursor"] = cursor

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    def display_name(self, user_id: str) -> str | None:
        """How the workspace names a user (display name, else real name); None when Slack
        does not say. Cached for the container's life time: names rarely change."""
        cached = _DISPLAY_NAMES.get(user_id)
        if cached is not None and time.monotonic() - cached[1] < DISPLAY_NAME_CACHE_SECONDS:
            return cached[0]
        from slack_sdk.errors import SlackApiError

        try:
            user = _object(self._call("users.info", user=user_id), "user")
        except SlackApiError:
            return None
        profile = _object(user, "profile")
        candidates = (profile.get("display_name"), profile.get("real_name"), user.get("real_name"))
        name = next((c.strip() for c in candidates if isinstance(c, str) and c.strip()), None)
        if name is not None:
            _DISPLAY_NAMES[user_id] = (name, time.monotonic())
        return name

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[MediaFile]
    ) -> list[str]:
        """Shares files in a thread, or in the channel itself without `thread_ts`
        (files_upload_v2: Slack's external upload flow), at most `FILES_PER_UPLOAD` at a
        time: Slack fails a completion of more than 14 files, every time. Returns the ids
        Slack gave them, which deleting them takes."""
        shared: list[str] = []
        for start in range(0, len(files), FILES_PER_UPLOAD):
            shared += self._upload(channel, thread_ts, files[start : start + FILES_PER_UPLOAD])
        return shared

    def _upload(self, channel: str, thread_ts: str | None, files: list[MediaFile]) -> list[str]:
        from slack_sdk.errors import SlackApiError, SlackRequestError

        uploads = [{"file": f.content, "filename": f.filename, "title": f.filename} for f in files]
        try:
            completed = self._client.files_upload_v2(
                file_uploads=uploads, channel=channel, thread_ts=thread_ts
            )
        except SlackApiError as error:
            if error.response.status_code == 429 or error.response.status_code >= 500:
                raise Retryable(
                    f"Slack answered {error.response.status_code} to an upload"
                ) from error
            raise
        except (SlackRequestError, OSError) as error:
            raise Retryable(f"Slack upload failed: {type(error).__name__}") from error
        listed = completed.get("files")
        return [
            str(file["id"])
            for file in (listed if isinstance(listed, list) else [])
            if isinstance(file, dict) and file.get("id")
        ]

    def delete_file(self, file_id: str) -> None:
        """Deletes a file the bot uploaded; one already gone counts as deleted. A file
        someone else uploaded is refused (`cant_delete_file`)."""
        from slack_sdk.errors import SlackApiError

        try:
            self._call("files.delete", file=file_id)
        except SlackApiError as error:
            if error.response.get("error") not in ("file_not_found", "file_deleted"):
                raise

    def download_file(self, file: SlackFile) -> MediaFile | None:
        """A file attached in Slack, with the bot's token, from Slack only; None when Slack
        will not give it (missing `files:read` scope, deleted) or it is too large."""
        allowed = ("https://files.slack.com/", _root(self._api_url))
        if not file.url.startswith(allowed) or file.size > MEDIA_LIMIT_BYTES:
            return None
        fetched = download(
            file.url, "Slack", 10, headers={"Authorization": f"Bearer {self._token}"}
        )
        # Without access Slack answers with its sign-in page, not an error status.
        if (
            fetched is None
            or fetched.content is None
            or fetched.content_type.startswith("text/html")
        ):
            return None
        return MediaFile(filename=file.name, content_type=file.mimetype, content=fetched.content)

    def join(self, channel: str) -> None:
        """Joins a public channel, so its thread replies reach the app (best effort: a
        private channel needs an invitation)."""
        from slack_sdk.errors import SlackApiError

        try:
            self._call("conversations.join", channel=channel)
        except SlackApiError as error:
            if error.response.get("error") not in ("method_not_supported_for_channel_type",):
                raise

    def bot(self) -> "SlackBot | Refusal":
        """Who the token is (`auth.test`), or Slack's refusal of it."""
        from chalicelib.domain.checks import Refusal, SlackBot

        answer = self._inspect("auth.test")
        if isinstance(answer, Refusal):
            return answer
        return SlackBot(
            team_id=str(answer.get("team_id") or ""),
            team=str(answer.get("team") or ""),
            user_id=str(answer.get("user_id") or ""),
        )

    def channel_state(self, channel: str) -> "SlackChannelState | Refusal":
        """A channel as the bot sees it (`conversations.info`), or Slack's refusal."""
        from chalicelib.domain.checks import Refusal, SlackChannelState

        answer = self._inspect("conversations.info", channel=channel)
        if isinstance(answer, Refusal):
            return answer
        found = answer.get("channel") or {}
        return SlackChannelState(
            name=str(found.get("name") or channel),
            is_member=found.get("is_member") is True,
            is_archived=found.get("is_archived") is True,
        )

    def _inspect(self, method: str, **arguments: Any) -> "dict[str, Any] | Refusal":
        """A read's answer, or Slack's refusal of it (or Slack unreachable) as a Refusal."""
        from slack_sdk.errors import SlackApiError

        from chalicelib.domain.checks import Refusal

        try:
            return self._call(method, read=True, **arguments)
        except SlackApiError as error:
            code = str(error.response.get("error") or "refused")
            needed = error.response.get("needed")
            return Refusal(code, f"needs {needed}" if needed else "")
        except Retryable as error:
            return Refusal("unreachable", error.reason)

    def delete(self, channel: str, ts: str) -> None:
        """Deletes a message the bot posted; one already gone counts as deleted."""
        from slack_sdk.errors import SlackApiError

        try:
            self._call("chat.delete", channel=channel, ts=ts)
        except SlackApiError as error:
            if error.response.get("error") != "message_not_found":
                raise

    def permalink(self, channel: str, ts: str) -> str:
        return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        """The user ids of a user group's members (`usergroups.users.list`); none for a group
        Slack does not know (deleted since it was configured)."""
        from slack_sdk.errors import SlackApiError

        try:
            answer = self._call("usergroups.users.list", read=True, usergroup=usergroup_id)
        except SlackApiError as error:
            if error.response.get("error") == "no_such_subteam":
                return []
            raise
        users = answer.get("users")
        return [user for user in users if isinstance(user, str)] if isinstance(users, list) else []

    def post_ephemeral(
        self, channel: str, user_id: str, message: SlackMessage, thread_ts: str | None = None
    ) -> bool:
        """Shows a message to one user in a channel (or its thread): only they see it, it
        is not kept in the channel's history, and it is gone when their Slack reloads.
        False when Slack refuses it for good (the user or the bot left the channel): a
        retry would be refused the same."""
        from slack_sdk.errors import SlackApiError

        arguments: dict[str, Any] = {
            "channel": channel,
            "user": user_id,
            "text": message.text,
            "blocks": message.blocks,
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        try:
            self._call("chat.postEphemeral", **arguments)
        except SlackApiError as error:
            if error.response.get("error") not in _EPHEMERAL_FINAL:
                raise
            return False
        return True

    def react(self, channel: str, ts: str, name: str) -> None:
        # A retried job may add the same reaction twice; Slack refuses the second.
        self._reaction("reactions.add", channel, ts, name, harmless="already_reacted")

    def unreact(self, channel: str, ts: str, name: str) -> None:
        self._reaction("reactions.remove", channel, ts, name, harmless="no_reaction")

    def _reaction(self, method: str, channel: str, ts: str, name: str, harmless: str) -> None:
        from slack_sdk.errors import SlackApiError

        try:
            self._call(method, channel=channel, timestamp=ts, name=name)
        except SlackApiError as error:
            if error.response.get("error") != harmless:
                raise


# A workspace's client, as the composition root builds it (the use cases' SlackPort).
Client = TypeVar("Client")


class ShopWorkspaces(Generic[Client]):
    """Each shop's Slack client, opened with the bot token in the shop's secret.

    The secret is read on every call (the vault caches it), so a token stored since is used
    at once. A token Slack has revoked still opens a client: Slack's refusal comes with the
    first call, where the caller already handles Slack's errors."""

    def __init__(
        self, read_secrets: Callable[[str], ShopSecrets], connect: Callable[[str], Client]
    ) -> None:
        self._read_secrets = read_secrets
        self._connect = connect

    def slack_for(self, shop_id: str) -> Client:
        token = self._read_secrets(shop_id).slack_bot_token
        if token is None:
            raise WorkspaceUnavailable("the shop has no Slack bot token")
        return self._connect(token.get_secret_value())


# What the bot may do, as the app manifest (infra/slack-app-manifest.json) also declares.
BOT_SCOPES = (
    "channels:history",
    "channels:join",
    # Reading a channel's state (`threadline doctor`: is the bot in it, is it archived).
    "channels:read",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "incoming-webhook",
    "reactions:write",
    "users:read",
    # Who may refund from Slack: the members of the user groups a shop allows.
    "usergroups:read",
)


def authorize_url(api_url: str, client_id: str, state: str, redirect_uri: str) -> str:
    """Slack's "Add to Slack" consent page (on the stand-in's host when one is used)."""
    from slack_sdk.oauth import AuthorizeUrlGenerator

    host = "https://slack.com/" if api_url.startswith("https://slack.com/") else _root(api_url)
    generator = AuthorizeUrlGenerator(
        client_id=client_id,
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect_uri,
        authorization_url=f"{host}oauth/v2/authorize",
    )
    return generator.generate(state)


def exchange_code(
    api_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> "Installation":
    """Trades the code Slack's redirect carries for the workspace's installation."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.oauth.installation_store import Installation

    try:
        granted = WebClient(base_url=api_url, timeout=10).oauth_v2_access(
            client_id=client_id, client_secret=client_secret, code=code, redirect_uri=redirect_uri
        )
    except SlackApiError as error:
        raise Forbidden(f"Slack refused the installation: {error.response.get('error')}") from error
    except OSError as error:
        raise Retryable(f"Slack unreachable: {type(error).__name__}") from error
    team = granted.get("team") or {}
    enterprise = granted.get("enterprise") or {}
    webhook = granted.get("incoming_webhook") or {}
    installer = granted.get("authed_user") or {}
    return Installation(
        app_id=granted.get("app_id"),
        enterprise_id=enterprise.get("id"),
        team_id=team.get("id"),
        team_name=team.get("name"),
        bot_token=granted.get("access_token"),
        bot_id=granted.get("bot_id"),
        bot_user_id=granted.get("bot_user_id"),
        bot_scopes=granted.get("scope") or "",
        user_id=installer.get("id") or "",
        incoming_webhook_channel_id=webhook.get("channel_id"),
        incoming_webhook_channel=webhook.get("channel"),
        is_enterprise_install=bool(granted.get("is_enterprise_install")),
        token_type=granted.get("token_type"),
    )
