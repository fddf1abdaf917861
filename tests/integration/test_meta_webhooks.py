"""Meta's channels end to end in-process: the handshake, signed batches stored and posted
once, refusals that write nothing, an agent's reply out through the Graph API with its status
back as a reaction, the window rules, and ids claimed by one shop."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.channels.meta import MetaChannel
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, TABLE_NAME, Settings
from tests.fakes import FakeSlack, RecordingGraph, RecordingTwilio
from tests.integration.conftest import ADMIN, Clock
from tests.meta_payloads import (
    INSTAGRAM_ID,
    META_APP_SECRET,
    META_TOKEN,
    META_VERIFY_TOKEN,
    PAGE_ID,
    PHONE_NUMBER_ID,
    encoded,
    messaging_message,
    messaging_webhook,
    meta_shop,
    signed,
    wa_status,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)
from tests.signing import CHANNEL_ID, shop_document, slack_headers, slack_thread_reply

START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "meta_app_secret": META_APP_SECRET,
            "meta_verify_token": META_VERIFY_TOKEN,
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def graph() -> RecordingGraph:
    return RecordingGraph()


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    graph: RecordingGraph,
) -> Iterator[bootstrap.Container]:
    built = bootstrap.Container(
        settings, twilio=twilio, slack=slack.workspace, clock=clock, meta=MetaChannel(graph)
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def meta_store(put_shop: Any) -> str:
    response = put_shop("ana", shop_document(meta=meta_shop()))
    assert response.status_code == 201, response.body
    return "ana"


def written() -> tuple[list[Any], list[str]]:
    """What the table holds and what waits on the queues: a refusal changes neither."""
    items = boto3.client("dynamodb").scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    sqs = boto3.client("sqs")
    waiting = []
    for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        waiting.append(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return sorted(items, key=json.dumps), waiting


def deliver(client: Client, document: dict[str, Any], secret: str = META_APP_SECRET) -> Any:
    body = encoded(document)
    return client.http.post("/webhooks/meta", headers=signed(body, secret), body=body)


def at_start(message: dict[str, Any]) -> dict[str, Any]:
    return message | {"timestamp": str(int(START.timestamp()))}


# The handshake


def test_the_handshake_echoes_the_challenge_as_plain_text(client: Client) -> None:
    query = urlencode(
        {
            "hub.mode": "subscribe",
            "hub.verify_token": META_VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        }
    )
    response = client.http.get(f"/webhooks/meta?{query}")
    assert response.status_code == 200
    assert response.body == b"1158201444"
    assert response.headers["Content-Type"] == "text/plain"


def test_the_handshake_with_another_token_is_forbidden(client: Client) -> None:
    query = urlencode({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert client.http.get(f"/webhooks/meta?{query}").status_code == 403


# Inbound


def test_a_signed_batch_stores_every_message_and_posts_each_once(
    client: Client, meta_store: str, run_workers: Any, slack: FakeSlack
) -> None:
    # Given one POST with two WhatsApp messages and a Messenger message
    whatsapp = whatsapp_webhook(
        whatsapp_change([at_start(wa_text(1)), at_start(wa_text(2, "مرحبا"))], name="ناصر")
    )
    messenger = messaging_webhook("page", PAGE_ID, messaging_message(PAGE_ID, "PSID1", "m_1"))

    # When both deliveries arrive, and the WhatsApp one again (Meta retries)
    assert deliver(client, whatsapp).status_code == 200
    assert deliver(client, messenger).status_code == 200
    run_workers()
    assert deliver(client, whatsapp).status_code == 200
    run_workers()

    # Then two conversations, with each message posted once
    roots = slack.roots()
    assert len(roots) == 2
    texts = [post.message.text for root in roots for post in slack.thread(root.ts)]
    assert sum("Olá! Onde está meu pedido?" in t for t in texts) == 1
    assert sum("مرحبا" in t for t in texts) == 1
    assert sum("Oi" in t for t in texts) == 1


def test_a_bad_signature_is_refused_and_writes_nothing(client: Client, meta_store: str) -> None:
    before = written()
    document = whatsapp_webhook(whatsapp_change([wa_text(1)]))
    assert deliver(client, document, secret="not-the-app-secret").status_code == 403
    unsigned = client.http.post(
        "/webhooks/meta", headers={"Content-Type": "application/json"}, body=encoded(document)
    )
    assert unsigned.status_code == 403
    assert written() == before


def test_bad_json_with_a_good_signature_is_a_bad_request_and_writes_nothing(
    client: Client, meta_store: str
) -> None:
    before = written()
    body = b'{"object": "whatsapp_business_account", "entry": ['
    response = client.http.post("/webhooks/meta", headers=signed(body), body=body)
    assert response.status_code == 400
    assert written() == before


def test_entries_for_ids_no_shop_claims_are_acknowledged_and_write_nothing(
    client: Client, meta_store: str
) -> None:
    before = written()
    document = whatsapp_webhook(whatsapp_change([wa_text(1)], phone_number_id="9999"))
    assert deliver(client, document).status_code == 200
    assert written() == before


def test_a_reaction_is_shown_in_the_open_conversation_and_opens_none(
    client: Client, meta_store: str, run_workers: Any, slack: FakeSlack
) -> None:
    reaction = at_start(
        wa_text(9, type="reaction", reaction={"message_id": "wamid.X", "emoji": "👍"})
    )
    deliver(client, whatsapp_webhook(whatsapp_change([reaction])))
    run_workers()
    assert slack.roots() == []

    deliver(client, whatsapp_webhook(whatsapp_change([at_start(wa_text(1))])))
    deliver(client, whatsapp_webhook(whatsapp_change([at_start(reaction | {"id": "wamid.R2"})])))
    run_workers()
    [root] = slack.roots()
    assert "Reacted 👍" in slack.thread(root.ts)[-1].message.text


# Outbound


def open_whatsapp_thread(client: Client, run_workers: Any, slack: FakeSlack) -> str:
    deliver(client, whatsapp_webhook(whatsapp_change([at_start(wa_text(1))])))
    run_workers()
    return slack.roots()[0].ts


def agent_reply(client: Client, thread_ts: str, text: str = "Seu reembolso saiu!") -> None:
    body = slack_thread_reply(thread_ts, "1764100000.000100", text)
    assert (
        client.http.post("/slack/events", headers=slack_headers(body), body=body).status_code == 200
    )


def test_an_agents_reply_goes_out_on_whatsapp_and_its_status_comes_back_as_a_reaction(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    # Given a WhatsApp Cloud conversation
    thread_ts = open_whatsapp_thread(client, run_workers, slack)

    # When an agent answers in its thread
    clock.now = START + timedelta(minutes=5)
    agent_reply(client, thread_ts)
    run_workers()

    # Then the reply goes to the customer through the shop's number, with its token
    [(path, token, payload)] = graph.posted
    assert (path, token) == (f"{PHONE_NUMBER_ID}/messages", META_TOKEN)
    assert payload["to"] == "5511987654321"
    assert payload["text"]["body"] == "Seu reembolso saiu!\n— Bia"

    # When Meta reports it read
    status = wa_status("wamid.SENT0001", "read")
    assert deliver(client, whatsapp_webhook(whatsapp_change(statuses=[status]))).status_code == 200
    run_workers()

    # Then the agent's message shows it
    assert slack.reactions[(CHANNEL_ID, "1764100000.000100")] == ["eyes"]


def test_a_failed_whatsapp_status_is_explained_in_the_thread_with_metas_code(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    thread_ts = open_whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(minutes=5)
    agent_reply(client, thread_ts)
    run_workers()
    failed = wa_status("wamid.SENT0001", "failed", code=131026)
    deliver(client, whatsapp_webhook(whatsapp_change(statuses=[failed])))
    run_workers()
    note = slack.thread(thread_ts)[-1].message.text
    assert "131026" in note
    assert "cannot receive" in note


def test_past_24_hours_without_a_template_nothing_goes_and_the_thread_says_what_to_do(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    thread_ts = open_whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(hours=24, minutes=1)
    agent_reply(client, thread_ts)
    run_workers()
    assert graph.posted == []
    assert "`meta.whatsapp.templates.reply`" in slack.thread(thread_ts)[-1].message.text


def test_past_24_hours_the_shops_reply_template_goes_instead(
    client: Client,
    put_shop: Any,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    template = {"name": "order_update", "language": "pt_BR", "body_variables": ["{first_name}"]}
    whatsapp = {"phone_number_id": PHONE_NUMBER_ID, "templates": {"reply": template}}
    assert put_shop("ana", shop_document(meta=meta_shop(whatsapp=whatsapp))).status_code == 201
    thread_ts = open_whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(hours=25)
    agent_reply(client, thread_ts)
    run_workers()
    [(_, _, payload)] = graph.posted
    assert payload["type"] == "template"
    assert payload["template"]["name"] == "order_update"
    assert payload["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Ana"}]


def test_a_messenger_reply_past_24_hours_goes_tagged_only_where_the_shop_enabled_it(
    client: Client,
    put_shop: Any,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    assert put_shop("ana", shop_document(meta=meta_shop(human_agent_tag=True))).status_code == 201
    event = messaging_message(PAGE_ID, "PSID1", "m_1") | {
        "timestamp": int(START.timestamp() * 1000)
    }
    deliver(client, messaging_webhook("page", PAGE_ID, event))
    run_workers()
    thread_ts = slack.roots()[0].ts
    clock.now = START + timedelta(days=2)
    agent_reply(client, thread_ts)
    run_workers()
    [(path, _, payload)] = graph.posted
    assert path == "me/messages"
    assert (payload["messaging_type"], payload["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert payload["recipient"] == {"id": "PSID1"}


# Claims and secrets


def test_an_id_another_shop_claims_is_a_conflict(
    client: Client, meta_store: str, put_shop: Any
) -> None:
    other = shop_document(twilio=None, meta=meta_shop(messenger=None, whatsapp=None))
    response = put_shop("bia", other)
    assert response.status_code == 409
    assert INSTAGRAM_ID in json.loads(response.body)["error"]


def test_the_access_token_is_masked_and_kept_when_sent_back_masked(
    client: Client, meta_store: str, put_shop: Any
) -> None:
    shown = json.loads(client.http.get("/admin/shops/ana", headers=ADMIN).body)
    assert shown["meta"]["access_token"] == "********"
    assert META_TOKEN not in json.dumps(shown)
    assert shown["webhooks"]["meta_callback"].endswith("/webhooks/meta")
    assert put_shop("ana", shown).status_code == 200
    secrets = bootstrap.container().vault.get("ana", fresh=True)
    assert secrets.meta_access_token is not None
    assert secrets.meta_access_token.get_secret_value() == META_TOKEN


def test_a_batch_not_wholly_stored_and_queued_is_answered_503_and_its_retry_posts_each_once(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    container: bootstrap.Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the queue failing on the second message of a batch
    queues = container.queues
    real_send = queues.send_inbound
    calls: list[str] = []

    def failing_second(message: Any, body: Any = None) -> None:
        calls.append(message.message_key)
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        real_send(message, body)

    monkeypatch.setattr(queues, "send_inbound", failing_second)
    document = whatsapp_webhook(
        whatsapp_change([at_start(wa_text(1)), at_start(wa_text(2, "Segunda"))])
    )

    # When it arrives, then Meta retries it
    assert deliver(client, document).status_code == 503
    assert deliver(client, document).status_code == 200
    run_workers()

    # Then each message is posted once
    [root] = slack.roots()
    texts = [post.message.text for post in slack.thread(root.ts)]
    assert sum("Onde está meu pedido" in t for t in texts) == 1
    assert sum("Segunda" in t for t in texts) == 1


# The shop writes first


def shop_message(client: Client, channel: str, to: str) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"channel": channel, "to": to, "text": "Seu pedido saiu."})
    response = client.http.post("/admin/shops/ana/messages", headers=ADMIN, body=body)
    return response.status_code, json.loads(response.body)


def test_a_shop_message_on_whatsapp_cloud_goes_from_the_shops_number_within_the_window(
    client: Client,
    meta_store: str,
    run_workers: Any,
    slack: FakeSlack,
    graph: RecordingGraph,
    clock: Clock,
) -> None:
    # Before the customer ever wrote, and without a template, it is refused
    status, answer = shop_message(client, "whatsapp_cloud", "+5511987654321")
    assert status == 409, answer
    assert "meta.whatsapp.templates.reply" in answer["error"]

    # Once they wrote, it goes out from the shop's number to their WhatsApp
    open_whatsapp_thread(client, run_workers, slack)
    clock.now = START + timedelta(hours=1)
    status, answer = shop_message(client, "whatsapp_cloud", "+5511987654321")
    run_workers()
    assert status == 202, answer
    [(path, _, payload)] = graph.posted
    assert (path, payload["to"], payload["text"]["body"]) == (
        f"{PHONE_NUMBER_ID}/messages",
        "5511987654321",
        "Seu pedido saiu.",
    )


def test_an_echo_opens_no_conversation_and_is_shown_as_sent_elsewhere_in_the_open_one(
    client: Client, meta_store: str, run_workers: Any, slack: FakeSlack
) -> None:
    def echo(mid: str) -> dict[str, Any]:
        sent = messaging_message(PAGE_ID, "PSID1", mid, "Respondido pela Página", is_echo=True)
        return sent | {"sender": {"id": PAGE_ID}, "recipient": {"id": "PSID1"}}

    # Given the Page answered a customer with no conversation here
    deliver(client, messaging_webhook("page", PAGE_ID, echo("m_echo1")))
    run_workers()
    assert slack.roots() == []

    # When the customer writes, and the Page answers again from its inbox
    deliver(client, messaging_webhook("page", PAGE_ID, messaging_message(PAGE_ID, "PSID1", "m_1")))
    deliver(client, messaging_webhook("page", PAGE_ID, echo("m_echo2")))
    run_workers()

    # Then the echo is in the thread, marked, and nothing was sent
    [root] = slack.roots()
    last = slack.thread(root.ts)[-1].message
    assert "Respondido pela Página" in last.text
    assert "outside Threadline" in json.dumps(last.blocks, ensure_ascii=False)


# The ack path's cost


def test_a_warm_ack_makes_exactly_one_dynamodb_write_and_one_sqs_send_per_message(
    client: Client, meta_store: str, container: bootstrap.Container
) -> None:
    # Given every AWS call of the container's clients is recorded
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    clients = (container.store.client, container.queues._client, container.vault._client)
    for events in {id(c.meta.events): c.meta.events for c in clients}.values():
        events.register("before-call", record)
    # And a first message has warmed the caches (shop config, the id's claim, queue URL)
    assert deliver(client, whatsapp_webhook(whatsapp_change([wa_text(1)]))).status_code == 200
    calls.clear()

    # When a second message arrives, then a batch of three
    single = deliver(client, whatsapp_webhook(whatsapp_change([wa_text(2)])))
    after_single = list(calls)
    batch = deliver(client, whatsapp_webhook(whatsapp_change([wa_text(n) for n in (3, 4, 5)])))

    # Then each message costs one DynamoDB write and one SQS send, nothing else
    assert (single.status_code, batch.status_code) == (200, 200)
    assert after_single == ["PutItem", "SendMessage"]
    assert calls == ["PutItem", "SendMessage"] * 4
