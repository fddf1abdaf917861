"""The SLA clock: due times in business hours across nights, weekends, holidays and DST
changes, in the shop's time zone; checked by examples and by properties (hypothesis)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.sla import Opening, SlaPolicy, answered, escalate, resolved
from chalicelib.domain.vocabulary import Channel, SlaStage, SlaTarget

pytestmark = pytest.mark.unit

BUDAPEST = "Europe/Budapest"
# Mon–Fri 09:00–18:00, a lunch break on Wednesdays, Saturday mornings, closed Sundays.
POLICY = SlaPolicy.model_validate(
    {
        "business_hours": {
            "mon": [{"opens": "09:00", "closes": "18:00"}],
            "tue": [{"opens": "09:00", "closes": "18:00"}],
            "wed": [{"opens": "09:00", "closes": "12:00"}, {"opens": "13:00", "closes": "18:00"}],
            "thu": [{"opens": "09:00", "closes": "18:00"}],
            "fri": [{"opens": "09:00", "closes": "18:00"}],
            "sat": [{"opens": "10:00", "closes": "14:00"}],
        },
        "holidays": ["2026-12-25", "2026-12-26"],
    }
)


def local(text: str, timezone: str = BUDAPEST) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        # Within the day
        ("2026-11-23 10:00", 30, "2026-11-23 10:30"),
        # Across the night: 10 minutes today, 20 tomorrow morning
        ("2026-11-23 17:50", 30, "2026-11-24 09:20"),
        # Before opening: the clock starts at 09:00
        ("2026-11-23 06:00", 60, "2026-11-23 10:00"),
        # Over Wednesday's lunch break
        ("2026-11-25 11:30", 60, "2026-11-25 13:30"),
        # Friday evening → Saturday's short day → Monday
        ("2026-11-27 17:00", 60 + 240 + 30, "2026-11-30 09:30"),
        # Closed on Sunday
        ("2026-11-29 12:00", 15, "2026-11-30 09:15"),
        # Christmas (Friday and Saturday) is closed
        ("2026-12-24 17:30", 60, "2026-12-28 09:30"),
        # Zero minutes: the first open moment
        ("2026-11-29 12:00", 0, "2026-11-30 09:00"),
    ],
)
def test_due_times_count_only_business_hours(start: str, minutes: int, due: str) -> None:
    assert POLICY.due(local(start), minutes, BUDAPEST) == local(due).astimezone(UTC)


def test_opening_hours_follow_the_clocks_across_dst_changes() -> None:
    # Saturday 28 March 2026 13:30 CET, 60 minutes, 30 of them left that day; Sunday 29 is
    # the spring change (closed anyway); Monday opens at 09:00 CEST = 07:00 UTC.
    due = POLICY.due(local("2026-03-28 13:30"), 60, BUDAPEST)
    assert due == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    # And in autumn, 09:00 CET = 08:00 UTC on Monday 26 October
    due = POLICY.due(local("2026-10-24 13:50"), 20, BUDAPEST)
    assert due == datetime(2026, 10, 26, 8, 10, tzinfo=UTC)


def test_a_shop_open_around_the_clock_counts_the_hour_the_spring_change_skips() -> None:
    # Given a shop open every day from midnight to midnight, by its opening hours
    every_day = {
        day: [{"opens": "00:00", "closes": "00:00"}]
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    always_open = SlaPolicy.model_validate({"business_hours": every_day})
    # When a 24-hour target starts on Saturday 28 March 2026 at noon in Budapest, the
    # night before Sunday's change from 02:00 CET to 03:00 CEST
    due = always_open.due(local("2026-03-28 12:00"), 24 * 60, BUDAPEST)
    # Then it is due 24 real hours later: 13:00 on the new clock (11:00 UTC), not at noon
    assert due == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)
    assert due.astimezone(ZoneInfo(BUDAPEST)).hour == 13
    # And the hours it counts are the same, measured back
    assert always_open.elapsed(local("2026-03-28 12:00"), due, BUDAPEST) == timedelta(hours=24)


def test_a_shop_open_over_midnight_and_around_the_clock() -> None:
    night = SlaPolicy.model_validate(
        {"business_hours": {day: [{"opens": "20:00", "closes": "00:00"}] for day in ("mon", "tue")}}
    )
    assert night.due(local("2026-11-23 23:50", "Asia/Jakarta"), 20, "Asia/Jakarta") == (
        local("2026-11-24 20:10", "Asia/Jakarta").astimezone(UTC)
    )
    always = SlaPolicy(business_hours_only=False)
    start = local("2026-11-29 03:00")
    assert always.due(start, 90, BUDAPEST) == start + timedelta(minutes=90)


def test_elapsed_counts_the_same_hours() -> None:
    start, end = local("2026-11-27 17:00"), local("2026-11-30 09:30")
    assert POLICY.elapsed(start, end, BUDAPEST) == timedelta(minutes=60 + 240 + 30)
    assert POLICY.elapsed(end, start, BUDAPEST) == timedelta(0)


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [{"opens": "18:00", "closes": "09:00"}]},
        {"mon": [{"opens": "9am", "closes": "18:00"}]},
        {"someday": [{"opens": "09:00", "closes": "18:00"}]},
        {},
    ],
)
def test_impossible_business_hours_are_refused(hours: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SlaPolicy.model_validate({"business_hours": hours})


def test_a_target_is_minutes_or_nothing() -> None:
    with pytest.raises(ValidationError):
        SlaPolicy.model_validate({"targets": {"urgent": {"first_response": 0}}})
    assert Opening(opens="22:00", closes="00:00").span[1].hour == 0


# Properties ------------------------------------------------------------------------------

ZONES = ["Europe/Budapest", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Riyadh", "Asia/Jakarta"]
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@settings(max_examples=200, deadline=None)
@given(start=instants, first=minutes, second=minutes, zone=st.sampled_from(ZONES))
def test_due_times_add_up(start: datetime, first: int, second: int, zone: str) -> None:
    # Waiting a, then b, ends where waiting a + b ends (for a > 0: the clock has started)
    after_first = POLICY.due(start, first, zone)
    if first:
        assert POLICY.due(after_first, second, zone) == POLICY.due(start, first + second, zone)


@settings(max_examples=200, deadline=None)
@given(start=instants, wait=minutes, zone=st.sampled_from(ZONES))
def test_the_clock_runs_exactly_the_target_until_the_due_time(
    start: datetime, wait: int, zone: str
) -> None:
    due = POLICY.due(start, wait, zone)
    assert due >= start
    assert POLICY.elapsed(start, due, zone) == timedelta(minutes=wait)


@settings(max_examples=200, deadline=None)
@given(start=instants, shorter=minutes, extra=minutes, zone=st.sampled_from(ZONES))
def test_a_longer_target_is_never_due_sooner(
    start: datetime, shorter: int, extra: int, zone: str
) -> None:
    assert POLICY.due(start, shorter + extra, zone) >= POLICY.due(start, shorter, zone)


@settings(max_examples=100, deadline=None)
@given(
    start=instants,
    wait=st.integers(min_value=1, max_value=3 * 24 * 60),
    zone=st.sampled_from(ZONES),
)
def test_a_due_time_is_in_business_hours_and_never_on_a_holiday(
    start: datetime, wait: int, zone: str
) -> None:
    due = POLICY.due(start, wait, zone).astimezone(ZoneInfo(zone))
    # The last minute counted was an open one: just before the due time the shop was open
    just_before = due - timedelta(seconds=1)
    assert POLICY.elapsed(just_before, due, zone) == timedelta(seconds=1)
    assert just_before.date() not in {date(2026, 12, 25), date(2026, 12, 26)}


# Targets on a conversation ---------------------------------------------------------------


def waiting_conversation(**changes: object) -> Conversation:
    opened = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    conversation = Conversation(
        shop_id="kavezo",
        conversation_id="conv-1",
        channel=Channel.WHATSAPP,
        customer_address="whatsapp:+36201234567",
        shop_address="whatsapp:+36301234567",
        created_at=opened,
        last_customer_message_at=opened,
    )
    return conversation.model_copy(update=changes)


def test_the_first_target_then_the_next_one_each_with_three_stages() -> None:
    policy = SlaPolicy(business_hours_only=False)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    armed = policy.arm(waiting_conversation(), start, BUDAPEST)
    assert armed.response_clock is not None
    assert armed.response_clock.target is SlaTarget.FIRST_RESPONSE
    # Normal priority by default: 4 hours to answer, 3 days to resolve; stages at 80%,
    # 100% and 200% of each
    assert [(a.target, a.stage, a.due_at - start) for a in policy.alarms(armed, BUDAPEST)] == [
        (SlaTarget.FIRST_RESPONSE, SlaStage.WARNING, timedelta(minutes=192)),
        (SlaTarget.FIRST_RESPONSE, SlaStage.BREACHED, timedelta(hours=4)),
        (SlaTarget.FIRST_RESPONSE, SlaStage.SECOND_LEVEL, timedelta(hours=8)),
        (SlaTarget.RESOLUTION, SlaStage.WARNING, timedelta(minutes=3456)),
        (SlaTarget.RESOLUTION, SlaStage.BREACHED, timedelta(days=3)),
        (SlaTarget.RESOLUTION, SlaStage.SECOND_LEVEL, timedelta(days=6)),
    ]
    met = answered(armed, start + timedelta(minutes=5))
    assert met.response_clock is None
    again = policy.arm(met, start + timedelta(hours=1), BUDAPEST)
    assert again.response_clock is not None
    assert again.response_clock.target is SlaTarget.NEXT_RESPONSE


def test_an_alarm_acts_once_in_order_and_only_for_its_own_target() -> None:
    policy = SlaPolicy(business_hours_only=False)
    armed = policy.arm(waiting_conversation(), datetime(2026, 11, 23, 8, 0, tzinfo=UTC), BUDAPEST)
    warning, breach, second, *resolution = policy.alarms(armed, BUDAPEST)
    breached = escalate(armed, breach)
    assert breached is not None
    assert escalate(breached, breach) is None
    assert escalate(breached, warning) is None
    assert escalate(breached, second) is not None
    other_target = second.model_copy(update={"started_at": second.started_at + timedelta(1)})
    assert escalate(breached, other_target) is None
    assert escalate(answered(armed, second.due_at), second) is None
    # The resolution target's stages run on their own
    assert all(escalate(breached, stage) is not None for stage in resolution)


def test_no_target_for_a_priority_arms_nothing() -> None:
    policy = SlaPolicy.model_validate({"targets": {"urgent": {"first_response": 15}}})
    conversation = waiting_conversation()
    assert policy.arm(conversation, conversation.created_at, BUDAPEST) == conversation


def test_resolving_meets_the_resolution_target_and_its_alarms_go_stale() -> None:
    policy = SlaPolicy(business_hours_only=False)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    armed = policy.arm(waiting_conversation(), start, BUDAPEST)
    *_, resolution_breach, _ = policy.alarms(armed, BUDAPEST)
    assert resolution_breach.target is SlaTarget.RESOLUTION
    assert escalate(armed, resolution_breach) is not None
    done = resolved(armed, start + timedelta(hours=2))
    assert (done.response_clock, done.resolution_clock) == (None, None)
    assert [(e.target, e.stage) for e in done.sla_history] == [(SlaTarget.RESOLUTION, "met")]
    assert escalate(done, resolution_breach) is None


def test_the_lead_is_a_person_and_on_call_may_be_a_group() -> None:
    # A DM goes to a person: a user group cannot be the lead
    with pytest.raises(ValidationError):
        SlaPolicy.model_validate({"lead_user_id": "S0ONCALL"})
    policy = SlaPolicy.model_validate(
        {"lead_user_id": "U0LEAD", "on_call": ["S0ONCALL", "U0ALICE"]}
    )
    assert policy.on_call == ["S0ONCALL", "U0ALICE"]
