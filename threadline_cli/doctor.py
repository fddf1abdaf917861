"""`threadline doctor`: whether a deployment, and each of its shops, really works, checked
from an operator's machine.

What needs no secret is checked here, with the operator's AWS credentials: the table, the
queues and what waits in their dead-letter queues, the schedule group and its role, SES
receiving for each shop's address. What needs a shop's secrets (its Slack bot token, its
Twilio auth token) is checked by the deployment itself, through the admin API, which
answers with verdicts only (docs/adr/0004-doctor-checks-with-secrets-server-side.md).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

from chalicelib.domain.checks import (
    EMAIL,
    Check,
    CheckReport,
    ReceiptRule,
    Verdict,
    domain_check,
    failed,
    not_configured,
    passed,
    receiving_check,
)
from chalicelib.settings import (
    FAILED_MAIL_QUEUE,
    INBOUND_QUEUE,
    OUTBOUND_QUEUE,
    SCHEDULE_GROUP,
    TABLE_NAME,
    TIMERS_QUEUE,
    dead_letter_queue,
)

# Names infra/template.json gives (a test holds them to it).
RECEIPT_RULE_SET = "threadline"
SCHEDULER_ROLE = "threadline-scheduler-{region}"
AWS = "AWS"
API = "API"
# How a shop's checks are listed: its agents' side first, channels Threadline lacks last.
SUBJECT_ORDER = ("Slack", "Twilio", EMAIL, "Meta", "Telegram", "Commerce")
# What to do about records waiting in each dead-letter queue.
DEAD_LETTER_FIXES = {
    dead_letter_queue(INBOUND_QUEUE): "fix the cause, then purge it: the stored messages "
    "are queued again by themselves (RUNBOOK.md, InboundDeadLetterAlarm)",
    dead_letter_queue(OUTBOUND_QUEUE): "fix the cause, then threadline dlq redrive outbound "
    "(RUNBOOK.md, OutboundDeadLetterAlarm)",
    dead_letter_queue(TIMERS_QUEUE): "fix the cause, then threadline dlq redrive timers "
    "(RUNBOOK.md, TimersDeadLetterAlarm)",
    FAILED_MAIL_QUEUE: "fix the cause, then threadline dlq redrive mail "
    "(RUNBOOK.md, MailDeadLetterAlarm)",
}


@dataclass(frozen=True)
class Section:
    title: str
    checks: list[Check] = field(default_factory=list)


def all_passed(sections: list[Section]) -> bool:
    return all(c.verdict is not Verdict.FAILED for s in sections for c in s.checks)


@dataclass(frozen=True)
class Answer:
    """The admin API's answer; status 0 when it could not be reached (`error` says why)."""

    status: int
    body: Any = None
    error: str = ""


class AdminApi:
    """The deployment's admin API at the URL the operator gave; the admin token goes there
    and nowhere else."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._token = token

    def get(self, path: str) -> Answer:
        return _fetch(self.url + path, {"Authorization": f"Bearer {self._token}"})

    def probe(self, url: str) -> Answer:
        """Another URL, asked without the token."""
        return _fetch(url, {})


def _fetch(url: str, headers: dict[str, str]) -> Answer:
    import requests

    try:
        response = requests.get(url, headers=headers, timeout=30)
    except requests.RequestException as error:
        return Answer(0, error=type(error).__name__)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body)


class AwsAccount:
    """The operator's AWS clients, each made on first use (`AWS_ENDPOINT_URL` for an
    emulator)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    @cached_property
    def region(self) -> str:
        import boto3

        return str(boto3.session.Session().region_name or "")

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(service)  # type: ignore[call-overload]
        return self._clients[service]


def examine(api: AdminApi, aws: AwsAccount, shop_id: str | None = None) -> list[Section]:
    """Every check: the deployment's, then each shop's (or only `shop_id`'s)."""
    listed = api.get("/admin/shops")
    deployment = Section(
        f"Deployment: {api.url} (AWS region {aws.region or 'not set'})",
        [*api_checks(api, listed), *aws_checks(aws)],
    )
    if listed.status != 200:
        return [deployment]
    if shop_id is None:
        shops = list(listed.body["shops"])
    else:
        from urllib.parse import quote

        named = api.get(f"/admin/shops/{quote(shop_id, safe='')}")
        if named.status != 200:
            missing = failed("Shop", shop_id, _refused(named), "threadline shop list")
            return [deployment, Section(f"Shop {shop_id}", [missing])]
        shops = [named.body]
    if not shops:
        return [deployment, Section("Shops", [not_configured("Shops", "none yet")])]
    mail = MailReceiving(aws)
    return [deployment, *(_shop_section(api, mail, shop) for shop in shops)]


def _refused(answer: Answer) -> str:
    if answer.status == 0:
        return f"no answer: {answer.error}"
    reason = answer.body.get("error") if isinstance(answer.body, dict) else None
    return f"{answer.status}: {reason or answer.body}"


def _listing_refused(api: AdminApi, listed: Answer) -> list[Check] | None:
    """The checks when `GET /admin/shops` was not answered with the shops; None when it was."""
    if listed.status == 0:
        return [
            failed(
                API,
                "answers",
                f"cannot reach {api.url}: {listed.error}",
                "check --api (THREADLINE_API_URL): the API's URL with its stage, such as "
                "https://<id>.execute-api.<region>.amazonaws.com/api",
            )
        ]
    if listed.status == 403 and isinstance(listed.body, dict) and "message" in listed.body:
        # API Gateway's own answer for a path it has no route for.
        return [
            failed(
                API,
                "answers",
                f"API Gateway answers {listed.body['message']!r} for /admin/shops",
                "the URL must end with the stage (/api), without a trailing path",
            )
        ]
    if listed.status == 401:
        return [
            passed(API, "answers", api.url),
            failed(
                API,
                "admin token",
                f"refused: {_refused(listed)}",
                "use the deployment's admin token (--token, THREADLINE_ADMIN_TOKEN)",
            ),
        ]
    if listed.status != 200:
        return [
            failed(
                API,
                "answers",
                f"GET /admin/shops answered {_refused(listed)}",
                "see the APIHandler function's log group (RUNBOOK.md, Where to look)",
            )
        ]
    return None


def api_checks(api: AdminApi, listed: Answer) -> list[Check]:
    """The API's checks, from its answer to `GET /admin/shops` (`listed`) on."""
    refused = _listing_refused(api, listed)
    if refused is not None:
        return refused
    settings = api.get("/admin/checks")
    if settings.status != 200:
        return [
            passed(API, "answers", api.url),
            passed(API, "admin token", "accepted"),
            failed(
                API,
                "settings",
                f"GET /admin/checks answered {_refused(settings)}",
                "see the APIHandler function's log group (RUNBOOK.md, Where to look)",
            ),
        ]
    checks = CheckReport.model_validate(settings.body).checks
    public_url = next(
        (c.detail for c in checks if c.name == "public URL" and c.verdict is Verdict.PASSED), ""
    )
    # Providers call the public URL: when it is not the URL checked, a Threadline API must
    # answer there too.
    elsewhere = public_url and public_url.rstrip("/") != api.url
    reached = [_public_url_answers(api, public_url)] if elsewhere else []
    answering = [passed(API, "answers", api.url), passed(API, "admin token", "accepted")]
    return [*answering, *checks, *reached]


def _public_url_answers(api: AdminApi, public_url: str) -> Check:
    """Whether a Threadline API answers at the public URL: its admin API's refusal of a
    request without the token (which is never sent there)."""
    name = "public URL answers"
    answer = api.probe(public_url.rstrip("/") + "/admin/checks")
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 401 and "bearer token" in str(body.get("error")):
        return passed(API, name, f"a Threadline API answers at {public_url}")
    return failed(
        API,
        name,
        f"{public_url} answers {_refused(answer)}, not as a Threadline API",
        "set THREADLINE_PUBLIC_URL to this API's URL with its stage and deploy (DEPLOY.md §5)",
    )


def _aws_check(name: str, action: str, check: Callable[[], Check]) -> Check:
    """A check of one resource; AWS's refusal (or no credentials) fails it, naming why."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return check()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return failed(AWS, name, "access denied", f"your AWS credentials need {action}")
        if code in ("ResourceNotFoundException", "NoSuchEntity", "NonExistentQueue") or (
            code == "AWS.SimpleQueueService.NonExistentQueue"
        ):
            return failed(
                AWS, name, "not found in this account and region", "deploy the stack (DEPLOY.md)"
            )
        return failed(AWS, name, f"{code}: {error}", "see the error; try again")
    except BotoCoreError as error:
        return failed(
            AWS,
            name,
            f"{type(error).__name__}: {error}",
            "set AWS credentials and AWS_DEFAULT_REGION for the deployment's account",
        )


def aws_checks(aws: AwsAccount) -> list[Check]:
    role = SCHEDULER_ROLE.format(region=aws.region)
    main_queues = (INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE)
    return [
        _aws_check(f"table {TABLE_NAME}", "dynamodb:DescribeTable", lambda: _table(aws)),
        *(
            _aws_check(f"queue {q}", "sqs:GetQueueUrl", partial(_queue_exists, aws, q))
            for q in main_queues
        ),
        *(
            _aws_check(f"queue {q}", "sqs:GetQueueAttributes", partial(_dead_letters, aws, q))
            for q in DEAD_LETTER_FIXES
        ),
        _aws_check(
            f"schedule group {SCHEDULE_GROUP}",
            "scheduler:GetScheduleGroup",
            lambda: _schedule_group(aws),
        ),
        _aws_check(f"role {role}", "iam:GetRole", lambda: _scheduler_role(aws, role)),
    ]


def _table(aws: AwsAccount) -> Check:
    status = aws.client("dynamodb").describe_table(TableName=TABLE_NAME)["Table"]["TableStatus"]
    if status != "ACTIVE":
        return failed(AWS, f"table {TABLE_NAME}", status.lower(), "wait, then check again")
    return passed(AWS, f"table {TABLE_NAME}", "active")


def _queue_exists(aws: AwsAccount, name: str) -> Check:
    aws.client("sqs").get_queue_url(QueueName=name)
    return passed(AWS, f"queue {name}", "exists")


def _dead_letters(aws: AwsAccount, name: str) -> Check:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)
    waiting = sum(int(attributes["Attributes"].get(count, 0)) for count in counts)
    if waiting:
        noun = "record waits" if waiting == 1 else "records wait"
        return failed(AWS, f"queue {name}", f"{waiting} {noun}", DEAD_LETTER_FIXES[name])
    return passed(AWS, f"queue {name}", "empty")


def _schedule_group(aws: AwsAccount) -> Check:
    state = aws.client("scheduler").get_schedule_group(Name=SCHEDULE_GROUP).get("State", "ACTIVE")
    name = f"schedule group {SCHEDULE_GROUP}"
    if state != "ACTIVE":
        return failed(AWS, name, state.lower(), "deploy the stack again (DEPLOY.md)")
    return passed(AWS, name, "active")


def _scheduler_role(aws: AwsAccount, role: str) -> Check:
    trust = aws.client("iam").get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument", {})
    if "scheduler.amazonaws.com" not in str(trust):
        return failed(
            AWS,
            f"role {role}",
            "does not trust scheduler.amazonaws.com: no timer can fire",
            "deploy the stack again (DEPLOY.md)",
        )
    return passed(AWS, f"role {role}", "exists, trusted by EventBridge Scheduler")


class MailReceiving:
    """SES receiving as the operator's account has it, read once for every shop."""

    def __init__(self, aws: AwsAccount) -> None:
        self._aws = aws

    @cached_property
    def _ses(self) -> Any:
        return self._aws.client("ses")

    @cached_property
    def active_rules(self) -> tuple[str | None, list[ReceiptRule]]:
        active = self._ses.describe_active_receipt_rule_set()
        rules = [
            ReceiptRule(
                name=rule["Name"],
                enabled=bool(rule.get("Enabled")),
                recipients=tuple(rule.get("Recipients") or ()),
            )
            for rule in active.get("Rules", [])
        ]
        return (active.get("Metadata") or {}).get("Name"), rules

    def checks(self, address: str) -> list[Check]:
        domain = address.rpartition("@")[2].lower()

        def receiving() -> Check:
            active, rules = self.active_rules
            return receiving_check(address, active, RECEIPT_RULE_SET, rules)

        def verified() -> Check:
            found = self._ses.get_identity_verification_attributes(Identities=[address, domain])
            statuses = {
                identity: attributes.get("VerificationStatus", "")
                for identity, attributes in found["VerificationAttributes"].items()
            }
            return domain_check(address, statuses)

        return [
            _email(_aws_check("receiving", "ses:DescribeActiveReceiptRuleSet", receiving)),
            _email(
                _aws_check(f"domain {domain}", "ses:GetIdentityVerificationAttributes", verified)
            ),
        ]


def _email(check: Check) -> Check:
    return check.model_copy(update={"subject": EMAIL})


def _shop_section(api: AdminApi, mail: MailReceiving, shop: dict[str, Any]) -> Section:
    shop_id = str(shop["shop_id"])
    title = f"Shop {shop_id} ({shop.get('name', '')})"
    answer = api.get(f"/admin/shops/{shop_id}/checks")
    if answer.status != 200:
        fix = "try again; see the APIHandler function's log group"
        return Section(title, [failed("Shop", "checks", _refused(answer), fix)])
    checks = CheckReport.model_validate(answer.body).checks
    address = (shop.get("email") or {}).get("address")
    checks += mail.checks(address) if address else [not_configured(EMAIL, "no address")]
    position = {subject: index for index, subject in enumerate(SUBJECT_ORDER)}
    return Section(title, sorted(checks, key=lambda c: position.get(c.subject, len(position))))
