"""The real local stack in a subprocess, talking to stand-in Slack and Twilio servers that
run in the test process and record every call the official clients make."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from local_stack.constants import LOCAL_ADMIN_TOKEN, LOCAL_META_APP_SECRET, LOCAL_REGION
from local_stack.ports import free_port
from local_stack.sandbox.meta import MetaStandIn
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.slack import SlackStandIn
from local_stack.sandbox.telegram import TelegramStandIn
from local_stack.sandbox.twilio import TwilioStandIn
from threadline_cli.cli import app

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read().decode())


@dataclass
class RunningStack:
    api: str
    outbox: Outbox
    # The stand-ins the stack calls: to install and revoke Slack tokens, and to provision
    # Twilio accounts' numbers.
    slack: SlackStandIn
    twilio: TwilioStandIn
    log: Path
    # The stack's own SES stand-in (its calls at `{ses}/_outbox`) and mail server port.
    ses: str
    smtp_port: int
    # The AWS emulator's endpoint.
    aws: str
    # The Telegram Bot API and Graph API stand-ins the stack calls: to add bots and Meta
    # accounts, and (as Telegram and Meta would) to know a webhook's secret.
    telegram: TelegramStandIn
    meta: MetaStandIn
    # The stack's own Shopify stand-in (seeded demo store; its sandbox routes and outbox).
    shopify: str = ""

    def sent_mail(self) -> list[dict[str, Any]]:
        answer = http("GET", self.ses + "/_outbox")
        return [entry["payload"] for entry in answer.json() if entry["method"] == "send_email"]

    def admin(self, method: str, path: str, document: dict[str, Any] | None = None) -> Answer:
        body = json.dumps(document).encode() if document is not None else b""
        headers = {
            "Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}",
            "Content-Type": "application/json",
        }
        return http(method, self.api + path, body, headers)


def threadline(stack: RunningStack, *arguments: str) -> tuple[int, str]:
    """The `threadline` command against the stack: its exit code and output."""
    result = CliRunner().invoke(
        app,
        list(arguments),
        env={
            "THREADLINE_API_URL": stack.api,
            "THREADLINE_ADMIN_TOKEN": LOCAL_ADMIN_TOKEN,
            # What speaks to AWS speaks to the stack's emulator.
            "AWS_ENDPOINT_URL": stack.aws,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            # Wide enough that no URL or reason is wrapped.
            "COLUMNS": "250",
        },
    )
    return result.exit_code, result.output


@contextmanager
def running_stack(outbox: Outbox, log: Path) -> Iterator[RunningStack]:
    """`python -m local_stack` in a subprocess, calling stand-in Slack, Twilio, Telegram and
    Graph API servers that run here and record into `outbox`; its output goes to `log`."""
    slack = SlackStandIn(outbox)
    twilio = TwilioStandIn(outbox, callback_delay=0.05)
    telegram = TelegramStandIn(outbox)
    slack_url = slack.start()
    twilio_url = twilio.start()
    telegram_url = telegram.start()
    port, aws_port, ses_port, smtp_port = free_port(), free_port(), free_port(), free_port()
    telegram_port, shopify_port = free_port(), free_port()
    # Meta's statuses come back to the stack, signed with the app secret it checks.
    meta = MetaStandIn(outbox, LOCAL_META_APP_SECRET, f"http://127.0.0.1:{port}/webhooks/meta")
    meta_url = meta.start()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "THREADLINE_", "SLACK_", "TWILIO_", "TELEGRAM_", "META_"))
    }
    env.update(
        {
            "SLACK_API_URL": slack_url,
            "TWILIO_API_URL": twilio_url,
            "TELEGRAM_API_URL": telegram_url,
            "META_GRAPH_URL": meta_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_stack",
                "--port",
                str(port),
                "--aws-port",
                str(aws_port),
                "--ses-port",
                str(ses_port),
                "--smtp-port",
                str(smtp_port),
                "--telegram-port",
                str(telegram_port),
                "--shopify-port",
                str(shopify_port),
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "local stack is up" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local stack did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield RunningStack(
            api=api,
            outbox=outbox,
            slack=slack,
            twilio=twilio,
            log=log,
            ses=f"http://127.0.0.1:{ses_port}",
            smtp_port=smtp_port,
            aws=f"http://127.0.0.1:{aws_port}",
            telegram=telegram,
            meta=meta,
            shopify=f"http://127.0.0.1:{shopify_port}",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        slack.stop()
        twilio.stop()
        telegram.stop()
        meta.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with running_stack(Outbox(), log) as running:
        yield running
