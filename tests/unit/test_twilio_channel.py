"""Twilio webhooks: signature checks and parsing of messages and status callbacks.

Requests are signed for real with twilio's RequestValidator; nothing here talks HTTP.
"""

from datetime import UTC, datetime
from urllib.parse import ParseResult, urlencode

import pytest
from pydantic import SecretStr
from twilio import request_validator
from twilio.request_validator import RequestValidator

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.twilio import FormFields, TwilioChannel
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.domain.messages import DeliveryStatus, MediaItem
from chalicelib.domain.shop import Shop, ShopSecrets, SlackConfig, TwilioConfig
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

SHOP_ID = "kavezo"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
OTHER_ACCOUNT_SID = "AC" + "fedcba9876543210" * 2
AUTH_TOKEN = "auth-token-of-kavezo"
OTHER_TOKEN = "auth-token-of-someone-else"
URL = f"https://threadline.example/api/webhooks/twilio/{SHOP_ID}/messages"
MESSAGE_SID = "SM" + "1234567890abcdef" * 2
RECEIVED_AT = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


def make_shop(*, with_twilio: bool = True) -> Shop:
    return Shop(
        shop_id=SHOP_ID,
        name="Kávézó",
        timezone="Europe/Budapest",
        slack=SlackConfig(team_id="T0123ABC", channel_id="C0123ABC"),
        twilio=(
            TwilioConfig(
                account_sid=ACCOUNT_SID,
                sms_numbers=["+3612345678"],
                whatsapp_numbers=["+36201234567"],
            )
            if with_twilio
            else None
        ),
    )


def make_secrets(token: str | None = AUTH_TOKEN) -> ShopSecrets:
    return ShopSecrets(
        slack_bot_token=SecretStr("xoxb-test"),
        twilio_auth_token=SecretStr(token) if token is not None else None,
    )


def sms_params(**overrides: str) -> dict[str, str]:
    """An inbound SMS as Twilio posts it, with some of the fields it adds unasked."""
    params = {
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "AccountSid": ACCOUNT_SID,
        "MessagingServiceSid": "MG" + "0" * 32,
        "From": "+14155550100",
        "To": "+3612345678",
        "Body": "Hol van a rendelésem? 📦",
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


def whatsapp_params(**overrides: str) -> dict[str, str]:
    params = sms_params(
        From="whatsapp:+34600111222",
        To="whatsapp:+36201234567",
        ProfileName="Ana",
        WaId="34600111222",
        Body="مرحبا، أين طلبي؟",
    )
    params.update(overrides)
    return params


def signed_request(
    params: dict[str, str],
    *,
    url: str = URL,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
) -> WebhookRequest:
    """The form post Twilio would send to `url`, signed over `signed_url` (default `url`)."""
    signature = RequestValidator(token).compute_signature(signed_url or url, params)
    return WebhookRequest(
        url=url,
        body=urlencode(params).encode(),
        headers={"x-twilio-signature": signature},
    )


def unsigned_request(body: bytes) -> WebhookRequest:
    return WebhookRequest(url=URL, body=body)


# --------------------------------------------------------------------------- verify


def test_verify_accepts_a_request_signed_with_the_shop_token() -> None:
    # Given an inbound SMS signed with the shop's auth token over the exact URL
    request = signed_request(sms_params())

    # When it is verified
    # Then no error is raised
    TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_accepts_a_signature_over_the_url_with_its_default_port() -> None:
    # Given a webhook configured as https://host:443/…, which Twilio signs as written
    with_port = URL.replace("threadline.example/", "threadline.example:443/")
    request = signed_request(sms_params(), signed_url=with_port)

    # When it is verified against the public URL, written without the port
    # Then no error is raised: both forms of the URL are accepted, as twilio's validate does
    TwilioChannel().verify(request, make_shop(), make_secrets())


def test_a_genuine_request_costs_one_signature_and_a_forged_one_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a genuine request and a forged one, and twilio's signing counted from then on
    genuine = signed_request(sms_params())
    forged = signed_request(sms_params(), token=OTHER_TOKEN)
    computed: list[str] = []
    compute = RequestValidator.compute_signature

    def counted(self: RequestValidator, uri: str, params: object, algorithm: object = None) -> str:
        computed.append(uri)
        return str(compute(self, uri, params, algorithm))

    monkeypatch.setattr(RequestValidator, "compute_signature", counted)
    ported: list[str] = []
    add_port = request_validator.add_port

    def port_added(uri: ParseResult) -> str:
        ported.append(uri.geturl())
        return str(add_port(uri))

    monkeypatch.setattr(request_validator, "add_port", port_added)

    # When a genuine request is verified
    TwilioChannel().verify(genuine, make_shop(), make_secrets())
    # Then one signature was computed, over the URL as written: the other form not even made
    assert computed == [URL]
    assert ported == []

    # When a forged one is
    computed.clear()
    with pytest.raises(Forbidden, match="invalid X-Twilio-Signature"):
        TwilioChannel().verify(forged, make_shop(), make_secrets())
    # Then both forms were tried before refusing it
    assert computed == [URL, URL.replace("threadline.example/", "threadline.example:443/")]


def test_form_fields_are_signed_as_twilio_signs_a_plain_dict() -> None:
    # Given a form with blank values, Unicode and a field name sorting before the others
    params = {**whatsapp_params(Body="Olá, ação! مرحبا"), "A": "", "Zeta": "z"}
    validator = RequestValidator(AUTH_TOKEN)
    # When twilio's signing reads it as FormFields (answering getall) and as a plain dict
    # Then the signatures are the same
    fields = FormFields(params)
    assert fields.getall("Zeta") == ["z"]
    assert validator.compute_signature(URL, fields) == validator.compute_signature(URL, params)


def test_verify_accepts_blank_values_and_fields_it_does_not_know() -> None:
    # Given a media-only message (empty Body) with a field Twilio added recently
    params = sms_params(Body="", NumMedia="1", MediaUrl0="https://api.twilio.com/m/ME1")
    params["BrandNewTwilioField"] = ""
    request = signed_request(params)
    assert b"Body=&" in request.body

    # When it is verified
    # Then the blank values take part in the signature and it matches
    TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_accepts_a_whatsapp_message_with_unicode() -> None:
    # Given a WhatsApp message in Arabic with a profile name
    request = signed_request(whatsapp_params())

    # When it is verified
    # Then it passes
    TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_refuses_a_request_without_signature() -> None:
    # Given a well-formed request with no X-Twilio-Signature
    request = unsigned_request(urlencode(sms_params()).encode())

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="missing X-Twilio-Signature"):
        TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_refuses_a_wrong_signature() -> None:
    # Given a request whose signature header is made up
    signed = signed_request(sms_params())
    request = WebhookRequest(
        url=signed.url, body=signed.body, headers={"x-twilio-signature": "bm90LWEtc2lnbmF0dXJl"}
    )

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid X-Twilio-Signature"):
        TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_refuses_a_signature_made_with_another_token() -> None:
    # Given a request signed with another account's token
    request = signed_request(sms_params(), token=OTHER_TOKEN)

    # When it is verified against the shop's token
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid X-Twilio-Signature"):
        TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_refuses_a_signature_over_another_shops_url() -> None:
    # Given a request signed for another shop's webhook URL, replayed to this shop's URL
    other_url = "https://threadline.example/api/webhooks/twilio/other-shop/messages"
    request = signed_request(sms_params(), url=URL, signed_url=other_url)

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid X-Twilio-Signature"):
        TwilioChannel().verify(request, make_shop(), make_secrets())


def test_verify_refuses_a_body_changed_after_signing() -> None:
    # Given a signed request whose Body was altered on the way
    signed = signed_request(sms_params(Body="hello"))
    tampered = WebhookRequest(
        url=signed.url,
        body=signed.body.replace(b"Body=hello", b"Body=hellO"),
        headers=signed.headers,
    )

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="invalid X-Twilio-Signature"):
        TwilioChannel().verify(tampered, make_shop(), make_secrets())


def test_verify_refuses_a_shop_without_twilio() -> None:
    # Given a correctly signed request for a shop that has no Twilio account
    request = signed_request(sms_params())

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="no Twilio account"):
        TwilioChannel().verify(request, make_shop(with_twilio=False), make_secrets())


def test_verify_refuses_when_the_shop_has_no_auth_token() -> None:
    # Given a shop with Twilio configured but no auth token stored
    request = signed_request(sms_params())

    # When it is verified
    # Then it is forbidden
    with pytest.raises(Forbidden, match="no Twilio account"):
        TwilioChannel().verify(request, make_shop(), make_secrets(token=None))


@pytest.mark.parametrize("account_sid", [OTHER_ACCOUNT_SID, None])
def test_verify_refuses_a_valid_signature_from_another_account(account_sid: str | None) -> None:
    # Given a request correctly signed with the token, but naming another (or no) account
    params = sms_params(AccountSid=account_sid or "")
    if account_sid is None:
        del params["AccountSid"]
    request = signed_request(params)

    # When it is verified
    # Then it is forbidden because the account is not the shop's
    with pytest.raises(Forbidden, match="AccountSid"):
        TwilioChannel().verify(request, make_shop(), make_secrets())


# --------------------------------------------------------------------------- parse


def test_parse_sms_gives_an_inbound_sms_message() -> None:
    # Given an inbound SMS with unicode text and fields we do not use
    request = signed_request(sms_params())

    # When it is parsed
    message = TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)

    # Then it is an SMS from the customer to the shop's number
    assert message.shop_id == SHOP_ID
    assert message.channel is Channel.SMS
    assert message.provider == "twilio"
    assert message.provider_message_id == MESSAGE_SID
    assert message.customer_address == "+14155550100"
    assert message.shop_address == "+3612345678"
    assert message.customer_name is None
    assert message.text == "Hol van a rendelésem? 📦"
    assert message.media == ()
    assert message.received_at == RECEIVED_AT


def test_parse_whatsapp_keeps_prefixed_addresses_and_profile_name() -> None:
    # Given an inbound WhatsApp message with a profile name and two pictures
    request = signed_request(
        whatsapp_params(
            NumMedia="2",
            MediaUrl0="https://api.twilio.com/media/ME0",
            MediaContentType0="image/jpeg",
            MediaUrl1="https://api.twilio.com/media/ME1",
            MediaContentType1="video/mp4",
        )
    )

    # When it is parsed
    message = TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)

    # Then it is a WhatsApp message with the name, the Arabic text and both media
    assert message.channel is Channel.WHATSAPP
    assert message.customer_address == "whatsapp:+34600111222"
    assert message.shop_address == "whatsapp:+36201234567"
    assert message.customer_name == "Ana"
    assert message.text == "مرحبا، أين طلبي؟"
    assert message.media == (
        MediaItem(url="https://api.twilio.com/media/ME0", content_type="image/jpeg"),
        MediaItem(url="https://api.twilio.com/media/ME1", content_type="video/mp4"),
    )


def test_parse_hindi_text_and_empty_profile_name() -> None:
    # Given a WhatsApp message in Hindi whose profile name is blank
    request = signed_request(whatsapp_params(Body="मेरा ऑर्डर कहाँ है?", ProfileName=""))

    # When it is parsed
    message = TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)

    # Then the text survives and a blank name is no name
    assert message.text == "मेरा ऑर्डर कहाँ है?"
    assert message.customer_name is None


def test_parse_media_without_content_type_and_skips_missing_urls() -> None:
    # Given NumMedia=2 but only the second URL present, without its type
    request = signed_request(
        sms_params(Body="", NumMedia="2", MediaUrl1="https://api.twilio.com/media/ME1")
    )

    # When it is parsed
    message = TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)

    # Then only the present attachment is kept, with an unknown type
    assert message.text == ""
    assert message.media == (MediaItem(url="https://api.twilio.com/media/ME1"),)


def test_parse_takes_at_most_ten_media() -> None:
    # Given a message claiming twelve attachments
    media = {f"MediaUrl{n}": f"https://api.twilio.com/media/ME{n}" for n in range(12)}
    request = signed_request(sms_params(NumMedia="12", **media))

    # When it is parsed
    message = TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)

    # Then only the first ten are kept (Twilio's own maximum)
    assert [item.url for item in message.media] == [
        f"https://api.twilio.com/media/ME{n}" for n in range(10)
    ]


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_parse_refuses_a_message_missing_a_required_field(field: str) -> None:
    # Given a message without one required field
    params = sms_params()
    del params[field]

    # When it is parsed
    # Then it is a bad request naming the field
    with pytest.raises(BadRequest, match=f"missing or invalid {field}"):
        TwilioChannel().parse(signed_request(params), make_shop(), received_at=RECEIVED_AT)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageSid", "SM123"),
        ("MessageSid", "sm" + "a" * 32),
        ("From", "<!channel>"),
        ("From", "+1 415 555 0100"),
        ("To", "whatsapp:"),
    ],
)
def test_parse_refuses_a_malformed_required_field(field: str, value: str) -> None:
    # Given a message whose sid or address has the wrong shape
    params = sms_params(**{field: value})

    # When it is parsed
    # Then it is a bad request naming the field
    with pytest.raises(BadRequest, match=f"missing or invalid {field}"):
        TwilioChannel().parse(signed_request(params), make_shop(), received_at=RECEIVED_AT)


@pytest.mark.parametrize("num_media", ["two", "1.5", "0x1"])
def test_parse_refuses_a_non_numeric_num_media(num_media: str) -> None:
    # Given NumMedia that is not an integer
    request = signed_request(sms_params(NumMedia=num_media))

    # When it is parsed
    # Then it is a bad request
    with pytest.raises(BadRequest, match="NumMedia"):
        TwilioChannel().parse(request, make_shop(), received_at=RECEIVED_AT)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",  # raw bytes that are not UTF-8
        b"From=%2B14155550100&Body=\xe9t\xe9",  # Latin-1 text in the raw body
        b"Body=%FF%FE&From=%2B14155550100",  # percent-encoded bytes that are not UTF-8
        b"abc",  # not a form at all
        b"a=1&&&b",
    ],
)
def test_parse_refuses_a_body_that_is_not_a_utf8_form(body: bytes) -> None:
    # Given a body that cannot be decoded as a UTF-8 form
    # When it is parsed
    # Then it is a bad request, not a crash
    with pytest.raises(BadRequest, match="not a valid form"):
        TwilioChannel().parse(unsigned_request(body), make_shop(), received_at=RECEIVED_AT)


def test_parse_refuses_a_form_with_too_many_fields() -> None:
    # Given a form with hundreds of fields
    body = urlencode({f"F{n}": "x" for n in range(500)}).encode()

    # When it is parsed
    # Then it is refused before any work is done on it
    with pytest.raises(BadRequest, match="not a valid form"):
        TwilioChannel().parse(unsigned_request(body), make_shop(), received_at=RECEIVED_AT)


def test_parse_refuses_an_empty_body() -> None:
    # Given an empty body
    # When it is parsed
    # Then the first missing field is reported
    with pytest.raises(BadRequest, match="missing or invalid From"):
        TwilioChannel().parse(unsigned_request(b""), make_shop(), received_at=RECEIVED_AT)


@pytest.mark.parametrize(
    ("field", "value"),
    [("From", "+14155550100\n"), ("MessageSid", MESSAGE_SID + "\n")],
)
def test_parse_refuses_a_required_field_with_a_trailing_newline(field: str, value: str) -> None:
    # Given a sender address or message sid followed by a newline
    params = sms_params(**{field: value})

    # When it is parsed
    # Then it is refused (otherwise the same customer/message gets a second key)
    with pytest.raises(BadRequest, match=f"missing or invalid {field}"):
        TwilioChannel().parse(signed_request(params), make_shop(), received_at=RECEIVED_AT)


# --------------------------------------------------------------------------- parse_status


def status_params(**overrides: str) -> dict[str, str]:
    params = {
        "MessageSid": MESSAGE_SID,
        "AccountSid": ACCOUNT_SID,
        "From": "whatsapp:+36201234567",
        "To": "whatsapp:+34600111222",
        "MessageStatus": "delivered",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


def test_parse_status_gives_a_delivery_update() -> None:
    # Given a "delivered" status callback without error
    request = signed_request(status_params())

    # When it is parsed
    update = TwilioChannel().parse_status(request, make_shop())

    # Then it is a delivery update for the shop's message
    assert update is not None
    assert update.shop_id == SHOP_ID
    assert update.provider_message_id == MESSAGE_SID
    assert update.status is DeliveryStatus.DELIVERED
    assert update.error_code is None


def test_parse_status_keeps_the_error_code_of_a_failure() -> None:
    # Given an "undelivered" callback with the 24-hour window error
    request = signed_request(status_params(MessageStatus="undelivered", ErrorCode="63016"))

    # When it is parsed
    update = TwilioChannel().parse_status(request, make_shop())

    # Then the status and code are kept
    assert update is not None
    assert update.status is DeliveryStatus.UNDELIVERED
    assert update.error_code == "63016"


def test_parse_status_treats_a_blank_error_code_as_none() -> None:
    # Given a callback with ErrorCode present but empty
    request = signed_request(status_params(MessageStatus="sent", ErrorCode=""))

    # When it is parsed
    update = TwilioChannel().parse_status(request, make_shop())

    # Then there is no error code
    assert update is not None
    assert update.status is DeliveryStatus.SENT
    assert update.error_code is None


@pytest.mark.parametrize(
    "status",
    [s for s in DeliveryStatus if s not in (DeliveryStatus.PENDING, DeliveryStatus.DISPATCHING)],
)
def test_parse_status_knows_every_status_twilio_reports(status: DeliveryStatus) -> None:
    # Given a callback with each of Twilio's message statuses
    request = signed_request(status_params(MessageStatus=status.value))

    # When it is parsed
    update = TwilioChannel().parse_status(request, make_shop())

    # Then the status is understood
    assert update is not None
    assert update.status is status


@pytest.mark.parametrize(
    "status", ["partially_delivered", "receiving", "pending", "dispatching", "Delivered"]
)
def test_parse_status_skips_a_status_it_does_not_track(status: str) -> None:
    # Given a callback with a status Twilio added or we do not track
    request = signed_request(status_params(MessageStatus=status))

    # When it is parsed
    # Then there is nothing to update (and no error for Twilio to log)
    assert TwilioChannel().parse_status(request, make_shop()) is None


@pytest.mark.parametrize("field", ["MessageStatus", "MessageSid"])
def test_parse_status_refuses_a_callback_missing_a_field(field: str) -> None:
    # Given a callback without status or sid
    params = status_params()
    del params[field]

    # When it is parsed
    # Then it is a bad request naming the field
    with pytest.raises(BadRequest, match=f"missing or invalid {field}"):
        TwilioChannel().parse_status(signed_request(params), make_shop())


# --------------------------------------------------------------------------- describe_error


def test_describe_error_explains_the_whatsapp_24_hour_window() -> None:
    # Given the error Twilio reports outside WhatsApp's 24-hour window
    # When it is described
    text = TwilioChannel().describe_error("63016")

    # Then the agent learns about the 24 hours and templates
    assert "24 hours" in text
    assert "template" in text


def test_describe_error_explains_an_opt_out() -> None:
    # Given the opt-out error
    # When it is described
    # Then STOP/START is explained
    assert "START" in TwilioChannel().describe_error("21610")


def test_describe_error_names_an_unknown_code() -> None:
    # Given a code we have no explanation for
    # When it is described
    # Then the code itself is shown
    assert TwilioChannel().describe_error("99999") == "Twilio error 99999"


def test_describe_error_without_code_is_still_a_sentence() -> None:
    # Given no code at all
    # When it is described
    text = TwilioChannel().describe_error(None)

    # Then there is a readable reason, not "None"
    assert text == "the provider gave no reason"
    assert "None" not in text


@pytest.mark.parametrize("recipient", ["+14155559999", "whatsapp:+14155559999"])
def test_parse_refuses_a_message_to_a_number_the_shop_does_not_own(recipient: str) -> None:
    # Given a message (signed by the shop's account) to a number another shop owns
    params = sms_params(To=recipient)

    # When it is parsed for this shop
    # Then it is refused: a number answers only for the shop that registered it
    with pytest.raises(Forbidden, match="not one of this shop's numbers"):
        TwilioChannel().parse(signed_request(params), make_shop(), received_at=RECEIVED_AT)
