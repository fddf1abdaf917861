"""Tenants stay apart: a webhook signed for one shop cannot write into another, a Slack event
from one workspace cannot reply into another's conversation, and the admin token is compared
in constant time."""

import hmac
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from chalice.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.bad_input import FUZZ, JSON
from tests.integration.conftest import ADMIN, ADMIN_TOKEN, PUBLIC_URL
from tests.integration.test_agent_replies import reply_event
from tests.integration.test_bad_input import world
from tests.signing import (
    AUTH_TOKEN,
    CHANNEL_ID,
    TEAM_ID,
    form,
    shop_document,
    twilio_headers,
    twilio_message,
)

BOB_ACCOUNT_SID = "AC" + "3" * 32
BOB_AUTH_TOKEN = "bob-own-auth-token"
BOB_NUMBER = "+14155550199"
BOB_TEAM = "T0BOB"
BOB_PATH = "/webhooks/twilio/bob"


@pytest.fixture
def bob(put_shop: Callable[..., Any], shop: str) -> str:
    """A second shop with its own Twilio account and its own Slack workspace, whose support
    channel has the same id as ana's."""
    document = shop_document(
        name="Bob's Bikes",
        slack={"team_id": BOB_TEAM, "channel_id": CHANNEL_ID, "bot_token": "xoxb-bob"},
        twilio={
            "account_sid": BOB_ACCOUNT_SID,
            "auth_token": BOB_AUTH_TOKEN,
            "sms_numbers": [BOB_NUMBER],
            "whatsapp_numbers": [],
        },
    )
    response = put_shop("bob", document)
    assert response.status_code == 201, response.body
    return "bob"


def bobs_message(**fields: str) -> dict[str, str]:
    return twilio_message(7, **{"AccountSid": BOB_ACCOUNT_SID, "To": BOB_NUMBER, **fields})


@pytest.mark.parametrize(
    ("params", "signed_for", "token"),
    [
        (bobs_message(), BOB_PATH, AUTH_TOKEN),
        (bobs_message(AccountSid=twilio_message(7)["AccountSid"]), BOB_PATH, AUTH_TOKEN),
        (bobs_message(), "/webhooks/twilio/ana", AUTH_TOKEN),
        (bobs_message(), "/webhooks/twilio/ana", BOB_AUTH_TOKEN),
    ],
    ids=[
        "ana's token",
        "ana's token and account",
        "ana's URL and token",
        "bob's token on ana's URL",
    ],
)
def test_a_webhook_signed_for_ana_cannot_write_into_bob(
    client: Client,
    bob: str,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    params: dict[str, str],
    signed_for: str,
    token: str,
) -> None:
    # Given ana and bob, each with its own Twilio account
    before = world(slack, twilio)
    # When a message for bob arrives on bob's path, signed with what is ana's
    headers = twilio_headers(PUBLIC_URL + signed_for, params, token)
    response = client.http.post(BOB_PATH, headers=headers, body=form(params))
    # Then it is refused, and nothing is written for anyone
    assert response.status_code == 403, response.body
    assert world(slack, twilio) == before


def test_bobs_own_signature_is_accepted(client: Client, bob: str) -> None:
    # The refusals above are about whose signature it is, not about bob's setup
    params = bobs_message()
    headers = twilio_headers(PUBLIC_URL + BOB_PATH, params, BOB_AUTH_TOKEN)
    response = client.http.post(BOB_PATH, headers=headers, body=form(params))
    assert response.status_code == 200, response.body


@FUZZ
@given(
    team=(
        st.sampled_from([BOB_TEAM, "T0OTHER", "", TEAM_ID.lower()]) | st.text(max_size=12)
    ).filter(lambda team: team != TEAM_ID)
)
def test_an_event_from_another_workspace_never_replies_into_anas_conversation(
    open_thread: Callable[..., str],
    bob: str,
    slack_event: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    team: str,
) -> None:
    # Given a conversation of ana's, in a thread of her workspace
    thread_ts = slack.roots()[0].ts if slack.roots() else open_thread()
    posts = len(slack.posts)
    # When an agent's reply in that channel and thread arrives from another workspace
    response = slack_event(reply_event(thread_ts, team_id=team, team=team))
    run_workers()
    # Then it is acknowledged (or refused, without a team), and nothing reaches ana's
    # customer or her thread
    assert response.status_code in (200, 400), response.body
    assert twilio.sent == []
    assert len(slack.posts) == posts


def test_the_admin_token_is_compared_in_constant_time(client: Client) -> None:
    # Given the admin API, with hmac.compare_digest watched
    real = hmac.compare_digest
    with mock.patch("app.hmac.compare_digest", wraps=real) as compare:
        # When the right token and a wrong one of the same length are presented
        right = client.http.get("/admin/shops", headers=ADMIN)
        wrong_token = "x" * len(ADMIN_TOKEN)
        wrong = client.http.get("/admin/shops", headers={"Authorization": f"Bearer {wrong_token}"})
    # Then both went through compare_digest, with the expected token as one side
    assert (right.status_code, wrong.status_code) == (200, 401)
    expected = ADMIN_TOKEN.encode()
    assert [call.args for call in compare.call_args_list] == [
        (expected, expected),
        (wrong_token.encode(), expected),
    ]


def test_the_admin_decision_is_compare_digests(client: Client) -> None:
    # When compare_digest says no to the right token, the token is refused: no other check
    # (such as ==, which returns early) decides
    with mock.patch("app.hmac.compare_digest", return_value=False):
        response = client.http.get("/admin/shops", headers={**ADMIN, "Content-Type": JSON})
    assert response.status_code == 401
