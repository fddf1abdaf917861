"""Where the app's own part of an ack goes, with DynamoDB and SQS answered in process
(`python -m bench.ack --profile`).

Each ack (a Twilio customer message, a Slack agent reply) runs a few hundred times under
cProfile, warm, exactly as the in-process figure times it (the Lambda handler called with
API Gateway's event). Every function's own time is
charged to an area by the file it is in; the standard library's and builtins' (json,
hmac, urllib.parse, …) to the area that called them, in proportion to what each caller
spent in them. cProfile's overhead weighs on many small calls, so the microseconds are
the profiled ones, larger than the unprofiled figure; the shares are what to read.
"""

import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from typing import Any

from bench.ack import agent_reply, customer_message, floors, running_app

# (a piece of the path, its area), first match wins; None: charged to the caller.
AREAS: tuple[tuple[str, str], ...] = (
    ("/bench/in_process_aws.py", "AWS answered in process (both sides)"),
    ("/botocore/", "boto3 (the floor)"),
    ("/boto3/", "boto3 (the floor)"),
    # powertools tags the user agent of every client of boto3's default session, the
    # floor's too: a botocore hook, part of each call.
    ("/aws_lambda_powertools/shared/user_agent.py", "boto3 (the floor)"),
    ("/chalice/test.py", "chalice's test client (not in Lambda)"),
    ("/chalice/local.py", "chalice's test client (not in Lambda)"),
    ("/chalice/", "chalice: event to Request, routing"),
    ("/twilio/", "Twilio signature (twilio's validator)"),
    ("/slack_sdk/", "Slack signature (slack_sdk)"),
    ("/pydantic", "pydantic: models validated, dumped"),
    ("/aws_lambda_powertools/", "shop & secrets cache (powertools)"),
    ("/chalicelib/channels/", "channels: form / JSON read, checked"),
    ("/chalicelib/store/", "store: the item and its keys"),
    ("/chalicelib/queues.py", "queues: job body, group and dedup ids"),
    ("/chalicelib/domain/", "domain: shop, ids fitted, input limits"),
    ("/chalicelib/services/", "intake (services)"),
    ("/chalicelib/", "other app modules (bootstrap, secrets)"),
    ("/app.py", "app.py: routes, WebhookRequest"),
)
# What a Lambda running the app does not spend on the app: the floor's work, the stand-in
# for AWS, and the test client's stand-in for API Gateway.
NOT_THE_APP = frozenset(
    {
        "AWS answered in process (both sides)",
        "boto3 (the floor)",
        "chalice's test client (not in Lambda)",
    }
)

Function = tuple[str, int, str]


def area_of(path: str) -> str | None:
    return next((area for piece, area in AREAS if piece in path), None)


def by_area(stats: dict[Function, Any]) -> dict[str, float]:
    """Seconds of own time per area (standard library time charged to its callers)."""

    @cache
    def shares(function: Function) -> tuple[tuple[str, float], ...]:
        area = area_of(function[0])
        if area is not None:
            return ((area, 1.0),)
        callers: dict[Function, tuple[int, int, float, float]] = stats[function][4]
        spent = sum(edge[2] for caller, edge in callers.items() if caller != function)
        charged: defaultdict[str, float] = defaultdict(float)
        for caller, edge in callers.items():
            if caller == function or not spent:
                continue
            for caller_area, fraction in shares(caller):
                charged[caller_area] += fraction * edge[2] / spent
        return tuple(charged.items()) or (("unattributed", 1.0),)

    seconds: defaultdict[str, float] = defaultdict(float)
    for function, (_, _, own, _, _) in stats.items():
        for area, fraction in shares(function):
            seconds[area] += own * fraction
    return dict(seconds)


def profiled(work: Callable[[], object], runs: int) -> dict[str, float]:
    profile = cProfile.Profile()
    for _ in range(runs):
        profile.enable()
        work()
        profile.disable()
    stats: dict[Function, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return by_area(stats)


def table(title: str, seconds: dict[str, float], runs: int) -> str:
    own = sum(value for area, value in seconds.items() if area not in NOT_THE_APP)
    lines = [f"{title}: {runs} acks, µs per ack under cProfile, share of the app's own part"]
    for area, value in sorted(seconds.items(), key=lambda item: -item[1]):
        share = "" if area in NOT_THE_APP else f"{100 * value / own:5.1f} %"
        lines.append(f"  {area:<44} {1e6 * value / runs:8.1f} µs  {share}")
    lines.append(f"  {'the app own part':<44} {1e6 * own / runs:8.1f} µs")
    return "\n".join(lines)


def profile_acks(runs: int = 400) -> str:
    sequence = iter(range(1, 10**9))
    with running_app() as harness:
        harness.post(customer_message(next(sequence)))
        harness.drain()
        [root] = harness.slack.roots()
        floor, slack_floor = floors(harness, sequence, root.ts)
        # The function called as Lambda calls it, as the in-process figure times it.
        messages = iter(
            [harness.lambda_event(customer_message(next(sequence))) for _ in range(runs + 20)]
        )
        replies = iter(
            [
                harness.lambda_event(agent_reply(root.ts, time.time() - 60 + n / 1000))
                for n in range(runs + 20)
            ]
        )
        with harness.in_process.answering():
            for _ in range(20):
                harness.invoke(next(messages))
                harness.invoke(next(replies))
                floor.ack()
                slack_floor.send_message()
            twilio = profiled(lambda: harness.invoke(next(messages)), runs)
            slack = profiled(lambda: harness.invoke(next(replies)), runs)
    return "\n\n".join(
        (
            table("Twilio customer message", twilio, runs),
            table("Slack event (agent reply)", slack, runs),
        )
    )
