"""Slack requests in: v0 signatures, Events API payloads, interactivity forms.

Signatures are computed here with hmac/hashlib, the way Slack documents them.
"""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.slack import (
    CannedPicker,
    IgnoredEvent,
    UrlVerification,
    parse_command,
    parse_event,
    parse_interaction,
    plain_text,
    verify_request,
)
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.domain.jobs import AgentReply, CannedReply, CardAction, ConversationAction
from chalicelib.domain.messages import ReplyRevision
from chalicelib.domain.vocabulary import Priority

pytestmark = pytest.mark.unit

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EVENTS_URL = "https://threadline.example/api/slack/events"
THREAD_TS = "1774744200.000100"
REPLY_TS = "1774747800.000200"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_request(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: str | None = None,
    signature: str | None = None,
) -> WebhookRequest:
    """A Slack request signed now (or at `timestamp`) with `secret`."""
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    return WebhookRequest(
        url=EVENTS_URL,
        body=body,
        headers={
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature or slack_signature(secret, timestamp, body),
            "content-type": "application/json",
        },
    )


def event_callback(event: dict[str, Any] | None = None, **outer: Any) -> bytes:
    """An Events API event_callback; the event defaults to an agent's thread reply."""
    payload: dict[str, Any] = {
        "token": "legacy-verification-token",
        "team_id": "T0123ABC",
        "api_app_id": "A0123ABC",
        "type": "event_callback",
        "event_id": "Ev0123ABCDEF",
        "event_time": 1774747800,
        "event": event if event is not None else thread_reply(),
    }
    payload.update(outer)
    return json.dumps(payload, ensure_ascii=False).encode()


def thread_reply(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": "C0123ABC",
        "user": "U0AGENT1",
        "text": "Szia Ana! A csomagod úton van 🚚",
        "ts": REPLY_TS,
        "thread_ts": THREAD_TS,
        "team": "T0123ABC",
        "channel_type": "channel",
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not None}


# --------------------------------------------------------------------------- verify_request


def test_verify_request_accepts_a_fresh_correct_signature() -> None:
    # Given an event signed just now with the app's signing secret
    request = signed_request(event_callback())

    # When it is verified
    # Then no error is raised
    verify_request(request, SIGNING_SECRET)


def test_verify_request_accepts_a_signature_within_the_five_minute_window() -> None:
    # Given a request signed four minutes ago (a Slack retry, say)
    four_minutes_ago = str(int(time.time()) - 4 * 60)
    request = signed_request(event_callback(), timestamp=four_minutes_ago)

    # When it is verified
    # Then it is still accepted
    verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_a_missing_signature() -> None:
    # Given a request without X-Slack-Signature
    request = WebhookRequest(
        url=EVENTS_URL,
        body=event_callback(),
        headers={"x-slack-request-timestamp": str(int(time.time()))},
    )

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="missing X-Slack-Signature"):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_a_missing_timestamp() -> None:
    # Given a signed request whose timestamp header was dropped
    signed = signed_request(event_callback())
    headers = {k: v for k, v in signed.headers.items() if k != "x-slack-request-timestamp"}
    request = WebhookRequest(url=EVENTS_URL, body=signed.body, headers=headers)

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid or expired"):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_a_signature_made_with_another_secret() -> None:
    # Given a request signed with someone else's secret
    request = signed_request(event_callback(), secret="another-apps-signing-secret")

    # When it is verified with ours
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid or expired"):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_a_body_changed_after_signing() -> None:
    # Given a signed reply whose text was altered on the way
    signed = signed_request(event_callback())
    tampered = WebhookRequest(
        url=EVENTS_URL,
        body=signed.body.replace(b"Szia Ana", b"Szia Bob"),
        headers=signed.headers,
    )
    assert tampered.body != signed.body

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid or expired"):
        verify_request(tampered, SIGNING_SECRET)


@pytest.mark.parametrize("age_seconds", [6 * 60, 24 * 60 * 60, -6 * 60])
def test_verify_request_refuses_a_correctly_signed_but_stale_request(age_seconds: int) -> None:
    # Given a request correctly signed more than five minutes from now (a replay)
    timestamp = str(int(time.time()) - age_seconds)
    request = signed_request(event_callback(), timestamp=timestamp)

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid or expired"):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_everything_without_a_signing_secret() -> None:
    # Given no configured signing secret, and a request signed with the empty secret
    request = signed_request(event_callback(), secret="")

    # When it is verified
    # Then it is forbidden rather than accepted
    with pytest.raises(Forbidden, match="not configured"):
        verify_request(request, "")


@pytest.mark.parametrize("timestamp", ["not-a-number", "", "1.5e9"])
def test_verify_request_refuses_a_malformed_timestamp(timestamp: str) -> None:
    # Given a request whose timestamp header is not an integer
    request = signed_request(event_callback(), timestamp=timestamp, signature="v0=" + "0" * 64)

    # When it is verified
    # Then it is forbidden, like any other bad signature
    with pytest.raises(Forbidden):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_a_body_that_is_not_utf8() -> None:
    # Given a fresh request whose body is not UTF-8 and whose signature is made up
    request = signed_request(b"\xff\xfe{}", signature="v0=" + "0" * 64)

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden):
        verify_request(request, SIGNING_SECRET)


def test_verify_request_refuses_everything_with_a_blank_signing_secret() -> None:
    # Given a signing secret configured as spaces (an empty-looking environment variable)
    request = signed_request(event_callback(), secret="  ")

    # When a request is verified
    # Then it is forbidden, like with an empty secret
    with pytest.raises(Forbidden):
        verify_request(request, "  ")


# --------------------------------------------------------------------------- parse_event


def test_url_verification_gives_the_challenge_back() -> None:
    # Given Slack's URL check
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"}).encode()

    # When it is parsed
    event = parse_event(body)

    # Then the challenge is returned to echo
    assert event == UrlVerification(challenge=challenge)


def test_url_verification_without_challenge_is_a_bad_request() -> None:
    # Given a URL check without its challenge
    body = json.dumps({"type": "url_verification"}).encode()

    # When it is parsed
    # Then it is a bad request
    with pytest.raises(BadRequest, match="challenge"):
        parse_event(body)


def test_thread_reply_becomes_an_agent_reply() -> None:
    # Given an agent's message in a conversation thread
    body = event_callback()

    # When it is parsed
    event = parse_event(body)

    # Then every field of the reply is taken from the event
    assert event == AgentReply(
        event_id="Ev0123ABCDEF",
        team_id="T0123ABC",
        channel_id="C0123ABC",
        thread_ts=THREAD_TS,
        ts=REPLY_TS,
        user_id="U0AGENT1",
        text="Szia Ana! A csomagod úton van 🚚",
    )


def test_thread_reply_takes_the_team_from_the_event_when_the_envelope_has_none() -> None:
    # Given a reply whose envelope lacks team_id
    body = event_callback(thread_reply(team="T0999XYZ"), team_id=None)

    # When it is parsed
    event = parse_event(body)

    # Then the event's team is used
    assert isinstance(event, AgentReply)
    assert event.team_id == "T0999XYZ"


@pytest.mark.parametrize("text", [None, "", "  \n "])
def test_thread_reply_without_text_is_ignored(text: str | None) -> None:
    # Given a reply with no text (only an attachment, say): nothing to send a customer yet
    body = event_callback(thread_reply(text=text))

    # When it is parsed
    event = parse_event(body)

    # Then it is skipped rather than sent as an empty message
    assert isinstance(event, IgnoredEvent)


def test_thread_reply_also_sent_to_the_channel_is_still_a_reply() -> None:
    # Given an agent's thread reply with "Also send to #channel" ticked
    body = event_callback(thread_reply(subtype="thread_broadcast"))

    # When it is parsed
    event = parse_event(body)

    # Then it is a reply for the customer like any other
    assert isinstance(event, AgentReply)


@pytest.mark.parametrize(
    "event",
    [
        thread_reply(bot_id="B0THREADLINE", subtype="bot_message"),
        thread_reply(bot_id="B0THREADLINE"),
        thread_reply(subtype="channel_join"),
        thread_reply(thread_ts=None),  # a top-level channel message
        thread_reply(thread_ts=REPLY_TS),  # a thread's parent message
        {"type": "reaction_added", "user": "U0AGENT1", "reaction": "eyes"},
        {"type": "app_mention", "user": "U0AGENT1", "text": "<@U0BOT> hi", "ts": REPLY_TS},
    ],
    ids=[
        "bot-message",
        "bot-id-only",
        "channel-join",
        "top-level",
        "thread-parent",
        "reaction",
        "app-mention",
    ],
)
def test_events_other_than_human_thread_replies_are_ignored(event: dict[str, Any]) -> None:
    # Given an event that is not an agent's new reply in a thread
    body = event_callback(event)

    # When it is parsed
    parsed = parse_event(body)

    # Then it is ignored, with a reason
    assert isinstance(parsed, IgnoredEvent)
    assert parsed.why


def test_other_envelope_types_are_ignored() -> None:
    # Given an envelope that is neither a URL check nor an event callback
    body = json.dumps({"type": "app_rate_limited", "team_id": "T0123ABC"}).encode()

    # When it is parsed
    # Then it is ignored
    assert parse_event(body) == IgnoredEvent("type 'app_rate_limited'")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe\x00",
        b'{"type": "event_callback"',
        b'[{"type": "url_verification", "challenge": "x"}]',
        b'"event_callback"',
        b"null",
    ],
)
def test_bodies_that_are_not_a_json_object_are_bad_requests(body: bytes) -> None:
    # Given a body that is not a JSON object
    # When it is parsed
    # Then it is a bad request
    with pytest.raises(BadRequest, match="JSON"):
        parse_event(body)


@pytest.mark.parametrize("event", [None, "message", ["message"]])
def test_event_callback_without_an_event_object_is_a_bad_request(event: object) -> None:
    # Given an event callback whose event is missing or not an object
    payload = json.loads(event_callback())
    payload["event"] = event

    # When it is parsed
    # Then it is a bad request
    with pytest.raises(BadRequest, match="event"):
        parse_event(json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        (event_callback(event_id=None), "event_id"),
        (event_callback(event_id=""), "event_id"),
        (event_callback(thread_reply(user=None)), "event.user"),
        (event_callback(thread_reply(channel=None)), "event.channel"),
        (event_callback(thread_reply(ts=None)), "event.ts"),
        (event_callback(thread_reply(team=None), team_id=None), "team_id"),
    ],
)
def test_thread_reply_missing_an_identifier_is_a_bad_request(body: bytes, missing: str) -> None:
    # Given a thread reply without one of the ids a reply needs
    # When it is parsed
    # Then it is a bad request naming the missing field
    with pytest.raises(BadRequest, match=f"missing or invalid {missing}"):
        parse_event(body)


# --------------------------------------------------------------------------- plain_text


@pytest.mark.parametrize(
    ("typed_in_slack", "customer_reads"),
    [
        ("R$ 100 &amp; entrega em &lt; 2 dias", "R$ 100 & entrega em < 2 dias"),
        (
            "veja <https://loja.example/p/1|seu pedido>",
            "veja seu pedido (https://loja.example/p/1)",
        ),
        ("site <http://loja.example|loja.example>", "site loja.example"),
        ("<https://x.example/a?b=1&amp;c=2>", "https://x.example/a?b=1&c=2"),
        ("escreva <mailto:ajuda@loja.example|ajuda@loja.example>", "escreva ajuda@loja.example"),
        ("<mailto:ajuda@loja.example|fale conosco>", "fale conosco (ajuda@loja.example)"),
        ("oi <@U0AGENT|ana>, <#C0GERAL|geral>, <!here>", "oi @ana, #geral, @here"),
        ("&amp;lt; is how Slack escapes &lt;", "&lt; is how Slack escapes <"),
        ("مرحبا 👋 नमस्ते", "مرحبا 👋 नमस्ते"),
    ],
)
def test_plain_text_is_what_the_agent_typed_without_slack_markup(
    typed_in_slack: str, customer_reads: str
) -> None:
    # Given a message as Slack's Events API delivers it
    # When it is turned into the text a customer receives
    # Then links and mentions are written out and Slack's escapes decoded
    assert plain_text(typed_in_slack) == customer_reads


@pytest.mark.parametrize("text", ["Segue o recibo", ""])
def test_a_reply_with_a_file_carries_what_the_worker_needs_to_fetch_it(text: str) -> None:
    # Given an agent's thread reply with a file attached, with or without text, and an
    # external link Slack lists as a file too
    photo = {
        "id": "F0PHOTO",
        "name": "recibo.png",
        "mimetype": "image/png",
        "size": 2048,
        "url_private_download": "https://files.slack.com/files-pri/T0-F0PHOTO/download/recibo.png",
    }
    external = {"id": "F0LINK", "name": "doc", "mode": "external", "size": "big"}
    body = event_callback(thread_reply(subtype="file_share", text=text, files=[photo, external]))

    # When it is parsed
    event = parse_event(body)

    # Then it is a reply carrying the downloadable file only
    assert isinstance(event, AgentReply)
    assert event.text == text
    [file] = event.files
    assert (file.id, file.name, file.mimetype, file.size) == (
        "F0PHOTO",
        "recibo.png",
        "image/png",
        2048,
    )
    assert file.url == photo["url_private_download"]


def test_a_message_with_only_an_external_link_file_is_nothing_to_send() -> None:
    external = {"id": "F0LINK", "name": "doc", "mode": "external"}
    body = event_callback(thread_reply(subtype="file_share", text="", files=[external]))
    assert isinstance(parse_event(body), IgnoredEvent)


def interaction_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0123ABC"},
        "user": {"id": "U0AGENT1", "team_id": "T0123ABC"},
        "container": {"type": "message", "channel_id": "C0123ABC", "message_ts": "1.000100"},
        "actions": [{"action_id": "resolve", "value": "kavezo:conv-1", "action_ts": "2.000200"}],
    }
    payload.update(changes)
    return payload


def test_a_card_button_press_is_a_conversation_action() -> None:
    # Given Slack's block_actions payload for the Resolve button
    # When it is parsed
    action = parse_interaction(interaction_body(block_actions()))

    # Then it names the action, the conversation, the card and who pressed it
    assert isinstance(action, ConversationAction)
    assert (action.action, action.conversation_ref) == (CardAction.RESOLVE, "kavezo:conv-1")
    assert (action.team_id, action.channel_id, action.message_ts) == (
        "T0123ABC",
        "C0123ABC",
        "1.000100",
    )
    assert (action.user_id, action.action_ts) == ("U0AGENT1", "2.000200")


@pytest.mark.parametrize(
    "payload",
    [
        block_actions(type="view_submission"),
        block_actions(actions=[{"action_id": "other_apps_button", "action_ts": "2.0"}]),
    ],
    ids=["not a button press", "not our button"],
)
def test_interactions_that_are_not_card_buttons_are_ignored(payload: dict[str, Any]) -> None:
    assert isinstance(parse_interaction(interaction_body(payload)), IgnoredEvent)


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot+json",
        interaction_body(block_actions(actions=[])),
        interaction_body(block_actions(user={"id": "<!channel>"})),
        interaction_body(block_actions(container={})),
        b"\xff\xfe",
    ],
    ids=["invalid json", "no actions", "forged user id", "no card", "not utf-8"],
)
def test_a_malformed_interaction_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_interaction(body)


def test_a_priority_choice_carries_the_conversation_and_the_priority() -> None:
    # Given the card's priority select, "High" chosen
    option = {"value": "kavezo:conv-1#high"}
    press = {"action_id": "set_priority", "selected_option": option, "action_ts": "2.0"}

    # When it is parsed
    action = parse_interaction(interaction_body(block_actions(actions=[press])))

    # Then it sets that priority on that conversation
    assert isinstance(action, ConversationAction)
    assert (action.action, action.priority) == (CardAction.SET_PRIORITY, Priority.HIGH)
    assert action.conversation_ref == "kavezo:conv-1"


def test_an_unknown_priority_is_a_bad_request() -> None:
    press = {
        "action_id": "set_priority",
        "selected_option": {"value": "kavezo:conv-1#whenever"},
        "action_ts": "2.0",
    }
    with pytest.raises(BadRequest):
        parse_interaction(interaction_body(block_actions(actions=[press])))


# ------------------------------------------------------------------- edits and deletions


def edited(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": "C0123ABC",
        "ts": "1774747900.000900",
        "message": message,
    }


def test_an_edit_of_a_thread_reply_is_a_revision_with_the_new_plain_text() -> None:
    # Given an agent edited their thread reply, adding a link
    message = {
        **thread_reply(text="See <https://shop.example/returns|our returns page>"),
        "edited": {"user": "U0AGENT1", "ts": "1774747890.000000"},
    }

    # When the message_changed event is parsed
    revision = parse_event(event_callback(edited(message)))

    # Then it revises that message, to the text the customer would read, as of the edit
    assert isinstance(revision, ReplyRevision)
    assert (revision.team_id, revision.channel_id, revision.ts) == (
        "T0123ABC",
        "C0123ABC",
        REPLY_TS,
    )
    assert revision.text == "See our returns page (https://shop.example/returns)"
    assert revision.revised_ts == "1774747890.000000"
    assert not revision.deleted


def test_a_deleted_thread_reply_is_a_revision_without_text() -> None:
    # Given an agent deleted their thread reply
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "C0123ABC",
        "ts": "1774747950.000100",
        "deleted_ts": REPLY_TS,
        "previous_message": thread_reply(),
    }

    # When it is parsed
    revision = parse_event(event_callback(event))

    # Then it marks that message deleted, as of the deletion
    assert isinstance(revision, ReplyRevision)
    assert revision.deleted
    assert revision.ts == REPLY_TS
    assert revision.revised_ts == "1774747950.000100"


@pytest.mark.parametrize(
    "message",
    [
        thread_reply(),  # changed but not edited: a link unfurled
        {**thread_reply(bot_id="B0THREADLINE"), "edited": {"ts": "1774747890.0"}},
        {**thread_reply(thread_ts=None), "edited": {"ts": "1774747890.0"}},
    ],
    ids=["unfurl", "our own post", "top-level message"],
)
def test_changes_that_are_not_an_agent_editing_a_thread_message_are_ignored(
    message: dict[str, Any],
) -> None:
    assert isinstance(parse_event(event_callback(edited(message))), IgnoredEvent)


# --------------------------------------------------------------------- send to customer


def send_to_customer(**message_changes: Any) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "send_to_customer",
        "action_ts": "1774748000.123456",
        "team": {"id": "T0123ABC"},
        "channel": {"id": "C0123ABC"},
        "user": {"id": "U0AGENT2"},
        "message": {
            "type": "message",
            "user": "U0AGENT1",
            "text": "Your refund is on its way &amp; should arrive by Friday",
            "ts": REPLY_TS,
            "thread_ts": THREAD_TS,
            **message_changes,
        },
    }


def test_send_to_customer_on_a_thread_message_is_an_explicit_reply_by_its_author() -> None:
    # Given "Send to customer" chosen on an agent's thread message
    # When it is parsed
    reply = parse_interaction(interaction_body(send_to_customer()))

    # Then that message is a reply to send whatever the mode, its grace running from now
    assert isinstance(reply, AgentReply)
    assert reply.explicit
    assert (reply.ts, reply.thread_ts, reply.channel_id) == (REPLY_TS, THREAD_TS, "C0123ABC")
    assert reply.user_id == "U0AGENT1"
    assert reply.text == "Your refund is on its way & should arrive by Friday"
    assert reply.version_ts == "1774748000.123456"
    assert reply.message_key == f"slack:C0123ABC:{REPLY_TS}"


@pytest.mark.parametrize(
    "payload",
    [
        send_to_customer(bot_id="B0THREADLINE"),
        send_to_customer(thread_ts=None),
        {**send_to_customer(), "callback_id": "someone_elses_shortcut"},
    ],
    ids=["a customer message we posted", "a top-level message", "another shortcut"],
)
def test_send_to_customer_on_anything_but_an_agent_thread_message_is_ignored(
    payload: dict[str, Any],
) -> None:
    assert isinstance(parse_interaction(interaction_body(payload)), IgnoredEvent)


# ----------------------------------------------------------- canned responses, commands


def test_the_canned_response_shortcut_asks_for_the_modal_for_the_messages_thread() -> None:
    payload = {**send_to_customer(), "callback_id": "canned_response", "trigger_id": "9.9.9"}
    picker = parse_interaction(interaction_body(payload))
    assert isinstance(picker, CannedPicker)
    assert (picker.trigger_id, picker.thread_ts, picker.user_id) == ("9.9.9", THREAD_TS, "U0AGENT2")


def test_the_submitted_modal_is_a_canned_reply_for_the_conversation_it_was_opened_for() -> None:
    metadata = {"ref": "kavezo:conv-1", "channel": "C0123ABC", "thread_ts": THREAD_TS}
    payload = {
        "type": "view_submission",
        "team": {"id": "T0123ABC"},
        "user": {"id": "U0AGENT1"},
        "view": {
            "id": "V0MODAL",
            "callback_id": "canned_response",
            "private_metadata": json.dumps(metadata),
            "state": {
                "values": {
                    "response": {"response": {"selected_option": {"value": "shipping"}}},
                    "order_number": {"order_number": {"value": " 1042 "}},
                }
            },
        },
    }
    reply = parse_interaction(interaction_body(payload))
    assert isinstance(reply, CannedReply)
    assert (reply.conversation_ref, reply.name, reply.order_number) == (
        "kavezo:conv-1",
        "shipping",
        "1042",
    )
    assert reply.thread_key == f"T0123ABC:C0123ABC:{THREAD_TS}"


def test_a_slash_command_carries_who_asked_where_and_what() -> None:
    body = urlencode(
        {
            "team_id": "T0123ABC",
            "team_domain": "kavezo",
            "channel_id": "C0123ABC",
            "user_id": "U0AGENT1",
            "text": "  find Ana  ",
        }
    ).encode()
    command = parse_command(body)
    assert (command.team_domain, command.user_id, command.text) == (
        "kavezo",
        "U0AGENT1",
        "find Ana",
    )


def test_a_slash_command_with_a_forged_user_is_a_bad_request() -> None:
    body = urlencode({"team_id": "T0123ABC", "channel_id": "C0", "user_id": "<!here>"}).encode()
    with pytest.raises(BadRequest):
        parse_command(body)
