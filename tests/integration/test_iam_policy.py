"""Every AWS call each function makes is allowed, on the resource it acts on, by the policy
that function's role will have (one policy file per function, `.chalice/config.json`); and
each policy grants only what its function's calls need. moto enforces no IAM: without this
a missing permission shows up only in AWS (as the dead-letter watcher's AccessDenied on the
dead-letter queues did)."""

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import Chalice, EventSourceHandler, SNSEventConfig, SQSEventConfig
from chalice.config import Config

from app import app
from chalicelib import bootstrap
from chalicelib.channels.base import MediaFile
from chalicelib.domain.errors import Retryable
from chalicelib.queues import Queues
from chalicelib.settings import (
    DEPLOYMENT_SECRET,
    INBOUND_QUEUE,
    OUTBOUND_QUEUE,
    SCHEDULE_GROUP,
    TIMERS_QUEUE,
    Settings,
    dead_letter_queue,
)
from chalicelib.store.shops import Shops
from local_stack.pump import SchedulePump, scheduled_event, sns_event
from local_stack.sandbox.bedrock import BedrockStandIn
from local_stack.sandbox.outbox import Outbox
from tests.fakes import FakeSlack, RecordingTwilio
from tests.iam import (
    Access,
    accesses,
    function_logs,
    listed,
    queue_arn,
    queue_polling,
    refused,
    resource_matches,
)
from tests.integration.conftest import ADMIN_TOKEN, MEDIA_BUCKET, PUBLIC_URL, Clock
from tests.integration.test_auto_replies_flow import SHOP as AUTOMATED
from tests.integration.test_card_actions import press
from tests.integration.test_email import SHOP_ADDRESS, mime, received
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CHANNEL_ID,
    SLACK_SIGNING_SECRET,
    SMS_NUMBER,
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

PROJECT = Path(__file__).resolve().parents[2]
CHALICE_CONFIG = json.loads((PROJECT / ".chalice" / "config.json").read_text())
TEMPLATE = json.loads((PROJECT / "infra" / "template.json").read_text())
STAGE = "dev"
API_HANDLER = "api_handler"
FUNCTIONS = {API_HANDLER} | {
    name for name, handler in app.handler_map.items() if isinstance(handler, EventSourceHandler)
}


def config(function: str) -> Config:
    """The function's settings as chalice resolves them when it deploys or packages."""
    return Config(chalice_stage=STAGE, function_name=function, config_from_disk=CHALICE_CONFIG)


def policy(function: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (PROJECT / ".chalice" / config(function).iam_policy_file).read_text()
    )
    return document


def deployed_name(function: str) -> str:
    """The Lambda function's name: chalice's with `chalice deploy`, and the stack's."""
    prefix = f"{CHALICE_CONFIG['app_name']}-{STAGE}"
    return prefix if function == API_HANDLER else f"{prefix}-{function}"


def logical_id(function: str) -> str:
    """The function's resource in the packaged template (chalice's naming)."""
    return "APIHandler" if function == API_HANDLER else function.title().replace("_", "")


def failure_destinations(function: str) -> list[Access]:
    """Lambda sends a failed asynchronous event to the function's on-failure destination
    with the function's role (infra/template.json's EventInvokeConfig)."""
    queues = {
        name: resource["Properties"]["QueueName"]
        for name, resource in TEMPLATE["Resources"].items()
        if resource.get("Type") == "AWS::SQS::Queue"
    }
    return [
        Access("sqs:SendMessage", queue_arn(queues[destination["Fn::GetAtt"][0]]))
        for resource in TEMPLATE["Resources"].values()
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig"
        and resource["Properties"]["FunctionName"] == {"Ref": logical_id(function)}
        for destination in [resource["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]]
    ]


def platform_accesses(function: str) -> list[Access]:
    """What Lambda itself does with the function's role: write its logs, poll its queue,
    hand a failed event to its destination."""
    found = function_logs(deployed_name(function)) + failure_destinations(function)
    for source in app.event_sources:
        if source.name == function and isinstance(source, SQSEventConfig) and source.queue:
            found += queue_polling(source.queue)
    return found


class CallRecorder:
    """Each AWS call made while a function runs, as the accesses IAM checks, by function.
    Each function runs with a container of its own, as in Lambda, so no function finds a
    queue's URL, a secret or a shop another one looked up. Calls made outside a function
    (the test's own setup, the pumps playing Lambda's event source mappings) are not the
    function's."""

    def __init__(self, build: Callable[[], bootstrap.Container]) -> None:
        self._build = build
        self._containers: dict[str, bootstrap.Container] = {}
        self.running: str | None = None
        self.by_function: dict[str, set[Access]] = defaultdict(set)

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # before-parameter-build: every call, and every presigned URL (whose later use is
        # authorised by the role that signed it).
        if self.running is not None:
            found = accesses(model.service_model.signing_name, model.name, params)
            self.by_function[self.running].update(found)

    @contextmanager
    def function(self, name: str) -> Iterator[None]:
        outer = self.running, bootstrap.container()
        self.running = name
        bootstrap.use(self._containers.setdefault(name, self._build()))
        try:
            yield
        finally:
            self.running = outer[0]
            bootstrap.use(outer[1])

    def as_function(self, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.function(name):
                return handler(*args, **kwargs)

        return run


# The deployment's secret as the operator fills it in: the functions read it, as deployed.
DEPLOYED_SECRET = {
    "admin_token": ADMIN_TOKEN,
    "slack_signing_secret": SLACK_SIGNING_SECRET,
    "slack_client_id": "",
    "slack_client_secret": "",
}


@pytest.fixture
def settings(aws: None) -> Settings:
    """A function's settings as deployed: the deployment secret's name, none of its values,
    so every call a deployed function makes for them is made and checked here too."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=DEPLOYMENT_SECRET, SecretString=json.dumps(DEPLOYED_SECRET)
    )
    return Settings.from_environ(
        {
            "THREADLINE_PUBLIC_URL": PUBLIC_URL,
            "THREADLINE_DEPLOYMENT_SECRET": DEPLOYMENT_SECRET,
            "THREADLINE_MEDIA_BUCKET": MEDIA_BUCKET,
            "THREADLINE_RETRY_BASE_SECONDS": "0",
        }
    )


@pytest.fixture
def recorder(
    container: bootstrap.Container,
    settings: Settings,
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CallRecorder]:
    recording = CallRecorder(
        lambda: bootstrap.Container(settings, twilio=twilio, slack=slack.workspace, clock=clock)
    )
    # Clients made from here on (each container builds its own on first use) report calls.
    session = boto3._get_default_session()
    session.events.register("before-parameter-build", recording.record)
    # The API handler is the app object itself; each event handler its registered object.
    api = Chalice.__call__
    monkeypatch.setattr(Chalice, "__call__", recording.as_function(API_HANDLER, api))
    for name, handler in app.handler_map.items():
        if isinstance(handler, EventSourceHandler):
            monkeypatch.setattr(handler, "func", recording.as_function(name, handler.func))
            monkeypatch.setattr(handler, "handler", None)  # rebuilt around the new func
    yield recording
    session.events.unregister("before-parameter-build", recording.record)


def every_flow(
    client: Any,
    container: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
) -> None:
    """Every route, event and schedule of the app, each through its paths that touch AWS
    differently: successes, refusals, failures and retries."""
    admin = {"Authorization": f"Bearer {DEPLOYED_SECRET['admin_token']}"}
    # Shops created, updated, and refused (rolled back) ...
    # (with response targets, whose alarms are schedules, and automatic replies)
    # (and triage by a Bedrock model, through a cross-region inference profile)
    with_mail = shop_document(
        email={"address": SHOP_ADDRESS},
        retention_days=90,
        digest={"hour": 0},
        csat={},
        triage={"engine": "bedrock", "model_id": "us.amazon.nova-micro-v1:0"},
        **AUTOMATED,
    )
    assert put_shop("ana", with_mail).status_code == 201
    assert put_shop("ana", with_mail).status_code == 200
    assert client.http.get("/admin/shops/ana", headers=admin).status_code == 200
    assert client.http.get("/admin/shops", headers=admin).status_code == 200
    with pytest.MonkeyPatch.context() as patch:
        # (bob's numbers pass the early check, as when another shop claims them concurrently)
        patch.setattr(Shops, "addresses_taken", lambda self, shop: [])
        assert put_shop("bob", shop_document()).status_code == 409
    # ... a mail received, answered and bounced; an SES test notification ...
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    receive_mail = app.handler_map["receive_mail"]
    invoice = ("nota.pdf", "application/pdf", b"%PDF-1.4")
    receive_mail(received(mime("Olá, meu pedido?", attachment=invoice)), None)
    run_workers()
    mail_root = slack.roots()[-1]
    reply = slack_thread_reply(mail_root.ts, "1764000800.000100", "Chega amanhã")
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()
    sent = container.store.replies.get_outbound("ana", "slack:C0SUPPORT:1764000800.000100")
    assert sent is not None
    bounce = {
        "eventType": "Bounce",
        "mail": {"messageId": sent.provider_message_id, "source": SHOP_ADDRESS},
        "bounce": {"bounceType": "Permanent"},
    }
    # (the customer answers the reply, threaded by its Message-ID)
    answered = f"{sent.provider_message_id}@us-east-1.amazonses.com"
    receive_mail(received(mime("Obrigada!", in_reply_to=answered)), None)
    run_workers()
    events_topic = "arn:aws:sns:us-east-1:123456789012:threadline-email-events"
    app.handler_map["email_events"](sns_event(json.dumps(bounce), events_topic), None)
    test_notification = {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}
    app.handler_map["email_events"](sns_event(json.dumps(test_notification), events_topic), None)
    run_workers()
    # ... mail quarantined, mail for no shop, and a mail whose intake fails, then is
    # delivered again (Lambda's retry, or the mail dead-letter queue's redrive)
    receive_mail(received(mime("Ganhe dinheiro"), spam="FAIL"), None)
    receive_mail(received(mime("Oi"), to="ninguem@example.com"), None)
    # ... a mail delivered twice (the second raw copy deleted), and one sent to two shops
    # (a copy of the raw mail for the second, tagged for its retention) ...
    twice = mime("Chegou?", message_id="twice@mail.gmail.com")
    receive_mail(received(twice), None)
    receive_mail(received(twice), None)
    other = "help@lojadodee.com.br"
    dee = shop_document(slack=None, twilio=None, email={"address": other}, retention_days=30)
    assert put_shop("dee", dee).status_code == 201
    both = mime("Qual loja tem meu pedido?", to=f"{SHOP_ADDRESS}, {other}")
    receive_mail(received(both, also_to=(other,)), None)
    failing = received(mime("Meu pedido de novo"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Queues, "send_inbound", _raises(Retryable("SQS is down")))
        with pytest.raises(Retryable):
            receive_mail(failing, None)
    receive_mail(failing, None)
    run_workers()
    # ... customer messages, one stored but not queued (answered 503, queued again by the
    # schedule), and one whose processing fails and is retried ...
    path = "/webhooks/twilio/ana"
    photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    twilio.media[photo] = MediaFile("ME1.jpg", "image/jpeg", b"photo")
    for n in (1, 2):
        params = twilio_message(n, NumMedia="1", MediaUrl0=photo)
        client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))
    slack.failures.append(Retryable("Slack answered 503"))
    run_workers()
    unqueued = twilio_message(3, Body="Alguém aí?")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Queues, "send_inbound", _raises(Retryable("SQS is down")))
        answer = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, unqueued), body=form(unqueued)
        )
        assert answer.status_code == 503
    clock.now = datetime.now(UTC) + timedelta(minutes=5)
    app.handler_map["requeue_unprocessed"](scheduled_event("requeue_unprocessed"), None)
    run_workers()
    # ... an agent reply with files, one more than MMS carries (it goes as a link signed
    # with the deployment's key), its delivery callback ...
    root = slack.roots()[-1]
    attached = []
    for n in range(11):
        label = f"https://files.slack.com/files-pri/T0-F0LABEL{n}/download/label{n}.png"
        slack.files[label] = b"label"
        attached.append(
            {"id": f"F0LABEL{n}", "name": f"label{n}.png", "url_private_download": label}
        )
    body = slack_thread_reply(root.ts, "1764000900.000100", "Chega amanhã", files=attached)
    client.http.post("/slack/events", headers=slack_headers(body), body=body)
    run_workers()
    status = {
        "MessageSid": twilio.sent[0].sid,
        "AccountSid": ACCOUNT_SID,
        "From": SMS_NUMBER,
        "To": "+5511987654321",
        "MessageStatus": "delivered",
    }
    status_path = f"{path}/status"
    client.http.post(
        status_path, headers=twilio_headers(PUBLIC_URL + status_path, status), body=form(status)
    )
    run_workers()
    # ... a conversation snoozed, and woken by its alarm ...
    conversation = container.store.conversations.find_open_conversation("ana", "+5511987654321")
    assert conversation is not None
    choice = {"value": f"ana:{conversation.conversation_id}#1h"}
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0AGENT"},
        "container": {"channel_id": CHANNEL_ID, "message_ts": root.ts},
        "actions": [{"action_id": "snooze", "selected_option": choice, "action_ts": "1.1"}],
    }
    interaction = form({"payload": json.dumps(payload)})
    headers = slack_headers(interaction, content_type="application/x-www-form-urlencoded")
    client.http.post("/slack/interactions", headers=headers, body=interaction)
    run_workers()
    pump = SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP)
    assert pump.fire_due(datetime.now(UTC) + timedelta(days=1)) >= 2  # the SLA stages, the snooze
    run_workers()
    # ... work that ran out of tries, told in Slack by the dead-letter watcher ...
    stuck = twilio_message(4, From="+5511900000004", Body="Socorro")
    slack.failures.extend(Retryable("Slack is down") for _ in range(10))
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, stuck), body=form(stuck))
    run_workers()
    slack.failures.clear()
    twilio.failures.extend(Retryable("Twilio is down") for _ in range(12))
    late = slack_thread_reply(root.ts, "1764001000.000100", "Já verifico!")
    client.http.post("/slack/events", headers=slack_headers(late), body=late)
    run_workers()
    twilio.failures.clear()
    timers_dead_letters = boto3.client("sqs").get_queue_url(
        QueueName=dead_letter_queue(TIMERS_QUEUE)
    )["QueueUrl"]
    boto3.client("sqs").send_message(
        QueueUrl=timers_dead_letters,
        MessageBody="{}",
        MessageGroupId="g",
        MessageDeduplicationId="d",
    )
    tell_dead_letters = app.handler_map["tell_dead_letters"]
    slack.failures.append(Retryable("Slack is down"))  # one note not told: tried next time
    tell_dead_letters(scheduled_event("tell_dead_letters"), None)
    tell_dead_letters(scheduled_event("tell_dead_letters"), None)
    # ... the conversation resolved, and the customer asked how it went ...
    assert press(client, "resolve", root.ts, f"ana:{conversation.conversation_id}") == 200
    run_workers()
    # ... and summarised for a colleague by the shop's Bedrock model ...
    assert press(client, "summarise", root.ts, f"ana:{conversation.conversation_id}") == 200
    run_workers()
    # ... and reopened by the customer two days later, summarised again ...
    clock.now = datetime.now(UTC) + timedelta(days=2)
    back = twilio_message(6, Body="Voltei: o pedido ainda não chegou.")
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, back), body=form(back))
    run_workers()
    clock.now = None
    # ... a message triaged by Comprehend ...
    eve_number = "+5511940000000"
    eve = shop_document(
        slack={"team_id": TEAM_ID, "channel_id": "C0EVE", "bot_token": "xoxb-eve"},
        twilio={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "sms_numbers": [eve_number]},
        triage={"engine": "comprehend"},
    )
    assert put_shop("eve", eve).status_code == 201
    eve_path = "/webhooks/twilio/eve"
    to_eve = twilio_message(5, To=eve_number, Body="Adorei, chegou rápido!")
    client.http.post(
        eve_path, headers=twilio_headers(PUBLIC_URL + eve_path, to_eve), body=form(to_eve)
    )
    run_workers()
    # ... what the admin API reads and writes besides shops ...
    assert client.http.get("/admin/shops/ana/reports", headers=admin).status_code == 200
    conversations = client.http.get("/admin/shops/ana/conversations", headers=admin)
    assert conversations.status_code == 200
    transcript = f"/admin/shops/ana/conversations/{conversation.conversation_id}"
    assert client.http.get(transcript, headers=admin).status_code == 200
    as_json = {**admin, "Content-Type": "application/json"}
    link = json.dumps({"address": "ana@cliente.example"}).encode()
    linked = client.http.post(
        "/admin/shops/ana/customers/%2B5511987654321/links", headers=as_json, body=link
    )
    assert linked.status_code == 200
    first = json.dumps({"id": "promo-1", "channel": "sms", "to": "+5511911112222", "text": "Oi"})
    sent_first = client.http.post("/admin/shops/ana/messages", headers=as_json, body=first.encode())
    assert sent_first.status_code == 202
    run_workers()
    # ... the daily digest ...
    app.handler_map["post_digests"](scheduled_event("post_digests"), None)
    assert slack.uploads[-1][1] is None
    # ... a customer erased, and a shop deleted and created again with its id
    erased = client.http.delete("/admin/shops/ana/customers/%2B5511987654321", headers=admin)
    assert erased.status_code == 200
    assert put_shop("cy", shop_document(slack=None, twilio=None)).status_code == 201
    assert client.http.delete("/admin/shops/cy", headers=admin).status_code == 200
    clock.now = datetime.now(UTC) + timedelta(hours=1)
    assert put_shop("cy", shop_document(slack=None, twilio=None)).status_code == 201


def _raises(error: Exception) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The sandbox's Bedrock stand-in, where the functions' bedrock-runtime clients go."""
    stand_in = BedrockStandIn(Outbox())
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in.start())
    yield
    stand_in.stop()


@pytest.fixture
def wanted(
    bedrock: None,
    recorder: CallRecorder,
    client: Any,
    container: Any,
    put_shop: Callable[..., Any],
    run_workers: Callable[[], int],
    slack: FakeSlack,
    twilio: RecordingTwilio,
    clock: Clock,
) -> dict[str, set[Access]]:
    """What each function's role must allow after every flow: its calls and Lambda's."""
    every_flow(client, container, put_shop, run_workers, slack, twilio, clock)
    return {
        function: recorder.by_function[function] | set(platform_accesses(function))
        for function in FUNCTIONS
    }


def test_every_call_of_every_function_is_allowed_on_its_resource_by_its_own_policy(
    recorder: CallRecorder, wanted: dict[str, set[Access]]
) -> None:
    # Given every function ran its flows
    assert set(recorder.by_function) == FUNCTIONS
    # Then the watcher changed the visibility of a dead letter it peeked at (the
    # AccessDenied that kept agents from hearing of them) ...
    watched = recorder.by_function["tell_dead_letters"]
    for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE):
        dead_letters = queue_arn(dead_letter_queue(queue))
        assert Access("sqs:ChangeMessageVisibility", dead_letters) in watched
    # ... and each function's own policy allows every access it needs, on its resource
    assert {function: refused(policy(function), wanted[function]) for function in FUNCTIONS} == {
        function: [] for function in FUNCTIONS
    }


def test_each_policy_grants_only_what_its_function_needs(
    wanted: dict[str, set[Access]],
) -> None:
    # Given every function ran its flows, then every action on every resource a policy
    # names was needed by its function (least privilege: nothing granted for another's sake)
    unused = {
        function: sorted(
            f"{action} on {resource}"
            for statement in policy(function)["Statement"]
            for action in listed(statement["Action"])
            for resource in listed(statement["Resource"])
            if not any(
                access.action == action and resource_matches(resource, access.resource)
                for access in wanted[function]
            )
        )
        for function in FUNCTIONS
    }
    assert unused == {function: [] for function in FUNCTIONS}


def test_each_function_has_its_own_policy_file_and_chalice_deploys_it() -> None:
    # Given the chalice config, then chalice generates no policy, and gives each function
    # a file of its own
    files = {function: config(function).iam_policy_file for function in FUNCTIONS}
    assert all(config(function).autogen_policy is False for function in FUNCTIONS)
    assert len(set(files.values())) == len(FUNCTIONS)
    assert all((PROJECT / ".chalice" / name).is_file() for name in files.values())


def test_sns_triggered_functions_are_known_to_the_check() -> None:
    # The SNS-triggered functions are the ones whose failed events go to a destination.
    sns_triggered = {s.name for s in app.event_sources if isinstance(s, SNSEventConfig)}
    assert sns_triggered == {"receive_mail", "email_events"}
    assert all(failure_destinations(function) for function in sns_triggered)
