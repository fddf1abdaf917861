"""The Slack app manifest a shop creates the app from matches what the code expects."""

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import app
from chalicelib.channels.slack import BOT_SCOPES, CANNED_RESPONSE, SEND_TO_CUSTOMER

pytestmark = pytest.mark.unit

MANIFEST = json.loads(
    (Path(__file__).resolve().parents[2] / "infra" / "slack-app-manifest.json").read_text()
)
PLACEHOLDER = "https://threadline.example.com/api"


def route(url: str) -> str:
    assert url.startswith(PLACEHOLDER + "/")
    return urlsplit(url).path.removeprefix(urlsplit(PLACEHOLDER).path)


def test_every_url_of_the_manifest_is_a_route_of_the_app() -> None:
    settings = MANIFEST["settings"]
    urls = {
        "POST": [
            settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"],
            MANIFEST["features"]["slash_commands"][0]["url"],
        ],
        "GET": MANIFEST["oauth_config"]["redirect_urls"],
    }
    for method, listed in urls.items():
        for url in listed:
            path = route(url)
            assert path in app.routes, path
            assert method in app.routes[path], (method, path)


def test_the_manifest_asks_for_the_scopes_the_install_asks_for() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_the_manifest_declares_the_shortcuts_and_events_the_app_handles() -> None:
    shortcuts = {s["callback_id"] for s in MANIFEST["features"]["shortcuts"]}
    assert shortcuts == {SEND_TO_CUSTOMER, CANNED_RESPONSE}
    assert MANIFEST["features"]["slash_commands"][0]["command"] == "/threadline"
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == {"message.channels", "message.groups"}
