"""IAM as AWS evaluates it, for the policy tests: each AWS call as the accesses it needs (the
action IAM authorises and the ARN of the resource it acts on), and whether a policy
document's statements allow an access (action and resource, with IAM's wildcards, and the
condition operators our policies use). moto enforces no IAM: without this, a missing
permission shows up only in AWS."""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

# moto's default account; the tests' region.
ACCOUNT = "123456789012"
REGION = "us-east-1"

# DynamoDB: a transaction is authorised by the actions of its parts.
TRANSACTION_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# S3 operations authorised by an action of another name.
S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket"}


@dataclass(frozen=True, order=True)
class Access:
    action: str
    resource: str
    # Condition keys the request carries (iam:PassedToService for a passed role).
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def queue_arn(queue: str) -> str:
    return arn("sqs", queue)


def _queue_name(params: Mapping[str, Any]) -> str:
    if "QueueName" in params:
        return str(params["QueueName"])
    return str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]


def _table(name: str, index: str | None = None) -> str:
    return arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[Access]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            Access(f"dynamodb:{TRANSACTION_PARTS[kind]}", _table(part["TableName"]))
            for item in params["TransactItems"]
            for kind, part in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Access(f"dynamodb:{operation}", _table(name)) for name in params["RequestItems"]]
    return [Access(f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName")))]


def _sqs(operation: str, params: Mapping[str, Any]) -> list[Access]:
    if operation == "StartMessageMoveTask":
        return [Access("sqs:StartMessageMoveTask", params["SourceArn"])]
    # A batch call is authorised by its single action.
    return [Access(f"sqs:{operation.removesuffix('Batch')}", queue_arn(_queue_name(params)))]


def _secret(params: Mapping[str, Any]) -> str:
    name = str(params.get("SecretId") or params["Name"])
    # Secrets Manager appends six random characters to a secret's name in its ARN.
    return name if name.startswith("arn:") else arn("secretsmanager", f"secret:{name}-AbCdEf")


def _scheduler(operation: str, params: Mapping[str, Any]) -> list[Access]:
    if operation == "ListSchedules":
        return [Access("scheduler:ListSchedules", "*")]
    group = params.get("GroupName") or "default"
    found = [
        Access(f"scheduler:{operation}", arn("scheduler", f"schedule/{group}/{params['Name']}"))
    ]
    role = (params.get("Target") or {}).get("RoleArn")
    if role:
        passed = (("iam:PassedToService", "scheduler.amazonaws.com"),)
        found.append(Access("iam:PassRole", role, passed))
    return found


def _s3(operation: str, params: Mapping[str, Any]) -> list[Access]:
    bucket = params["Bucket"]
    if operation == "DeleteObjects":
        return [
            Access("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{entry['Key']}")
            for entry in params["Delete"]["Objects"]
        ]
    if operation == "ListObjectsV2":
        return [Access("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    found = [
        Access(
            f"s3:{S3_ACTIONS.get(operation, operation)}", f"arn:aws:s3:::{bucket}/{params['Key']}"
        )
    ]
    if operation == "PutObject" and params.get("Tagging"):
        # Tags given with the object are authorised as tagging it too (S3's object tagging
        # guide).
        found.append(Access("s3:PutObjectTagging", f"arn:aws:s3:::{bucket}/{params['Key']}"))
    if operation == "CopyObject":
        # Authorised as reading the source and writing the copy, and tagging it when the
        # copy is given tags of its own
        source = params["CopySource"]
        key = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else source
        found = [
            Access("s3:PutObject", f"arn:aws:s3:::{bucket}/{params['Key']}"),
            Access("s3:GetObject", f"arn:aws:s3:::{key.lstrip('/')}"),
        ]
        if params.get("Tagging"):
            found.append(Access("s3:PutObjectTagging", f"arn:aws:s3:::{bucket}/{params['Key']}"))
    return found


def _ses(operation: str, params: Mapping[str, Any]) -> list[Access]:
    # SES authorises a send on the sending identity (here the From address's domain) and on
    # the configuration set it names.
    _, address = parseaddr(str(params["FromEmailAddress"]))
    found = [Access(f"ses:{operation}", arn("ses", f"identity/{address.rpartition('@')[2]}"))]
    if params.get("ConfigurationSetName"):
        configuration = f"configuration-set/{params['ConfigurationSetName']}"
        found.append(Access(f"ses:{operation}", arn("ses", configuration)))
    return found


def _sns(operation: str, params: Mapping[str, Any]) -> list[Access]:
    return [Access(f"sns:{operation}", params["TopicArn"])]


# Cross-region inference profiles' ids: a geography before the foundation model's id.
_INFERENCE_PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.(?P<model>.+)$")


def _bedrock(operation: str, params: Mapping[str, Any]) -> list[Access]:
    # Converse is authorised as InvokeModel on the model; through an inference profile, on
    # the profile and on the foundation model in each region it routes to (here the tests').
    model = str(params["modelId"])
    if model.startswith("arn:"):
        return [Access("bedrock:InvokeModel", model)]
    profile = _INFERENCE_PROFILE.match(model)
    if profile is None:
        return [
            Access("bedrock:InvokeModel", arn("bedrock", f"foundation-model/{model}", account=""))
        ]
    return [
        Access("bedrock:InvokeModel", arn("bedrock", f"inference-profile/{model}")),
        Access(
            "bedrock:InvokeModel",
            arn("bedrock", f"foundation-model/{profile['model']}", account=""),
        ),
    ]


SERVICES: dict[str, Callable[[str, Mapping[str, Any]], list[Access]]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "secretsmanager": lambda operation, params: [
        Access(f"secretsmanager:{operation}", _secret(params))
    ],
    "scheduler": _scheduler,
    "s3": _s3,
    "ses": _ses,
    "sns": _sns,
    # DetectSentiment acts on no resource: IAM authorises it on "*".
    "comprehend": lambda operation, params: [Access(f"comprehend:{operation}", "*")],
    "bedrock": _bedrock,
}


def accesses(service: str, operation: str, params: Mapping[str, Any]) -> list[Access]:
    """What IAM checks for one call (`service` as botocore signs for it: `ses` for SESv2).
    A service without a rule here raises KeyError: a new kind of call needs one."""
    return SERVICES[service](operation, params)


def function_logs(function_name: str) -> list[Access]:
    """What Lambda's runtime does with the function's role to write its logs to the log
    group the stack made for it."""
    group = arn("logs", f"log-group:/aws/lambda/{function_name}")
    stream = f"{group}:log-stream:2026/01/31/[$LATEST]0123456789abcdef"
    return [Access("logs:CreateLogStream", stream), Access("logs:PutLogEvents", stream)]


def queue_polling(queue: str) -> list[Access]:
    """What Lambda's SQS event source mapping does with the function's role."""
    return [
        Access(f"sqs:{action}", queue_arn(queue))
        for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
    ]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one character."""
    expression = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(expression, value, re.IGNORECASE if ignore_case else 0) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """A Resource element against an ARN: wildcards stay within the colon-separated
    segments, except a `*` that ends a segment, which may reach across the colons after it
    (IAM's rule); the resource part (the sixth segment) may hold colons of its own."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), resource.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return pattern == resource
    for position, part in enumerate(wanted[:5]):
        if part.endswith("*"):
            rest = ":".join(wanted[position:])
            return _glob(rest, ":".join(given[position:]))
        if not _glob(part, given[position]):
            return False
    return _glob(wanted[5], given[5])


def listed(element: str | list[str]) -> list[str]:
    """An IAM element that may be one string or a list, as a list."""
    return [element] if isinstance(element, str) else list(element)


CONDITIONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda wanted, given: given == wanted,
    "StringLike": lambda wanted, given: _glob(wanted, given),
}


def _conditions_hold(condition: Mapping[str, Mapping[str, Any]], access: Access) -> bool:
    context = dict(access.context)
    for operator, tests in condition.items():
        compare = CONDITIONS[operator]  # an operator without a rule here: KeyError
        for key, wanted in tests.items():
            given = context.get(key)
            if given is None or not any(compare(value, given) for value in listed(wanted)):
                return False
    return True


def _applies(statement: Mapping[str, Any], access: Access) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError("NotAction and NotResource are not evaluated here")
    return (
        any(_glob(a, access.action, ignore_case=True) for a in listed(statement["Action"]))
        and any(resource_matches(r, access.resource) for r in listed(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), access)
    )


def allows(policy: Mapping[str, Any], access: Access) -> bool:
    """An explicit Allow that applies, and no Deny that does."""
    statements = _listed_statements(policy)
    return any(s["Effect"] == "Allow" and _applies(s, access) for s in statements) and not any(
        s["Effect"] == "Deny" and _applies(s, access) for s in statements
    )


def _listed_statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = policy["Statement"]
    return [statement] if isinstance(statement, dict) else list(statement)


def refused(policy: Mapping[str, Any], wanted: Iterable[Access]) -> list[str]:
    """The accesses the policy does not allow, sorted and named."""
    return sorted({str(access) for access in wanted if not allows(policy, access)})
