"""Figure 2's first events: a fresh interpreter imports app.py and handles one signed webhook
(a Twilio customer message, or a Slack agent reply) as Lambda hands it over, an API Gateway
proxy event, against the AWS emulator over HTTP (moto's server, provisioned from infra/ with
the shop created). Interpreter start-up is left out; the event is built before the clock
starts. The emulator runs in the parent, so its CPU is not the child's.

Each first event has a floor of its own: a fresh interpreter that imports boto3, makes the
clients of the services the app's first event called and replays the very calls it made
(captured once in an untimed child; writes with fresh keys), with no line of the app. The
first event over that floor is what the app itself costs a cold start."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHOP = "ana"
TWILIO_PATH = "/webhooks/twilio/{shop_id}"
SLACK_PATH = "/slack/events"
# What a Lambda container runs: app.py imported, then its handler called with the event.
CHILD = """
import json, sys, time
event = json.loads(sys.stdin.read())
started = time.perf_counter()
import app
answer = app.app(event, None)
elapsed = time.perf_counter() - started
answer = {"seconds": elapsed, "status": answer["statusCode"], "body": answer["body"]}
print("FIRST_EVENT", json.dumps(answer))
"""
# The first event again, untimed, telling the AWS calls it made, in order.
CAPTURING_CHILD = """
import json, sys
import boto3
event = json.loads(sys.stdin.read())
calls = []
def asked(params, model, **_):
    calls.append([model.service_model.service_name, model.name, params])
boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register("before-parameter-build", asked)
import app
answer = app.app(event, None)
if answer["statusCode"] != 200:
    sys.exit(answer["body"])
print("CALLS", json.dumps(calls))
"""
# The floor: boto3 imported, the same clients made, the same calls replayed (fresh keys).
FLOOR_CHILD = """
import json, sys, time, uuid
calls = json.loads(sys.stdin.read())
started = time.perf_counter()
import boto3
from botocore import xform_name
clients = {}
for service, operation, params in calls:
    if service not in clients:
        clients[service] = boto3.client(service)
    if operation == "PutItem":
        params["Item"]["PK"] = {"S": "FLOOR#" + uuid.uuid4().hex}
    elif operation == "SendMessage" and "MessageDeduplicationId" in params:
        params["MessageDeduplicationId"] = uuid.uuid4().hex
    getattr(clients[service], xform_name(operation))(**params)
print("FIRST_EVENT", json.dumps({"seconds": time.perf_counter() - started}))
"""
# What the floor can replay as the app made it: reads, and the writes it gives fresh keys.
REPLAYABLE = {"GetItem", "BatchGetItem", "GetSecretValue", "GetQueueUrl", "PutItem", "SendMessage"}


def _proxy_event(
    resource: str, path_parameters: dict[str, str], headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    path = resource.format(**path_parameters)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "POST",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": uuid.uuid4().hex,
        },
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def twilio_event(number: int) -> dict[str, Any]:
    from tests.integration.conftest import PUBLIC_URL
    from tests.signing import twilio_headers, twilio_message

    path = TWILIO_PATH.format(shop_id=SHOP)
    params = twilio_message(number, Body=f"Onde está meu pedido {number}?")
    headers = twilio_headers(PUBLIC_URL + path, params)
    return _proxy_event(TWILIO_PATH, {"shop_id": SHOP}, headers, urlencode(params).encode())


def slack_event(number: int) -> dict[str, Any]:
    from tests.signing import slack_headers, slack_thread_reply

    body = slack_thread_reply(
        "1764000000.000001", f"{time.time():.6f}", "Chega amanhã!", event_id=f"Ev{number:012d}"
    )
    return _proxy_event(SLACK_PATH, {}, slack_headers(body), body)


@contextmanager
def emulator() -> Iterator[dict[str, str]]:
    """The emulator provisioned and the shop created; yields the functions' environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    from local_stack.ports import free_port
    from local_stack.provision import provision
    from tests.integration.conftest import ADMIN_TOKEN, PUBLIC_URL
    from tests.signing import SLACK_SIGNING_SECRET, shop_document

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per emulated call
    environ = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "THREADLINE_PUBLIC_URL": PUBLIC_URL,
        "THREADLINE_DEPLOYMENT_SECRET": "threadline/deployment",
        "POWERTOOLS_SERVICE_NAME": "threadline",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in environ}
    os.environ.update(environ)
    try:
        session = boto3.session.Session()
        secretsmanager = session.client("secretsmanager")
        outputs = provision(
            session.client("cloudformation"), session.client("scheduler"), secretsmanager
        )
        secretsmanager.put_secret_value(
            SecretId=environ["THREADLINE_DEPLOYMENT_SECRET"],
            SecretString=json.dumps(
                {"admin_token": ADMIN_TOKEN, "slack_signing_secret": SLACK_SIGNING_SECRET}
            ),
        )
        environ["THREADLINE_MEDIA_BUCKET"] = outputs["MediaBucketName"]
        _create_shop(environ, json.dumps(shop_document()), ADMIN_TOKEN)
        yield environ
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _create_shop(environ: dict[str, str], document: str, admin_token: str) -> None:
    # In a child too: the parent must not import app (the bench's other figures import it
    # with their own container).
    program = (
        "import json, sys; import app; "
        "event = json.loads(sys.stdin.read()); answer = app.app(event, None); "
        "sys.exit(0 if answer['statusCode'] == 201 else answer['body'])"
    )
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
    event = _proxy_event("/admin/shops/{shop_id}", {"shop_id": SHOP}, headers, document.encode())
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "PUT"
    _child(program, event, environ)


def _child(program: str, event: Any, environ: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_DIR,
        input=json.dumps(event),
        env={**os.environ, **environ, "PYTHONDONTWRITEBYTECODE": ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the child failed: {done.stderr[-2000:]}")
    return done.stdout


def _told(output: str, tag: str) -> Any:
    line = next(line for line in output.splitlines() if line.startswith(f"{tag} "))
    return json.loads(line.removeprefix(f"{tag} "))


def first_event(event: dict[str, Any], environ: dict[str, str]) -> float:
    """Seconds from `import app` to the handler's answer, in a fresh interpreter."""
    answer = _told(_child(CHILD, event, environ), "FIRST_EVENT")
    if answer["status"] != 200:
        raise RuntimeError(f"the first event was answered {answer['status']}: {answer['body']}")
    return float(answer["seconds"])


def calls_of(event: dict[str, Any], environ: dict[str, str]) -> list[Any]:
    """The AWS calls a first event makes: [service, operation, parameters], in order."""
    calls: list[Any] = _told(_child(CAPTURING_CHILD, event, environ), "CALLS")
    unknown = {operation for _, operation, _ in calls} - REPLAYABLE
    if unknown:
        raise RuntimeError(f"the floor cannot replay {sorted(unknown)}: teach FLOOR_CHILD")
    return calls


def floor(calls: list[Any], environ: dict[str, str]) -> float:
    """Seconds to import boto3, make the clients and make `calls`, in a fresh interpreter."""
    return float(_told(_child(FLOOR_CHILD, calls, environ), "FIRST_EVENT")["seconds"])
