"""Slack's HTTP routes: only requests signed with the app's signing secret get through."""

import json
import time
from collections.abc import Callable

import boto3
import pytest

from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE
from tests.signing import (
    CHANNEL_ID,
    TEAM_ID,
    form,
    slack_headers,
    slack_thread_reply,
)

FORM = "application/x-www-form-urlencoded"
CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
AGENT_REPLY = slack_thread_reply("1764000000.000001", "1764000500.000100", "Chega amanhã!")


def queued_messages() -> dict[str, int]:
    """How many messages each worker queue holds, visible or not."""
    sqs = boto3.client("sqs")
    depths = {}
    for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[queue] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths


NOTHING_QUEUED = {INBOUND_QUEUE: 0, OUTBOUND_QUEUE: 0}


def unsigned(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def signed_with_another_secret(body: bytes) -> dict[str, str]:
    return slack_headers(body, "not-the-signing-secret")


def signed_six_minutes_ago(body: bytes) -> dict[str, str]:
    return slack_headers(body, timestamp=int(time.time()) - 6 * 60)


def signed_as_plain_text(body: bytes) -> dict[str, str]:
    return slack_headers(body, content_type="text/plain")


# /slack/events -----------------------------------------------------------------------------


def test_a_signed_url_verification_gets_its_challenge_echoed(client):
    # Given Slack's signed URL check
    body = json.dumps(
        {"token": "legacy", "challenge": CHALLENGE, "type": "url_verification"}
    ).encode()

    # When it reaches the events route
    response = client.http.post("/slack/events", headers=slack_headers(body), body=body)

    # Then the challenge is echoed as JSON, and nothing is queued
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {"challenge": CHALLENGE}
    assert queued_messages() == NOTHING_QUEUED


def test_a_signed_agent_reply_is_acknowledged_and_queued_for_the_outbound_worker(client):
    # Given an agent's signed thread reply
    # When it reaches the events route
    response = client.http.post(
        "/slack/events", headers=slack_headers(AGENT_REPLY), body=AGENT_REPLY
    )

    # Then it is acknowledged, with one job for the outbound worker
    assert response.status_code == 200
    assert queued_messages() == {INBOUND_QUEUE: 0, OUTBOUND_QUEUE: 1}


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (AGENT_REPLY, unsigned, 403),
        (AGENT_REPLY, signed_with_another_secret, 403),
        (AGENT_REPLY, signed_six_minutes_ago, 403),
        (b'{"type": "event_callback", "event": {', slack_headers, 400),
        (AGENT_REPLY, signed_as_plain_text, 415),
    ],
    ids=["unsigned", "wrong secret", "replayed after 6 minutes", "invalid json", "plain text"],
)
def test_a_refused_event_request_is_answered_and_queues_nothing(
    client, body: bytes, headers: Callable[[bytes], dict[str, str]], status: int
):
    # Given a request to the events route that must not get through
    # When it arrives
    response = client.http.post("/slack/events", headers=headers(body), body=body)

    # Then it is refused with its reason, and no work is queued
    assert response.status_code == status
    if status != 415:
        assert response.headers["Content-Type"].startswith("application/json")
        answer = json.loads(response.body)
        assert answer["error"]
        assert "Traceback" not in answer["error"]
    assert queued_messages() == NOTHING_QUEUED


def edited_at(edit_ts: str) -> bytes:
    """A signed-looking edit of an agent's thread message, made at `edit_ts`."""
    message = json.loads(AGENT_REPLY)["event"] | {"edited": {"user": "U0AGENT", "ts": edit_ts}}
    event = {"type": "message", "subtype": "message_changed", "channel": CHANNEL_ID}
    payload = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event_id": "Ev0EDIT",
        "event": event | {"ts": "1764000600.000100", "message": message},
    }
    return json.dumps(payload).encode()


@pytest.mark.parametrize("edit_ts", ["nan", "inf", "1e9", "abc", "٣.٣", "1764000600"])
def test_an_edit_whose_timestamp_is_no_slack_ts_is_a_400_not_a_503(client, edit_ts: str):
    # Given Slack's signature on an edit whose time is not a Slack timestamp
    body = edited_at(edit_ts)
    # When it arrives, then it is refused as malformed (Slack would retry a 503 in vain)
    response = client.http.post("/slack/events", headers=slack_headers(body), body=body)
    assert response.status_code == 400, response.body
    assert json.loads(response.body) == {"error": "missing or invalid revision ts"}


def test_an_edit_with_a_slack_timestamp_is_taken(client):
    body = edited_at("1764000600.000100")
    assert (
        client.http.post("/slack/events", headers=slack_headers(body), body=body).status_code == 200
    )


# /slack/interactions and /slack/commands ----------------------------------------------------


def interaction() -> bytes:
    """A button press Threadline does not know (its own buttons are tested with the card)."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "channel": {"id": CHANNEL_ID},
        "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": "1.2"},
        "actions": [{"action_id": "some_other_app_button", "type": "button", "action_ts": "1.3"}],
        "trigger_id": "1337.42.abcd",
    }
    return form({"payload": json.dumps(payload)})


def slash_command() -> bytes:
    return form(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL_ID,
            "user_id": "U0AGENT",
            "command": "/threadline",
            "text": "help",
            "response_url": "https://hooks.slack.com/commands/T0SHOP1/1/abc",
            "trigger_id": "1337.42.abcd",
        }
    )


def form_signed(body: bytes) -> dict[str, str]:
    return slack_headers(body, content_type=FORM)


def form_unsigned(body: bytes) -> dict[str, str]:
    return {"Content-Type": FORM}


def form_signed_with_another_secret(body: bytes) -> dict[str, str]:
    return slack_headers(body, "not-the-signing-secret", content_type=FORM)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/slack/interactions", interaction()), ("/slack/commands", slash_command())],
    ids=["interactions", "commands"],
)
@pytest.mark.parametrize(
    ("headers", "status"),
    [(form_signed, 200), (form_unsigned, 403), (form_signed_with_another_secret, 403)],
    ids=["signed", "unsigned", "wrong secret"],
)
def test_slack_form_posts_get_through_only_when_signed(
    client, path: str, body: bytes, headers: Callable[[bytes], dict[str, str]], status: int
):
    # Given a form post as Slack sends it for a button click or a slash command
    # When it arrives, signed or not
    response = client.http.post(path, headers=headers(body), body=body)

    # Then only the signed one is accepted; the others are refused with a reason
    assert response.status_code == status, response.body
    if status == 403:
        assert json.loads(response.body)["error"]
    assert queued_messages() == NOTHING_QUEUED
