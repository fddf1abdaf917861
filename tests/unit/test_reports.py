"""A shop's figures over a period, computed by hand for small sets of conversations."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.conversation import Conversation, CsatRating, SlaEvent
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.reports import build_report, local_days, percentile, sla_outcomes
from chalicelib.domain.vocabulary import Channel, SlaStage, SlaTarget
from chalicelib.services.reports import report_days

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def conversation(number: int, created_at: datetime, **fields: Any) -> Conversation:
    return Conversation.model_validate(
        {
            "shop_id": "ana",
            "conversation_id": f"C{number:03d}",
            "channel": Channel.SMS,
            "customer_address": f"+551198765{number:04d}",
            "shop_address": "+14155550100",
            "created_at": created_at,
            "last_customer_message_at": created_at,
            **fields,
        }
    )


def event(target: SlaTarget, stage: SlaStage | str, minute: int) -> SlaEvent:
    return SlaEvent.model_validate(
        {"target": target, "stage": stage, "at": START + timedelta(minutes=minute)}
    )


FIRST, NEXT, RESOLUTION = SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE, SlaTarget.RESOLUTION
WARNING, BREACHED, SECOND = SlaStage.WARNING, SlaStage.BREACHED, SlaStage.SECOND_LEVEL


def test_percentiles_interpolate_between_the_nearest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    # Rank 0.9 × 3 = 2.7: 3 + 0.7 × (10 − 3).
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.9) == pytest.approx(7.9)


@pytest.mark.parametrize(
    ("history", "outcome"),
    [
        ([], (0, 0)),
        # Met before any stage; met after its warning: both in time.
        ([event(FIRST, "met", 5)], (1, 0)),
        ([event(FIRST, WARNING, 4), event(FIRST, "met", 5)], (1, 0)),
        # Breached and answered late; breached, escalated and never met: one breach each.
        ([event(FIRST, BREACHED, 5), event(FIRST, "met", 9)], (0, 1)),
        ([event(FIRST, WARNING, 4), event(FIRST, BREACHED, 5), event(FIRST, SECOND, 9)], (0, 1)),
        # Still running: neither yet.
        ([event(FIRST, WARNING, 4)], (0, 0)),
        # The first response late, the next in time, the resolution late and still open.
        (
            [
                event(FIRST, BREACHED, 5),
                event(FIRST, "met", 6),
                event(NEXT, "met", 20),
                event(RESOLUTION, WARNING, 30),
                event(RESOLUTION, BREACHED, 40),
            ],
            (1, 2),
        ),
        # Two next-response runs in a row, the first breached and cleared by resolving
        # (no "met"): the second one's warning starts a new run, met in time.
        (
            [
                event(NEXT, WARNING, 1),
                event(NEXT, BREACHED, 2),
                event(NEXT, WARNING, 30),
                event(NEXT, "met", 31),
            ],
            (1, 1),
        ),
    ],
)
def test_sla_outcomes_count_each_target_run_once(
    history: list[SlaEvent], outcome: tuple[int, int]
) -> None:
    assert sla_outcomes(history) == outcome


def test_the_figures_of_a_day_by_hand() -> None:
    # Given four conversations of the day (two agents, one unassigned) and one the day after
    at = START + timedelta(hours=9)
    conversations = [
        conversation(
            1,
            at,
            assignee_user_id="U0BIA",
            first_response_at=at + timedelta(seconds=60),
            resolved_at=at + timedelta(hours=2),
            sla_history=(event(FIRST, "met", 1), event(RESOLUTION, "met", 120)),
            csat=CsatRating(score=5, at=at + timedelta(hours=3)),
        ),
        conversation(
            2,
            at + timedelta(minutes=30),
            channel=Channel.WHATSAPP,
            assignee_user_id="U0BIA",
            first_response_at=at + timedelta(minutes=30, seconds=300),
            sla_history=(event(FIRST, BREACHED, 35), event(FIRST, "met", 40)),
            csat=CsatRating(score=2, at=at + timedelta(hours=3)),
        ),
        conversation(
            3,
            at + timedelta(hours=5),
            channel=Channel.EMAIL,
            assignee_user_id="U0CAIO",
            first_response_at=at + timedelta(hours=5, seconds=120),
            resolved_at=at + timedelta(hours=9),
            sla_history=(event(FIRST, "met", 302),),
            csat=CsatRating(score=4, at=at + timedelta(hours=10)),
        ),
        conversation(4, at + timedelta(hours=14, minutes=59)),
        conversation(5, END, first_response_at=END + timedelta(seconds=1)),
    ]

    # When
    report = build_report("ana", conversations, "UTC", START, END)

    # Then the day after is left out
    totals = report.totals
    assert totals.conversations == 4
    assert totals.by_channel == {channel: 0 for channel in Channel} | {
        Channel.SMS: 2,
        Channel.WHATSAPP: 1,
        Channel.EMAIL: 1,
    }
    # First responses 60, 300, 120 s: median 120, p90 at rank 1.8 = 120 + 0.8 × 180.
    assert totals.first_response.count == 3
    assert totals.first_response.median_seconds == 120
    assert totals.first_response.p90_seconds == pytest.approx(264)
    # Resolutions 2 h and 4 h: median 3 h, p90 = 7200 + 0.9 × 7200.
    assert totals.resolution.count == 2
    assert totals.resolution.median_seconds == 3 * 3600
    assert totals.resolution.p90_seconds == pytest.approx(13680)
    # Three targets met in time (1: both; 3: its first response), one breached (2).
    assert (totals.sla.met, totals.sla.breached) == (3, 1)
    assert totals.sla.compliance == pytest.approx(3 / 4)
    assert totals.csat.count == 3
    assert totals.csat.average == pytest.approx(11 / 3)
    assert totals.csat.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert report.by_hour[9] == 2
    assert report.by_hour[14] == 1
    assert report.by_hour[23] == 1
    assert sum(report.by_hour) == 4

    # And per agent, the busiest first and the unassigned last
    assert [a.assignee_user_id for a in report.agents] == ["U0BIA", "U0CAIO", None]
    bia, caio, unassigned = report.agents
    assert bia.conversations == 2
    assert bia.first_response.median_seconds == 180
    assert bia.resolution.count == 1
    assert (bia.sla.met, bia.sla.breached) == (2, 1)
    assert bia.csat.average == 3.5
    assert caio.by_channel[Channel.EMAIL] == 1
    assert caio.sla.compliance == 1.0
    assert unassigned.conversations == 1
    assert unassigned.first_response.median_seconds is None


def test_hours_are_the_shops_local_hours_across_a_half_hour_offset() -> None:
    # Given Kolkata (UTC+5:30): its local day 2 Nov runs from 1 Nov 18:30 UTC
    start, end = local_days(date(2026, 11, 2), date(2026, 11, 2), "Asia/Kolkata")
    assert start == datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 18, 30, tzinfo=UTC)
    conversations = [
        conversation(1, datetime(2026, 11, 1, 18, 29, 59, tzinfo=UTC)),  # 1 Nov 23:59:59
        conversation(2, datetime(2026, 11, 1, 18, 30, tzinfo=UTC)),  # 00:00
        conversation(3, datetime(2026, 11, 2, 3, 29, 59, tzinfo=UTC)),  # 08:59:59
        conversation(4, datetime(2026, 11, 2, 3, 30, tzinfo=UTC)),  # 09:00
        conversation(5, datetime(2026, 11, 2, 18, 29, tzinfo=UTC)),  # 23:59
        conversation(6, datetime(2026, 11, 2, 18, 30, tzinfo=UTC)),  # 3 Nov 00:00
    ]

    # When
    report = build_report("ana", conversations, "Asia/Kolkata", start, end)

    # Then
    assert report.totals.conversations == 4
    assert {hour: n for hour, n in enumerate(report.by_hour) if n} == {0: 1, 8: 1, 9: 1, 23: 1}
    assert report.start.isoformat() == "2026-11-02T00:00:00+05:30"


def test_a_local_day_across_a_dst_change_has_its_own_length() -> None:
    start, end = local_days(date(2026, 10, 25), date(2026, 10, 25), "Europe/Budapest")
    assert end - start == timedelta(hours=25)


def test_no_conversations_give_zeros_and_no_averages() -> None:
    report = build_report("ana", [], "Europe/Budapest", START, END)

    assert report.totals.conversations == 0
    assert report.totals.first_response.median_seconds is None
    assert report.totals.resolution.p90_seconds is None
    assert report.totals.sla.compliance is None
    assert report.totals.csat.average is None
    assert report.totals.csat.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert report.by_hour == [0] * 24
    assert report.agents == []


def test_a_period_must_run_forwards_between_aware_instants() -> None:
    with pytest.raises(ValueError, match="start before end"):
        build_report("ana", [], "UTC", END, START)
    with pytest.raises(ValueError, match="aware"):
        build_report("ana", [], "UTC", START.replace(tzinfo=None), END)


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("query", "days"),
    [
        ({}, (date(2026, 11, 17), TODAY)),
        ({"from": "2026-11-01", "to": "2026-11-01"}, (date(2026, 11, 1), date(2026, 11, 1))),
        ({"from": "2026-11-01"}, (date(2026, 11, 1), date(2026, 11, 7))),
        ({"to": "2026-11-10"}, (date(2026, 11, 4), date(2026, 11, 10))),
        ({"from": "2026-08-01", "to": "2026-10-31"}, (date(2026, 8, 1), date(2026, 10, 31))),
    ],
)
def test_report_days(query: dict[str, str], days: tuple[date, date]) -> None:
    assert report_days(query, TODAY) == days


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"from": "2026-11-10", "to": "2026-11-09"}, "from must not be after to"),
        ({"from": "2026-08-01", "to": "2026-11-01"}, "at most 92 days"),
        ({"from": "23/11/2026"}, "from must be a date"),
        ({"since": "2026-11-01"}, "unknown parameter since"),
    ],
)
def test_report_days_refused(query: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        report_days(query, TODAY)


def test_a_conversation_the_shop_started_has_no_first_response_time() -> None:
    at = START + timedelta(hours=9)
    conversations = [
        conversation(1, at, first_response_at=at + timedelta(seconds=60)),
        conversation(2, at, started_by_shop=True, first_response_at=at + timedelta(hours=5)),
    ]

    report = build_report("ana", conversations, "UTC", START, END)

    assert report.totals.conversations == 2
    assert report.totals.first_response.count == 1
    assert report.totals.first_response.median_seconds == 60
