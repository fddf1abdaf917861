"""Telegram end to end in one process: moto, the chalice test client, and the Bot API
stand-in over HTTP (TELEGRAM_API_URL points at it), with the real adapter between them."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from typer.testing import CliRunner

from app import app
from chalicelib import bootstrap
from chalicelib.domain.messages import InboundMessage
from chalicelib.settings import Settings
from local_stack.pump import pumps_for
from local_stack.sandbox.faults import Fault
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.telegram import TelegramStandIn
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, PUBLIC_URL, stored_item
from tests.integration.emulator_state import state_of
from tests.signing import CHANNEL_ID, shop_document, slack_headers, slack_thread_reply
from threadline_cli import cli as cli_module

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.integration]

BOT_ID = 7012345678
BOT_TOKEN = f"{BOT_ID}:AAE" + "k" * 32
CHAT_ID = 4242
PATH = "/webhooks/telegram/ana"
AGENT_TS = "1764000500.000100"


@pytest.fixture
def telegram_api() -> Iterator[TelegramStandIn]:
    stand_in = TelegramStandIn(Outbox())
    stand_in.add_bot(BOT_TOKEN, "loja_da_ana_bot")
    stand_in.start("127.0.0.1", 0)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def settings(settings: Settings, telegram_api: TelegramStandIn) -> Settings:
    return settings.model_copy(update={"telegram_api_url": telegram_api.base_url})


@pytest.fixture
def connected(client: Client, put_shop: Callable[..., Any], telegram_api: TelegramStandIn) -> str:
    """The shop with its bot, connected: returns the secret token Telegram will echo."""
    response = put_shop("ana", shop_document(telegram={"bot_token": BOT_TOKEN}))
    assert response.status_code == 201, response.body
    connect = client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN)
    assert connect.status_code == 200, connect.body
    return str(telegram_api.webhooks[BOT_ID]["secret_token"])


def update(update_id: int, text: str = "Olá! Onde está meu pedido?") -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Ana", "last_name": "Lima"},
                "chat": {"id": CHAT_ID, "type": "private", "first_name": "Ana"},
                "date": 1774774800,
                "text": text,
            },
        }
    ).encode()


@pytest.fixture
def deliver(client: Client, connected: str) -> Callable[..., Any]:
    """Posts an update as Telegram does, with the shop's secret token unless told."""

    def post(body: bytes, secret: str | None = None) -> Any:
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": connected if secret is None else secret,
        }
        return client.http.post(PATH, headers=headers, body=body)

    return post


def sent(telegram_api: TelegramStandIn, method: str = "sendMessage") -> list[dict[str, Any]]:
    """What the stand-in took (refusals are recorded with their `response`)."""
    return [
        entry.payload
        for entry in telegram_api._own
        if entry.method == method and "response" not in entry.payload
    ]


def agent_replies(client: Client, thread_ts: str, text: str) -> None:
    body = slack_thread_reply(thread_ts, AGENT_TS, text)
    response = client.http.post("/slack/events", headers=slack_headers(body), body=body)
    assert response.status_code == 200, response.body


def test_connecting_sets_the_webhook_with_a_secret_that_never_leaves(
    client: Client, connected: str, telegram_api: TelegramStandIn
) -> None:
    # Given a shop whose bot was connected once
    webhook = telegram_api.webhooks[BOT_ID]

    # When it is connected again
    again = client.http.post("/admin/shops/ana/telegram/connect", headers=ADMIN)

    # Then the webhook is this deployment's, for messages and edits, with the same secret
    assert again.status_code == 200
    answer = json.loads(again.body)
    assert answer["webhook"] == PUBLIC_URL + PATH
    assert answer["allowed_updates"] == ["message", "edited_message"]
    assert answer["bot_username"] == "loja_da_ana_bot"
    assert telegram_api.webhooks[BOT_ID] == webhook
    assert webhook["url"] == PUBLIC_URL + PATH
    assert 1 <= len(connected) <= 256
    # And neither the secret nor the bot token is in an answer
    shown = client.http.get("/admin/shops/ana", headers=ADMIN).body.decode()
    for secret in (connected, BOT_TOKEN.split(":", 1)[1]):
        assert secret not in again.body.decode()
        assert secret not in shown
    assert json.loads(shown)["telegram"] == {"bot_id": str(BOT_ID), "bot_token": "********"}
    assert json.loads(shown)["webhooks"]["telegram"] == PUBLIC_URL + PATH


def test_a_verified_message_opens_a_conversation_thread(
    deliver: Callable[..., Any], run_workers: Callable[[], int], slack: FakeSlack
) -> None:
    # When the customer writes to the shop's bot
    response = deliver(update(1))
    run_workers()

    # Then it is acknowledged, and the conversation's card and message are in Slack
    assert response.status_code == 200
    [root] = slack.roots()
    assert "Telegram" in json.dumps(root.message.blocks, ensure_ascii=False)
    assert "Ana Lima" in json.dumps(root.message.blocks, ensure_ascii=False)
    [mirrored] = slack.thread(root.ts)[:1]
    assert "Onde está meu pedido?" in json.dumps(mirrored.message.blocks, ensure_ascii=False)


def test_a_repeated_update_is_posted_once(
    deliver: Callable[..., Any], run_workers: Callable[[], int], slack: FakeSlack
) -> None:
    # When Telegram delivers the same update twice (the first answer was lost)
    first, second = deliver(update(7)), deliver(update(7))
    run_workers()

    # Then both are acknowledged and the message is in its thread once
    assert (first.status_code, second.status_code) == (200, 200)
    [root] = slack.roots()
    mirrored = [
        post
        for post in slack.thread(root.ts)
        if "Onde está meu pedido?" in json.dumps(post.message.blocks, ensure_ascii=False)
    ]
    assert len(mirrored) == 1


@pytest.mark.parametrize("secret", ["", "wrong-secret"])
def test_a_wrong_secret_token_is_refused_and_nothing_is_written(
    deliver: Callable[..., Any], secret: str
) -> None:
    # Given the emulator as the connected shop left it
    before = state_of()

    # When an update comes with no or a wrong secret token
    response = deliver(update(1), secret=secret)

    # Then it is refused, and nothing was stored or queued
    assert response.status_code == 403
    assert state_of() == before


def test_an_update_that_is_no_message_is_acknowledged_and_nothing_is_written(
    deliver: Callable[..., Any],
) -> None:
    before = state_of()
    response = deliver(json.dumps({"update_id": 3, "my_chat_member": {}}).encode())
    assert response.status_code == 200
    assert state_of() == before


def test_an_unknown_shop_is_not_found(client: Client) -> None:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "x"}
    response = client.http.post("/webhooks/telegram/nobody", headers=headers, body=update(1))
    assert response.status_code == 404


@pytest.fixture
def thread(deliver: Callable[..., Any], run_workers: Callable[[], int], slack: FakeSlack) -> str:
    assert deliver(update(1)).status_code == 200
    run_workers()
    [root] = slack.roots()
    return root.ts


def test_an_agents_reply_goes_out_through_send_message(
    client: Client,
    thread: str,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    telegram_api: TelegramStandIn,
) -> None:
    # When an agent answers in the thread
    agent_replies(client, thread, "Seu pedido chega amanhã! 📦")
    run_workers()

    # Then the customer gets it from the bot, signed, and the agent sees it sent
    [message] = sent(telegram_api)
    assert message["chat_id"] == CHAT_ID
    assert message["text"] == "Seu pedido chega amanhã! 📦\n— Bia"
    stored = stored_item(f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{AGENT_TS}", "MESSAGE")
    assert stored is not None
    assert stored["status"] == "sent"
    assert stored["provider_message_id"] == f"{BOT_ID}:{CHAT_ID}:{message['message_id']}"
    assert slack.reactions[(CHANNEL_ID, AGENT_TS)] != []


def test_telegrams_429_holds_the_reply_back_as_long_as_it_asks(
    container: bootstrap.Container,
    client: Client,
    thread: str,
    telegram_api: TelegramStandIn,
) -> None:
    # Given Telegram throttling the bot's next send, asking for a second's wait
    telegram_api.retry_after_seconds = 1
    telegram_api.faults.add("sendMessage", Fault(status=429), limit=1)
    # Pumps that leave a failed job's delay to the worker, as Lambda does
    pumps = pumps_for(app, boto3.client("sqs"))
    agent_replies(client, thread, "Já verifico")

    # When the worker tries the reply
    sum(pump.pump_once() for pump in pumps)

    # Then nothing went out, and the job is not back at once
    assert sent(telegram_api) == []
    assert sum(pump.pump_once() for pump in pumps) == 0

    # When the second Telegram asked for has passed
    time.sleep(1.3)
    sum(pump.pump_once() for pump in pumps)

    # Then the reply goes out, once
    assert [message["text"] for message in sent(telegram_api)] == ["Já verifico\n— Bia"]


def test_a_customer_who_blocked_the_bot_is_explained_in_the_thread(
    client: Client,
    thread: str,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    telegram_api: TelegramStandIn,
) -> None:
    # Given a customer who blocked the shop's bot
    telegram_api.block(BOT_TOKEN, CHAT_ID)

    # When an agent answers
    agent_replies(client, thread, "Olá?")
    run_workers()

    # Then nothing went out, and the thread says why, with Telegram's code
    assert sent(telegram_api) == []
    said = json.dumps([post.message.blocks for post in slack.thread(thread)], ensure_ascii=False)
    assert "the customer blocked the shop's Telegram bot" in said
    assert "403" in said
    stored = stored_item(f"SHOP#ana#MSG#slack:{CHANNEL_ID}:{AGENT_TS}", "MESSAGE")
    assert stored is not None
    assert (stored["status"], stored["error_code"]) == ("failed", "403")


def test_a_customers_file_is_fetched_through_get_file_and_shared_in_the_thread(
    deliver: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    telegram_api: TelegramStandIn,
) -> None:
    # Given a document the customer sent the bot
    file_id = telegram_api.add_file(BOT_TOKEN, b"%PDF-1.4 nota fiscal", "nota.pdf")
    body = json.loads(update(9, text=""))
    del body["message"]["text"]
    body["message"]["document"] = {"file_id": file_id, "mime_type": "application/pdf"}

    # When it arrives and the workers run
    assert deliver(json.dumps(body).encode()).status_code == 200
    run_workers()

    # Then the file, downloaded from the Bot API, is shared in the conversation's thread
    [(_, _, files)] = slack.uploads
    assert [(f.filename, f.content) for f in files] == [("nota.pdf", b"%PDF-1.4 nota fiscal")]


def test_the_cli_connects_the_bot_and_says_what_was_set(
    client: Client,
    put_shop: Callable[..., Any],
    telegram_api: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a shop with its bot, and the CLI talking to this deployment
    assert put_shop("ana", shop_document(telegram={"bot_token": BOT_TOKEN})).status_code == 201

    def call(method: str, api: str, token: str, path: str, body: Any = None) -> Any:
        answer = client.http.post(path, headers=ADMIN)
        assert (method, answer.status_code) == ("POST", 200)
        return json.loads(answer.body)

    monkeypatch.setattr(cli_module, "_call", call)

    # When the operator connects it
    result = CliRunner().invoke(cli_module.app, ["shop", "connect-telegram", "ana"])

    # Then the webhook is set, and the answer says where, for what, and never the secret
    assert result.exit_code == 0, result.output
    assert "@loja_da_ana_bot" in result.output
    assert PUBLIC_URL + PATH in result.output
    assert "message, edited_message" in result.output
    assert str(telegram_api.webhooks[BOT_ID]["secret_token"]) not in result.output


def test_a_warm_ack_makes_exactly_one_dynamodb_write_and_one_sqs_send(
    deliver: Callable[..., Any], container: bootstrap.Container
) -> None:
    # Given every AWS call of the container's clients is recorded
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    clients = (container.store.client, container.queues._client, container.vault._client)
    for events in {id(c.meta.events): c.meta.events for c in clients}.values():
        events.register("before-call", record)
    # And a first update has warmed the caches (shop config, secrets, queue URL)
    assert deliver(update(1)).status_code == 200
    calls.clear()

    # When a second update arrives
    response = deliver(update(2))

    # Then it costs one DynamoDB write and one SQS send, nothing else
    assert response.status_code == 200, response.body
    assert calls == ["PutItem", "SendMessage"]


def test_an_update_not_queued_is_answered_503_and_the_retry_posts_it_once(
    deliver: Callable[..., Any],
    container: bootstrap.Container,
    run_workers: Callable[[], int],
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refuses the next send, once
    send = container.queues.send_inbound
    failures = [ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")]

    def failing_then_real(message: InboundMessage, body: str | None = None) -> None:
        if failures:
            raise failures.pop()
        send(message, body)

    monkeypatch.setattr(container.queues, "send_inbound", failing_then_real)

    # When Telegram delivers an update, then retries it after the 503
    first = deliver(update(5))
    retry = deliver(update(5))
    run_workers()

    # Then the retry is accepted, and the message reaches its thread once
    assert (first.status_code, retry.status_code) == (503, 200)
    [root] = slack.roots()
    assert len(slack.thread(root.ts)) == 1
