"""The shop document of the admin API: validation, the secret/plain split, masking, merging."""

import json
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from chalicelib.domain.shop import (
    MASK,
    ReplyMode,
    ReplyPolicy,
    Shop,
    ShopDocument,
    ShopSecrets,
    masked_document,
    missing_secrets,
)
from chalicelib.domain.vocabulary import Channel, Priority

pytestmark = pytest.mark.unit

SHOP_ID = "kavezo-budapest"
PUBLIC_URL = "https://threadline.example.com/api"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-3f9a7c"
BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
STORED_AUTH_TOKEN = "stored-twilio-token-111"
STORED_BOT_TOKEN = "xoxb-stored-0000-1111"


def valid_document(**overrides: Any) -> dict[str, Any]:
    """A complete shop JSON as an admin would PUT it; top-level keys can be overridden."""
    document: dict[str, Any] = {
        "name": "Kávézó Budapest",
        "timezone": "Europe/Budapest",
        "slack": {"team_id": "T0123ABC", "channel_id": "C0123ABC", "bot_token": BOT_TOKEN},
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "sms_numbers": ["+3612345678"],
            "whatsapp_numbers": ["whatsapp:+36201234567", "+14155550100"],
        },
        "email": {"address": "Help@Kavezo.Example"},
    }
    document.update(overrides)
    return document


def with_section(section: str, **changes: Any) -> dict[str, Any]:
    """A valid document whose `section` (slack, twilio, email) has some keys changed."""
    document = valid_document()
    document[section] = {**document[section], **changes}
    return document


def error_locations(error: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [tuple(detail["loc"]) for detail in error.value.errors()]


def stored_secrets() -> ShopSecrets:
    return ShopSecrets(
        slack_bot_token=SecretStr(STORED_BOT_TOKEN),
        twilio_auth_token=SecretStr(STORED_AUTH_TOKEN),
    )


# --------------------------------------------------------------------------- validation


def test_full_valid_document_is_accepted_with_whatsapp_numbers_stored_without_prefix() -> None:
    # Given a complete shop document, WhatsApp numbers written with and without the prefix
    raw = valid_document()

    # When it is validated
    document = ShopDocument.model_validate(raw)

    # Then every field is kept and WhatsApp numbers are plain E.164
    assert document.name == "Kávézó Budapest"
    assert document.timezone == "Europe/Budapest"
    assert document.slack is not None
    assert document.slack.team_id == "T0123ABC"
    assert document.slack.channel_id == "C0123ABC"
    assert document.slack.bot_token == BOT_TOKEN
    assert document.twilio is not None
    assert document.twilio.account_sid == ACCOUNT_SID
    assert document.twilio.auth_token == AUTH_TOKEN
    assert document.twilio.sms_numbers == ["+3612345678"]
    assert document.twilio.whatsapp_numbers == ["+36201234567", "+14155550100"]
    assert document.email is not None
    assert document.email.address == "Help@Kavezo.Example"


def test_minimal_document_defaults_to_utc_and_no_optional_channels() -> None:
    # Given only a name and the Slack channel
    raw = {"name": "Mini", "slack": {"team_id": "T0123ABC", "channel_id": "C0123ABC"}}

    # When it is validated
    document = ShopDocument.model_validate(raw)

    # Then the time zone is UTC and there is no Twilio, email or bot token
    assert document.timezone == "UTC"
    assert document.twilio is None
    assert document.email is None
    assert document.slack is not None
    assert document.slack.bot_token is None


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "Europe", "Europe/", "", "../etc/passwd"])
def test_invalid_time_zone_is_rejected_at_the_timezone_field(timezone: str) -> None:
    # Given a document with a time zone that is not an IANA name
    raw = valid_document(timezone=timezone)

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at `timezone` and says what is expected
    assert error_locations(error) == [("timezone",)]
    assert "IANA time zone" in str(error.value)


@pytest.mark.parametrize(
    "number",
    [
        "14155550100",  # no plus
        "+04155550100",  # country code cannot start with 0
        "+123456",  # too short
        "+1234567890123456",  # 16 digits, longer than E.164 allows
        "+1415abc0100",
        "+1-415-555-0100",
        "whatsapp:",
    ],
)
def test_bad_e164_number_is_rejected_at_its_list_position(number: str) -> None:
    # Given one valid and one invalid WhatsApp number
    raw = with_section("twilio", whatsapp_numbers=["+14155550100", number])

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at the second number exactly
    assert error_locations(error) == [("twilio", "whatsapp_numbers", 1)]
    assert "E.164" in str(error.value)


def test_bad_sms_number_is_rejected_at_its_list_position() -> None:
    # Given an SMS number without a plus sign
    raw = with_section("twilio", sms_numbers=["3612345678"])

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at sms_numbers[0]
    assert error_locations(error) == [("twilio", "sms_numbers", 0)]


def test_phone_numbers_lose_spaces_and_surrounding_whitespace() -> None:
    # Given numbers as people type them
    raw = with_section("twilio", sms_numbers=[" +36 1 234 5678 "], whatsapp_numbers=[])

    # When it is validated
    document = ShopDocument.model_validate(raw)

    # Then they are stored as compact E.164
    assert document.twilio is not None
    assert document.twilio.sms_numbers == ["+3612345678"]


@pytest.mark.parametrize(
    "account_sid",
    [
        "AC123",
        "SK" + "0123456789abcdef" * 2,  # an API key sid, not an account
        "AC" + "g" * 32,
        "AC" + "0" * 33,
        "",
    ],
)
def test_bad_account_sid_is_rejected_at_account_sid(account_sid: str) -> None:
    # Given a Twilio section whose account sid is not AC + 32 hex digits
    raw = with_section("twilio", account_sid=account_sid)

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at twilio.account_sid
    assert error_locations(error) == [("twilio", "account_sid")]


@pytest.mark.parametrize("bot_token", ["xoxp-1234-user-token", "xapp-1-app-token", "Bearer xoxb-1"])
def test_non_bot_slack_token_is_rejected_on_the_slack_section(bot_token: str) -> None:
    # Given a Slack token that is not a bot token
    raw = with_section("slack", bot_token=bot_token)

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the slack section is blamed and the message names the expected shape
    assert error_locations(error) == [("slack",)]
    assert "xoxb-" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("team_id", "U0123ABC", ("slack", "team_id")),
        ("channel_id", "D0123ABC", ("slack", "channel_id")),
        ("channel_id", "#general", ("slack", "channel_id")),
    ],
)
def test_bad_slack_ids_are_rejected_at_their_field(
    field: str, value: str, location: tuple[str, ...]
) -> None:
    # Given a user id as team or a DM / channel name as channel
    raw = with_section("slack", **{field: value})

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at that field
    assert error_locations(error) == [location]


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        (valid_document(plan="gold"), ("plan",)),
        (with_section("slack", signing_secret="abc"), ("slack", "signing_secret")),
        (with_section("twilio", api_key="SK1"), ("twilio", "api_key")),
        (with_section("email", password="hunter2"), ("email", "password")),
    ],
)
def test_unknown_fields_are_rejected_where_they_appear(
    raw: dict[str, Any], location: tuple[str, ...]
) -> None:
    # Given a document with a field the API does not know
    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the unknown field is reported as forbidden at its own location
    assert error.value.errors()[0]["type"] == "extra_forbidden"
    assert error_locations(error) == [location]


def test_missing_required_fields_are_all_reported() -> None:
    # Given a document without name, and a Slack section without its ids
    raw: dict[str, Any] = {"timezone": "UTC", "slack": {}}

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then every missing field is listed
    assert sorted(error_locations(error)) == [
        ("name",),
        ("slack", "channel_id"),
        ("slack", "team_id"),
    ]


def test_a_shop_without_slack_waits_for_its_install_and_needs_no_bot_token() -> None:
    # Given a shop that will connect Slack with "Add to Slack"
    document = ShopDocument.model_validate(valid_document(slack=None))

    # When it is split
    shop, secrets = document.split(SHOP_ID)

    # Then it has no Slack section yet, and no Slack secret is missing
    assert shop.slack is None
    assert missing_secrets(shop, secrets) == []
    assert masked_document(shop, secrets, PUBLIC_URL)["slack"] is None


def test_blank_name_is_rejected_after_whitespace_is_stripped() -> None:
    # Given a name of spaces only
    raw = valid_document(name="   ")

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the name is too short
    assert error_locations(error) == [("name",)]


def test_invalid_email_address_is_rejected() -> None:
    # Given an email address without a domain
    raw = with_section("email", address="help@localhost")

    # When it is validated
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(raw)

    # Then the error points at email.address
    assert error_locations(error) == [("email", "address")]


@pytest.mark.parametrize(
    "name",
    ["متجر الورد الجميل", "मेरी किताबों की दुकान", "Árvíztűrő Tükörfúrógép Kft.", "Café ☕ 🍰"],
)
def test_names_in_any_script_survive_split_and_masking(name: str) -> None:
    # Given a shop named in Arabic, Hindi, Hungarian or with emoji
    document = ShopDocument.model_validate(valid_document(name=name))

    # When it is split, masked and serialised
    shop, secrets = document.split(SHOP_ID)
    shown = masked_document(shop, secrets, PUBLIC_URL)
    reloaded = Shop.model_validate_json(shop.model_dump_json())

    # Then the name is unchanged everywhere
    assert shop.name == name
    assert shown["name"] == name
    assert reloaded.name == name


# --------------------------------------------------------------------------- split and secrets


def test_split_keeps_every_secret_out_of_the_shop() -> None:
    # Given a document with both secrets
    document = ShopDocument.model_validate(valid_document())

    # When it is split
    shop, _ = document.split(SHOP_ID)

    # Then the plain shop carries the configuration but no secret, in any form
    dumped = shop.model_dump_json()
    assert AUTH_TOKEN not in dumped
    assert BOT_TOKEN not in dumped
    assert "bot_token" not in dumped
    assert "auth_token" not in dumped
    assert shop.shop_id == SHOP_ID
    assert shop.timezone == "Europe/Budapest"
    assert shop.twilio is not None
    assert shop.twilio.account_sid == ACCOUNT_SID
    assert shop.twilio.whatsapp_numbers == ["+36201234567", "+14155550100"]


def test_split_puts_the_secrets_in_shop_secrets_without_showing_them_in_repr() -> None:
    # Given a document with both secrets
    document = ShopDocument.model_validate(valid_document())

    # When it is split
    _, secrets = document.split(SHOP_ID)

    # Then ShopSecrets holds them, and its repr does not leak them
    assert secrets.slack_bot_token is not None
    assert secrets.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert secrets.twilio_auth_token is not None
    assert secrets.twilio_auth_token.get_secret_value() == AUTH_TOKEN
    assert BOT_TOKEN not in repr(secrets)
    assert AUTH_TOKEN not in repr(secrets)


def test_split_rejects_an_invalid_shop_id() -> None:
    # Given a valid document
    document = ShopDocument.model_validate(valid_document())

    # When it is split under a shop id with capitals and an underscore
    with pytest.raises(ValidationError) as error:
        document.split("Bad_Shop")

    # Then the shop id is refused
    assert error_locations(error) == [("shop_id",)]


def test_masked_document_shows_the_mask_and_never_the_secrets() -> None:
    # Given a shop with both secrets
    shop, secrets = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When it is shown as the admin API shows it
    shown = masked_document(shop, secrets, PUBLIC_URL)

    # Then both secrets are the mask and their values appear nowhere
    text = json.dumps(shown, ensure_ascii=False)
    assert AUTH_TOKEN not in text
    assert BOT_TOKEN not in text
    assert shown["slack"] == {
        "team_id": "T0123ABC",
        "channel_id": "C0123ABC",
        "channels": {},
        "bot_token": MASK,
    }
    assert shown["twilio"] == {
        "account_sid": ACCOUNT_SID,
        "sms_numbers": ["+3612345678"],
        "whatsapp_numbers": ["+36201234567", "+14155550100"],
        "whatsapp_template": None,
        "auth_token": MASK,
    }
    assert shown["shop_id"] == SHOP_ID


def test_masked_document_shows_null_for_secrets_not_stored() -> None:
    # Given a shop with Twilio configured but no secrets at all
    shop, _ = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When it is shown
    shown = masked_document(shop, ShopSecrets(), PUBLIC_URL)

    # Then the secrets are null, not the mask
    assert shown["slack"]["bot_token"] is None  # type: ignore[index]
    assert shown["twilio"]["auth_token"] is None  # type: ignore[index]


def test_masked_document_without_twilio_keeps_twilio_null() -> None:
    # Given a shop without Twilio
    shop, secrets = ShopDocument.model_validate(valid_document(twilio=None)).split(SHOP_ID)

    # When it is shown
    shown = masked_document(shop, secrets, PUBLIC_URL)

    # Then twilio stays null and the Slack token is still masked
    assert shown["twilio"] is None
    assert shown["slack"]["bot_token"] == MASK  # type: ignore[index]


def test_masked_document_sent_back_unchanged_keeps_the_stored_secrets() -> None:
    # Given the masked document an admin fetched, shop id and webhook URLs included
    shop, secrets = ShopDocument.model_validate(valid_document()).split(SHOP_ID)
    shown = masked_document(shop, secrets, PUBLIC_URL)

    # When it is PUT back and merged over what is stored
    _, sent = ShopDocument.model_validate(shown).split(SHOP_ID)
    merged = sent.merged_over(secrets)

    # Then the mask is not taken for a token: the stored values stay
    assert sent.slack_bot_token is None
    assert sent.twilio_auth_token is None
    assert merged.slack_bot_token is not None
    assert merged.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert merged.twilio_auth_token is not None
    assert merged.twilio_auth_token.get_secret_value() == AUTH_TOKEN


@pytest.mark.parametrize("sent_value", [MASK, "", None, "omitted"])
def test_masked_empty_or_omitted_secret_keeps_the_stored_value(sent_value: str | None) -> None:
    # Given a document whose secrets are the mask, empty, null or left out
    raw = valid_document()
    for section, key in (("slack", "bot_token"), ("twilio", "auth_token")):
        if sent_value == "omitted":
            del raw[section][key]
        else:
            raw[section][key] = sent_value

    # When it is merged over the stored secrets
    _, sent = ShopDocument.model_validate(raw).split(SHOP_ID)
    merged = sent.merged_over(stored_secrets())

    # Then the stored secrets are kept
    assert merged.slack_bot_token is not None
    assert merged.slack_bot_token.get_secret_value() == STORED_BOT_TOKEN
    assert merged.twilio_auth_token is not None
    assert merged.twilio_auth_token.get_secret_value() == STORED_AUTH_TOKEN


def test_new_secrets_replace_the_stored_ones() -> None:
    # Given a document with new secrets
    _, sent = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When it is merged over the stored secrets
    merged = sent.merged_over(stored_secrets())

    # Then the new values win
    assert merged.slack_bot_token is not None
    assert merged.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert merged.twilio_auth_token is not None
    assert merged.twilio_auth_token.get_secret_value() == AUTH_TOKEN


def test_missing_secrets_names_the_twilio_token_when_twilio_has_none() -> None:
    # Given a shop with Twilio configured but only the Slack token
    raw = with_section("twilio", auth_token=None)
    shop, secrets = ShopDocument.model_validate(raw).split(SHOP_ID)

    # When the missing secrets are listed
    missing = missing_secrets(shop, secrets)

    # Then only the Twilio auth token is missing
    assert missing == ["twilio.auth_token"]


def test_missing_secrets_does_not_ask_for_twilio_token_without_twilio() -> None:
    # Given a shop without Twilio and without a Slack token
    raw = valid_document(twilio=None)
    raw["slack"] = {"team_id": "T0123ABC", "channel_id": "C0123ABC"}
    shop, secrets = ShopDocument.model_validate(raw).split(SHOP_ID)

    # When the missing secrets are listed
    missing = missing_secrets(shop, secrets)

    # Then only the Slack bot token is missing
    assert missing == ["slack.bot_token"]


def test_missing_secrets_is_empty_for_a_complete_shop() -> None:
    # Given a shop with every secret it needs
    shop, secrets = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When the missing secrets are listed
    # Then nothing is missing
    assert missing_secrets(shop, secrets) == []


# --------------------------------------------------------------------------- inbound addresses


def test_inbound_addresses_list_sms_prefixed_whatsapp_and_lower_case_email() -> None:
    # Given a shop with SMS, WhatsApp and email
    shop, _ = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When its inbound addresses are listed
    addresses = shop.inbound_addresses()

    # Then they are the addresses as the providers report them in `To`
    assert addresses == {
        "+3612345678",
        "whatsapp:+36201234567",
        "whatsapp:+14155550100",
        "help@kavezo.example",
    }


def test_inbound_addresses_are_empty_without_twilio_or_email() -> None:
    # Given a shop with only Slack
    shop, _ = ShopDocument.model_validate(valid_document(twilio=None, email=None)).split(SHOP_ID)

    # When its inbound addresses are listed
    # Then there are none
    assert shop.inbound_addresses() == set()


def test_masked_document_lists_the_webhook_urls_to_paste_into_twilio_and_slack() -> None:
    # Given a shop
    shop, secrets = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    # When it is shown
    shown = masked_document(shop, secrets, PUBLIC_URL)

    # Then it says where Twilio and Slack must send their webhooks
    assert shown["webhooks"] == {
        "twilio_messaging": f"{PUBLIC_URL}/webhooks/twilio/{SHOP_ID}",
        "twilio_status_callback": f"{PUBLIC_URL}/webhooks/twilio/{SHOP_ID}/status",
        "slack_events": f"{PUBLIC_URL}/slack/events",
        "slack_interactivity": f"{PUBLIC_URL}/slack/interactions",
        "slack_commands": f"{PUBLIC_URL}/slack/commands",
        "slack_oauth_redirect": f"{PUBLIC_URL}/slack/oauth_redirect",
    }


def test_each_customer_channel_may_have_its_own_slack_channel() -> None:
    # Given a shop that sends WhatsApp conversations to a channel of their own
    document = valid_document()
    document["slack"]["channels"] = {"whatsapp": "C0WHATSAPP"}
    shop, _ = ShopDocument.model_validate(document).split(SHOP_ID)

    # Then WhatsApp goes there, and everything else to the default channel
    assert shop.slack is not None
    assert shop.slack.channel_for(Channel.WHATSAPP) == "C0WHATSAPP"
    assert shop.slack.channel_for(Channel.SMS) == "C0123ABC"


@pytest.mark.parametrize(
    "channels", [{"fax": "C0FAX"}, {"whatsapp": "not-a-channel"}], ids=["channel", "slack id"]
)
def test_routing_to_an_unknown_channel_or_a_bad_slack_id_is_refused(
    channels: dict[str, str],
) -> None:
    document = valid_document()
    document["slack"]["channels"] = channels
    with pytest.raises(ValidationError):
        ShopDocument.model_validate(document)


# ------------------------------------------------------------------------- reply policy


@pytest.mark.parametrize(
    ("text", "outgoing"),
    [
        ("Your parcel ships today", "Your parcel ships today"),
        ("note: customer is a regular, offer 10%", None),
        ("NOTE: check the order first", None),
        ("  *Note:* bold prefix", None),
        ("_note:_ italic prefix", None),
        ("send: explicit in reply mode", "explicit in reply mode"),
        ("*Send:* *Your order* is ready", "*Your order* is ready"),
        ("notes are attached", "notes are attached"),
    ],
)
def test_reply_mode_sends_everything_but_notes(text: str, outgoing: str | None) -> None:
    assert ReplyPolicy().outgoing(text) == outgoing


@pytest.mark.parametrize(
    ("text", "outgoing"),
    [
        ("Your parcel ships today", None),
        ("send: Your parcel ships today", "Your parcel ships today"),
        ("SEND:Ihr Paket ist unterwegs", "Ihr Paket ist unterwegs"),
        ("note: internal anyway", None),
        ("send:", None),
    ],
)
def test_safe_mode_keeps_everything_internal_unless_marked(text: str, outgoing: str | None) -> None:
    assert ReplyPolicy(mode=ReplyMode.SAFE).outgoing(text) == outgoing


@pytest.mark.parametrize("mode", list(ReplyMode))
def test_send_to_customer_sends_in_either_mode_without_the_prefix(mode: ReplyMode) -> None:
    policy = ReplyPolicy(mode=mode)
    assert policy.outgoing("A plain message", explicit=True) == "A plain message"
    assert policy.outgoing("note: even this one", explicit=True) == "even this one"


def test_prefixes_are_the_shops_own_in_any_script() -> None:
    # Given a Hungarian shop with its own prefixes
    policy = ReplyPolicy(internal_prefix="megjegyzés:", send_prefix="küld:")

    # Then they are matched without regard to case
    assert policy.outgoing("MEGJEGYZÉS: visszatérő vásárló") is None
    assert policy.outgoing("Küld: Köszönjük!") == "Köszönjük!"


def test_a_signature_names_the_agent_and_the_shop_on_a_line_of_its_own() -> None:
    policy = ReplyPolicy(signature="— {agent}, {shop}")
    assert policy.signed("شكراً لك", agent="Ana", shop="Kávézó") == "شكراً لك\n— Ana, Kávézó"
    assert ReplyPolicy(signature=None).signed("Hi", agent="Ana", shop="Kávézó") == "Hi"
    assert ReplyPolicy().signed("Hi", agent="Ana", shop="Kávézó") == "Hi\n— Ana"


@pytest.mark.parametrize(
    ("replies", "field"),
    [
        ({"signature": "— {agent_name}"}, "signature"),
        ({"signature": "— {agent"}, "signature"),
        ({"signature": "— {0}"}, "signature"),
        ({"mode": "loud"}, "mode"),
        ({"grace_seconds": 301}, "grace_seconds"),
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"internal_prefix": ""}, "internal_prefix"),
        ({"unknown": True}, "unknown"),
    ],
)
def test_an_invalid_reply_policy_is_rejected_at_its_field(
    replies: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(valid_document(replies=replies))
    assert ("replies", field) in error_locations(error)


def test_prefixes_that_only_differ_in_case_are_rejected() -> None:
    with pytest.raises(ValidationError):
        ShopDocument.model_validate(
            valid_document(replies={"internal_prefix": "x:", "send_prefix": "X:"})
        )


def test_the_reply_policy_is_plain_configuration_kept_with_the_shop() -> None:
    document = ShopDocument.model_validate(
        valid_document(replies={"mode": "safe", "grace_seconds": 30, "signature": None})
    )
    shop, _ = document.split("kavezo")
    assert shop.replies == ReplyPolicy(mode=ReplyMode.SAFE, grace_seconds=30, signature=None)


def test_an_sla_policy_is_part_of_the_shop_json_with_defaults_and_field_errors() -> None:
    # A shop that sets only its hours gets the default targets per priority
    document = ShopDocument.model_validate(
        valid_document(sla={"business_hours": {"mon": [{"opens": "08:00", "closes": "16:00"}]}})
    )
    shop, _ = document.split(SHOP_ID)
    assert shop.sla is not None
    assert shop.sla.targets[Priority.URGENT].first_response == 30
    # And a broken one is refused where it is broken
    with pytest.raises(ValidationError) as error:
        ShopDocument.model_validate(valid_document(sla={"holidays": ["not a date"]}))
    assert error_locations(error)[0][:2] == ("sla", "holidays")


@pytest.mark.parametrize(
    "template",
    [
        {"name": "x", "content_sid": "HX123"},
        {"name": "x", "content_sid": "HX" + "a" * 32, "variables": {"name": "{first_name}"}},
        {"name": "x", "content_sid": "HX" + "a" * 32, "variables": {"1": "{order}"}},
        # Digits str.isdigit takes that WhatsApp does not number variables with
        {"name": "x", "content_sid": "HX" + "a" * 32, "variables": {"²": "{first_name}"}},
        {"name": "x", "content_sid": "HX" + "a" * 32, "variables": {"١": "{first_name}"}},
    ],
)
def test_a_broken_whatsapp_template_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ShopDocument.model_validate(with_section("twilio", whatsapp_template=template))


def test_the_digest_defaults_to_nine_in_the_shops_slack_channel() -> None:
    shop, _ = ShopDocument.model_validate(valid_document(digest={})).split(SHOP_ID)

    assert shop.digest is not None
    assert shop.digest.hour == 9
    assert shop.digest_channel == "C0123ABC"


def test_the_digest_may_go_to_a_channel_of_its_own() -> None:
    document = valid_document(digest={"hour": 0, "channel_id": "C0DIGEST"})
    shop, _ = ShopDocument.model_validate(document).split(SHOP_ID)

    assert shop.digest_channel == "C0DIGEST"


def test_no_digest_without_slack_or_without_the_section() -> None:
    without_slack, _ = ShopDocument.model_validate(valid_document(digest={}, slack=None)).split(
        SHOP_ID
    )
    without_digest, _ = ShopDocument.model_validate(valid_document()).split(SHOP_ID)

    assert without_slack.digest_channel is None
    assert without_digest.digest_channel is None


@pytest.mark.parametrize(
    "digest", [{"hour": 24}, {"hour": -1}, {"channel_id": "#general"}, {"minute": 5}]
)
def test_invalid_digests_are_refused(digest: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ShopDocument.model_validate(valid_document(digest=digest))


def test_twilio_addresses_are_the_inbound_addresses_twilio_reports() -> None:
    # Given a shop with SMS, WhatsApp and email
    shop, _ = ShopDocument.model_validate(valid_document()).split(SHOP_ID)
    assert shop.twilio is not None

    # When its Twilio numbers are listed
    # Then they are its inbound addresses but the email one, as Twilio writes them in `To`
    assert shop.twilio.addresses() == shop.inbound_addresses() - {"help@kavezo.example"}
