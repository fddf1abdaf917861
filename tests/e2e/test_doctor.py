"""`threadline doctor` against the local stack: it passes for a shop whose every connection
works, and fails, naming the cause, when the shop's Slack token is revoked or one of its
Twilio numbers sends its messages elsewhere."""

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from local_stack.constants import LOCAL_REGION
from tests.e2e.conftest import RunningStack, threadline
from tests.signing import TEAM_ID, shop_document

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

# Each shop's numbers its own, in the one Twilio stand-in of the module's stack.
NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class ConnectedShop:
    shop_id: str
    bot_token: str
    sms_number: str
    whatsapp_number: str


def lines_with(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if all(word in line for word in words)]


@pytest.fixture
def shop(stack: RunningStack) -> Iterator[ConnectedShop]:
    """A shop whose every connection is made, as an operator would make them: its own
    workspace token and Twilio account, numbers pointed here, its mail domain verified."""
    # Given a shop of its own: no other test's token or numbers
    suffix = uuid.uuid4().hex[:8]
    shop_id, account, auth_token = f"doctor-{suffix}", "AC" + uuid.uuid4().hex, "auth-" + suffix
    sms, whatsapp = (f"+1415666{next(NUMBERS):04d}" for _ in range(2))
    connected = ConnectedShop(shop_id, f"xoxb-{suffix}", sms, whatsapp)
    stack.slack.install(connected.bot_token, TEAM_ID, "Loja do Médico")
    stack.twilio.provision(account, auth_token, sms_numbers=(sms,), whatsapp_numbers=(whatsapp,))
    document = shop_document(
        name="Loja do Médico",
        slack={"team_id": TEAM_ID, "channel_id": "C0DOCTOR", "bot_token": connected.bot_token},
        twilio={
            "account_sid": account,
            "auth_token": auth_token,
            "sms_numbers": [sms],
            "whatsapp_numbers": [whatsapp],
        },
        email={"address": f"ajuda@{shop_id}.example"},
        digest={"hour": 9, "channel_id": "C0DIGEST"},
    )
    assert stack.admin("PUT", f"/admin/shops/{shop_id}", document).status == 201
    assert threadline(stack, "shop", "connect-twilio", shop_id)[0] == 0
    ses = boto3.client(
        "ses",
        endpoint_url=stack.aws,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    ses.verify_domain_identity(Domain=f"{shop_id}.example")
    yield connected
    # Gone, so that a check of every shop finds only the shop of the test that runs it.
    assert stack.admin("DELETE", f"/admin/shops/{shop_id}").status == 200


def test_doctor_passes_when_the_deployment_and_every_connection_work(
    stack: RunningStack, shop: ConnectedShop
):
    # When an operator checks the deployment and every shop
    code, output = threadline(stack, "doctor")

    # Then everything passes, and it exits 0
    assert code == 0, output
    assert "✘" not in output
    assert "Everything checked works." in output
    # And each part was checked: the API, the AWS resources, the shop's providers
    for words in (
        ("✔", "API admin token", "accepted"),
        ("✔", "API public URL", stack.api),
        ("✔", "AWS table threadline", "active"),
        ("✔", "AWS queue threadline-outbound-dlq.fifo", "empty"),
        ("✔", "AWS queue threadline-mail-dlq", "empty"),
        ("✔", "AWS schedule group threadline", "active"),
        ("✔", "AWS role threadline-scheduler-us-east-1"),
        ("✔", "Slack bot token", TEAM_ID),
        (
            "✔",
            "Slack channel C0DOCTOR",
            "the bot is in",
            "sms, whatsapp, email conversations",
        ),
        ("✔", "Slack channel C0DIGEST", "the daily digest"),
        ("✔", f"Twilio sms {shop.sms_number}", "messages come here"),
        ("✔", f"Twilio whatsapp {shop.whatsapp_number}", "messages come here"),
        ("✔", "Email receiving", "store-and-notify"),
        ("✔", f"Email domain {shop.shop_id}.example", "verified"),
        ("–", "Meta", "no WhatsApp Cloud number, Page or Instagram account"),
        ("–", "Telegram", "no bot"),
        ("–", "Commerce", "not configured"),
    ):
        assert lines_with(output, *words), (words, output)


def test_doctor_fails_naming_a_revoked_slack_token(stack: RunningStack, shop: ConnectedShop):
    # Given the shop's Slack token revoked (the app uninstalled from its workspace)
    stack.slack.revoke(shop.bot_token)

    # When the operator checks the shop
    code, output = threadline(stack, "doctor", shop.shop_id)

    # Then it fails, naming Slack's refusal and what to do
    assert code == 1, output
    [line] = lines_with(output, "✘", "Slack bot token")
    assert "token_revoked" in line
    assert f"threadline urls {shop.shop_id}" in line
    # And the rest of the shop still passes
    assert lines_with(output, "✔", f"Twilio sms {shop.sms_number}")


def test_doctor_fails_naming_where_a_twilio_number_sends_its_messages(
    stack: RunningStack, shop: ConnectedShop
):
    # Given the shop's SMS number pointed at another URL in Twilio's console
    elsewhere = "https://old-deployment.example/api/webhooks/twilio/loja"
    stack.twilio.set_webhook(shop.sms_number, elsewhere)

    # When the operator checks the shop
    code, output = threadline(stack, "doctor", shop.shop_id)

    # Then it fails, naming the number, where its messages go, and the command that fixes it
    assert code == 1, output
    [line] = lines_with(output, "✘", f"Twilio sms {shop.sms_number}")
    assert elsewhere in line
    assert f"threadline shop connect-twilio {shop.shop_id}" in line
    assert lines_with(output, "✔", "Slack bot token")
    assert lines_with(output, "✔", f"Twilio whatsapp {shop.whatsapp_number}")

    # And once connected again, it passes
    assert threadline(stack, "shop", "connect-twilio", shop.shop_id)[0] == 0
    assert threadline(stack, "doctor", shop.shop_id)[0] == 0
