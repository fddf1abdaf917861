"""Figure 1: the ack paths in-process against moto, beside their floor, and the AWS calls
each inbound message costs on the ack path and in the worker (Twilio, Slack, Meta's webhook
with one message and with a batch, Telegram).

The app runs as the integration tests run it (chalice's test client, a Container with the
recording Slack, Twilio and Graph fakes and the Telegram stand-in over loopback HTTP, moto
in-process, the table and queues from infra/). The
floor replays the very PutItem and SendMessage the app made (with fresh keys), with bare
boto3 calls on the same backend: what no implementation of the ack path can avoid.

Because moto's own CPU per call dominates both sides there, the same acks and floors are timed
again with DynamoDB and SQS answered in process (`bench.in_process_aws`): the floor is then
boto3's client-side cost only, and the ratio shows the app's own overhead.
"""

import collections
import copy
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher
from chalice.test import Client
from moto import mock_aws

from app import app
from bench.aws_calls import WORKER_CALL_TARGETS, WORKER_CALLS_AT_ISSUE_20, CallCounter
from bench.in_process_aws import InProcessAws
from bench.stats import Paired, interleaved
from chalicelib import bootstrap
from chalicelib.channels.meta import MetaChannel
from chalicelib.settings import Settings
from local_stack.provision import provision
from local_stack.pump import QueuePump, pumps_for
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.telegram import TelegramStandIn
from tests.fakes import FakeSlack, RecordingGraph, RecordingTwilio
from tests.integration.conftest import ADMIN, ADMIN_TOKEN, MEDIA_BUCKET, PUBLIC_URL, Clock
from tests.meta_payloads import (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    encoded,
    meta_shop,
    signed,
    wa_text,
    whatsapp_change,
    whatsapp_webhook,
)
from tests.signing import (
    ACCOUNT_SID,
    SLACK_SIGNING_SECRET,
    SMS_NUMBER,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

SHOP = "ana"
MESSAGE_PATH = f"/webhooks/twilio/{SHOP}"
STATUS_PATH = f"/webhooks/twilio/{SHOP}/status"
META_PATH = "/webhooks/meta"
TELEGRAM_PATH = f"/webhooks/telegram/{SHOP}"
CUSTOMER = "+5511987654321"
TELEGRAM_BOT_ID = 7012345678
TELEGRAM_BOT_TOKEN = f"{TELEGRAM_BOT_ID}:AAE" + "k" * 32
TELEGRAM_CHAT = 4242
META_BATCH = 3
AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@dataclass(frozen=True)
class Signed:
    path: str
    headers: dict[str, str]
    body: bytes


def customer_message(number: int, customer: str = CUSTOMER) -> Signed:
    params = twilio_message(number, From=customer, Body=f"Onde está meu pedido {number}?")
    return Signed(MESSAGE_PATH, twilio_headers(PUBLIC_URL + MESSAGE_PATH, params), form(params))


def delivery_status(sid: str, status: str) -> Signed:
    params = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": SMS_NUMBER,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
    }
    return Signed(STATUS_PATH, twilio_headers(PUBLIC_URL + STATUS_PATH, params), form(params))


def meta_messages(*numbers: int) -> Signed:
    """One WhatsApp Cloud API webhook carrying a message per number, signed as Meta signs,
    written just now (Meta's timestamp is the message's `received_at`: an old one would make
    every job count an attempt, as a copy handed out minutes after its message arrived)."""
    now = str(int(time.time()))
    texts = [wa_text(n, f"Onde está meu pedido {n}?", timestamp=now) for n in numbers]
    body = encoded(whatsapp_webhook(whatsapp_change(texts)))
    return Signed(META_PATH, signed(body, META_APP_SECRET), body)


def telegram_update(update_id: int, secret_token: str) -> Signed:
    chat = {"id": TELEGRAM_CHAT, "type": "private", "first_name": "Ana"}
    message = {
        "message_id": update_id,
        "from": {"id": TELEGRAM_CHAT, "is_bot": False, "first_name": "Ana"},
        "chat": chat,
        "date": 1774774800,
        "text": f"Onde está meu pedido {update_id}?",
    }
    body = json.dumps({"update_id": update_id, "message": message}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": secret_token,
    }
    return Signed(TELEGRAM_PATH, headers, body)


def agent_reply(thread_ts: str, sent_at: float) -> Signed:
    body = slack_thread_reply(thread_ts, f"{sent_at:.6f}", "Chega amanhã!", event_id=uuid4())
    return Signed("/slack/events", slack_headers(body), body)


def uuid4() -> str:
    return uuid.uuid4().hex


class Floor:
    """Replays the app's own PutItem and SendMessage requests with fresh keys."""

    def __init__(self, requests: dict[str, dict[str, Any]]) -> None:
        self._requests = requests
        self._dynamodb = boto3.client("dynamodb")
        self._sqs = boto3.client("sqs")

    def put_item(self) -> None:
        request = copy.deepcopy(self._requests["PutItem"])
        request["Item"]["PK"] = {"S": f"FLOOR#{uuid4()}"}
        self._dynamodb.put_item(**request)

    def send_message(self) -> None:
        request = {**self._requests["SendMessage"], "MessageDeduplicationId": uuid4()}
        self._sqs.send_message(**request)

    def ack(self) -> None:
        self.put_item()
        self.send_message()


class Harness:
    """The app in-process, with its calls counted and its queues drained on demand."""

    def __init__(
        self,
        client: Client,
        counter: CallCounter,
        slack: FakeSlack,
        twilio: RecordingTwilio,
        telegram_secret: str,
        in_process: InProcessAws,
    ) -> None:
        self.client = client
        self.in_process = in_process
        self.counter = counter
        self.slack = slack
        self.twilio = twilio
        self.telegram_secret = telegram_secret
        # The pumps play Lambda's event source mapping: their own calls are not the app's.
        sqs = boto3.session.Session().client("sqs")
        self._pumps: list[QueuePump] = pumps_for(app, sqs, retry_after_seconds=0)
        self._events = LambdaEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)
        self._context = LambdaContext(function_name="api_handler", memory_size=512)

    def post(self, request: Signed) -> None:
        response = self.client.http.post(request.path, headers=request.headers, body=request.body)
        if response.status_code != 200:
            raise RuntimeError(f"{request.path} answered {response.status_code}: {response.body!r}")

    def lambda_event(self, request: Signed) -> dict[str, Any]:
        """The event API Gateway hands the function for `request`, as chalice's test client
        builds it: made before the clock starts, as the signature is."""
        event: dict[str, Any] = self._events.create_lambda_event(
            method="POST", path=request.path, headers=request.headers, body=request.body
        )
        return event

    def invoke(self, event: dict[str, Any]) -> None:
        """The function called with `event` as Lambda calls it: the app's whole work on a
        request, without the test client's stand-in for API Gateway (route matching over
        every route, the event built, the environment copied, the answer parsed again)."""
        response = app(event, self._context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"{event['path']} answered {response['statusCode']}: {response}")

    def drain(self) -> int:
        handled = 0
        while batch := self.pump_once():
            handled += batch
        return handled

    def pump_once(self) -> int:
        return sum(pump.pump_once() for pump in self._pumps)

    def calls(self, work: Callable[[], object]) -> dict[str, int]:
        with self.counter.counting() as seen:
            work()
        return dict(sorted(seen.items()))

    def requests(self, work: Callable[[], object]) -> dict[str, dict[str, Any]]:
        """The parameters of the calls `work` made, by operation, to replay."""
        with self.counter.capturing() as asked:
            work()
        return dict(asked)


@contextmanager
def running_app(shopify_api_url: str | None = None) -> Iterator[Harness]:
    """The app in-process; its commerce adapter calls `shopify_api_url` when given."""
    saved = {name: os.environ.get(name) for name in (*AWS_ENV, "AWS_ENDPOINT_URL")}
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(AWS_ENV)
    telegram_api = TelegramStandIn(Outbox())
    telegram_api.add_bot(TELEGRAM_BOT_TOKEN, "loja_da_ana_bot")
    telegram_api.start("127.0.0.1", 0)
    try:
        with mock_aws():
            counter = CallCounter()
            counter.install()
            in_process = InProcessAws()
            in_process.install(boto3.DEFAULT_SESSION)
            provision(
                boto3.client("cloudformation"),
                boto3.client("scheduler"),
                boto3.client("secretsmanager"),
            )
            settings = Settings.model_validate(
                {
                    "public_url": PUBLIC_URL,
                    "admin_token": ADMIN_TOKEN,
                    "slack_signing_secret": SLACK_SIGNING_SECRET,
                    "retry_base_seconds": 0,
                    "media_bucket": MEDIA_BUCKET,
                    "meta_app_secret": META_APP_SECRET,
                    "meta_verify_token": META_VERIFY_TOKEN,
                    "telegram_api_url": telegram_api.base_url,
                    **({"shopify_api_url": shopify_api_url} if shopify_api_url else {}),
                }
            )
            slack, twilio = FakeSlack(), RecordingTwilio()
            container = bootstrap.Container(
                settings,
                twilio=twilio,
                slack=slack.workspace,
                clock=Clock(),
                meta=MetaChannel(RecordingGraph()),
            )
            bootstrap.use(container)
            with Client(app) as client:
                document = shop_document(
                    meta=meta_shop(), telegram={"bot_token": TELEGRAM_BOT_TOKEN}
                )
                body = json.dumps(document).encode()
                created = client.http.put(f"/admin/shops/{SHOP}", headers=ADMIN, body=body)
                if created.status_code != 201:
                    raise RuntimeError(f"shop not created: {created.body!r}")
                connected = client.http.post(f"/admin/shops/{SHOP}/telegram/connect", headers=ADMIN)
                if connected.status_code != 200:
                    raise RuntimeError(f"Telegram bot not connected: {connected.body!r}")
                secret = str(telegram_api.webhooks[TELEGRAM_BOT_ID]["secret_token"])
                yield Harness(client, counter, slack, twilio, secret, in_process)
    finally:
        bootstrap.use(None)
        telegram_api.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sum(*counts: dict[str, int]) -> int:
    return sum(sum(count.values()) for count in counts)


def _paired(figure: Paired) -> dict[str, float]:
    return {
        "app_ms": figure.measured * 1000,
        "floor_ms": figure.floor * 1000,
        "ratio": figure.ratio,
        "runs": figure.runs,
    }


WARM_UP = 20


def count_calls(harness: Harness, sequence: Iterator[int]) -> dict[str, dict[str, dict[str, int]]]:
    """The AWS calls of each event kind, on the ack path and in the worker, by operation."""
    # Cold container: the shop's config and secrets are read once, then cached.
    first_ack = harness.calls(lambda: harness.post(customer_message(next(sequence))))
    opening_worker = harness.calls(harness.drain)
    [root] = harness.slack.roots()
    follow_ack = harness.calls(lambda: harness.post(customer_message(next(sequence))))
    follow_worker = harness.calls(harness.drain)

    # An agent's reply already past its grace period, then one still in it (one pass).
    # The first outbound send looks its queue's URL up once per container; the first
    # reply in a thread reads which conversation the thread is (then remembered).
    harness.post(agent_reply(root.ts, time.time() - 60))
    first_reply_worker = harness.calls(harness.drain)
    reply_ack = harness.calls(lambda: harness.post(agent_reply(root.ts, time.time() - 60)))
    reply_worker = harness.calls(harness.drain)
    harness.post(agent_reply(root.ts, time.time()))
    grace_pass = harness.calls(harness.pump_once)
    harness.drain()
    sid = harness.twilio.sent[0].sid
    sent_ack = harness.calls(lambda: harness.post(delivery_status(sid, "sent")))
    sent_worker = harness.calls(harness.drain)
    delivered_ack = harness.calls(lambda: harness.post(delivery_status(sid, "delivered")))
    delivered_worker = harness.calls(harness.drain)

    # Meta: the first webhook reads which shop claims the phone number id, once.
    meta_first_ack = harness.calls(lambda: harness.post(meta_messages(next(sequence))))
    meta_opening_worker = harness.calls(harness.drain)
    meta_follow_ack = harness.calls(lambda: harness.post(meta_messages(next(sequence))))
    meta_follow_worker = harness.calls(harness.drain)
    batch = [next(sequence) for _ in range(META_BATCH)]
    meta_batch_ack = harness.calls(lambda: harness.post(meta_messages(*batch)))
    meta_batch_worker = harness.calls(harness.drain)
    # Telegram: the shop's secret token is read with its other secrets, already cached.
    telegram_first_ack = harness.calls(
        lambda: harness.post(telegram_update(next(sequence), harness.telegram_secret))
    )
    telegram_opening_worker = harness.calls(harness.drain)
    telegram_follow_ack = harness.calls(
        lambda: harness.post(telegram_update(next(sequence), harness.telegram_secret))
    )
    telegram_follow_worker = harness.calls(harness.drain)
    return {
        "customer_message_first_in_container": {"ack": first_ack},
        "customer_message_new_conversation": {"worker": opening_worker},
        "customer_message_follow_up": {"ack": follow_ack, "worker": follow_worker},
        "agent_reply": {"ack": reply_ack, "worker": reply_worker},
        "agent_reply_grace_pass": {"worker": grace_pass},
        "status_sent": {"ack": sent_ack, "worker": sent_worker},
        "status_delivered": {"ack": delivered_ack, "worker": delivered_worker},
        "meta_message_first_in_container": {"ack": meta_first_ack},
        "meta_message_new_conversation": {"worker": meta_opening_worker},
        "meta_message_follow_up": {"ack": meta_follow_ack, "worker": meta_follow_worker},
        f"meta_batch_of_{META_BATCH}": {"ack": meta_batch_ack, "worker": meta_batch_worker},
        "telegram_update_first_in_container": {"ack": telegram_first_ack},
        "telegram_update_new_conversation": {"worker": telegram_opening_worker},
        "telegram_update_follow_up": {
            "ack": telegram_follow_ack,
            "worker": telegram_follow_worker,
        },
        "agent_reply_first_in_thread": {"worker": first_reply_worker},
    }


def calls_total(calls: dict[str, dict[str, dict[str, int]]]) -> dict[str, float]:
    """Each event kind's calls summed, as the table shows them."""

    def total(event: str, side: str) -> int:
        return _sum(calls[event][side])

    batch = f"meta_batch_of_{META_BATCH}"
    return {
        "customer_message_ack": total("customer_message_follow_up", "ack"),
        "customer_message_worker_new_conversation": total(
            "customer_message_new_conversation", "worker"
        ),
        "customer_message_worker_follow_up": total("customer_message_follow_up", "worker"),
        "agent_reply_ack": total("agent_reply", "ack"),
        "agent_reply_worker": total("agent_reply", "worker"),
        "agent_reply_worker_grace_pass": total("agent_reply_grace_pass", "worker"),
        "status_callback_ack": total("status_sent", "ack"),
        "status_callback_worker": total("status_sent", "worker"),
        "meta_message_ack": total("meta_message_follow_up", "ack"),
        "meta_batch_ack_per_message": total(batch, "ack") / META_BATCH,
        "meta_message_worker_new_conversation": total("meta_message_new_conversation", "worker"),
        "meta_message_worker_follow_up": total("meta_message_follow_up", "worker"),
        "meta_batch_worker_per_message": total(batch, "worker") / META_BATCH,
        "telegram_update_ack": total("telegram_update_follow_up", "ack"),
        "telegram_update_worker_new_conversation": total(
            "telegram_update_new_conversation", "worker"
        ),
        "telegram_update_worker_follow_up": total("telegram_update_follow_up", "worker"),
        "agent_reply_worker_first_in_thread": total("agent_reply_first_in_thread", "worker"),
    }


def measure_calls() -> dict[str, Any]:
    """The call counts alone (seconds, not minutes): what `python -m bench.ack` prints."""
    with running_app() as harness:
        calls = count_calls(harness, iter(range(1, 10**9)))
    return {"calls": calls, "calls_total": calls_total(calls)}


def split(figures: dict[str, Any]) -> str:
    """Each event kind's calls by operation, and the worker totals beside issue 20's start."""
    lines = []
    for event, sides in figures["calls"].items():
        for side, operations in sides.items():
            ops = ", ".join(f"{name} {count}" for name, count in operations.items())
            lines.append(f"{event:<38} {side:<6} {_sum(operations):>3}  {ops}")
    lines.append("")
    for name, before in WORKER_CALLS_AT_ISSUE_20.items():
        now, target = figures["calls_total"][name], WORKER_CALL_TARGETS[name]
        lines.append(f"{name:<44} issue 20 start {before:>3}   now {now:>3g}   target <= {target}")
    return "\n".join(lines)


def timed_acks(
    message_ack: Callable[[], object],
    reply_ack: Callable[[], object],
    floor: Floor,
    slack_floor: Floor,
    runs: int,
) -> dict[str, dict[str, float]]:
    """Each ack taking turns with its floor after a warm-up: a customer message's CPU and wall
    time, an agent reply's CPU."""
    for _ in range(WARM_UP):
        message_ack()
        floor.ack()
        reply_ack()
        slack_floor.send_message()
    twilio_cpu = interleaved(message_ack, floor.ack, runs)
    slack_cpu = interleaved(reply_ack, slack_floor.send_message, runs)
    twilio_wall = interleaved(message_ack, floor.ack, runs, clock=time.perf_counter)
    return {
        "twilio_message_cpu": _paired(twilio_cpu),
        "twilio_message_wall": _paired(twilio_wall),
        "slack_event_cpu": _paired(slack_cpu),
    }


def in_process_figures(
    harness: Harness,
    sequence: Iterator[int],
    thread_ts: str,
    floor: Floor,
    slack_floor: Floor,
    runs: int,
) -> dict[str, Any]:
    """The acks and their floors with DynamoDB and SQS answered in process: the floor is then
    boto3's client-side cost alone (build, serialize, sign, parse), and the app is its Lambda
    handler called with API Gateway's event. The same acks through chalice's test client are
    timed too (`through_test_client`), as this figure was first taken."""
    events = collections.deque(
        harness.lambda_event(customer_message(next(sequence))) for _ in range(2 * runs + WARM_UP)
    )
    reply_events = collections.deque(
        harness.lambda_event(agent_reply(thread_ts, time.time() - 60 + n / 1000))
        for n in range(runs + WARM_UP)
    )
    messages = collections.deque(customer_message(next(sequence)) for _ in range(runs))
    replies = collections.deque(
        agent_reply(thread_ts, time.time() - 30 + n / 1000) for n in range(runs)
    )
    with harness.in_process.answering():
        handler = timed_acks(
            lambda: harness.invoke(events.popleft()),
            lambda: harness.invoke(reply_events.popleft()),
            floor,
            slack_floor,
            runs,
        )
        twilio_client_cpu = interleaved(lambda: harness.post(messages.popleft()), floor.ack, runs)
        slack_client_cpu = interleaved(
            lambda: harness.post(replies.popleft()), slack_floor.send_message, runs
        )
    return {
        **handler,
        "through_test_client": {
            "twilio_message_cpu": _paired(twilio_client_cpu),
            "slack_event_cpu": _paired(slack_client_cpu),
        },
        "calls_answered": harness.in_process.answered,
    }


def floors(harness: Harness, sequence: Iterator[int], thread_ts: str) -> tuple[Floor, Floor]:
    """What the app asked AWS for on a warm customer message and on an agent reply, to replay."""
    floor = Floor(harness.requests(lambda: harness.post(customer_message(next(sequence)))))
    slack_floor = Floor(
        harness.requests(lambda: harness.post(agent_reply(thread_ts, time.time() - 60)))
    )
    harness.drain()
    return floor, slack_floor


def measure_in_process(runs: int = 400) -> dict[str, Any]:
    """The in-process half alone (about a minute): what `python -m bench.ack --in-process`
    prints; `make bench` measures it with the rest."""
    sequence = iter(range(1, 10**9))
    with running_app() as harness:
        # A conversation with its thread, and a container that has met the shop.
        harness.post(customer_message(next(sequence)))
        harness.drain()
        [root] = harness.slack.roots()
        floor, slack_floor = floors(harness, sequence, root.ts)
        return in_process_figures(harness, sequence, root.ts, floor, slack_floor, runs)


def measure(runs: int = 400) -> dict[str, Any]:
    sequence = iter(range(1, 10**9))
    with running_app() as harness:
        calls = count_calls(harness, sequence)
        root = harness.slack.roots()[0]
        floor, slack_floor = floors(harness, sequence, root.ts)

        messages = collections.deque(
            customer_message(next(sequence)) for _ in range(2 * runs + WARM_UP)
        )
        replies = collections.deque(
            agent_reply(root.ts, time.time() - 60 + n / 1000) for n in range(runs + WARM_UP)
        )
        against_moto = timed_acks(
            lambda: harness.post(messages.popleft()),
            lambda: harness.post(replies.popleft()),
            floor,
            slack_floor,
            runs,
        )
        in_process = in_process_figures(harness, sequence, root.ts, floor, slack_floor, runs)

    return {
        **against_moto,
        "in_process": in_process,
        "calls": calls,
        "calls_total": calls_total(calls),
    }


def in_process_line(figures: dict[str, Any]) -> str:
    """One round of the in-process half, each ack beside its floor."""
    parts = []
    for figure, label in (
        (figures["twilio_message_cpu"], "Twilio CPU"),
        (figures["slack_event_cpu"], "Slack CPU"),
        (figures["twilio_message_wall"], "Twilio wall"),
        (figures["through_test_client"]["twilio_message_cpu"], "test client: Twilio CPU"),
        (figures["through_test_client"]["slack_event_cpu"], "Slack CPU"),
    ):
        parts.append(
            f"{label} {figure['app_ms']:.3f}/{figure['floor_ms']:.3f} ms {figure['ratio']:.2f}x"
        )
    return " | ".join(parts)


def main(argv: list[str]) -> None:
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="python -m bench.ack", description=__doc__)
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--in-process",
        action="store_true",
        help="time the acks against boto3's floor (AWS answered in process), nothing else",
    )
    what.add_argument(
        "--profile",
        action="store_true",
        help="where the app's own part of each in-process ack goes (cProfile, by area)",
    )
    parser.add_argument("--runs", type=int, default=400, help="timings of each side a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --in-process")
    options = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.disable(logging.INFO)
    if options.in_process:
        for round_number in range(1, options.rounds + 1):
            print(f"round {round_number}: {in_process_line(measure_in_process(options.runs))}")
    elif options.profile:
        from bench.ack_profile import profile_acks

        print(profile_acks(options.runs))
    else:
        print(split(measure_calls()))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
