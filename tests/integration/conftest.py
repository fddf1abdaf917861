"""Integration fixtures: moto in-process, provisioned from infra/, the chalice test client,
and fakes for Slack and Twilio sending."""

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from boto3.dynamodb.types import TypeDeserializer
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import bootstrap
from chalicelib.bootstrap import RedactingFilter, RedactingFormatter
from chalicelib.services.installs import Exchange
from chalicelib.settings import TABLE_NAME, Settings
from local_stack.moto_patches import patch_emulator
from local_stack.provision import provision
from local_stack.pump import pumps_for
from tests.fakes import FakeSlack, RecordingTwilio
from tests.integration.emulator_state import Snapshot, state_of
from tests.signing import (
    SLACK_SIGNING_SECRET,
    form,
    shop_document,
    slack_headers,
    twilio_headers,
    twilio_message,
)

PUBLIC_URL = "https://threadline.example.com/api"
ADMIN_TOKEN = "test-admin-token"
# As infra/template.json names it in moto's default account and region.
MEDIA_BUCKET = "threadline-media-123456789012-us-east-1"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def provisioned() -> Snapshot:
    """The emulator provisioned from infra/ once per test process, as a snapshot each test
    starts from (provisioning costs about half a second, restoring a few milliseconds). moto
    is stopped again: the tests of other layers run in this process too."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _aws_environment(monkeypatch)
        patch_emulator()
        with mock_aws():
            provision(
                boto3.client("cloudformation"),
                boto3.client("scheduler"),
                boto3.client("secretsmanager"),
            )
            return Snapshot()


@pytest.fixture(scope="session")
def aws_models() -> botocore.loaders.Loader:
    """The AWS SDK's service models, read once per test process: each test's boto3 session
    is new (moto starts each test with none), but parsing the models again for each is most
    of what a client costs."""
    return botocore.loaders.create_loader()


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, provisioned: Snapshot, aws_models: botocore.loaders.Loader
) -> Iterator[None]:
    """moto as provisioned, whatever the tests before wrote: a test that finds any state of
    moto's other than the provisioned one fails."""
    _aws_environment(monkeypatch)
    patch_emulator()
    with mock_aws():
        provisioned.restore()
        assert state_of() == provisioned.state, "moto's state differs from the provisioned one"
        session = botocore.session.Session()
        session.register_component("data_loader", aws_models)
        boto3.DEFAULT_SESSION = boto3.Session(botocore_session=session)
        yield


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack()


@pytest.fixture
def twilio() -> RecordingTwilio:
    return RecordingTwilio()


@pytest.fixture
def settings() -> Settings:
    return Settings.model_validate(
        {
            "public_url": PUBLIC_URL,
            "admin_token": ADMIN_TOKEN,
            "slack_signing_secret": SLACK_SIGNING_SECRET,
            "retry_base_seconds": 0,
            "media_bucket": MEDIA_BUCKET,
        }
    )


class Clock:
    """The use cases' clock: the real one, until a test sets `now`."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack_oauth() -> Exchange | None:
    """Slack's code exchange, for tests of "Add to Slack"; None is the real one."""
    return None


@pytest.fixture
def container(
    aws: None,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    slack_oauth: Exchange | None,
) -> Iterator[bootstrap.Container]:
    built = bootstrap.Container(
        settings, twilio=twilio, slack=slack.workspace, clock=clock, slack_oauth=slack_oauth
    )
    bootstrap.use(built)
    yield built
    bootstrap.use(None)


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[Client]:
    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def put_shop(client: Client) -> Callable[..., Any]:
    """Registers a shop through the admin API and returns the response."""

    def put(shop_id: str = "ana", document: dict[str, Any] | None = None) -> Any:
        body = json.dumps(document or shop_document()).encode()
        return client.http.put(f"/admin/shops/{shop_id}", headers=ADMIN, body=body)

    return put


@pytest.fixture
def shop(put_shop: Callable[..., Any]) -> str:
    response = put_shop("ana")
    assert response.status_code == 201, response.body
    return "ana"


@pytest.fixture
def open_thread(
    client: Client, shop: str, run_workers: Callable[[], int], slack: FakeSlack
) -> Callable[..., str]:
    """A customer writes (SMS unless told otherwise); returns the conversation's thread ts."""
    path = f"/webhooks/twilio/{shop}"

    def open_(**fields: str) -> str:
        params = twilio_message(1, **fields)
        response = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        )
        assert response.status_code == 200, response.body
        run_workers()
        [root] = slack.roots()
        return root.ts

    return open_


@pytest.fixture
def slack_event(client: Client) -> Callable[..., Any]:
    """Posts a signed Events API request; returns the response."""

    def post(body: bytes, **headers: str) -> Any:
        return client.http.post(
            "/slack/events", headers={**slack_headers(body), **headers}, body=body
        )

    return post


@pytest.fixture
def run_workers(container: bootstrap.Container) -> Callable[[], int]:
    """Drains both queues through the chalice SQS handlers, as Lambda would; returns how many
    messages were handled."""
    pumps = pumps_for(app, boto3.client("sqs"), retry_after_seconds=0)

    def drain() -> int:
        handled = 0
        for _ in range(20):
            batch = sum(pump.pump_once() for pump in pumps)
            if batch == 0:
                return handled
            handled += batch
        return handled

    return drain


@pytest.fixture
def run_workers_once(container: bootstrap.Container) -> Callable[[], int]:
    """One batch from each queue: what a reply waiting out its grace period meets once."""
    pumps = pumps_for(app, boto3.client("sqs"), retry_after_seconds=0)
    return lambda: sum(pump.pump_once() for pump in pumps)


def stored_item(pk: str, sk: str) -> dict[str, Any] | None:
    """A table item as the repository stored it, read consistently."""
    response = boto3.client("dynamodb").get_item(
        TableName=TABLE_NAME, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
    )
    item = response.get("Item")
    if item is None:
        return None
    return {name: TypeDeserializer().deserialize(value) for name, value in item.items()}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line the service logs, as powertools formats it in Lambda."""
    out = io.StringIO()
    ours = logging.StreamHandler(out)
    ours.setFormatter(RedactingFormatter())
    # Other libraries' lines, through a handler like Lambda's on the root logger
    theirs = logging.StreamHandler(out)
    theirs.addFilter(RedactingFilter())
    service, root = logging.getLogger("threadline"), logging.getLogger()
    service.addHandler(ours)
    root.addHandler(theirs)
    yield out
    service.removeHandler(ours)
    root.removeHandler(theirs)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many bad-input requests each route was sent and refused (test_bad_input.py), for
    `make reliability` to report; also written as JSON to THREADLINE_FUZZ_REPORT if set."""
    from tests.integration.bad_input import tried

    counts = tried()
    if not counts:
        return
    total = sum(sent for sent, _ in counts.values())
    terminalreporter.write_sep("-", f"bad input: {total} requests on {len(counts)} routes")
    for route, (sent, refused) in sorted(counts.items()):
        terminalreporter.write_line(f"{sent:7} tried {refused:7} refused  {route}")
    report = os.environ.get("THREADLINE_FUZZ_REPORT")
    if report:
        rows = {
            route: {"tried": sent, "refused": refused} for route, (sent, refused) in counts.items()
        }
        Path(report).write_text(json.dumps(rows, indent=2, sort_keys=True), "utf-8")
