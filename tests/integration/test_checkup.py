"""`GET /admin/shops/{shop_id}/checks` and `GET /admin/checks`: the deployment checks a
shop's Slack and Twilio connections with the shop's own secrets, through the official
clients, against the sandbox's stand-ins, and answers with verdicts only."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from pydantic import SecretStr

from chalicelib.settings import Settings
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn
from local_stack.sandbox.twilio import TwilioStandIn
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    CHANNEL_ID,
    SMS_NUMBER,
    TEAM_ID,
    WHATSAPP_NUMBER,
    shop_document,
)

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MESSAGING_URL = f"{PUBLIC_URL}/webhooks/twilio/ana"
ELSEWHERE = "https://elsewhere.example/sms"


@pytest.fixture
def slack_api() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn(Outbox())
    stand_in.start()
    stand_in.install(BOT_TOKEN, TEAM_ID, "Loja da Ana")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def twilio_api() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(Outbox(), callback_delay=60)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def changed() -> dict[str, Any]:
    """Settings a test changes."""
    return {}


@pytest.fixture
def settings(
    settings: Settings, slack_api: SlackStandIn, twilio_api: TwilioStandIn, changed: dict[str, Any]
) -> Settings:
    stand_ins = {"slack_api_url": slack_api.base_url, "twilio_api_url": twilio_api.base_url}
    return settings.model_copy(update={**stand_ins, **changed})


def checks(client: Client, shop_id: str = "ana") -> dict[str, tuple[str, str, str]]:
    """Each check's verdict, detail and fix, by subject and name."""
    response = client.http.get(f"/admin/shops/{shop_id}/checks", headers=ADMIN)
    assert response.status_code == 200, response.body
    return {
        f"{c['subject']} {c['name']}".strip(): (c["verdict"], c["detail"], c["fix"])
        for c in json.loads(response.body)["checks"]
    }


def verdicts(found: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    return {name: verdict for name, (verdict, _, _) in found.items()}


def connected(twilio_api: TwilioStandIn, **provisioned: Any) -> None:
    """The shop's numbers in its Twilio account, pointed at this deployment."""
    twilio_api.provision(
        ACCOUNT_SID,
        AUTH_TOKEN,
        sms_numbers=(SMS_NUMBER,),
        whatsapp_numbers=(WHATSAPP_NUMBER,),
        **provisioned,
    )
    twilio_api.set_webhook(SMS_NUMBER, MESSAGING_URL)
    twilio_api.set_webhook(WHATSAPP_NUMBER, MESSAGING_URL, whatsapp=True)


def test_a_shop_whose_connections_work_passes_every_check(client, put_shop, twilio_api):
    # Given a shop with its threads in one channel, its SMS in another and a digest; its
    # numbers pointed here
    document = shop_document(digest={"hour": 9})
    document["slack"]["channels"] = {"sms": "C0SMS"}
    assert put_shop("ana", document).status_code == 201
    connected(twilio_api)

    # When the operator checks it
    found = checks(client)

    # Then each provider passes, and channels Threadline lacks are not configured
    assert verdicts(found) == {
        "Slack bot token": "passed",
        f"Slack channel {CHANNEL_ID}": "passed",
        "Slack channel C0SMS": "passed",
        "Twilio account": "passed",
        f"Twilio sms {SMS_NUMBER}": "passed",
        f"Twilio whatsapp {WHATSAPP_NUMBER}": "passed",
        "Meta": "not_configured",
        "Telegram": "not_configured",
        "Commerce": "not_configured",
    }
    assert found[f"Slack channel {CHANNEL_ID}"][1] == (
        "the bot is in #c0support (for whatsapp, email conversations and the daily digest)"
    )
    assert found["Slack channel C0SMS"][1] == "the bot is in #c0sms (for sms conversations)"
    assert TEAM_ID in found["Slack bot token"][1]


def test_no_secret_leaves_in_the_answer_or_the_log(client, shop, twilio_api, log_lines):
    connected(twilio_api)
    response = client.http.get("/admin/shops/ana/checks", headers=ADMIN)
    assert response.status_code == 200
    for secret in (BOT_TOKEN, AUTH_TOKEN):
        assert secret not in response.body.decode()
        assert secret not in log_lines.getvalue()
    assert SMS_NUMBER not in log_lines.getvalue()
    assert '"message":"shop checked"' in log_lines.getvalue()


def test_a_revoked_token_fails_and_its_channels_are_not_asked(client, shop, twilio_api, slack_api):
    connected(twilio_api)
    slack_api.revoke(BOT_TOKEN)

    found = checks(client)

    verdict, detail, fix = found["Slack bot token"]
    assert (verdict, detail) == ("failed", "Slack refused the bot token: token_revoked")
    assert "threadline urls ana" in fix
    assert not [name for name in found if name.startswith("Slack channel")]
    assert found[f"Twilio sms {SMS_NUMBER}"][0] == "passed"


def test_a_token_of_another_workspace_fails_naming_both(client, shop, twilio_api, slack_api):
    connected(twilio_api)
    slack_api.install(BOT_TOKEN, "T0OTHER", "Another shop")

    verdict, detail, _ = checks(client)["Slack bot token"]

    assert verdict == "failed"
    assert detail == f"the token is of workspace T0OTHER (Another shop), the shop's is {TEAM_ID}"


def test_a_channel_the_bot_was_removed_from_fails_with_the_invitation_to_make(
    client, shop, twilio_api, slack_api
):
    connected(twilio_api)
    slack_api.remove_bot(CHANNEL_ID)

    verdict, detail, fix = checks(client)[f"Slack channel {CHANNEL_ID}"]

    assert verdict == "failed"
    assert detail.startswith("the bot is not in #c0support")
    assert fix == "in #c0support: /invite @Threadline"


def test_a_private_channel_the_bot_is_not_in_is_not_found(client, put_shop, twilio_api, slack_api):
    document = shop_document()
    document["slack"]["channel_id"] = "G0PRIVATE"
    assert put_shop("ana", document).status_code == 201
    connected(twilio_api)
    slack_api.remove_bot("G0PRIVATE")

    verdict, detail, fix = checks(client)["Slack channel G0PRIVATE"]

    assert verdict == "failed"
    assert detail.startswith("no such channel the bot can see")
    assert "invite the app" in fix


def test_a_number_sending_elsewhere_fails_naming_where(client, shop, twilio_api):
    connected(twilio_api)
    twilio_api.set_webhook(SMS_NUMBER, ELSEWHERE)
    twilio_api.set_webhook(WHATSAPP_NUMBER, "", whatsapp=True)

    found = checks(client)

    assert found[f"Twilio sms {SMS_NUMBER}"] == (
        "failed",
        f"messages go to {ELSEWHERE}",
        "threadline shop connect-twilio ana",
    )
    assert found[f"Twilio whatsapp {WHATSAPP_NUMBER}"][:2] == ("failed", "messages go to no URL")


@pytest.mark.parametrize(
    ("defers", "service_url", "verdict"),
    [
        (False, MESSAGING_URL, "passed"),
        (False, ELSEWHERE, "failed"),
        # The service defers to the number's own webhook, which points here.
        (True, ELSEWHERE, "passed"),
    ],
)
def test_a_number_in_a_messaging_service_is_judged_by_the_url_that_decides(
    client, shop, twilio_api, defers, service_url, verdict
):
    service = twilio_api.add_messaging_service(
        ACCOUNT_SID, service_url, use_inbound_webhook_on_number=defers
    )
    connected(twilio_api, sms_application_sid=service)

    found, detail, fix = checks(client)[f"Twilio sms {SMS_NUMBER}"]

    assert found == verdict
    if defers:
        assert detail == "messages come here"
    elif verdict == "failed":
        assert detail == f"messages go to {ELSEWHERE} (through Messaging Service {service})"
        assert fix == f"set Messaging Service {service}'s incoming message URL to {MESSAGING_URL}"
    else:
        assert detail == f"messages come here (through Messaging Service {service})"


def test_a_number_in_a_twiml_app_is_judged_by_the_apps_url(client, shop, twilio_api):
    application = twilio_api.add_application(ACCOUNT_SID, ELSEWHERE)
    connected(twilio_api, sms_application_sid=application)

    verdict, detail, _ = checks(client)[f"Twilio sms {SMS_NUMBER}"]

    assert verdict == "failed"
    assert detail == f"messages go to {ELSEWHERE} (through TwiML app {application})"


def test_numbers_the_account_lacks_fail_as_not_found(client, shop, twilio_api):
    twilio_api.provision(ACCOUNT_SID, AUTH_TOKEN)

    found = checks(client)

    assert found[f"Twilio sms {SMS_NUMBER}"][:2] == (
        "failed",
        "not a phone number of the shop's Twilio account",
    )
    assert found[f"Twilio whatsapp {WHATSAPP_NUMBER}"][:2] == (
        "failed",
        "not a WhatsApp sender of the shop's Twilio account",
    )


def test_a_rotated_twilio_token_fails_the_account_once(client, shop, twilio_api):
    # Given the account's token rotated at Twilio, not in the shop
    twilio_api.provision(
        ACCOUNT_SID, "rotated", sms_numbers=(SMS_NUMBER,), whatsapp_numbers=(WHATSAPP_NUMBER,)
    )

    found = checks(client)

    verdict, detail, fix = found["Twilio account"]
    assert (verdict, detail) == ("failed", f"Twilio refused the credentials of {ACCOUNT_SID}")
    assert "threadline shop put" in fix
    assert not [name for name in found if name.startswith("Twilio sms")]


def test_a_shop_without_slack_fails_and_without_twilio_is_not_configured(client, put_shop):
    document = shop_document()
    del document["slack"], document["twilio"]
    assert put_shop("ana", document).status_code == 201

    found = checks(client)

    assert found["Slack workspace"][0] == "failed"
    assert "threadline urls ana" in found["Slack workspace"][2]
    assert found["Twilio"][:2] == ("not_configured", "no Twilio account")


def test_the_checks_need_the_token_and_a_shop(client, shop):
    assert client.http.get("/admin/shops/ana/checks").status_code == 401
    assert client.http.get("/admin/checks").status_code == 401
    assert client.http.get("/admin/shops/zed/checks", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("changed", "failing"),
    [
        ({}, set()),
        ({"public_url": ""}, {"public URL"}),
        ({"slack_signing_secret": SecretStr(" ")}, {"Slack signing secret"}),
    ],
)
def test_the_deployment_checks_say_which_setting_is_missing_never_its_value(client, failing):
    response = client.http.get("/admin/checks", headers=ADMIN)

    assert response.status_code == 200
    found = {c["name"]: c["verdict"] for c in json.loads(response.body)["checks"]}
    assert {name for name, verdict in found.items() if verdict == "failed"} == failing
    assert "test-slack-signing-secret" not in response.body.decode()
