"""Runs reliability scenarios against the local stack, started in this process.

Customers write through signed Twilio webhooks, 30% of them delivered two or three times
(some concurrently); agents answer through signed Slack events, 30% of them retried with the
same event id and `X-Slack-Retry-Num`. The harness plays the providers: Twilio retries a
webhook once after a 5xx or a timeout (its default retry count), Slack up to three times.
Every customer text and agent reply carries a unique token (conversation, sequence), so the
stand-ins' outbox tells what reached Slack and the customers, how often, and in what order.

The `mail` scenario writes through the local mail server (SES's receiving side) mail as
mailers really send it: unencoded 8-bit sender names, encoded line breaks in names and
subjects, 60 attachments, 16,000 blank lines; the `erasure` scenario erases half the
customers of a shop while their messages wait for it to connect Slack, then connects it.

The `meta` scenario has the customers write on the WhatsApp Cloud API instead: signed
webhooks to POST /webhooks/meta, each carrying up to three of a customer's messages; Meta
delivers 30% of them again with the same wamids (some concurrently) and retries a 5xx until
it is answered 2xx; agents' replies go out through the Graph API stand-in, whose sends are
counted as Twilio's are.

The `tenants` scenario runs two shops in one Slack workspace whose customers share phone
numbers and Twilio message ids, and whose order updates (sent through the admin API) share
their ids; anything of one shop that reaches the other's channel or is sent from the other's
number counts as crossed. Twilio's retries come again after SQS's deduplication window too,
so only Threadline's own deduplication stands between them and a second post.
"""

import json
import logging
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from chalicelib.queues import Queues
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE
from local_stack.constants import LOCAL_ADMIN_TOKEN, LOCAL_META_APP_SECRET, LOCAL_SIGNING_SECRET
from local_stack.ports import free_port
from local_stack.pump import scheduled_event
from local_stack.sandbox.faults import Fault
from local_stack.sandbox.meta import MetaStandIn
from local_stack.sandbox.outbox import Outbox, OutboxEntry
from local_stack.sandbox.slack import SlackStandIn
from local_stack.sandbox.twilio import TwilioStandIn
from local_stack.stack import LocalStack, StackOptions
from reliability.faults import Chaos
from reliability.logs import LogWatch
from tests.meta_payloads import encoded, signed
from tests.signing import form, slack_headers, slack_thread_reply, twilio_headers, twilio_message

DUPLICATE_SHARE = 0.3
SLACK_RETRY_SHARE = 0.3
REPLIES_EVERY = 5
SENDERS = 8
# Customers wait while the inbound queue holds more: the emulator's queue calls slow down
# with its backlog (each receive copies messages and scans the queue), and a flood of
# thousands would measure moto rather than Threadline.
BACKLOG_LIMIT = 50
TWILIO_TIMEOUT_SECONDS = 15
# Short enough that a killed worker's batch comes back within the run; longer than any
# batch takes (a Twilio timeout is 10 s).
VISIBILITY_TIMEOUT_SECONDS = 20
TOKEN = re.compile(r"\[[mrs]\d+-\d+-\d+\]")
# The second shop of the tenants scenario: its tokens' index is the first's plus this.
SECOND_TENANT = 50
# Share of the accepted webhooks Twilio delivers once more after SQS forgot their ids.
LATE_RETRY_SHARE = 0.2
# A customer's messages per Meta webhook, at most; and how often Meta sends one answered 5xx
# (it keeps retrying for days; each message's queueing fails once at most, so a batch of
# three gets through by its fourth delivery).
META_BATCH = 3
META_ATTEMPTS = 4


@dataclass(frozen=True)
class StandInFault:
    service: str  # slack or twilio
    method: str
    fault: Fault
    rate: float


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    dynamodb_rate: float = 0.0
    sqs_send_rate: float = 0.0
    kill_rate: float = 0.0
    stand_in_faults: tuple[StandInFault, ...] = ()
    # A dependency down while customers write, until what they wrote is dead-lettered; then
    # back, the dead letters told in Slack and redriven. Fewer messages per conversation:
    # each spends ~2 minutes of retries before its group's next one is tried.
    outage: tuple[StandInFault, ...] = ()
    outage_messages_per_conversation: int = 2
    # Two shops in one workspace sharing customers, message ids and order-update ids.
    tenants: bool = False
    # Customers write mail (hostile as mailers make it) rather than through Twilio.
    mail: bool = False
    # Half the customers are erased while their messages wait for Slack to be connected.
    erasure: bool = False
    # Customers write on the WhatsApp Cloud API (Meta's webhook) rather than through Twilio.
    meta: bool = False


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("duplicates", "retries and duplicates only"),
        Scenario(
            "dynamodb",
            "DynamoDB throttling and 5xx on 2% of the workers' calls",
            dynamodb_rate=0.02,
        ),
        Scenario(
            "sqs-send",
            "SQS SendMessage fails after the write for 10% of acks",
            sqs_send_rate=0.10,
        ),
        Scenario(
            "slack",
            "Slack chat.postMessage: 429 with Retry-After 1 s or 4 s, 5xx",
            stand_in_faults=(
                StandInFault(
                    "slack", "chat.postMessage", Fault(429, (("Retry-After", "1"),)), 0.03
                ),
                StandInFault(
                    "slack", "chat.postMessage", Fault(429, (("Retry-After", "4"),)), 0.02
                ),
                StandInFault("slack", "chat.postMessage", Fault(503), 0.03),
            ),
        ),
        Scenario(
            "twilio",
            "Twilio messages.create: 5xx, and timeouts after the send",
            stand_in_faults=(
                StandInFault("twilio", "messages.create", Fault(500), 0.15),
                StandInFault("twilio", "messages.create", Fault(delay_seconds=11), 0.03),
            ),
        ),
        Scenario(
            "slack-outage",
            "Slack down (chat.postMessage 503 to every call) until every message written "
            "meanwhile is dead-lettered; then up again, the dead letters told in Slack and "
            "redriven",
            outage=(StandInFault("slack", "chat.postMessage", Fault(503), 1.0),),
        ),
        Scenario(
            "tenants",
            "two shops in one Slack workspace: the same customers' numbers, the same Twilio "
            "message ids, the same order-update ids (order-<n>) sent to both shops' "
            "customers; 20% of webhooks delivered again after SQS's deduplication window",
            tenants=True,
        ),
        Scenario(
            "mail",
            "customers write mail through the local SES: unencoded 8-bit sender names, "
            "encoded CR/LF in names and subjects, 60 attachments, 16,000 blank lines; 30% "
            "delivered twice",
            mail=True,
        ),
        Scenario(
            "erasure",
            "a shop without Slack receives its customers' messages (they wait, retry, are "
            "dead-lettered); half the customers are erased; then Slack is connected, the dead "
            "letters redriven and the requeue run: nothing of an erased customer is posted",
            erasure=True,
        ),
        Scenario(
            "worker-killed",
            "a worker dies inside 1% of its DynamoDB calls, before the call or after it took "
            "effect (its batch comes back after the visibility timeout)",
            kill_rate=0.01,
        ),
        Scenario(
            "meta",
            "customers write on the WhatsApp Cloud API: signed POST /webhooks/meta batches of "
            "up to 3 messages, 30% delivered again with the same wamids (Meta's retries, some "
            "concurrent), SQS SendMessage failing after the write for 10% of messages; replies "
            "out through the Graph API stand-in",
            sqs_send_rate=0.10,
            meta=True,
        ),
    )
}


@dataclass
class Result:
    scenario: str
    messages: int
    conversations: int
    replies: int = 0
    duplicates_injected: int = 0
    faults_injected: int = 0
    lost: int = 0
    doubled: int = 0
    out_of_order: int = 0
    late_after_redrive: int = 0
    http_5xx: int = 0
    dead_lettered: int = 0
    alerted: int = 0
    log_lines: int = 0
    log_leaks: int = 0
    crossed: int = 0
    # Messages of erased customers posted after their erasure, or left off its receipts.
    erasure_misses: int = 0
    # How much a hostile mail's parse grows for four times the size (a linear one: 4).
    parse_growth: float = 0.0
    seconds: float = 0.0
    fault_detail: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ShopUnderTest:
    """A shop the harness opened: its tokens carry `index`."""

    index: int
    shop_id: str
    account: str
    token: str
    team: str
    channel: str
    number: str
    # The WhatsApp Cloud API phone number id the shop claims, when it has one.
    meta_number: str = ""


class Seen(NamedTuple):
    place: int
    entry: OutboxEntry


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, method: str = "POST"
) -> int:
    """The HTTP status of a request to the local stack; 599 when no answer came in time."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the harness only calls the local stack")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 599


def customer_token(scenario: int, conversation: int, sequence: int) -> str:
    return f"[m{scenario}-{conversation}-{sequence}]"


def reply_token(scenario: int, conversation: int, sequence: int) -> str:
    return f"[r{scenario}-{conversation}-{sequence}]"


def shop_message_token(scenario: int, conversation: int) -> str:
    return f"[s{scenario}-{conversation}-0]"


def customer_number(index: int, conversation: int) -> str:
    return f"+1555{index:02d}{conversation:05d}"


def customer_wa_id(index: int, conversation: int) -> str:
    """The customer's WhatsApp id: their number's digits."""
    return customer_number(index, conversation).removeprefix("+")


def meta_number_id(index: int) -> str:
    return f"1090000000{index:05d}"


def meta_token(index: int) -> str:
    return f"EAAG-reliability-{index}"


def whatsapp_batch(
    shop: ShopUnderTest, conversation: int, sequences: range, texts: list[str]
) -> bytes:
    """A WhatsApp Cloud API webhook carrying a customer's messages, as Meta encodes it."""
    wa_id = customer_wa_id(shop.index, conversation)
    messages = [
        {
            "from": wa_id,
            "id": f"wamid.HBgL{shop.index}X{conversation}X{sequence}AA==",
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        for sequence, text in zip(sequences, texts, strict=True)
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": shop.meta_number},
        "contacts": [{"profile": {"name": f"Cliente {conversation}"}, "wa_id": wa_id}],
        "messages": messages,
    }
    document = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": f"20{shop.index:05d}", "changes": [{"field": "messages", "value": value}]}
        ],
    }
    return encoded(document)


def customer_mail_address(index: int, conversation: int) -> str:
    return f"c{conversation}-{index}@customers.example"


def shop_mail_address(index: int) -> str:
    return f"support@reliability-{index}.example"


# What the mail scenario sends, in turn: as mailers really write it.
MAIL_KINDS = ("plain", "8-bit name", "encoded line breaks", "60 attachments", "blank lines")


def hostile_mail(index: int, conversation: int, sequence: int, token: str) -> bytes:
    """A customer's mail carrying `token` on its first line, of the kind its sequence picks."""
    from email.message import EmailMessage
    from email.policy import SMTP as SMTP_POLICY

    sender = customer_mail_address(index, conversation)
    kind = MAIL_KINDS[sequence % len(MAIL_KINDS)]
    mail = EmailMessage()
    mail["From"] = f"Cliente <{sender}>"
    mail["To"] = shop_mail_address(index)
    mail["Subject"] = f"Pedido {conversation}"
    mail["Message-ID"] = f"<{index}.{conversation}.{sequence}@customers.example>"
    body = f"Where is my order? {token}\n"
    if kind == "blank lines":
        body += "\n" * 16_000 + "On Monday someone wrote:\n> earlier\n"
    mail.set_content(body)
    if kind == "60 attachments":
        for n in range(60):
            mail.add_attachment(
                b"%PDF-1.7", maintype="application", subtype="pdf", filename=f"nota-{n}.pdf"
            )
    # SMTP's line ends: smtplib sends bytes as they are.
    raw = mail.as_bytes(policy=SMTP_POLICY)
    plain_from = f"From: Cliente <{sender}>".encode()
    if kind == "8-bit name":
        raw = raw.replace(plain_from, f"From: José Souza <{sender}>".encode(), 1)
    if kind == "encoded line breaks":
        raw = raw.replace(plain_from, f"From: =?utf-8?q?Ana=0D=0ABcc:_x?= <{sender}>".encode(), 1)
        raw = raw.replace(
            f"Subject: Pedido {conversation}".encode(),
            b"Subject: =?utf-8?q?Pedido=0D=0AX-Injected:_1?=",
            1,
        )
    return raw


def pathological_parse_growth() -> float:
    """How much longer each hostile body takes to read at four times its size, the worst
    of them (best of three runs each, in CPU time): a linear parser's baseline is 4, a
    bounded one's less, and one worse than linear shows as 16 or more."""
    from email.message import EmailMessage

    from chalicelib.channels.email_parsing import parse_email

    def mail(body: str, subtype: str = "plain") -> bytes:
        message = EmailMessage()
        message["From"] = "Ana <ana@customers.example>"
        message["To"] = "support@shop.example"
        message["Subject"] = "Pedido"
        message.set_content(body, subtype=subtype)
        return message.as_bytes()

    def cost(raw: bytes) -> float:
        # This thread's CPU time: the stack's own threads in this process, and whatever
        # else runs on the machine, are not counted.
        times = []
        for _ in range(3):
            begun = time.thread_time()
            parse_email(raw)
            times.append(time.thread_time() - begun)
        return min(times)

    hostile: tuple[Callable[[int], bytes], ...] = (
        lambda size: mail("\n" * size),
        lambda size: mail(" \t" * (size // 2) + "x"),
        lambda size: mail("@" * size),
        lambda size: mail("<a" * (size // 2), "html"),
        lambda size: mail("On " * (size // 3)),
        lambda size: mail("> " * (size // 2)),
    )
    size = 8_000
    return round(max(cost(body(4 * size)) / cost(body(size)) for body in hostile), 1)


def call(url: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    """An admin call to the local stack: its status and JSON answer."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the harness only calls the local stack")
    request = urllib.request.Request(  # noqa: S310
        url, method=method, headers={"Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return int(error.code), {}


class Harness:
    def __init__(self, seed: int = 7) -> None:
        self.outbox = Outbox()
        self.slack = SlackStandIn(self.outbox)
        self.twilio = TwilioStandIn(self.outbox, callback_delay=0.05)
        # Statuses come back signed to the API's Meta webhook, once its port is known.
        self.meta = MetaStandIn(self.outbox, LOCAL_META_APP_SECRET)
        self.chaos = Chaos(seed)
        self._random = random.Random(seed)  # noqa: S311 (load shape, not secrets)
        self._lock = threading.Lock()
        self._stack: LocalStack | None = None
        self._sqs: Any = None
        # Tokens of the messages and replies the scenario's redrives moved back.
        self._redriven: set[str] = set()
        # What Twilio got a 2xx for, to be delivered again late: (url, body, headers).
        self._acknowledged: list[tuple[str, bytes, dict[str, str]]] = []
        # The tokens each conversation's customer wrote that were acknowledged.
        self._written_by_customer: dict[int, set[str]] = defaultdict(set)
        self.logs = LogWatch()

    @contextmanager
    def running(self) -> Iterator["Harness"]:
        # The workers' and pumps' own accounts of injected failures would drown the table.
        logging.getLogger("local_stack.pump").setLevel(logging.CRITICAL)
        slack_url, twilio_url = self.slack.start(), self.twilio.start()
        api_port = free_port()
        self.meta.webhook_url = f"http://127.0.0.1:{api_port}/webhooks/meta"
        meta_url = self.meta.start()
        from app import app

        self.chaos.install(app.handler_map, ("process_inbound", "process_outbound"))
        options = StackOptions(
            port=api_port,
            aws_port=free_port(),
            ses_port=free_port(),
            smtp_port=free_port(),
            telegram_port=free_port(),
            slack_api_url=slack_url,
            twilio_api_url=twilio_url,
            meta_graph_url=meta_url,
            environ={
                # Logged as deployed, into a file of the run's: searched, not shown.
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "THREADLINE_RETRY_BASE_SECONDS": "1",
            },
        )
        quiet = open(os.devnull, "w")  # noqa: SIM115
        self._stack = LocalStack(options, out=quiet)
        # The API's and the emulator's access logs: one line per request, thousands of them.
        stderr, sys.stderr = sys.stderr, quiet
        try:
            self._stack.start()
            self.logs.install()
            import boto3

            self._sqs = boto3.client("sqs")
            for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE):
                self._sqs.set_queue_attributes(
                    QueueUrl=self._queue_url(queue),
                    Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)},
                )
            yield self
        finally:
            self._stack.stop()
            self.slack.stop()
            self.twilio.stop()
            self.meta.stop()
            sys.stderr = stderr
            quiet.close()
            self.logs.close()

    @property
    def api(self) -> str:
        assert self._stack is not None
        return self._stack.api_url

    def _queue_url(self, name: str) -> str:
        return str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])

    # -- one scenario -------------------------------------------------------------------

    def run(self, index: int, scenario: Scenario, messages: int, conversations: int) -> Result:
        started = time.monotonic()
        result = Result(scenario.name, messages, conversations)
        self.logs.mark()
        self._redriven = set()
        self._acknowledged = []
        self._written_by_customer = defaultdict(set)
        if scenario.mail:
            return self._run_mail(index, messages, conversations, result, started)
        shop = self._open_shop(index, slack=not scenario.erasure, meta=scenario.meta)
        shops = [shop]
        if scenario.tenants:
            shops.append(self._open_shop(index + SECOND_TENANT, team=shop.team))
        indexes = [each.index for each in shops]
        self._arm(scenario)
        per_conversation = max(1, messages // conversations)
        if scenario.outage:
            per_conversation = scenario.outage_messages_per_conversation
        per_shop = max(1, conversations // len(shops))
        result.messages = per_conversation * per_shop * len(shops)
        expected: set[str] = set()
        for each in shops:
            # The second tenant's customers are the first's, their message ids the same.
            write = self._customers_write_on_whatsapp if scenario.meta else self._customers_write
            accepted = write(each, per_shop, per_conversation, result, sender_index=index)
            expected |= {customer_token(each.index, c, k) for c, k in accepted}
        _progress(f"{scenario.name}: {len(expected)} messages accepted")
        if scenario.erasure:
            expected -= self._erase_half(shop, per_shop, result)
            self._open_shop(index)
            self._settle(lambda: self._posted(*indexes).keys() >= expected, limit_seconds=300)
            result.dead_lettered += self._redrive()
            self._requeue_overdue()
        if scenario.outage:
            self._ride_out_outage(scenario, shop.channel, len(expected), result)
        self._settle(lambda: self._posted(*indexes).keys() >= expected)
        _progress(f"{scenario.name}: {len(self._posted(*indexes))} posted")
        if scenario.tenants:
            self._twilio_retries_late(result)
        replies: set[str] = set()
        for each in shops:
            replies |= self._agents_answer(each, per_shop, per_conversation, result)
            if scenario.tenants:
                replies |= self._shop_messages(each, per_shop, index, result)
                # The other shop's updates with the same ids come later than SQS remembers.
                self._settle(partial(self._all_sent, indexes, set(replies)))
                _sqs_forgets_deduplication_ids()
        self._settle(lambda: self._sent(*indexes).keys() >= replies)
        _progress(f"{scenario.name}: {len(replies)} replies, {len(self._sent(*indexes))} sent")
        self.chaos.disarm()
        stand_in_faults = {
            **{f"slack {m}": n for m, n in self.slack.faults.injected.items()},
            **{f"twilio {m}": n for m, n in self.twilio.faults.injected.items()},
        }
        self.slack.faults.clear()
        self.twilio.faults.clear()
        self._settle(lambda: False, quiet_seconds=3)
        self._tell_dead_letters()
        result.alerted = self._dead_letter_notes(shop.channel)
        redriven = self._redrive()
        result.dead_lettered += redriven
        if redriven:
            self._settle(
                lambda: (
                    self._posted(*indexes).keys() >= expected
                    and self._sent(*indexes).keys() >= replies
                )
            )
        self._count(indexes, expected, replies, result)
        result.crossed = self._crossed(shops)
        if scenario.erasure:
            erased = self._posted(*indexes).keys() - expected
            result.erasure_misses += len(erased)
        result.log_lines, result.log_leaks = self.logs.search(
            (
                "xoxb-reliability",
                LOCAL_SIGNING_SECRET,
                LOCAL_ADMIN_TOKEN,
                "Where is my order",
                "On its way",
                "Your order ships",
                f"+1555{index:02d}",
                # A WhatsApp id is the number's digits, without the plus.
                f"1555{index:02d}00",
                meta_token(index),
                *(
                    secret
                    for each in shops
                    for secret in (
                        each.token,
                        each.number,
                        f"[m{each.index}-",
                        f"[r{each.index}-",
                        f"[s{each.index}-",
                    )
                ),
            )
        )
        result.fault_detail = {
            **result.fault_detail,
            **dict(self.chaos.injected),
            **{k: n for k, n in stand_in_faults.items() if n},
        }
        result.faults_injected = sum(result.fault_detail.values())
        self.chaos.reset()
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _ride_out_outage(
        self, scenario: Scenario, channel: str, written: int, result: Result
    ) -> None:
        """Waits until every message written during the outage is dead-lettered and nothing
        else is queued (the 3-minute requeue's copies, dropped by SQS's deduplication within
        5 minutes, or a message still retrying would be posted ahead of the redrive), ends the
        outage, has the dead letters told (as the 5-minute schedule would) and redrives
        them."""
        dead_letters = self._queue_url(INBOUND_QUEUE.replace(".fifo", "-dlq.fifo"))
        self._settle(
            lambda: self._waiting(dead_letters) >= written and self._queues_idle(),
            limit_seconds=1200,
        )
        for injected in scenario.outage:
            stand_in = self.slack if injected.service == "slack" else self.twilio
            result.fault_detail[f"{injected.service} {injected.method} (outage)"] = (
                stand_in.faults.injected.get(injected.method, 0)
            )
            stand_in.faults.clear()
        self._tell_dead_letters()
        result.alerted = self._dead_letter_notes(channel)
        result.dead_lettered += self._redrive()
        _progress(f"{scenario.name}: {result.dead_lettered} dead-lettered, {result.alerted} told")

    def _waiting(self, queue_url: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def _dead_letter_notes(self, channel: str) -> int:
        """Dead-letter notes posted in the shop's channel or its threads."""
        return sum(
            1
            for entry in self.outbox.entries("slack", "chat.postMessage")
            if entry.payload.get("channel") == channel
            and ":rotating_light:" in str(entry.payload.get("text", ""))
        )

    def _open_shop(
        self,
        index: int,
        team: str | None = None,
        *,
        slack: bool = True,
        mail: bool = False,
        meta: bool = False,
    ) -> ShopUnderTest:
        shop_id = f"reliability-{index}"
        account = f"AC{index:032x}"
        token = f"reliability-token-{index}"
        team, channel = team or f"TREL{index}", f"CREL{index}"
        number = f"+1415555{index:04d}"
        self.twilio.provision(account, token, sms_numbers=(number,))
        document: dict[str, Any] = {
            "name": f"Reliability {index}",
            "twilio": {"account_sid": account, "auth_token": token, "sms_numbers": [number]},
            # Replies go out at once: the grace period would only lengthen the run.
            "replies": {"grace_seconds": 0},
        }
        if slack:
            document["slack"] = {
                "team_id": team,
                "channel_id": channel,
                "bot_token": "xoxb-reliability",
            }
        if mail:
            document["email"] = {"address": shop_mail_address(index)}
        meta_number = meta_number_id(index) if meta else ""
        if meta:
            self.meta.provision(meta_token(index), whatsapp_numbers=(meta_number,))
            document["meta"] = {
                "access_token": meta_token(index),
                "whatsapp": {"phone_number_id": meta_number},
            }
        status = post(
            f"{self.api}/admin/shops/{shop_id}",
            json.dumps(document).encode(),
            {"Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}", "Content-Type": "application/json"},
            timeout=30,
            method="PUT",
        )
        if status not in (200, 201):
            raise RuntimeError(f"shop {shop_id} not created: HTTP {status}")
        return ShopUnderTest(index, shop_id, account, token, team, channel, number, meta_number)

    def _arm(self, scenario: Scenario) -> None:
        self.chaos.dynamodb_rate = scenario.dynamodb_rate
        self.chaos.sqs_send_rate = scenario.sqs_send_rate
        self.chaos.kill_rate = scenario.kill_rate
        for injected in (*scenario.stand_in_faults, *scenario.outage):
            stand_in = self.slack if injected.service == "slack" else self.twilio
            stand_in.faults.add(injected.method, injected.fault, rate=injected.rate)

    # -- load ---------------------------------------------------------------------------

    def _deliver(
        self,
        url: str,
        body: bytes,
        headers: Callable[[], dict[str, str]],
        attempts: int,
        result: Result,
        *,
        from_slack: bool = False,
    ) -> bool:
        """One provider delivery with its retries (Slack's marked as such); True once
        answered 2xx."""
        for attempt in range(attempts):
            extra = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
            status = post(
                url,
                body,
                {**headers(), **(extra if attempt and from_slack else {})},
                TWILIO_TIMEOUT_SECONDS,
            )
            if 200 <= status < 300:
                return True
            if status >= 500:
                with self._lock:
                    result.http_5xx += 1
        return False

    def _customers_write(
        self,
        shop: ShopUnderTest,
        conversations: int,
        per_conversation: int,
        result: Result,
        *,
        sender_index: int,
    ) -> list[tuple[int, int]]:
        """Customers (numbers and Twilio message ids made from `sender_index`) write to the
        shop, each text carrying the shop's token."""
        index = shop.index
        url = f"{self.api}/webhooks/twilio/{shop.shop_id}"
        accepted: list[tuple[int, int]] = []
        copies = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="reliability-copy")
        inbound = self._queue_url(INBOUND_QUEUE)

        def send(conversation: int, sequence: int) -> None:
            while self._waiting(inbound) > BACKLOG_LIMIT:
                time.sleep(0.2)
            params = twilio_message(
                (sender_index << 40) + (conversation << 20) + sequence,
                AccountSid=shop.account,
                From=customer_number(sender_index, conversation),
                To=shop.number,
                Body=f"Where is my order? {customer_token(index, conversation, sequence)}",
            )
            body = form(params)
            headers = twilio_headers(url, params, shop.token)
            with self._lock:
                extra = (
                    self._random.choice((1, 2)) if self._random.random() < DUPLICATE_SHARE else 0
                )
                result.duplicates_injected += extra
            # A copy of the same MessageSid at the same moment, the others after.
            twin = (
                copies.submit(self._deliver, url, body, lambda: headers, 2, result)
                if extra
                else None
            )
            ok = self._deliver(url, body, lambda: headers, 2, result)
            if twin is not None:
                ok = twin.result() or ok
            for _ in range(extra - 1):
                ok = self._deliver(url, body, lambda: headers, 2, result) or ok
            if ok:
                with self._lock:
                    accepted.append((conversation, sequence))
                    self._acknowledged.append((url, body, headers))
                    written = customer_token(index, conversation, sequence)
                    self._written_by_customer[conversation].add(written)

        def customer_group(sender: int) -> None:
            mine = range(sender, conversations, SENDERS)
            for sequence in range(per_conversation):
                for conversation in mine:
                    send(conversation, sequence)

        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="reliability") as pool:
            list(pool.map(customer_group, range(SENDERS)))
        copies.shutdown()
        return accepted

    def _customers_write_on_whatsapp(
        self,
        shop: ShopUnderTest,
        conversations: int,
        per_conversation: int,
        result: Result,
        *,
        sender_index: int,
    ) -> list[tuple[int, int]]:
        """Customers write to the shop's WhatsApp Cloud API number, up to META_BATCH of a
        customer's messages per signed webhook; some webhooks delivered again (Meta's
        retries), the same wamids each time."""
        index = shop.index
        url = f"{self.api}/webhooks/meta"
        accepted: list[tuple[int, int]] = []
        copies = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="reliability-copy")
        inbound = self._queue_url(INBOUND_QUEUE)

        def send(conversation: int, sequences: range) -> None:
            while self._waiting(inbound) > BACKLOG_LIMIT:
                time.sleep(0.2)
            tokens = [customer_token(index, conversation, sequence) for sequence in sequences]
            body = whatsapp_batch(
                shop, conversation, sequences, [f"Where is my order? {t}" for t in tokens]
            )
            headers = signed(body, LOCAL_META_APP_SECRET)
            with self._lock:
                extra = (
                    self._random.choice((1, 2)) if self._random.random() < DUPLICATE_SHARE else 0
                )
                result.duplicates_injected += extra * len(tokens)
            twin = (
                copies.submit(self._deliver, url, body, lambda: headers, META_ATTEMPTS, result)
                if extra
                else None
            )
            ok = self._deliver(url, body, lambda: headers, META_ATTEMPTS, result)
            if twin is not None:
                ok = twin.result() or ok
            for _ in range(extra - 1):
                ok = self._deliver(url, body, lambda: headers, META_ATTEMPTS, result) or ok
            if ok:
                with self._lock:
                    accepted.extend((conversation, sequence) for sequence in sequences)
                    self._acknowledged.append((url, body, headers))
                    self._written_by_customer[conversation].update(tokens)

        def customer_group(sender: int) -> None:
            mine = range(sender, conversations, SENDERS)
            for start in range(0, per_conversation, META_BATCH):
                for conversation in mine:
                    send(conversation, range(start, min(start + META_BATCH, per_conversation)))

        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="reliability") as pool:
            list(pool.map(customer_group, range(SENDERS)))
        copies.shutdown()
        return accepted

    def _agents_answer(
        self, shop: ShopUnderTest, conversations: int, per_conversation: int, result: Result
    ) -> set[str]:
        index, team, channel = shop.index, shop.team, shop.channel
        threads = {conversation: ts for (conversation, _), ts in self._threads(index).items()}
        url = f"{self.api}/slack/events"
        wanted: set[str] = set()
        replies_each = max(1, per_conversation // REPLIES_EVERY)

        def answer(conversation: int) -> None:
            thread_ts = threads.get(conversation)
            if thread_ts is None:
                return
            for sequence in range(replies_each):
                with self._lock:
                    ts = f"{time.time():.6f}"
                    time.sleep(0.000002)
                token = reply_token(index, conversation, sequence)
                payload = json.loads(
                    slack_thread_reply(
                        thread_ts,
                        ts,
                        f"On its way {token}",
                        event_id=f"Ev{index}x{conversation}x{sequence}",
                        channel=channel,
                    )
                )
                payload["team_id"] = team
                body = json.dumps(payload).encode()
                with self._lock:
                    retried = self._random.random() < SLACK_RETRY_SHARE
                    extra = self._random.choice((1, 2)) if retried else 0
                    result.duplicates_injected += extra
                    result.replies += 1

                def headers(body: bytes = body) -> dict[str, str]:
                    return slack_headers(body, LOCAL_SIGNING_SECRET)

                ok = self._deliver(url, body, headers, 4, result, from_slack=True)
                for retry in range(1, extra + 1):
                    # Slack's own retry of a delivery it thinks failed: same event id.
                    status = post(
                        url,
                        body,
                        {
                            **headers(),
                            "X-Slack-Retry-Num": str(retry),
                            "X-Slack-Retry-Reason": "http_timeout",
                        },
                        TWILIO_TIMEOUT_SECONDS,
                    )
                    ok = ok or 200 <= status < 300
                    if status >= 500:
                        with self._lock:
                            result.http_5xx += 1
                if ok:
                    with self._lock:
                        wanted.add(token)

        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="reliability") as pool:
            list(pool.map(answer, range(conversations)))
        return wanted

    def _all_sent(self, indexes: list[int], wanted: set[str]) -> bool:
        return self._sent(*indexes).keys() >= wanted

    def _twilio_retries_late(self, result: Result) -> None:
        """Some acknowledged webhooks, delivered again once SQS has forgotten their
        deduplication ids (as a retry hours later would be)."""
        _sqs_forgets_deduplication_ids()
        late = [d for d in self._acknowledged if self._random.random() < LATE_RETRY_SHARE]
        for url, body, headers in late:

            def again(headers: dict[str, str] = headers) -> dict[str, str]:
                return headers

            self._deliver(url, body, again, 2, result)
        result.duplicates_injected += len(late)

    def _shop_messages(
        self, shop: ShopUnderTest, conversations: int, sender_index: int, result: Result
    ) -> set[str]:
        """An order update to each customer through the admin API, its id `order-<n>` the
        same in every shop; 30% of the calls made again, as a client's retry."""
        url = f"{self.api}/admin/shops/{shop.shop_id}/messages"
        headers = {
            "Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}",
            "Content-Type": "application/json",
        }
        wanted: set[str] = set()
        for conversation in range(conversations):
            token = shop_message_token(shop.index, conversation)
            body = json.dumps(
                {
                    "channel": "sms",
                    "to": customer_number(sender_index, conversation),
                    "id": f"order-{conversation}",
                    "text": f"Your order ships today {token}",
                }
            ).encode()
            copies = 2 if self._random.random() < DUPLICATE_SHARE else 1
            result.duplicates_injected += copies - 1
            result.replies += 1
            statuses = [post(url, body, headers, TWILIO_TIMEOUT_SECONDS) for _ in range(copies)]
            result.http_5xx += sum(1 for status in statuses if status >= 500)
            if any(status == 202 for status in statuses):
                wanted.add(token)
        return wanted

    def _crossed(self, shops: list[ShopUnderTest]) -> int:
        """Posts or sends carrying one shop's tokens in another's channel or from another's
        number."""
        crossed = 0
        for shop in shops:
            for prefix in (f"[m{shop.index}-", f"[s{shop.index}-"):
                for seen in self._carrying(
                    self.outbox.entries("slack", "chat.postMessage"), prefix, "text"
                ).values():
                    crossed += sum(
                        1 for s in seen if s.entry.payload.get("channel") != shop.channel
                    )
            for prefix in (f"[r{shop.index}-", f"[s{shop.index}-"):
                for seen in self._carrying(
                    self.outbox.entries("twilio", "messages.create"), prefix, "Body"
                ).values():
                    crossed += sum(1 for s in seen if s.entry.payload.get("From") != shop.number)
                for seen in self._carrying(
                    self.outbox.entries("meta", "send"), prefix, "text"
                ).values():
                    crossed += sum(
                        1 for s in seen if s.entry.payload.get("from") != shop.meta_number
                    )
        return crossed

    def _erase_half(self, shop: ShopUnderTest, conversations: int, result: Result) -> set[str]:
        """Erases every other customer while their messages wait; returns the tokens of
        what they wrote, and counts into `erasure_misses` what the receipts leave out."""
        from urllib.parse import quote

        erased: set[str] = set()
        written = self._written_by_customer
        for conversation in range(0, conversations, 2):
            number = customer_number(shop.index, conversation)
            status, receipt = call(
                f"{self.api}/admin/shops/{shop.shop_id}/customers/{quote(number)}",
                method="DELETE",
            )
            tokens = written.get(conversation, set())
            erased |= tokens
            counted = int(receipt.get("messages", 0)) if status == 200 else 0
            result.erasure_misses += max(len(tokens) - counted, 0)
        return erased

    def _requeue_overdue(self) -> None:
        """The minute schedule's requeue, as if the day's retries were over."""
        from app import app

        app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)

    def _run_mail(
        self, index: int, messages: int, conversations: int, result: Result, started: float
    ) -> Result:
        shop = self._open_shop(index, mail=True)
        per_conversation = max(1, messages // conversations)
        result.messages = per_conversation * conversations
        expected: set[str] = set()
        for sequence in range(per_conversation):
            for conversation in range(conversations):
                token = customer_token(index, conversation, sequence)
                raw = hostile_mail(index, conversation, sequence, token)
                copies = 2 if self._random.random() < DUPLICATE_SHARE else 1
                result.duplicates_injected += copies - 1
                for _ in range(copies):
                    self._send_mail(shop, conversation, raw)
                expected.add(token)
        _progress(f"mail: {len(expected)} mails sent")
        self._settle(lambda: self._posted(index).keys() >= expected, limit_seconds=900)
        self._count([index], expected, set(), result)
        result.crossed = self._crossed([shop])
        result.parse_growth = pathological_parse_growth()
        result.log_lines, result.log_leaks = self.logs.search(
            (
                "xoxb-reliability",
                LOCAL_SIGNING_SECRET,
                LOCAL_ADMIN_TOKEN,
                "Where is my order",
                f"[m{index}-",
                "@customers.example",
            )
        )
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _send_mail(self, shop: ShopUnderTest, conversation: int, raw: bytes) -> None:
        import smtplib

        assert self._stack is not None
        with smtplib.SMTP(self._stack.options.host, self._stack.options.smtp_port) as smtp:
            smtp.sendmail(
                customer_mail_address(shop.index, conversation),
                [shop_mail_address(shop.index)],
                raw,
            )

    # -- what came out ------------------------------------------------------------------

    def _posted(self, *indexes: int) -> dict[str, list[Seen]]:
        """Customer tokens of these shops, with every Slack post carrying them."""
        return self._carrying(
            self.outbox.entries("slack", "chat.postMessage"),
            tuple(f"[m{index}-" for index in indexes),
            "text",
        )

    def _sent(self, *indexes: int) -> dict[str, list[Seen]]:
        """Agent reply and shop message tokens of these shops, with every Twilio or
        WhatsApp Cloud API send carrying them."""
        prefixes = tuple(f"[{kind}{index}-" for index in indexes for kind in "rs")
        sent = self._carrying(self.outbox.entries("twilio", "messages.create"), prefixes, "Body")
        for token, seen in self._carrying(
            self.outbox.entries("meta", "send"), prefixes, "text"
        ).items():
            sent[token].extend(seen)
        return sent

    @staticmethod
    def _carrying(
        entries: list[OutboxEntry], prefixes: str | tuple[str, ...], key: str
    ) -> dict[str, list[Seen]]:
        """By token: each call that carried it, with its place in the outbox."""
        found: dict[str, list[Seen]] = defaultdict(list)
        for place, entry in enumerate(entries):
            text = json.dumps(entry.payload.get(key, ""), ensure_ascii=False)
            for token in TOKEN.findall(text):
                if token.startswith(prefixes):
                    found[token].append(Seen(place, entry))
        return found

    def _threads(self, index: int) -> dict[tuple[int, int], str]:
        """Each conversation's Slack thread, found by its first message."""
        threads = {}
        for token, entries in self._posted(index).items():
            conversation, sequence = _parse(token)
            if sequence == 0:
                first = entries[0].entry.payload
                threads[(conversation, sequence)] = str(
                    first.get("thread_ts") or first["response"]["ts"]
                )
        return threads

    def _queues_idle(self) -> bool:
        for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE):
            counts = self._sqs.get_queue_attributes(
                QueueUrl=self._queue_url(queue),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if any(int(value) for value in counts.values()):
                return False
        return True

    def _settle(
        self, done: Callable[[], bool], quiet_seconds: float = 0, limit_seconds: float = 600
    ) -> None:
        """Waits until `done`, or until the queues stay idle `quiet_seconds` (at least 30 s
        when not `done`, so retries and visibility timeouts have their turn)."""
        deadline = time.monotonic() + limit_seconds
        idle_since: float | None = None
        while time.monotonic() < deadline:
            if done():
                return
            if self._queues_idle():
                idle_since = idle_since or time.monotonic()
                wait = quiet_seconds or VISIBILITY_TIMEOUT_SECONDS + 10
                if time.monotonic() - idle_since >= wait:
                    return
            else:
                idle_since = None
            time.sleep(0.5)

    @staticmethod
    def _tell_dead_letters() -> None:
        """What the 5-minute schedule does, now rather than within 5 minutes."""
        from app import app

        app.handler_map["tell_dead_letters"](scheduled_event("tell_dead_letters"), None)

    def _redrive(self) -> int:
        """Moves every dead letter back to its queue as `threadline dlq redrive` does, noting
        the tokens it carries; returns how many there were."""
        from moto.sqs.models import sqs_backends

        # Read from the emulator itself: a peek sees only the first of each message group.
        for regions in sqs_backends.values():
            for backend in regions.values():
                for name, queue in backend.queues.items():
                    if name.endswith("-dlq.fifo"):
                        for message in queue._messages:
                            self._redriven.update(TOKEN.findall(message.body))
        queues = Queues(self._sqs, INBOUND_QUEUE, OUTBOUND_QUEUE)
        return sum(queues.redrive(queue).records for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE))

    def _count(
        self, indexes: list[int], expected: set[str], replies: set[str], result: Result
    ) -> None:
        posted, sent = self._posted(*indexes), self._sent(*indexes)
        result.lost = len(expected - posted.keys()) + len(replies - sent.keys())
        result.doubled = sum(len(posted[t]) - 1 for t in expected & posted.keys()) + sum(
            len(sent[t]) - 1 for t in replies & sent.keys()
        )
        late = _late(posted) | _late(sent)
        result.out_of_order = len(late - self._redriven)
        result.late_after_redrive = len(late & self._redriven)


def _sqs_forgets_deduplication_ids() -> None:
    """What 5 minutes do to SQS's deduplication (the emulator's patch keeps its ids)."""
    from moto.sqs.models import sqs_backends

    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                queue.__dict__.pop("_threadline_sent_ids", None)


def _progress(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.__stderr__, flush=True)


def _parse(token: str) -> tuple[int, int]:
    _, conversation, sequence = token.strip("[]").split("-")
    return int(conversation), int(sequence)


def _late(found: dict[str, list[Seen]]) -> set[str]:
    """Tokens that reached their conversation after one of theirs written after them (a
    conversation's customer texts, agent replies and shop messages are apart, as is each
    shop's)."""
    by_conversation: dict[tuple[str, int], list[tuple[int, int, str]]] = defaultdict(list)
    for token, seen in found.items():
        conversation, sequence = _parse(token)
        source = token.split("-", 1)[0]
        by_conversation[(source, conversation)].append((seen[0].place, sequence, token))
    late = set()
    for arrivals in by_conversation.values():
        highest = -1
        for _, sequence, token in sorted(arrivals):
            if sequence < highest:
                late.add(token)
            highest = max(highest, sequence)
    return late
