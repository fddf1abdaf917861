"""A Meta id moved to another shop takes effect at once: a message the ack path still
filed under the former owner (its claim cached for up to a minute) is re-filed by the worker
under the new owner before anything of it reaches the former owner's Slack, and its first
copy erased; Meta's retry of it, filed under the former owner again, posts nothing twice
and is erased there too."""

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.messages import InboundMessage
from chalicelib.services.jobs import run_job
from tests.fakes import FakeSlack
from tests.integration.conftest import stored_item
from tests.integration.test_data_rights import table_items
from tests.integration.test_meta_webhooks import (
    clock,
    container,
    deliver,
    graph,
    meta_store,
    settings,
)
from tests.meta_payloads import (
    META_TOKEN,
    PHONE_NUMBER_ID,
    meta_shop,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)
from tests.signing import shop_document

__all__ = ["clock", "container", "graph", "meta_store", "settings"]

BIA_CHANNEL = "C0BIA"


def bia_document() -> dict[str, Any]:
    document = shop_document(
        name="Loja da Bia",
        meta={"access_token": META_TOKEN, "whatsapp": {"phone_number_id": PHONE_NUMBER_ID}},
    )
    document["slack"] = document["slack"] | {"channel_id": BIA_CHANNEL}
    del document["twilio"]
    return document


def message_key(n: int) -> str:
    return f"meta:{wa_text(n)['id']}"


@pytest.fixture
def moved(client: Client, meta_store: str, put_shop: Any, run_workers: Any) -> None:
    """Ana's number had a customer's message routed to her (so the ack path caches her
    claim); then she released the number and Bia claimed it."""
    assert deliver(client, whatsapp_webhook(whatsapp_change([wa_text(1)]))).status_code == 200
    run_workers()
    released = shop_document(meta=meta_shop(whatsapp=None))
    assert put_shop("ana", released).status_code == 200
    answer = put_shop("bia", bia_document())
    assert answer.status_code == 201, answer.body


def test_a_message_filed_under_the_former_owner_reaches_only_the_new_owner(
    client: Client,
    moved: None,
    run_workers: Any,
    slack: FakeSlack,
    container: bootstrap.Container,
) -> None:
    # When a customer writes to the number within the claim cache's minute
    document = whatsapp_webhook(whatsapp_change([wa_text(2, "Oi, Bia! 🌷")]))
    assert deliver(client, document).status_code == 200
    # The ack path still files it under Ana
    assert stored_item(f"SHOP#ana#MSG#{message_key(2)}", "MESSAGE") is not None
    run_workers()

    # Then it is posted in Bia's channel only, stored under Bia, and gone from Ana's data
    posted = [
        r for r in slack.roots() if "Oi, Bia!" in json.dumps(r.message.blocks, ensure_ascii=False)
    ]
    assert [r.channel for r in posted] == [BIA_CHANNEL]
    assert stored_item(f"SHOP#ana#MSG#{message_key(2)}", "MESSAGE") is None
    assert stored_item(f"SHOP#bia#MSG#{message_key(2)}", "MESSAGE") is not None
    assert "Oi, Bia!" not in json.dumps(
        [i for i in table_items() if i["PK"]["S"].startswith("SHOP#ana#")], ensure_ascii=False
    )

    # When Meta delivers it again (the ack path still caching Ana's claim)
    assert deliver(client, document).status_code == 200
    run_workers()

    # (SQS drops its queueing as a repeat within five minutes: the stored copy waits for
    # the redelivery sweep, which queues it again)
    retried = stored_item(f"SHOP#ana#MSG#{message_key(2)}", "MESSAGE")
    assert retried is not None
    run_job(InboundMessage.model_validate(retried), container)

    # Then nothing is posted twice, and no copy is left under Ana
    posted = [
        r for r in slack.roots() if "Oi, Bia!" in json.dumps(r.message.blocks, ensure_ascii=False)
    ]
    assert len(posted) == 1
    assert stored_item(f"SHOP#ana#MSG#{message_key(2)}", "MESSAGE") is None
