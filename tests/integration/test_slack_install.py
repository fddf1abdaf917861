""" "Add to Slack": a shop connects its own workspace through OAuth v2; the installation is
kept through slack_sdk's installation-store interface, its token only in the shop's secret."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk.oauth.installation_store import Installation

from chalicelib.services.installs import Exchange, ThreadlineInstallationStore
from chalicelib.settings import Settings
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock, stored_item
from tests.signing import TEAM_ID, form, shop_document, twilio_headers, twilio_message

NEW_TOKEN = "xoxb-granted-by-oauth"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def exchanges() -> list[dict[str, str]]:
    return []


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return Settings.model_validate(
        settings.model_dump()
        | {"slack_client_id": "1234.5678", "slack_client_secret": "oauth-client-secret"}
    )


@pytest.fixture
def slack_oauth(exchanges: list[dict[str, str]]) -> Exchange:
    def exchange(
        api_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> Installation:
        exchanges.append({"code": code, "client_id": client_id, "redirect_uri": redirect_uri})
        return Installation(
            app_id="A0THREADLINE",
            team_id="T0NEWSHOP",
            team_name="Loja Nova",
            bot_token=NEW_TOKEN,
            bot_user_id="UBOT",
            bot_scopes="chat:write,commands",
            user_id="U0OWNER",
            incoming_webhook_channel_id="C0CHOSEN",
        )

    return exchange


@pytest.fixture
def install_link(client, put_shop) -> str:
    """A shop created without Slack, waiting to be connected; returns its install link."""
    document = shop_document()
    del document["slack"]
    response = put_shop("ana", document)
    assert response.status_code == 201, response.body
    link = json.loads(response.body)["webhooks"]["slack_install"]
    assert link.startswith(f"{PUBLIC_URL}/slack/install?shop=ana&")
    return str(link)


def local(url: str) -> str:
    """A public URL of ours as the test client calls it."""
    return url.removeprefix(PUBLIC_URL)


def begin(client: Any, link: str) -> tuple[str, str]:
    """Follows an install link; returns Slack's consent URL and the state cookie."""
    response = client.http.get(local(link))
    assert response.status_code == 302, response.body
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    return response.headers["Location"], cookie.split(";", 1)[0]


def test_a_shop_connects_its_workspace_and_its_customers_arrive_there(
    client, install_link, container, run_workers, slack: FakeSlack, exchanges
):
    # When the shop follows its install link
    consent, cookie = begin(client, install_link)

    # Then Slack's consent page asks for the app's scopes, with a state and our redirect
    parts = urlsplit(consent)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://slack.com/oauth/v2/authorize"
    assert query["client_id"] == ["1234.5678"]
    assert "incoming-webhook" in query["scope"][0].split(",")
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/slack/oauth_redirect"]
    [state] = query["state"]
    assert cookie == f"threadline_slack_state={state}"

    # When Slack sends the installer back with a code
    finish = client.http.get(
        f"/slack/oauth_redirect?code=c0de&state={state}", headers={"Cookie": cookie}
    )

    # Then the page says so, and the shop now lives in that workspace and the chosen channel
    assert finish.status_code == 200
    assert "Loja Nova" in finish.body.decode()
    assert exchanges == [
        {
            "code": "c0de",
            "client_id": "1234.5678",
            "redirect_uri": f"{PUBLIC_URL}/slack/oauth_redirect",
        }
    ]
    shown = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)
    assert (shown["slack"]["team_id"], shown["slack"]["channel_id"]) == ("T0NEWSHOP", "C0CHOSEN")
    assert shown["slack"]["bot_token"] == "********"
    assert slack.joined == [(NEW_TOKEN, "C0CHOSEN")]
    # And the installation is found through the installation store, with the token that is
    # kept in the shop's secret only
    store = ThreadlineInstallationStore(container.store.installations, container.vault)
    bot = store.find_bot(enterprise_id=None, team_id="T0NEWSHOP")
    assert bot is not None
    assert bot.bot_token == NEW_TOKEN
    item = stored_item("SLACKTEAM#-#T0NEWSHOP", "INSTALLATION")
    assert item is not None
    assert NEW_TOKEN not in json.dumps(item, default=str)

    # When a customer writes
    params = twilio_message(1)
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    run_workers()

    # Then the conversation opens in the chosen channel, with the granted token
    [root] = slack.roots()
    assert (root.token, root.channel) == (NEW_TOKEN, "C0CHOSEN")


def test_a_state_works_once_and_only_in_the_browser_that_started(client, install_link):
    consent, cookie = begin(client, install_link)
    [state] = parse_qs(urlsplit(consent).query)["state"]
    redirect = f"/slack/oauth_redirect?code=c0de&state={state}"

    # Another browser (no cookie, or another state's cookie) cannot finish it
    assert client.http.get(redirect).status_code == 403
    _, other = begin(client, install_link)
    assert client.http.get(redirect, headers={"Cookie": other}).status_code == 403
    # Its own browser can, once
    assert client.http.get(redirect, headers={"Cookie": cookie}).status_code == 200
    assert client.http.get(redirect, headers={"Cookie": cookie}).status_code == 403


@pytest.mark.parametrize(
    "neighbours",
    [
        ('theme="dark', ""),  # a quote left open
        ("", "cart=a b"),  # a space in a value
        ("flag", "x=a\\b"),  # no value at all; a backslash
    ],
    ids=["open quote before", "space after", "bare name and backslash"],
)
def test_a_malformed_cookie_beside_the_state_does_not_stop_the_install(
    client, install_link, neighbours
):
    # Given an install started in this browser, which also holds other sites' odd cookies
    consent, cookie = begin(client, install_link)
    [state] = parse_qs(urlsplit(consent).query)["state"]
    before, after = neighbours
    header = "; ".join(part for part in (before, cookie, after) if part)

    # When Slack sends the installer back
    finish = client.http.get(
        f"/slack/oauth_redirect?code=c0de&state={state}", headers={"Cookie": header}
    )

    # Then the state cookie is still found and the install completes
    assert finish.status_code == 200, finish.body
    assert "Loja Nova" in finish.body.decode()


def test_a_state_cookie_that_is_not_one_threadline_sets_is_not_taken(client, install_link):
    # Given a state cookie whose value is not what Threadline issues (quoted, with spaces)
    consent, _ = begin(client, install_link)
    [state] = parse_qs(urlsplit(consent).query)["state"]
    redirect = f"/slack/oauth_redirect?code=c0de&state={state}"

    # When it comes back in those forms, then it binds nothing
    for value in (f'"{state}', f"{state} x", ""):
        response = client.http.get(redirect, headers={"Cookie": f"threadline_slack_state={value}"})
        assert response.status_code == 403, value


@pytest.mark.parametrize("expires", ["²", "١٢٣٤٥٦٧٨٩٩٩", " 9999999999", "9_999_999_999"])
def test_a_signed_link_whose_expiry_is_not_ascii_digits_is_refused_not_a_503(
    client, install_link, expires
):
    # Given a link signed with the app's secret, over an expiry in other digits
    signature = hmac.new(
        b"oauth-client-secret", f"ana:{expires}".encode(), hashlib.sha256
    ).hexdigest()
    query = urlencode({"shop": "ana", "expires": expires, "signature": signature})
    # When it is followed, then it is refused as an invalid link
    response = client.http.get(f"/slack/install?{query}")
    assert response.status_code == 403, response.body
    assert json.loads(response.body) == {"error": "this install link is not valid"}


@pytest.mark.parametrize("tamper", ["shop=ana&", "signature="])
def test_a_tampered_install_link_is_refused(client, install_link, tamper):
    changed = (
        install_link.replace("shop=ana&", "shop=bob&")
        if tamper == "shop=ana&"
        else (install_link.replace("signature=", "signature=0"))
    )
    response = client.http.get(local(changed))
    assert response.status_code == 403
    assert "not valid" in json.loads(response.body)["error"]


def test_an_install_link_expires_after_a_week(client, install_link, clock: Clock):
    clock.now = clock() + timedelta(days=8)
    response = client.http.get(local(install_link))
    assert response.status_code == 403
    assert "expired" in json.loads(response.body)["error"]


def test_a_state_expires_after_ten_minutes(client, install_link, clock: Clock):
    consent, cookie = begin(client, install_link)
    [state] = parse_qs(urlsplit(consent).query)["state"]
    clock.now = clock() + timedelta(minutes=11)
    response = client.http.get(
        f"/slack/oauth_redirect?code=c0de&state={state}", headers={"Cookie": cookie}
    )
    assert response.status_code == 403


def test_an_install_cancelled_on_slacks_page_says_so(client, install_link):
    response = client.http.get("/slack/oauth_redirect?error=access_denied&state=x")
    assert response.status_code == 400
    assert "access_denied" in json.loads(response.body)["error"]


def test_an_install_link_cannot_move_a_connected_shop_to_another_workspace(
    client, put_shop, slack: FakeSlack
):
    # Given a shop connected to its workspace
    response = put_shop("ana", shop_document())
    assert response.status_code == 201
    link = json.loads(response.body)["webhooks"]["slack_install"]

    # When its install link is used to install the app in another workspace
    consent, cookie = begin(client, link)
    [state] = parse_qs(urlsplit(consent).query)["state"]
    finish = client.http.get(
        f"/slack/oauth_redirect?code=c0de&state={state}", headers={"Cookie": cookie}
    )

    # Then it is refused with the reason, and the shop stays where it was
    assert finish.status_code == 409
    assert "connected to another Slack workspace" in json.loads(finish.body)["error"]
    shown = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)
    assert shown["slack"]["team_id"] == TEAM_ID
    assert slack.joined == []
