"""The Twilio adapter's outbound side, through the official client, against the sandbox
stand-in of the Twilio API."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from chalicelib.channels.base import DeliveryRefused
from chalicelib.channels.twilio import TwilioChannel
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import DeliveryStatus, MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.vocabulary import Channel
from local_stack.ports import free_port
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.twilio import TwilioStandIn
from tests.signing import ACCOUNT_SID, AUTH_TOKEN, CHANNEL_ID, SMS_NUMBER, TEAM_ID

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SHOP = Shop.model_validate(
    {
        "shop_id": "ana",
        "name": "Loja da Ana",
        "slack": {"team_id": TEAM_ID, "channel_id": CHANNEL_ID},
        "twilio": {"account_sid": ACCOUNT_SID, "sms_numbers": [SMS_NUMBER]},
    }
)
SECRETS = ShopSecrets(twilio_auth_token=SecretStr(AUTH_TOKEN))
CALLBACK = "http://127.0.0.1:9/webhooks/twilio/ana/status"


def reply(text: str, created_at: datetime | None = None) -> OutboundMessage:
    return OutboundMessage(
        shop_id="ana",
        message_key=f"slack:{CHANNEL_ID}:1764000000.000100",
        conversation_id="01JCONVERSATION",
        channel=Channel.SMS,
        to="+5511987654321",
        from_=SMS_NUMBER,
        text=text,
        agent_user_id="U0AGENT",
        slack_channel_id=CHANNEL_ID,
        slack_ts="1764000000.000100",
        slack_thread_ts="1764000000.000001",
        created_at=created_at or datetime.now(UTC),
    )


@pytest.fixture
def twilio_api() -> Iterator[tuple[TwilioChannel, Outbox]]:
    outbox = Outbox()
    stand_in = TwilioStandIn(outbox, callback_delay=60)
    url = stand_in.start()
    yield TwilioChannel(url), outbox
    stand_in.stop()


def test_a_reply_is_sent_from_the_shop_number_with_a_status_callback(twilio_api):
    channel, outbox = twilio_api
    # When a reply is sent
    receipt = channel.send(reply("Chega amanhã 📦 / يصل غدا"), SHOP, SECRETS, CALLBACK)
    # Then Twilio got it, with our callback, and answered with its sid
    [created] = outbox.entries("twilio", "messages.create")
    assert created.payload["To"] == "+5511987654321"
    assert created.payload["From"] == SMS_NUMBER
    assert created.payload["Body"] == "Chega amanhã 📦 / يصل غدا"
    assert created.payload["StatusCallback"] == CALLBACK
    assert receipt.provider_message_id == created.payload["response"]["sid"]
    assert receipt.status is DeliveryStatus.QUEUED


def test_an_interrupted_send_is_found_at_twilio_by_its_text(twilio_api):
    channel, _ = twilio_api
    # Given a reply that reached Twilio, and another that did not
    sent = channel.send(reply("Seu pedido saiu"), SHOP, SECRETS, CALLBACK)
    # When the provider is asked about each
    found = channel.sent_like(reply("Seu pedido saiu"), SHOP, SECRETS)
    missing = channel.sent_like(reply("Outra mensagem"), SHOP, SECRETS)
    # Then only the one sent is found, under its sid
    assert [r.provider_message_id for r in found] == [sent.provider_message_id]
    assert missing == []


def test_identical_sends_are_all_candidates_oldest_first(twilio_api):
    channel, _ = twilio_api
    # Given two identical replies sent one after the other
    first = channel.send(reply("Obrigado!"), SHOP, SECRETS, CALLBACK)
    second = channel.send(reply("Obrigado!"), SHOP, SECRETS, CALLBACK)
    # When the provider is asked about a third, identical one
    candidates = channel.sent_like(reply("Obrigado!"), SHOP, SECRETS)
    # Then both are candidates, oldest first, for the caller to skip those already owned
    assert [c.provider_message_id for c in candidates] == [
        first.provider_message_id,
        second.provider_message_id,
    ]


def test_a_message_sent_before_the_reply_was_written_is_not_taken_for_it(twilio_api):
    channel, _ = twilio_api
    # Given an old message with the same text (an agent repeating "Obrigado!")
    channel.send(reply("Obrigado!"), SHOP, SECRETS, CALLBACK)
    # When a reply written an hour later is looked up
    later = reply("Obrigado!", created_at=datetime.now(UTC) + timedelta(hours=1))
    # Then the old message does not count as its send
    assert channel.sent_like(later, SHOP, SECRETS) == []


def test_twilio_refusing_a_message_is_a_refusal_with_its_code(twilio_api):
    channel, _ = twilio_api
    # Given a reply Twilio cannot accept (no body)
    # When it is sent
    # Then it is refused for good, with Twilio's code and an explanation
    with pytest.raises(DeliveryRefused) as refused:
        channel.send(reply(""), SHOP, SECRETS, CALLBACK)
    assert refused.value.error_code == "21602"


def test_a_wrong_auth_token_is_a_refusal():
    # Given credentials Twilio rejects
    outbox = Outbox()
    stand_in = TwilioStandIn(outbox)
    channel = TwilioChannel(stand_in.start())
    wrong = ShopSecrets(twilio_auth_token=SecretStr(""))
    try:
        # Then the send is refused, not retried forever
        with pytest.raises(DeliveryRefused):
            channel.send(reply("Olá"), SHOP, wrong, CALLBACK)
    finally:
        stand_in.stop()


def test_twilio_unreachable_is_worth_another_try():
    # Given nothing listening where the Twilio API should be
    channel = TwilioChannel(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    # Then sending and looking up are both retryable failures
    with pytest.raises(Retryable):
        channel.send(reply("Olá"), SHOP, SECRETS, CALLBACK)
    with pytest.raises(Retryable):
        channel.sent_like(reply("Olá"), SHOP, SECRETS)


def test_twilio_refusing_the_lookup_of_an_interrupted_send_is_a_refusal(twilio_api):
    channel, outbox = twilio_api
    # Given credentials Twilio rejects
    wrong = ShopSecrets(twilio_auth_token=SecretStr(""))
    # When an interrupted send is looked up
    # Then the refused list is a refusal with Twilio's code, like a refused send
    with pytest.raises(DeliveryRefused) as refused:
        channel.sent_like(reply("Olá"), SHOP, wrong)
    assert refused.value.error_code == "20003"
    [listed] = outbox.entries("twilio", "messages.list")
    assert listed.payload["response"]["status"] == 401


class _Overloaded(BaseHTTPRequestHandler):
    """Twilio answering 503, as it does when overloaded."""

    def do_GET(self) -> None:
        body = json.dumps({"code": 20503, "message": "Service unavailable", "status": 503})
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_twilio_overloaded_is_worth_another_try_for_sends_and_lookups():
    # Given Twilio answering 503 to everything
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Overloaded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel = TwilioChannel(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        # Then sending and looking up an interrupted send are both retryable failures
        with pytest.raises(Retryable, match="503"):
            channel.send(reply("Olá"), SHOP, SECRETS, CALLBACK)
        with pytest.raises(Retryable, match="503"):
            channel.sent_like(reply("Olá"), SHOP, SECRETS)
    finally:
        server.shutdown()
        server.server_close()


def test_a_customers_attachment_is_fetched_with_the_accounts_credentials_only_from_twilio():
    # Given the Twilio stand-in holding a customer's photo
    outbox = Outbox()
    stand_in = TwilioStandIn(outbox, callback_delay=60)
    url = stand_in.start()
    channel = TwilioChannel(url)
    try:
        media_url = stand_in.add_media(ACCOUNT_SID, b"\xff\xd8\xff photo", "image/jpeg")
        # When the adapter fetches it, a URL Twilio never gave, and one elsewhere
        fetched = channel.fetch_media(
            MediaItem(url=media_url, content_type="image/jpeg"), SHOP, SECRETS
        )
        gone = channel.fetch_media(MediaItem(url=media_url[:-4] + "0000"), SHOP, SECRETS)
        elsewhere = channel.fetch_media(MediaItem(url="https://attacker.example/m"), SHOP, SECRETS)
    finally:
        stand_in.stop()
    # Then the photo comes whole and typed; the others are None, and the credentials went
    # to Twilio only
    assert fetched is not None
    assert (fetched.content, fetched.content_type) == (b"\xff\xd8\xff photo", "image/jpeg")
    assert fetched.filename.endswith(".jpg")
    assert gone is None
    assert elsewhere is None
    assert [e.method for e in outbox.entries("twilio")] == ["media.fetch"]


def test_media_urls_go_to_twilio_with_the_reply(twilio_api):
    channel, outbox = twilio_api
    channel.send(reply("Sua etiqueta"), SHOP, SECRETS, CALLBACK, ("https://m.example/a.png",))
    [created] = outbox.entries("twilio", "messages.create")
    assert created.payload["MediaUrl"] == ["https://m.example/a.png"]


def test_a_template_goes_to_twilio_as_content_sid_and_variables(twilio_api):
    channel, outbox = twilio_api
    message = reply("(the agent's words, not sent)").model_copy(
        update={"content_sid": "HX" + "b" * 32, "content_variables": {"1": "Ana"}}
    )
    channel.send(message, SHOP, SECRETS, CALLBACK)
    [created] = outbox.entries("twilio", "messages.create")
    assert created.payload["ContentSid"] == "HX" + "b" * 32
    assert created.payload["ContentVariables"] == '{"1": "Ana"}'
    assert "Body" not in created.payload
