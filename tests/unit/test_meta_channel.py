"""Meta's webhook (signature, handshake, batch parsing) and what replies become on the wire,
without the network."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels import meta
from chalicelib.channels.base import DeliveryRefused, Download
from chalicelib.channels.meta import (
    OUR_METADATA,
    MetaChannel,
    handshake_challenge,
    messaging_payloads,
    parse_webhook,
    verify_signature,
    whatsapp_payloads,
)
from chalicelib.channels.meta_graph import GraphApi
from chalicelib.domain.errors import BadRequest, Forbidden, Retryable, TooLarge
from chalicelib.domain.messages import (
    CloudTemplate,
    DeliveryStatus,
    InboundKind,
    MediaItem,
    OutboundMessage,
)
from chalicelib.domain.shop import Shop, ShopSecrets, meta_address
from chalicelib.domain.vocabulary import Channel
from tests.meta_payloads import (
    INSTAGRAM_ID,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PAGE_ID,
    PHONE_NUMBER_ID,
    encoded,
    messaging_message,
    messaging_webhook,
    signed,
    wa_status,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 29, 8, 30, tzinfo=UTC)
CLAIMS = {
    meta_address(Channel.WHATSAPP_CLOUD, PHONE_NUMBER_ID): "ana",
    meta_address(Channel.MESSENGER, PAGE_ID): "ana",
    meta_address(Channel.INSTAGRAM, INSTAGRAM_ID): "bia",
}


def parse(document: dict[str, Any]) -> meta.MetaBatch:
    return parse_webhook(encoded(document), CLAIMS.get, NOW)


# Signature and handshake


def test_a_body_signed_with_the_app_secret_is_accepted_as_its_raw_bytes() -> None:
    # Given a body with Arabic and accents, escaped as Meta escapes them
    body = encoded(whatsapp_webhook(whatsapp_change([wa_text(1, "مرحبا، أين طلبي؟ Olá")])))

    # Then its signature verifies over the bytes as received
    verify_signature(body, signed(body)["X-Hub-Signature-256"], META_APP_SECRET)
    # ... and the same document re-serialised (UTF-8, unescaped) does not
    document = json.loads(body)
    reserialised = json.dumps(document, ensure_ascii=False).encode()
    with pytest.raises(Forbidden):
        verify_signature(reserialised, signed(body)["X-Hub-Signature-256"], META_APP_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=abc",
        "sha256=" + "0" * 64,
        "sha256=not-hex",
        # hmac.compare_digest raises TypeError on non-ASCII strings: it answered 503.
        "sha256=é" + "0" * 63,
    ],
)
def test_a_missing_or_wrong_signature_is_forbidden(header: str | None) -> None:
    with pytest.raises(Forbidden):
        verify_signature(b'{"object":"page","entry":[]}', header, META_APP_SECRET)


def test_a_signature_made_with_another_secret_is_forbidden() -> None:
    body = b'{"object":"page","entry":[]}'
    with pytest.raises(Forbidden):
        verify_signature(body, signed(body, "other")["X-Hub-Signature-256"], META_APP_SECRET)


def test_without_an_app_secret_nothing_is_accepted() -> None:
    body = b"{}"
    with pytest.raises(Forbidden):
        verify_signature(body, signed(body, "")["X-Hub-Signature-256"], "")


def test_the_handshake_echoes_the_challenge_for_our_verify_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "42"}
    assert handshake_challenge(params, META_VERIFY_TOKEN) == "42"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "4"},
        {"hub.challenge": "42"},
    ],
)
def test_the_handshake_refuses_anything_else(params: dict[str, str]) -> None:
    with pytest.raises(Forbidden):
        handshake_challenge(params, META_VERIFY_TOKEN)


def test_without_a_verify_token_no_handshake_succeeds() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"}
    with pytest.raises(Forbidden):
        handshake_challenge(params, "")


# Parsing: hostile input


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object": "page"}',
        b'{"object": "user", "entry": []}',
        b"[" * 100_000,
    ],
)
def test_a_body_that_is_no_meta_webhook_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_webhook(body, CLAIMS.get, NOW)


def test_a_body_larger_than_any_meta_webhook_is_refused_before_parsing() -> None:
    with pytest.raises(TooLarge):
        parse_webhook(b" " * (meta.MAX_WEBHOOK_BYTES + 1), CLAIMS.get, NOW)


def test_entries_for_ids_no_shop_claims_are_counted_not_parsed() -> None:
    batch = parse(whatsapp_webhook(whatsapp_change([wa_text(1)], phone_number_id="999")))
    assert (batch.messages, batch.unrouted) == ([], 1)


def test_incomplete_events_are_ignored_without_refusing_their_neighbours() -> None:
    # Given a batch where some messages lack their id or sender, or are not objects
    messages: list[Any] = [
        wa_text(1),
        {"type": "text", "text": {"body": "no id"}},
        wa_text(2) | {"from": None},
        wa_text(3) | {"from": "+55 not digits"},
        "a string",
        wa_text(4) | {"text": "not an object"},
    ]
    batch = parse(whatsapp_webhook(whatsapp_change(messages)))

    # Then the complete ones are taken, the others counted
    assert [m.provider_message_id[-6:] for m in batch.messages] == ["000001", "000004"]
    assert batch.ignored == 3
    assert batch.messages[1].text == ""


def test_a_customer_name_keeps_its_script_and_is_bounded() -> None:
    rtl = "\u202eناصر\u202c " * 100
    batch = parse(whatsapp_webhook(whatsapp_change([wa_text(1)], name=rtl)))
    [message] = batch.messages
    assert message.customer_name is not None
    assert message.customer_name.startswith("\u202eناصر")
    assert len(message.customer_name) <= meta.MAX_NAME


def test_a_huge_provider_id_becomes_a_fitted_key_and_text_is_bounded() -> None:
    batch = parse(
        whatsapp_webhook(whatsapp_change([wa_text(1, "x" * 50_000, id="wamid." + "A" * 5000)]))
    )
    [message] = batch.messages
    assert len(message.provider_message_id.encode()) <= meta.MAX_ID_BYTES
    assert "~" in message.provider_message_id
    assert len(message.text) == meta.MAX_TEXT


# Parsing: WhatsApp


def test_a_whatsapp_batch_becomes_messages_routed_to_the_claiming_shop() -> None:
    batch = parse(whatsapp_webhook(whatsapp_change([wa_text(1), wa_text(2, "E agora?")])))
    assert [m.text for m in batch.messages] == ["Olá! Onde está meu pedido?", "E agora?"]
    first = batch.messages[0]
    assert first.shop_id == "ana"
    assert first.channel is Channel.WHATSAPP_CLOUD
    assert first.customer_address == "wa:+5511987654321"
    assert first.shop_address == PHONE_NUMBER_ID
    assert first.customer_name == "Ana Souza"
    assert first.message_key == f"meta:{wa_text(1)['id']}"
    assert first.received_at == datetime.fromtimestamp(1764000000, UTC)


def test_whatsapp_media_is_named_by_its_id_until_fetched() -> None:
    image = wa_text(1, type="image", image={"id": "777", "mime_type": "image/jpeg", "caption": "Ó"})
    sticker = wa_text(2, type="sticker", sticker={"id": "888", "mime_type": "image/webp"})
    batch = parse(whatsapp_webhook(whatsapp_change([image, sticker])))
    assert batch.messages[0].media == (
        MediaItem(url="whatsapp-media:777", content_type="image/jpeg"),
    )
    assert batch.messages[0].text == "Ó"
    assert batch.messages[1].media[0].url == "whatsapp-media:888"


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        (
            {"type": "location", "location": {"latitude": 38.7, "longitude": -9.1, "name": "Loja"}},
            "Shared a location: Loja\nhttps://www.openstreetmap.org/?mlat=38.7&mlon=-9.1",
        ),
        (
            {
                "type": "contacts",
                "contacts": [{"name": {"formatted_name": "Bia"}, "phones": [{"phone": "+5511"}]}],
            },
            "Shared contacts:\nBia, +5511",
        ),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "y", "title": "Sim"},
                },
            },
            "Chose: Sim",
        ),
        (
            {"type": "button", "button": {"text": "Stop promotions", "payload": "x"}},
            "Stop promotions",
        ),
        (
            {"type": "unsupported", "errors": [{"code": 131051}]},
            "(a WhatsApp message Threadline cannot show: unsupported)",
        ),
        ({"type": "order_v9"}, "(a WhatsApp message Threadline cannot show: order_v9)"),
    ],
)
def test_whatsapp_messages_of_each_kind_are_shown_in_words(
    fields: dict[str, Any], shown: str
) -> None:
    [message] = parse(whatsapp_webhook(whatsapp_change([wa_text(1, **fields)]))).messages
    assert message.text == shown


def test_a_whatsapp_reaction_is_shown_but_awaits_nothing() -> None:
    reaction = wa_text(1, type="reaction", reaction={"message_id": "wamid.X", "emoji": "👍"})
    [message] = parse(whatsapp_webhook(whatsapp_change([reaction]))).messages
    assert (message.kind, message.text, message.automated) == (
        InboundKind.REACTION,
        "Reacted 👍",
        True,
    )


def test_a_whatsapp_reply_to_a_message_says_so() -> None:
    replying = wa_text(1, "Este", context={"from": "15550001111", "id": "wamid.earlier"})
    [message] = parse(whatsapp_webhook(whatsapp_change([replying]))).messages
    assert message.text == "(in reply to an earlier message) Este"


def test_whatsapp_statuses_become_delivery_updates_with_their_error_code() -> None:
    statuses = [
        wa_status("wamid.A", "sent"),
        wa_status("wamid.A", "delivered"),
        wa_status("wamid.A", "read"),
        wa_status("wamid.B", "failed", code=131047),
        wa_status("wamid.C", "deleted"),
    ]
    batch = parse(whatsapp_webhook(whatsapp_change(statuses=statuses)))
    assert [(u.provider_message_id, u.status, u.error_code) for u in batch.statuses] == [
        ("wamid.A", DeliveryStatus.SENT, None),
        ("wamid.A", DeliveryStatus.DELIVERED, None),
        ("wamid.A", DeliveryStatus.READ, None),
        ("wamid.B", DeliveryStatus.FAILED, "131047"),
    ]
    assert all(u.shop_id == "ana" for u in batch.statuses)
    assert batch.ignored == 1


def test_coexistence_echoes_are_the_shops_messages_to_the_customer() -> None:
    change = whatsapp_change()
    change["value"]["message_echoes"] = [
        {
            "from": "15550001111",
            "to": "5511987654321",
            "id": "wamid.E",
            "type": "text",
            "text": {"body": "Já enviado"},
        }
    ]
    [message] = parse(whatsapp_webhook(change)).messages
    assert (message.kind, message.customer_address, message.customer_name) == (
        InboundKind.ECHO,
        "wa:+5511987654321",
        None,
    )


# Parsing: Messenger and Instagram


def test_a_messenger_message_with_attachments_is_routed_by_its_page() -> None:
    event = messaging_message(
        PAGE_ID,
        "PSID1",
        "m_1",
        attachments=[{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/a.jpg"}}],
    )
    [message] = parse(messaging_webhook("page", PAGE_ID, event)).messages
    assert (message.shop_id, message.channel, message.customer_address) == (
        "ana",
        Channel.MESSENGER,
        "messenger:PSID1",
    )
    assert message.media == (
        MediaItem(url="https://scontent.xx.fbcdn.net/a.jpg", content_type="image/jpeg"),
    )


def test_an_echo_of_our_own_send_is_dropped_and_others_are_shown_as_sent_elsewhere() -> None:
    ours = messaging_message(PAGE_ID, "PSID1", "m_ours", is_echo=True, metadata=OUR_METADATA)
    theirs = messaging_message(PAGE_ID, "PSID1", "m_page", "Sent from the Page", is_echo=True)
    # An echo's sender is the Page and its recipient the customer.
    for echo in (ours, theirs):
        echo["sender"], echo["recipient"] = {"id": PAGE_ID}, {"id": "PSID1"}
    batch = parse(messaging_webhook("page", PAGE_ID, ours, theirs))
    [message] = batch.messages
    assert (message.kind, message.customer_address, message.text) == (
        InboundKind.ECHO,
        "messenger:PSID1",
        "Sent from the Page",
    )


def test_instagram_story_replies_and_mentions_are_told_and_their_media_kept() -> None:
    story = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"
    reply = messaging_message(
        INSTAGRAM_ID, "IGSID", "m_2", "Lindo!", reply_to={"story": {"url": story, "id": "9"}}
    )
    mention = messaging_message(
        INSTAGRAM_ID,
        "IGSID",
        "m_3",
        "",
        attachments=[{"type": "story_mention", "payload": {"url": story}}],
    )
    first, second = parse(messaging_webhook("instagram", INSTAGRAM_ID, reply, mention)).messages
    assert first.shop_id == "bia"
    assert first.text == "(replied to the shop's story)\nLindo!"
    assert first.media[0].url == story
    assert second.text == "(mentioned the shop in their story)"
    assert second.media[0].url == story


def test_receipts_become_delivery_updates_where_they_name_messages() -> None:
    base = {"sender": {"id": "PSID1"}, "recipient": {"id": PAGE_ID}, "timestamp": 1764000000000}
    delivery = base | {"delivery": {"mids": ["m_a", "m_b"], "watermark": 1764000000000}}
    read_by_time = base | {"read": {"watermark": 1764000000000}}
    seen = base | {"read": {"mid": "m_c"}}
    messenger = parse(messaging_webhook("page", PAGE_ID, delivery, read_by_time))
    instagram = parse(messaging_webhook("instagram", INSTAGRAM_ID, seen))
    assert [(u.provider_message_id, u.status) for u in messenger.statuses] == [
        ("m_a", DeliveryStatus.DELIVERED),
        ("m_b", DeliveryStatus.DELIVERED),
    ]
    # Messenger's read receipt names a time: a watermark (tests/unit/test_meta_receipts.py).
    assert messenger.ignored == 0
    assert [w.status for w in messenger.watermarks] == [DeliveryStatus.READ]
    assert [(u.shop_id, u.status) for u in instagram.statuses] == [("bia", DeliveryStatus.READ)]


def test_a_messenger_reaction_is_shown_but_awaits_nothing() -> None:
    event = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1764000000000,
        "reaction": {"mid": "m_1", "action": "react", "emoji": "❤", "reaction": "love"},
    }
    [message] = parse(messaging_webhook("page", PAGE_ID, event)).messages
    assert (message.kind, message.text) == (InboundKind.REACTION, "Reacted ❤")


# Sending


def outbound(channel: Channel, to: str, text: str = "Olá", **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        shop_id="ana",
        message_key="slack:C1:1.0",
        conversation_id="c1",
        channel=channel,
        to=to,
        from_=PHONE_NUMBER_ID if channel is Channel.WHATSAPP_CLOUD else PAGE_ID,
        text=text,
        agent_user_id="U1",
        slack_channel_id="C1",
        slack_ts="1.0",
        slack_thread_ts="0.1",
        created_at=NOW,
        **fields,
    )


def test_a_long_whatsapp_reply_goes_in_parts_and_a_short_one_as_a_files_caption() -> None:
    long = outbound(Channel.WHATSAPP_CLOUD, "wa:+5511987654321", "palavra " * 1000)
    parts = whatsapp_payloads(long, ())
    assert len(parts) == 2
    assert all(len(p["text"]["body"]) <= 4096 for p in parts)
    assert parts[0]["to"] == "5511987654321"
    captioned = whatsapp_payloads(outbound(Channel.WHATSAPP_CLOUD, "wa:+551"), ("https://x/a.png",))
    assert captioned == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "551",
            "type": "image",
            "image": {"link": "https://x/a.png", "caption": "Olá"},
        }
    ]


def test_a_whatsapp_template_goes_with_its_language_and_filled_body() -> None:
    template = CloudTemplate(name="follow_up", language="pt_BR", body_parameters=("Ana",))
    [payload] = whatsapp_payloads(
        outbound(Channel.WHATSAPP_CLOUD, "wa:+551", cloud_template=template), ()
    )
    assert payload["template"] == {
        "name": "follow_up",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }


def test_messenger_replies_are_responses_unless_tagged_for_a_person() -> None:
    [plain] = messaging_payloads(outbound(Channel.MESSENGER, "messenger:PSID1"), ())
    [tagged] = messaging_payloads(
        outbound(Channel.MESSENGER, "messenger:PSID1", human_agent_tag=True), ()
    )
    assert plain["messaging_type"] == "RESPONSE"
    assert "tag" not in plain
    assert (tagged["messaging_type"], tagged["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert plain["recipient"] == {"id": "PSID1"}
    assert plain["message"] == {"text": "Olá", "metadata": OUR_METADATA}


class StubGraph(GraphApi):
    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        super().__init__("https://graph.facebook.com")
        self.answers = answers
        self.asked: list[str] = []

    def get(self, path: str, token: str) -> dict[str, Any]:
        self.asked.append(path)
        return self.answers[path]


SHOP = Shop(shop_id="ana", name="Ana")
SECRETS = ShopSecrets.model_validate({"meta_access_token": "EAAG-token"})


def test_whatsapp_media_is_fetched_with_the_token_from_metas_hosts_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Meta answering a media id with a URL on its own host, and another with a foreign one
    graph = StubGraph(
        {
            "777": {"url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=777"},
            "666": {"url": "https://attacker.example/steal"},
        }
    )
    fetched: list[tuple[str, dict[str, Any]]] = []

    def fake_download(url: str, source: str, timeout: float, **credentials: Any) -> Download:
        fetched.append((url, credentials))
        return Download("image/jpeg", b"jpeg")

    monkeypatch.setattr(meta, "download", fake_download)
    channel = MetaChannel(graph)

    # When both are fetched
    good = channel.fetch_media(MediaItem(url="whatsapp-media:777"), SHOP, SECRETS)
    bad = channel.fetch_media(MediaItem(url="whatsapp-media:666"), SHOP, SECRETS)

    # Then only Meta's host was asked, with the token
    assert good is not None
    assert good.content == b"jpeg"
    assert good.filename.endswith(".jpg")
    assert bad is None
    assert fetched == [
        (
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=777",
            {"headers": {"Authorization": "Bearer EAAG-token"}},
        )
    ]


def test_messenger_attachments_are_fetched_without_the_token_and_only_from_meta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[tuple[str, dict[str, Any]]] = []

    def fake_download(url: str, source: str, timeout: float, **credentials: Any) -> Download:
        fetched.append((url, credentials))
        return Download("image/png", b"png")

    monkeypatch.setattr(meta, "download", fake_download)
    channel = MetaChannel(StubGraph({}))
    assert channel.fetch_media(MediaItem(url="https://scontent.xx.fbcdn.net/a.png"), SHOP, SECRETS)
    assert (
        channel.fetch_media(MediaItem(url="http://scontent.xx.fbcdn.net/a.png"), SHOP, SECRETS)
        is None
    )
    assert (
        channel.fetch_media(MediaItem(url="https://169.254.169.254/latest"), SHOP, SECRETS) is None
    )
    assert fetched == [("https://scontent.xx.fbcdn.net/a.png", {})]


class Answer:
    def __init__(self, status: int, body: object) -> None:
        self.status_code = status
        self.content = json.dumps(body).encode()
        self._body = body

    def json(self) -> object:
        return self._body


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 130429, Retryable),
        (400, 131056, Retryable),
        (403, 4, Retryable),
        (429, None, Retryable),
        (500, 2, Retryable),
        (502, None, Retryable),
        (400, 131047, DeliveryRefused),
        (401, 190, DeliveryRefused),
    ],
)
def test_graph_errors_are_retried_when_throttled_and_refusals_keep_their_code(
    monkeypatch: pytest.MonkeyPatch, status: int, code: int | None, expected: type[Exception]
) -> None:
    import requests

    body = {"error": {"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "x"}}
    monkeypatch.setattr(requests, "request", lambda *a, **k: Answer(status, body))
    with pytest.raises(expected) as raised:
        GraphApi().post("1/messages", "t", {})
    if isinstance(raised.value, DeliveryRefused):
        assert raised.value.error_code == str(code)
    if code == 130429:
        assert isinstance(raised.value, Retryable)
        assert raised.value.retry_after


def test_an_id_claimed_after_it_was_seen_unclaimed_is_routed_within_seconds() -> None:
    from chalicelib.services.meta_intake import UNCLAIMED_RECHECK_SECONDS, ClaimCache

    # Given an id no shop claims, seen by a container whose claims are kept a minute
    owners: dict[str, str | None] = {"meta:whatsapp_cloud:1": None}
    now = [0.0]
    claims = ClaimCache(owners.__getitem__, max_age=60, monotonic=lambda: now[0])
    assert claims("meta:whatsapp_cloud:1") is None
    # When a shop claims it
    owners["meta:whatsapp_cloud:1"] = "ana"
    # Then its messages reach the shop within seconds, not a minute
    now[0] = UNCLAIMED_RECHECK_SECONDS
    assert claims("meta:whatsapp_cloud:1") == "ana"
    # And a claimed id stays cached for the minute
    owners["meta:whatsapp_cloud:1"] = None
    now[0] += 30
    assert claims("meta:whatsapp_cloud:1") == "ana"
