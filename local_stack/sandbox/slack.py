"""The Slack Web API imitated: `POST /api/<method>` for the methods Threadline calls (Block
Kit refused as Slack refuses it), file uploads and downloads, and OAuth's consent page."""

from __future__ import annotations

import html
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from email.message import Message
from http import HTTPStatus
from typing import Any

from local_stack.sandbox.fields import as_blocks, as_object, as_str
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn, decode_params
from local_stack.sandbox.slack_files import SlackFiles
from local_stack.slack_limits import message_refusal, view_refusal

_SLACK_METHODS = frozenset(
    {
        "auth.test",
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "chat.postEphemeral",
        "chat.getPermalink",
        "reactions.add",
        "reactions.remove",
        "users.info",
        "usergroups.users.list",
        "views.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "files.delete",
        "conversations.info",
        "conversations.join",
        "conversations.replies",
        "oauth.v2.access",
    }
)
# The methods whose message Slack checks against Block Kit's limits.
_POSTING = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
# The workspace of any token not installed here.
_SANDBOX_WORKSPACE = ("T-from-nowhere", "Threadline Sandbox")
_UPLOAD_PATH = re.compile(r"^/upload/(?P<file>F[0-9A-F]+)$")
_FILE_PATH = re.compile(r"^/files/(?P<file>F[0-9A-F]+)/(?P<name>[^/]+)$")

ChannelAnswer = Callable[[str, dict[str, Any]], dict[str, Any]]


def _is_user(channel: str) -> bool:
    return channel[:1] in ("U", "W")


def _direct_messages(user_id: str) -> str:
    """The id of the bot's direct messages with a user, as Slack answers a post to them."""
    return "D" + user_id[1:]


def _has_content(params: dict[str, Any]) -> bool:
    return bool(params.get("text") or as_blocks(params.get("blocks")) or params.get("attachments"))


def _bearer(headers: Message[str, str]) -> str:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class SlackStandIn(StandIn):
    """Imitates `POST /api/<method>` of the Slack Web API for the methods Threadline uses."""

    service = "slack"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        self._ts_lock = threading.Lock()
        self._last_ts_micros = 0
        self._files = SlackFiles()
        # What the bot posted and has not deleted, by (channel, ts): all it may delete, and
        # the threads conversations.replies reads.
        self._posted: dict[tuple[str, str], dict[str, Any]] = {}
        # The workspace (id, name) of each token installed here; any other token is the
        # sandbox workspace's. Tokens revoked since answer every call with token_revoked.
        self._workspaces: dict[str, tuple[str, str]] = {}
        self._revoked: set[str] = set()
        # The bot is in every channel but these (removed from them, not joined again).
        self._left: set[str] = set()
        # User groups ("S…") and their members; no other group exists.
        self._user_groups: dict[str, list[str]] = {}
        # Every user is in every channel but these (channel, user) pairs.
        self._users_left: set[tuple[str, str]] = set()

    def install(self, token: str, team_id: str, team: str = "Threadline Sandbox") -> None:
        """A bot token of the workspace `team_id`, as an installation of the app gives one."""
        with self._ts_lock:
            self._workspaces[token] = (team_id, team)
            self._revoked.discard(token)

    def revoke(self, token: str) -> None:
        """The token revoked (the app uninstalled, or the token rotated away): Slack then
        refuses every call made with it."""
        with self._ts_lock:
            self._revoked.add(token)

    def add_user_group(self, usergroup_id: str, members: list[str]) -> None:
        """A user group of the workspace and its members, as an admin makes one."""
        with self._ts_lock:
            self._user_groups[usergroup_id] = list(members)

    def remove_bot(self, channel: str) -> None:
        """The bot removed from a channel, as a member of the channel can do; joining it
        again (`conversations.join`) puts it back."""
        with self._ts_lock:
            self._left.add(channel)

    def remove_user(self, channel: str, user_id: str) -> None:
        """A user gone from a channel (they left, or were removed): Slack shows them no
        ephemeral message there."""
        with self._ts_lock:
            self._users_left.add((channel, user_id))

    def add_file(self, name: str, content: bytes, mimetype: str) -> dict[str, Any]:
        """A file as if an agent had attached it in Slack: its description in an event."""
        file_id = self._files.add(name, mimetype, content, by_bot=False)
        return self._files.describe(file_id, self._root_url())

    def files(self) -> list[str]:
        """The ids of the files Slack holds now (deleted ones gone)."""
        return self._files.ids()

    def _file_route(self, request: Request) -> Reply | None:
        """Slack's upload URLs (files_upload_v2's second step) and private file downloads."""
        upload = _UPLOAD_PATH.match(request.path)
        if upload and request.verb == "POST":
            if not self._files.upload(upload["file"], request.body):
                return Reply(HTTPStatus.NOT_FOUND, b"unknown upload", "text/plain")
            return Reply(HTTPStatus.OK, f"OK - {len(request.body)}".encode(), "text/plain")
        download = _FILE_PATH.match(request.path)
        if download and request.verb == "GET":
            found = self._files.download(download["file"])
            if found is None:
                return Reply(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            if not _bearer(request.headers):
                # As Slack: without a token, its sign-in page.
                return Reply(HTTPStatus.OK, b"<html>Sign in</html>", "text/html")
            return Reply(HTTPStatus.OK, *found)
        return None

    def _base_path(self) -> str:
        return "/api/"

    def _error_body(self, status: int, message: str) -> Any:
        if status == 400:
            return {"ok": False, "error": "invalid_arguments", "detail": message}
        if status == 429:
            return {"ok": False, "error": "ratelimited"}
        return {"ok": False, "error": "internal_error", "detail": message}

    def _api_method(self, request: Request) -> str:
        return request.path.removeprefix("/api/")

    def _next_ts(self) -> str:
        # A counter, seeded from the clock so a restarted sandbox never reuses the ts of a
        # thread that a persistent local store may still remember.
        with self._ts_lock:
            now = time.time_ns() // 1000
            self._last_ts_micros = max(now, self._last_ts_micros + 1)
            micros = self._last_ts_micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _handle_api(self, request: Request) -> Reply:
        file_reply = self._file_route(request)
        if file_reply is not None:
            return file_reply
        if request.verb == "GET" and request.path == "/oauth/v2/authorize":
            return self._consent_page(request)
        if not request.path.startswith("/api/"):
            return self._unsupported(request)
        method = request.path.removeprefix("/api/")
        try:
            params = decode_params(request)
        except BadRequest as exc:
            body = self._error_body(400, str(exc))
            self._record(method, {"response": body})
            return Reply(HTTPStatus.BAD_REQUEST, body)
        # Slack also accepts the token as a parameter; either way it never goes in the record.
        param_token = as_str(params.pop("token", ""))
        response = self._answer(method, params, _bearer(request.headers) or param_token)
        self._record(method, {**params, "response": response})
        return Reply(HTTPStatus.OK, response)  # Slack reports errors in the body, not status

    def _answer(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        if method not in _SLACK_METHODS:
            return {"ok": False, "error": "unknown_method"}
        if method == "oauth.v2.access":
            return self._grant(params)
        if not token:
            return {"ok": False, "error": "not_authed"}
        with self._ts_lock:
            revoked = token in self._revoked
            workspace = self._workspaces.get(token, _SANDBOX_WORKSPACE)
        if revoked:
            return {"ok": False, "error": "token_revoked"}
        if method == "auth.test":
            return _identity(*workspace)
        root_url = self._root_url()
        answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "users.info": _user,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": lambda p: self._files.complete(p, root_url),
            "files.delete": lambda p: self._files.delete(as_str(p.get("file"))),
            "views.open": self._open_view,
            "usergroups.users.list": self._usergroup_members,
        }
        answer = answers.get(method)
        if answer is not None:
            return answer(params)
        return self._answer_in_channel(method, params)

    def _answer_in_channel(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The methods that act in a channel (a user's id names their direct messages)."""
        channel = as_str(params.get("channel"))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if method in _POSTING:
            refused = message_refusal(params)
            if refused is not None:
                return refused
        if _is_user(channel) and method in ("chat.update", "chat.delete"):
            # A message posted to a user is in the bot's direct messages with them, a
            # channel of its own: the user's id does not name it.
            return {"ok": False, "error": "channel_not_found"}
        if _is_user(channel) and method == "chat.postMessage":
            channel = _direct_messages(channel)
        answers: dict[str, ChannelAnswer] = {
            "chat.postMessage": self._post_message,
            "chat.update": _update_message,
            "chat.delete": self._delete_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": _permalink,
            "conversations.replies": self._replies,
            "conversations.info": lambda c, _: self._membership(c, join=False),
            "conversations.join": lambda c, _: self._membership(c, join=True),
        }
        return answers.get(method, _react)(channel, params)

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        """files_upload_v2's first step: where to send the bytes."""
        name = as_str(params.get("filename"))
        if not name or not as_str(params.get("length")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._files.add(name, "", None, by_bot=True)
        return {
            "ok": True,
            "upload_url": f"{self._root_url()}/upload/{file_id}",
            "file_id": file_id,
        }

    def _usergroup_members(self, params: dict[str, Any]) -> dict[str, Any]:
        # As Slack: the group named by `usergroup`, else no_such_subteam.
        with self._ts_lock:
            members = self._user_groups.get(as_str(params.get("usergroup")))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _open_view(self, params: dict[str, Any]) -> dict[str, Any]:
        if not as_str(params.get("trigger_id")):
            return {"ok": False, "error": "invalid_trigger_id"}
        refused = view_refusal(params.get("view"))
        if refused is not None:
            return refused
        view = params.get("view")
        return {
            "ok": True,
            "view": {
                "id": f"V{self._next_ts().replace('.', '')}",
                **(view if isinstance(view, dict) else {}),
            },
        }

    def _membership(self, channel: str, *, join: bool) -> dict[str, Any]:
        """Every channel exists here, public (C…) or private (G…); the bot is in it unless
        it was removed. Joining puts it back; a private channel needs an invitation."""
        private = channel.startswith("G")
        with self._ts_lock:
            if join:
                if private:
                    return {"ok": False, "error": "method_not_supported_for_channel_type"}
                self._left.discard(channel)
            member = channel not in self._left
        if private and not member:
            # Slack hides a private channel from those outside it.
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": not private,
                "is_private": private,
                "is_archived": False,
                "is_member": member,
            },
        }

    def _grant(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every code is good here: the sandbox workspace installs the app."""
        if not as_str(params.get("code")):
            return {"ok": False, "error": "invalid_code"}
        token = "xoxb-sandbox-" + uuid.uuid4().hex
        self.install(token, "T0SANDBOX")
        return {
            "ok": True,
            "app_id": "A0SANDBOX",
            "access_token": token,
            "token_type": "bot",
            "scope": "chat:write,commands",
            "bot_user_id": "UBOT",
            "team": {"id": "T0SANDBOX", "name": "Threadline Sandbox"},
            "enterprise": None,
            "authed_user": {"id": "U0INSTALLER"},
            "incoming_webhook": {"channel": "#support", "channel_id": "C0SANDBOX"},
        }

    def _consent_page(self, request: Request) -> Reply:
        """Slack's consent page, reduced to one "Allow" link back to the app."""
        query = dict(request.query)
        back = as_str(query.get("redirect_uri"))
        if not back.startswith(("http://", "https://")):
            return Reply(HTTPStatus.BAD_REQUEST, b"redirect_uri missing", "text/plain")
        target = (
            back
            + "?"
            + urllib.parse.urlencode(
                {"code": "sandbox-" + uuid.uuid4().hex, "state": as_str(query.get("state"))}
            )
        )
        self._record("oauth.authorize", {"scope": as_str(query.get("scope"))})
        page = (
            "<!doctype html><p>Install Threadline in the sandbox workspace? "
            f'<a href="{html.escape(target)}">Allow</a></p>'
        )
        return Reply(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

    def _post_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        if not _has_content(params):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": "UBOT",
            "bot_id": "BSANDBOX",
            "text": as_str(params.get("text")),
            "ts": ts,
        }
        thread_ts = as_str(params.get("thread_ts"))
        if thread_ts:
            message["thread_ts"] = thread_ts
        blocks = as_blocks(params.get("blocks"))
        if blocks:
            message["blocks"] = blocks
        metadata = as_object(params.get("metadata"))
        with self._ts_lock:
            self._posted[(channel, ts)] = {**message, "metadata": metadata}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _delete_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = as_str(params.get("ts"))
        with self._ts_lock:
            if self._posted.pop((channel, ts), None) is None:
                return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _post_ephemeral(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        # Shown to one user (U…, W…), never kept where conversations.replies reads.
        user = as_str(params.get("user"))
        if not _is_user(user):
            return {"ok": False, "error": "user_not_found"}
        if not _has_content(params):
            return {"ok": False, "error": "no_text"}
        with self._ts_lock:
            bot_in, user_in = channel not in self._left, (channel, user) not in self._users_left
        if not bot_in:
            # A private channel the bot left is hidden from it.
            return {
                "ok": False,
                "error": "channel_not_found" if channel[:1] == "G" else "not_in_channel",
            }
        if not user_in:
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _replies(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        """A thread's messages, its parent first, then those after `oldest`, in pages of
        `limit` (the cursor is where the next page starts); metadata when asked for."""
        thread_ts = as_str(params.get("ts"))
        with self._ts_lock:
            parent = self._posted.get((channel, thread_ts))
            replies = sorted(
                (m for (c, _), m in self._posted.items() if c == channel),
                key=lambda m: float(m["ts"]),
            )
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        try:
            oldest = float(as_str(params.get("oldest")) or 0)
            limit = int(as_str(params.get("limit")) or 1000)
            start = int(as_str(params.get("cursor")) or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        thread = [parent] + [
            m for m in replies if m.get("thread_ts") == thread_ts and float(m["ts"]) > oldest
        ]
        page = thread[start : start + limit]
        with_metadata = as_str(params.get("include_all_metadata")).lower() in ("1", "true")
        messages = [
            {k: v for k, v in m.items() if k != "metadata" or (with_metadata and v)} for m in page
        ]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def _identity(team_id: str, team: str) -> dict[str, Any]:
    """`auth.test`: the bot, in the token's workspace."""
    return {
        "ok": True,
        "url": "https://sandbox.slack.invalid/",
        "team": team,
        "user": "threadline",
        "team_id": team_id,
        "user_id": "UBOT",
        "bot_id": "BSANDBOX",
        "is_enterprise_install": False,
    }


def _user(params: dict[str, Any]) -> dict[str, Any]:
    # Every user exists here, named after their id: U0ANA is "Ana".
    user_id = as_str(params.get("user"))
    if not user_id:
        return {"ok": False, "error": "user_not_found"}
    name = user_id[1:].lstrip("0").title() or user_id
    return {
        "ok": True,
        "user": {
            "id": user_id,
            "name": user_id.lower(),
            "real_name": name,
            "profile": {"display_name": name, "real_name": name},
        },
    }


def _update_message(channel: str, params: dict[str, Any]) -> dict[str, Any]:
    ts = as_str(params.get("ts"))
    if not ts:
        return {"ok": False, "error": "message_not_found"}
    text = as_str(params.get("text"))
    return {
        "ok": True,
        "channel": channel,
        "ts": ts,
        "text": text,
        "message": {"type": "message", "text": text, "user": "UBOT", "ts": ts},
    }


def _permalink(channel: str, params: dict[str, Any]) -> dict[str, Any]:
    message_ts = as_str(params.get("message_ts"))
    if not message_ts:
        return {"ok": False, "error": "message_not_found"}
    permalink = f"https://sandbox.slack.invalid/archives/{channel}/p{message_ts.replace('.', '')}"
    return {"ok": True, "channel": channel, "permalink": permalink}


def _react(channel: str, params: dict[str, Any]) -> dict[str, Any]:
    """`reactions.add` and `reactions.remove`."""
    if not as_str(params.get("timestamp")):
        return {"ok": False, "error": "no_item_specified"}
    if not as_str(params.get("name")):
        return {"ok": False, "error": "invalid_name"}
    return {"ok": True}
