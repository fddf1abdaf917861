"""The Graph API stand-in, driven by the real Meta adapter over 127.0.0.1: it is as strict
as Meta where Threadline relies on it (tokens, ids, limits, error shape), serves media, and
posts status webhooks signed as Meta signs them."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.channels.base import DeliveryRefused
from chalicelib.channels.meta import MetaChannel, parse_webhook, verify_signature
from chalicelib.channels.meta_graph import GraphApi
from chalicelib.domain.messages import DeliveryStatus, MediaItem, OutboundMessage
from chalicelib.domain.shop import Shop, ShopSecrets, meta_address
from chalicelib.domain.vocabulary import Channel
from local_stack.sandbox.meta import MetaStandIn
from local_stack.sandbox.outbox import Outbox
from tests.meta_payloads import (
    INSTAGRAM_ID,
    META_APP_SECRET,
    META_TOKEN,
    PAGE_ID,
    PHONE_NUMBER_ID,
)

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
SHOP = Shop(shop_id="ana", name="Loja da Ana")
SECRETS = ShopSecrets.model_validate({"meta_access_token": META_TOKEN})
INSTAGRAM_USER = "9876543210"


class Receiver:
    """A webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("X-Hub-Signature-256")))
                receiver.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/meta"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def stand_in(receiver: Receiver) -> Iterator[MetaStandIn]:
    meta = MetaStandIn(Outbox(), META_APP_SECRET, receiver.url)
    meta.provision(
        META_TOKEN,
        whatsapp_numbers=(PHONE_NUMBER_ID,),
        page_id=PAGE_ID,
        instagram_id=INSTAGRAM_ID,
        instagram_users=(INSTAGRAM_USER,),
    )
    meta.start()
    yield meta
    meta.stop()


def channel(stand_in: MetaStandIn) -> MetaChannel:
    return MetaChannel(GraphApi(stand_in.base_url))


def outbound(kind: Channel, to: str, text: str = "Olá 👋", **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        shop_id="ana",
        message_key="slack:C1:1.0",
        conversation_id="c1",
        channel=kind,
        to=to,
        from_=PHONE_NUMBER_ID if kind is Channel.WHATSAPP_CLOUD else PAGE_ID,
        text=text,
        agent_user_id="U1",
        slack_channel_id="C1",
        slack_ts="1.0",
        slack_thread_ts="0.1",
        created_at=NOW,
        **fields,
    )


def test_a_whatsapp_send_is_recorded_and_its_statuses_come_back_signed(
    stand_in: MetaStandIn, receiver: Receiver
) -> None:
    # When a reply goes out through the stand-in
    receipt = channel(stand_in).send(
        outbound(Channel.WHATSAPP_CLOUD, "wa:+5511987654321"), SHOP, SECRETS, ""
    )

    # Then it is recorded with the text as sent
    [sent] = stand_in.sent()
    assert sent["text"]["body"] == "Olá 👋"
    assert receipt.provider_message_id == sent["id"]

    # And its statuses arrive signed with the app secret, readable by the adapter
    assert receiver.arrived.wait(5)
    body, signature = receiver.received[0]
    verify_signature(body, signature, META_APP_SECRET)
    claims = {meta_address(Channel.WHATSAPP_CLOUD, PHONE_NUMBER_ID): "ana"}
    batch = parse_webhook(body, claims.get, NOW)
    assert [(u.provider_message_id, u.status) for u in batch.statuses] == [
        (receipt.provider_message_id, DeliveryStatus.SENT),
        (receipt.provider_message_id, DeliveryStatus.DELIVERED),
        (receipt.provider_message_id, DeliveryStatus.READ),
    ]


@pytest.mark.parametrize(
    ("kind", "to", "receipt_object", "entry_id", "status"),
    [
        (Channel.INSTAGRAM, INSTAGRAM_USER, "instagram", INSTAGRAM_ID, DeliveryStatus.READ),
        (Channel.MESSENGER, "24536372", "page", PAGE_ID, DeliveryStatus.DELIVERED),
    ],
)
def test_an_instagram_send_is_seen_only_and_a_messenger_send_delivered(
    stand_in: MetaStandIn,
    receiver: Receiver,
    kind: Channel,
    to: str,
    receipt_object: str,
    entry_id: str,
    status: DeliveryStatus,
) -> None:
    # When a reply goes out on the Send API
    receipt = channel(stand_in).send(outbound(kind, f"{kind.value}:{to}"), SHOP, SECRETS, "")
    [sent] = stand_in.sent()
    assert sent["channel"] == kind.value

    # Then the one receipt that channel has comes back: Instagram never sends a delivery
    assert receiver.arrived.wait(5)
    [(body, signature)] = receiver.received
    verify_signature(body, signature, META_APP_SECRET)
    document = json.loads(body)
    assert document["object"] == receipt_object
    assert document["entry"][0]["id"] == entry_id
    claims = {meta_address(kind, entry_id): "ana"}
    batch = parse_webhook(body, claims.get, NOW)
    assert [(u.provider_message_id, u.status) for u in batch.statuses] == [
        (receipt.provider_message_id, status)
    ]


def test_another_token_or_number_is_refused_in_graphs_shape(stand_in: MetaStandIn) -> None:
    message = outbound(Channel.WHATSAPP_CLOUD, "wa:+5511987654321")
    wrong = ShopSecrets.model_validate({"meta_access_token": "EAAG-stolen"})
    with pytest.raises(DeliveryRefused) as token_refused:
        channel(stand_in).send(message, SHOP, wrong, "")
    with pytest.raises(DeliveryRefused) as number_refused:
        channel(stand_in).send(message.model_copy(update={"from_": "1"}), SHOP, SECRETS, "")
    assert token_refused.value.error_code == "190"
    assert number_refused.value.error_code == "100"
    assert stand_in.sent() == []


def test_a_messenger_reply_goes_tagged_and_a_tag_without_message_tag_is_refused(
    stand_in: MetaStandIn,
) -> None:
    tagged = outbound(Channel.MESSENGER, "messenger:24536372", human_agent_tag=True)
    channel(stand_in).send(tagged, SHOP, SECRETS, "")
    [sent] = stand_in.sent()
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    graph = GraphApi(stand_in.base_url)
    with pytest.raises(DeliveryRefused):
        graph.post(
            "me/messages",
            META_TOKEN,
            {
                "recipient": {"id": "1"},
                "messaging_type": "RESPONSE",
                "tag": "HUMAN_AGENT",
                "message": {"text": "x"},
            },
        )


def test_whatsapp_media_is_served_to_the_token_only(stand_in: MetaStandIn) -> None:
    stand_in.add_media("4455", b"\x89PNG...", "image/png")
    fetched = channel(stand_in).fetch_media(MediaItem(url="whatsapp-media:4455"), SHOP, SECRETS)
    assert fetched is not None
    assert (fetched.content, fetched.content_type) == (b"\x89PNG...", "image/png")
    wrong = ShopSecrets.model_validate({"meta_access_token": "EAAG-stolen"})
    assert channel(stand_in).fetch_media(MediaItem(url="whatsapp-media:4455"), SHOP, wrong) is None
    assert channel(stand_in).fetch_media(MediaItem(url="whatsapp-media:9"), SHOP, SECRETS) is None
