"""How `threadline doctor` judges what it found: SES's recipient matching, receiving and
identities, Slack channels and Twilio webhooks; and the names it looks for are the ones
infra/template.json gives."""

import json
from pathlib import Path

import pytest

from chalicelib.domain.checks import (
    NumberWebhook,
    ReceiptRule,
    Refusal,
    SlackChannelState,
    Verdict,
    domain_check,
    receiving_check,
    slack_channel_check,
    slack_channels,
    takes_mail_for,
    twilio_number_check,
)
from chalicelib.domain.shop import ShopDocument
from chalicelib.domain.vocabulary import Channel
from tests.signing import shop_document
from threadline_cli.doctor import RECEIPT_RULE_SET, SCHEDULER_ROLE

pytestmark = pytest.mark.unit

TEMPLATE = json.loads((Path(__file__).resolve().parents[2] / "infra" / "template.json").read_text())
ADDRESS = "ajuda@help.loja.example"
EXPECTED = "https://threadline.example.com/api/webhooks/twilio/ana"


def resources_of(kind: str) -> list[dict[str, object]]:
    return [r["Properties"] for r in TEMPLATE["Resources"].values() if r.get("Type") == kind]


def test_doctor_looks_for_the_rule_set_and_role_the_template_creates() -> None:
    [rule_set] = resources_of("AWS::SES::ReceiptRuleSet")
    assert rule_set["RuleSetName"] == RECEIPT_RULE_SET
    [role] = [r for r in resources_of("AWS::IAM::Role") if "scheduler" in json.dumps(r)]
    assert role["RoleName"] == {"Fn::Sub": SCHEDULER_ROLE.format(region="${AWS::Region}")}


@pytest.mark.parametrize(
    ("condition", "address", "taken"),
    [
        ("help.loja.example", ADDRESS, True),
        ("HELP.loja.example", ADDRESS, True),
        # A domain takes none of its subdomains' mail; a leading dot takes only theirs.
        ("loja.example", ADDRESS, False),
        (".loja.example", ADDRESS, True),
        (".help.loja.example", ADDRESS, False),
        # An address also takes its +labels (a conversation's own reply address).
        (ADDRESS, ADDRESS, True),
        (ADDRESS, "ajuda+c01jqz@help.loja.example", True),
        (ADDRESS, "outra@help.loja.example", False),
        ("ajuda@loja.example", ADDRESS, False),
    ],
)
def test_a_recipient_condition_matches_as_ses_matches_it(condition, address, taken) -> None:
    assert takes_mail_for(condition, address) is taken


def test_receiving_needs_the_rule_set_active() -> None:
    check = receiving_check(ADDRESS, "another-set", "threadline", [])
    assert check.verdict is Verdict.FAILED
    assert check.detail.startswith("'another-set' is active, not 'threadline'")
    assert check.fix.startswith("aws ses set-active-receipt-rule-set --rule-set-name threadline")
    nothing = receiving_check(ADDRESS, None, "threadline", [])
    assert nothing.detail.startswith("no rule set is active")


def test_receiving_needs_an_enabled_rule_that_takes_the_address() -> None:
    elsewhere = ReceiptRule("others", True, ("other.example",))
    disabled = ReceiptRule("off", False, ())
    check = receiving_check(ADDRESS, "threadline", "threadline", [elsewhere, disabled])
    assert check.verdict is Verdict.FAILED
    assert check.detail == f"no enabled rule of 'threadline' takes mail for {ADDRESS}"

    every = ReceiptRule("store-and-notify", True, ())
    assert receiving_check(ADDRESS, "threadline", "threadline", [disabled, every]).detail == (
        f"rule store-and-notify of 'threadline' takes mail for {ADDRESS}"
    )
    named = ReceiptRule("shops", True, ("other.example", ".loja.example"))
    assert receiving_check(ADDRESS, "threadline", "threadline", [named]).verdict is Verdict.PASSED


@pytest.mark.parametrize(
    ("statuses", "verdict", "detail"),
    [
        ({"help.loja.example": "Success"}, Verdict.PASSED, "verified in SES"),
        ({"help.loja.example": "Pending"}, Verdict.FAILED, "verification pending"),
        ({}, Verdict.FAILED, "not an SES identity"),
        (
            {ADDRESS: "Success"},
            Verdict.FAILED,
            f"only {ADDRESS} is verified: mail is sent, but SES receives only for a verified "
            "domain",
        ),
    ],
)
def test_receiving_needs_the_domain_verified(statuses, verdict, detail) -> None:
    check = domain_check(ADDRESS, statuses)
    assert (check.verdict, check.detail) == (verdict, detail)
    if verdict is Verdict.FAILED:
        assert "create-email-identity --email-identity help.loja.example" in check.fix


def test_every_channel_a_shop_posts_to_is_checked_once_with_what_goes_there() -> None:
    document = shop_document(digest={"hour": 9, "channel_id": "C0SMS"})
    document["slack"]["channels"] = {"sms": "C0SMS", "email": "C0SUPPORT"}
    shop, _ = ShopDocument.model_validate(document).split("ana")
    assert slack_channels(shop) == {
        # Every channel but SMS (its own) goes to the others' by default; channels the shop
        # has not connected (a Telegram bot, Meta's) are left out.
        "C0SUPPORT": "whatsapp, email conversations",
        "C0SMS": "sms conversations and the daily digest",
    }
    # Once the shop has a bot, Telegram's conversations are checked where they go
    document["telegram"] = {"bot_token": "7000000001:" + "A" * 35}
    shop, _ = ShopDocument.model_validate(document).split("ana")
    assert slack_channels(shop)["C0SUPPORT"] == "whatsapp, email, telegram conversations"
    document.pop("slack")
    assert slack_channels(ShopDocument.model_validate(document).split("ana")[0]) == {}


def test_a_channel_is_judged_by_slacks_answer() -> None:
    shop, _ = ShopDocument.model_validate(shop_document()).split("ana")
    archived = slack_channel_check(shop, "C0A", "sms", SlackChannelState("old", True, True))
    assert (archived.verdict, archived.detail) == (
        Verdict.FAILED,
        "#old is archived (for sms)",
    )
    scope = slack_channel_check(shop, "C0A", "sms", Refusal("missing_scope", "needs groups:read"))
    assert scope.detail == "the app may not read channels (needs groups:read)"
    assert "threadline urls ana" in scope.fix
    down = slack_channel_check(shop, "C0A", "sms", Refusal("unreachable", "ConnectionError"))
    assert (down.detail, down.fix) == ("Slack unreachable: ConnectionError", "try again")


def test_a_number_called_by_get_fails_though_its_url_is_right() -> None:
    shop, _ = ShopDocument.model_validate(shop_document()).split("ana")
    found = NumberWebhook("+14155550100", Channel.SMS, found=True, url=EXPECTED, method="GET")
    check = twilio_number_check(shop, found, EXPECTED)
    assert (check.verdict, check.detail) == (Verdict.FAILED, f"Twilio calls {EXPECTED} with GET")
    assert check.fix == "threadline shop connect-twilio ana"
