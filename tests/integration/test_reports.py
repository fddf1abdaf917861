"""Reports over the admin API, the daily digest in Slack, and the workers' metrics."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import png
import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.domain.conversation import Conversation, CsatRating
from chalicelib.domain.errors import Retryable
from chalicelib.domain.vocabulary import Channel
from chalicelib.settings import TABLE_NAME
from local_stack.pump import scheduled_event
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, Clock, stored_item
from tests.integration.test_agent_replies import reply_event
from tests.signing import CHANNEL_ID, shop_document

KOLKATA = "Asia/Kolkata"


def conversation(number: int, created_at: datetime, **fields: Any) -> Conversation:
    return Conversation.model_validate(
        {
            "shop_id": "ana",
            "conversation_id": f"C{number:04d}",
            "channel": Channel.SMS,
            "customer_address": f"+5511900{number:06d}",
            "shop_address": "+14155550100",
            "created_at": created_at,
            "last_customer_message_at": created_at,
            **fields,
        }
    )


@pytest.fixture
def kolkata_shop(put_shop: Callable[..., Any]) -> str:
    response = put_shop("ana", shop_document(timezone=KOLKATA, digest={"hour": 9}))
    assert response.status_code == 201, response.body
    return "ana"


# The store ------------------------------------------------------------------------------


def test_a_period_is_read_whole_across_pages(container: bootstrap.Container) -> None:
    # Given 12 conversations of ~100 KB each in the period (more than one 1 MB page), and one
    # just before and one exactly at its end
    start = datetime(2026, 11, 2, tzinfo=UTC)
    end = start + timedelta(days=1)
    inside = [
        conversation(n, start + timedelta(hours=n), first_message_preview="x" * 100_000)
        for n in range(12)
    ]
    for c in [*inside, conversation(90, start - timedelta(seconds=1)), conversation(91, end)]:
        container.store.conversations.create_conversation(c)
    first_page = boto3.client("dynamodb").query(
        TableName=TABLE_NAME,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SHOP#ana#CONVERSATIONS"}},
    )
    assert "LastEvaluatedKey" in first_page

    # When
    found = container.store.listings.conversations_created("ana", start, end)

    # Then
    assert [c.conversation_id for c in found] == [c.conversation_id for c in inside]


# The admin API ----------------------------------------------------------------------------


def test_a_report_counts_the_shops_local_days(
    client: Client, kolkata_shop: str, container: bootstrap.Container, clock: Clock
) -> None:
    # Given conversations around Kolkata's 2 November (18:30 UTC the day before to 18:30)
    clock.now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    for c in [
        conversation(1, datetime(2026, 11, 1, 18, 29, tzinfo=UTC)),
        conversation(
            2,
            datetime(2026, 11, 1, 18, 30, tzinfo=UTC),
            assignee_user_id="U0AGENT",
            first_response_at=datetime(2026, 11, 1, 18, 40, tzinfo=UTC),
            csat=CsatRating(score=4, at=datetime(2026, 11, 2, tzinfo=UTC)),
        ),
        conversation(3, datetime(2026, 11, 2, 3, 45, tzinfo=UTC), channel=Channel.EMAIL),
        conversation(4, datetime(2026, 11, 2, 18, 30, tzinfo=UTC)),
    ]:
        container.store.conversations.create_conversation(c)

    # When
    response = client.http.get(
        "/admin/shops/ana/reports?from=2026-11-02&to=2026-11-02", headers=ADMIN
    )

    # Then
    assert response.status_code == 200, response.body
    report = json.loads(response.body)
    assert report["start"] == "2026-11-02T00:00:00+05:30"
    assert report["end"] == "2026-11-03T00:00:00+05:30"
    assert report["totals"]["conversations"] == 2
    # Every channel is counted, those without a conversation as 0.
    by_channel = report["totals"]["by_channel"]
    assert {name: n for name, n in by_channel.items() if n} == {"sms": 1, "email": 1}
    assert set(by_channel) >= {"sms", "whatsapp", "email", "whatsapp_cloud", "messenger"}
    assert report["totals"]["first_response"]["median_seconds"] == 600
    assert report["totals"]["csat"]["distribution"]["4"] == 1
    assert {h: n for h, n in enumerate(report["by_hour"]) if n} == {0: 1, 9: 1}
    assert [a["assignee_user_id"] for a in report["agents"]] == ["U0AGENT", None]


def test_a_report_defaults_to_the_last_seven_local_days(
    client: Client, kolkata_shop: str, clock: Clock
) -> None:
    # 23 Nov 20:00 UTC is already 24 Nov in Kolkata.
    clock.now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)

    response = client.http.get("/admin/shops/ana/reports", headers=ADMIN)

    assert response.status_code == 200, response.body
    report = json.loads(response.body)
    assert report["start"] == "2026-11-18T00:00:00+05:30"
    assert report["end"] == "2026-11-25T00:00:00+05:30"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2026-11-10&to=2026-11-01", "from must not be after to"),
        ("from=2026-01-01&to=2026-11-01", "a report spans at most 92 days"),
        ("from=yesterday", "from must be a date such as 2026-11-23"),
        # Days whose span would leave the calendar (OverflowError: it answered 503)
        ("from=9999-12-31", "from must be a day of the years 2000 to 2999"),
        ("to=0001-01-01", "to must be a day of the years 2000 to 2999"),
        ("from=0001-01-01&to=0001-01-01", "from must be a day of the years 2000 to 2999"),
    ],
)
def test_a_report_refuses_bad_ranges(
    client: Client, kolkata_shop: str, query: str, reason: str
) -> None:
    response = client.http.get(f"/admin/shops/ana/reports?{query}", headers=ADMIN)

    assert response.status_code == 400
    assert json.loads(response.body) == {"error": reason}


def test_a_report_needs_the_admin_token_and_a_known_shop(client: Client, shop: str) -> None:
    assert client.http.get("/admin/shops/ana/reports").status_code == 401
    missing = client.http.get("/admin/shops/nobody/reports", headers=ADMIN)
    assert missing.status_code == 404


# The daily digest ---------------------------------------------------------------------------


def post_digests() -> None:
    app.handler_map["post_digests"](scheduled_event("post_digests"), None)


@pytest.fixture
def yesterday(kolkata_shop: str, container: bootstrap.Container) -> None:
    """Three conversations on Kolkata's 22 November: two at 10:xx, one at 15:xx local."""
    for number, at in enumerate(
        [
            datetime(2026, 11, 22, 4, 40, tzinfo=UTC),
            datetime(2026, 11, 22, 4, 50, tzinfo=UTC),
            datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        ]
    ):
        container.store.conversations.create_conversation(conversation(number, at))


def test_the_digest_goes_out_once_from_the_local_digest_hour(
    yesterday: None, clock: Clock, slack: FakeSlack
) -> None:
    # Given 08:59 in Kolkata: not yet
    clock.now = datetime(2026, 11, 23, 3, 29, tzinfo=UTC)
    post_digests()
    assert slack.posts == []

    # When the first run at or after 09:00, and the next ones
    clock.now = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    post_digests()
    clock.now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    post_digests()
    post_digests()

    # Then one post of yesterday's figures, and its chart, in the shop's channel
    [post] = slack.posts
    assert (post.channel, post.thread_ts) == (CHANNEL_ID, None)
    assert post.message.blocks[0]["text"]["text"] == "Loja da Ana: Sunday 22 Nov 2026"
    assert post.message.blocks[1]["fields"][0]["text"] == "*Conversations opened*\n3"
    [(channel, thread_ts, [chart])] = slack.uploads
    assert (channel, thread_ts, chart.content_type) == (CHANNEL_ID, None, "image/png")
    width, height, _, _ = png.Reader(bytes=chart.content).read()
    assert (width, height) == (246, 117)
    record = stored_item("SHOP#ana#DIGEST", "2026-11-23")
    assert record is not None
    assert record["posted_ts"] == post.ts
    assert "done_at" in record


def test_a_failed_post_is_tried_again_at_the_next_run(
    yesterday: None, clock: Clock, slack: FakeSlack
) -> None:
    # Given Slack fails the first post
    clock.now = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    slack.failures.append(Retryable("Slack answered 503"))
    with pytest.raises(Retryable, match="1 digests not posted"):
        post_digests()
    assert slack.posts == []

    # When the next hour runs
    clock.now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    post_digests()

    # Then the digest goes out once, with its chart
    assert len(slack.posts) == 1
    assert len(slack.uploads) == 1


def test_a_lost_chart_is_uploaded_again_without_posting_twice(
    yesterday: None, clock: Clock, slack: FakeSlack
) -> None:
    # Given the post goes out but the chart's upload fails
    clock.now = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    slack.upload_failures.append(Retryable("Slack upload failed: ReadTimeout"))
    with pytest.raises(Retryable):
        post_digests()
    assert len(slack.posts) == 1
    assert slack.uploads == []

    # When the next hour runs
    clock.now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    post_digests()

    # Then only the chart is added
    assert len(slack.posts) == 1
    assert len(slack.uploads) == 1


def test_a_run_holding_the_lease_keeps_others_off(
    yesterday: None, clock: Clock, slack: FakeSlack, container: bootstrap.Container
) -> None:
    # Given another run took today's digest a minute ago and is still at it
    now = datetime(2026, 11, 23, 3, 31, tzinfo=UTC)
    lease = container.store.digests.lease_digest(
        "ana", now.date(), "other-run", now - timedelta(minutes=1), timedelta(minutes=15)
    )
    assert lease is not None
    clock.now = now

    # When this run comes
    post_digests()

    # Then it leaves the shop alone; once the lease expired, it takes over
    assert slack.posts == []
    clock.now = now + timedelta(minutes=15)
    post_digests()
    assert len(slack.posts) == 1


def test_no_digest_for_a_shop_without_one(shop: str, clock: Clock, slack: FakeSlack) -> None:
    clock.now = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)

    post_digests()

    assert slack.posts == []


# Metrics ------------------------------------------------------------------------------------


def emf_metrics(output: str) -> list[dict[str, Any]]:
    """The EMF blobs a handler printed, one JSON object per line."""
    blobs = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def values_of(blobs: list[dict[str, Any]], name: str) -> list[tuple[str | None, list[float]]]:
    """(channel dimension, values) of every blob that carries the metric `name`."""
    found = []
    for blob in blobs:
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        if any(metric["Name"] == name for metric in directive["Metrics"]):
            assert directive["Namespace"] == "Threadline"
            assert blob["service"] == "threadline"
            assert "shop_id" not in blob
            found.append((blob.get("channel"), blob[name]))
    return found


def test_the_workers_write_their_metrics_after_each_run(
    open_thread: Callable[..., str],
    slack_event: Callable[..., Any],
    run_workers: Callable[[], int],
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a customer message, processed
    clock.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    thread_ts = open_thread()
    processed = emf_metrics(capsys.readouterr().out)
    assert values_of(processed, "CustomerMessageProcessed") == [("sms", [1.0])]

    # When an agent answers 90 seconds later
    clock.now = datetime(2026, 11, 23, 12, 1, 30, tzinfo=UTC)
    assert slack_event(reply_event(thread_ts)).status_code == 200
    run_workers()

    # Then the reply and the first response time are written
    answered = emf_metrics(capsys.readouterr().out)
    assert values_of(answered, "AgentReplySent") == [("sms", [1.0])]
    [(channel, [waited])] = values_of(answered, "FirstResponseTime")
    assert channel == "sms"
    assert waited == 90
