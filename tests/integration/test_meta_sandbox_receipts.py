"""The Graph API stand-in's Messenger read watermark and customers' edits: posted signed as
Meta signs them, and read by the real adapter as Meta's own."""

import json
import time

import pytest

from chalicelib.channels.meta import parse_webhook, verify_signature
from chalicelib.domain.messages import DeliveryStatus
from chalicelib.domain.shop import meta_address
from chalicelib.domain.vocabulary import Channel
from local_stack.sandbox.meta import MetaStandIn
from tests.integration.test_meta_sandbox import (
    NOW,
    SECRETS,
    SHOP,
    Receiver,
    channel,
    outbound,
    receiver,
    stand_in,
)
from tests.meta_payloads import INSTAGRAM_ID, META_APP_SECRET, PAGE_ID

__all__ = ["receiver", "stand_in"]

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

CLAIMS = {
    meta_address(Channel.MESSENGER, PAGE_ID): "ana",
    meta_address(Channel.INSTAGRAM, INSTAGRAM_ID): "ana",
}


def received_documents(receiver: Receiver, count: int) -> list[bytes]:
    deadline = time.monotonic() + 5
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.received) == count
    for body, signature in receiver.received:
        verify_signature(body, signature, META_APP_SECRET)
    return [body for body, _ in receiver.received]


def test_a_messenger_send_is_delivered_then_read_by_a_watermark_after_it(
    stand_in: MetaStandIn, receiver: Receiver
) -> None:
    before = time.time()
    channel(stand_in).send(outbound(Channel.MESSENGER, "messenger:24536372"), SHOP, SECRETS, "")

    _, read = received_documents(receiver, 2)

    batch = parse_webhook(read, CLAIMS.get, NOW)
    [watermark] = batch.watermarks
    assert (watermark.customer_address, watermark.status) == (
        "messenger:24536372",
        DeliveryStatus.READ,
    )
    assert watermark.watermark.timestamp() >= before
    assert "mid" not in json.loads(read)["entry"][0]["messaging"][0]["read"]


@pytest.mark.parametrize(("account", "kind"), [(PAGE_ID, "page"), (INSTAGRAM_ID, "instagram")])
def test_a_customers_edit_is_posted_signed_on_its_channel(
    stand_in: MetaStandIn, receiver: Receiver, account: str, kind: str
) -> None:
    stand_in.customer_edits(account, "24536372", "m_first", "Tamanho M", num_edit=2)

    [body] = received_documents(receiver, 1)

    assert json.loads(body)["object"] == kind
    [edit] = parse_webhook(body, CLAIMS.get, NOW).messages
    assert edit.text == "✏️ Edited an earlier message: Tamanho M"


def test_a_sixth_edit_is_refused_as_messenger_refuses_it(stand_in: MetaStandIn) -> None:
    with pytest.raises(ValueError, match="five"):
        stand_in.customer_edits(PAGE_ID, "24536372", "m_first", "again", num_edit=6)
