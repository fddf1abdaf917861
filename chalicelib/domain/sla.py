"""Service-level targets and the clock that measures them.

A shop promises a first response, each next response and a resolution within so many
minutes, per priority. Where the clock runs only in business hours, those minutes are counted
in the shop's opening hours (per weekday, in its time zone, holidays closed): a message at
17:50 with a 30-minute target on a shop open until 18:00 is due at 09:20 the next working
morning. Opening hours are wall-clock times, so a DST change moves them with the clocks.
"""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from chalicelib.domain.conversation import Conversation, ResponseClock, SlaEvent
from chalicelib.domain.jobs import SlaAlarm
from chalicelib.domain.vocabulary import SLA_STAGE_ORDER, Priority, SlaStage, SlaTarget


class Weekday(StrEnum):
    MONDAY = "mon"
    TUESDAY = "tue"
    WEDNESDAY = "wed"
    THURSDAY = "thu"
    FRIDAY = "fri"
    SATURDAY = "sat"
    SUNDAY = "sun"


WEEKDAYS = list(Weekday)


def _clock_time(value: str) -> str:
    try:
        time.fromisoformat(value)
    except ValueError as error:
        raise ValueError("must be a time of day such as 09:00") from error
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Opening(_Strict):
    """One stretch of a day the shop is open; `closes` 24:00 is written 00:00."""

    opens: ClockTime
    closes: ClockTime

    @property
    def span(self) -> tuple[time, time]:
        return time.fromisoformat(self.opens), time.fromisoformat(self.closes)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        opens, closes = self.span
        if closes != time(0) and closes <= opens:
            raise ValueError("closes must come after opens (00:00 means midnight)")
        return self


class Targets(_Strict):
    """Minutes allowed; None promises nothing."""

    first_response: int | None = Field(default=None, ge=1, le=60 * 24 * 60)
    next_response: int | None = Field(default=None, ge=1, le=60 * 24 * 60)
    resolution: int | None = Field(default=None, ge=1, le=60 * 24 * 60)


DEFAULT_TARGETS = {
    Priority.URGENT: Targets(first_response=30, next_response=60, resolution=8 * 60),
    Priority.HIGH: Targets(first_response=60, next_response=2 * 60, resolution=24 * 60),
    Priority.NORMAL: Targets(first_response=4 * 60, next_response=8 * 60, resolution=3 * 24 * 60),
    Priority.LOW: Targets(first_response=8 * 60, next_response=24 * 60, resolution=7 * 24 * 60),
}
WORKWEEK = {day: [Opening(opens="09:00", closes="18:00")] for day in WEEKDAYS[:5]}


SlackUserOrGroup = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,20}$")]


class SlaPolicy(_Strict):
    targets: dict[Priority, Targets] = Field(default_factory=lambda: dict(DEFAULT_TARGETS))
    business_hours: dict[Weekday, list[Opening]] = Field(default_factory=lambda: dict(WORKWEEK))
    holidays: list[date] = Field(default_factory=list, max_length=366)
    # False: the clock runs around the clock, business hours or not.
    business_hours_only: bool = True
    # The stages: a warning when this share of the target has run, the breach at the
    # target, the second level when this multiple of it has run.
    warning_at: float = Field(default=0.8, gt=0, lt=1)
    second_level_at: float = Field(default=2.0, gt=1, le=10)
    # Who hears of a breach (users U…, or user groups S…), who of the second level, and
    # the channel that lists second-level escalations.
    on_call: list[SlackUserOrGroup] = Field(default_factory=list, max_length=20)
    lead_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    escalation_channel_id: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,20}$")
    # How long one target minute lasts: a minute, except in demos (scaled()).
    _minute: timedelta = PrivateAttr(default=timedelta(minutes=1))

    def scaled(self, minute_seconds: float) -> "SlaPolicy":
        """The same policy whose target minutes last `minute_seconds` (demos only)."""
        policy = self.model_copy()
        policy._minute = timedelta(seconds=minute_seconds)
        return policy

    def minutes(self, priority: Priority, target: SlaTarget) -> int | None:
        targets = self.targets.get(priority)
        return getattr(targets, target.value) if targets else None

    def arm(self, conversation: Conversation, since: datetime, timezone: str) -> Conversation:
        """A conversation whose customer waits from `since`: its response target starts,
        and its resolution target if none runs (each counts from the first message that
        started it)."""
        update: dict[str, ResponseClock] = {}
        if conversation.response_clock is None:
            target = (
                SlaTarget.FIRST_RESPONSE
                if conversation.first_response_at is None
                else SlaTarget.NEXT_RESPONSE
            )
            clock = self._clock(conversation, target, since, timezone)
            if clock is not None:
                update["response_clock"] = clock
        if conversation.resolution_clock is None:
            clock = self._clock(conversation, SlaTarget.RESOLUTION, since, timezone)
            if clock is not None:
                update["resolution_clock"] = clock
        return conversation.model_copy(update=update) if update else conversation

    def _clock(
        self, conversation: Conversation, target: SlaTarget, since: datetime, timezone: str
    ) -> ResponseClock | None:
        minutes = self.minutes(conversation.priority, target)
        if minutes is None:
            return None
        return ResponseClock(
            target=target, started_at=since, due_at=self.due(since, minutes, timezone)
        )

    def alarms(self, conversation: Conversation, timezone: str) -> list[SlaAlarm]:
        """The stages of every running target, each at its moment."""
        return [
            alarm
            for clock in (conversation.response_clock, conversation.resolution_clock)
            if clock is not None
            for alarm in self._stages(conversation, clock, timezone)
        ]

    def _stages(
        self, conversation: Conversation, clock: ResponseClock, timezone: str
    ) -> list[SlaAlarm]:
        minutes = self.minutes(conversation.priority, clock.target) or 0
        moments = {
            SlaStage.WARNING: self.due(clock.started_at, int(minutes * self.warning_at), timezone),
            SlaStage.BREACHED: clock.due_at,
            SlaStage.SECOND_LEVEL: self.due(
                clock.started_at, int(minutes * self.second_level_at), timezone
            ),
        }
        return [
            SlaAlarm(
                shop_id=conversation.shop_id,
                conversation_id=conversation.conversation_id,
                target=clock.target,
                started_at=clock.started_at,
                stage=stage,
                due_at=at,
            )
            for stage, at in moments.items()
        ]

    @model_validator(mode="after")
    def _open_sometime(self) -> Self:
        if self.business_hours_only and not any(self.business_hours.values()):
            raise ValueError("business_hours must open at least once a week")
        return self

    def _openings_on(self, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The day's opening hours as instants (UTC-comparable), in order."""
        if day in self.holidays:
            return []
        spans = []
        for opening in self.business_hours.get(WEEKDAYS[day.weekday()], []):
            opens, closes = opening.span
            start = datetime.combine(day, opens, tzinfo=zone)
            end = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                if closes == time(0)
                else datetime.combine(day, closes, tzinfo=zone)
            )
            # In UTC: arithmetic between two instants of one zone would ignore a DST change.
            spans.append((start.astimezone(UTC), end.astimezone(UTC)))
        return sorted(spans)

    def due(self, start: datetime, minutes: int, timezone: str) -> datetime:
        """When `minutes` of the clock have run from `start`: the earliest such instant (for
        0 minutes, the first open instant from `start`). In UTC."""
        if not self.business_hours_only:
            return start + minutes * self._minute
        zone = ZoneInfo(timezone)
        start = start.astimezone(UTC)
        remaining = minutes * self._minute
        day = start.astimezone(zone).date() - timedelta(days=1)
        # A week without hours was refused; holidays can close at most 366 days in a row.
        for _ in range(8 * 366):
            for opens, closes in self._openings_on(day, zone):
                begin = max(opens, start)
                if closes <= begin:
                    continue
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError("no opening hours within two years")

    def elapsed(self, start: datetime, end: datetime, timezone: str) -> timedelta:
        """How much of the clock ran between two instants."""
        if end <= start:
            return timedelta(0)
        if not self.business_hours_only:
            return end - start
        zone = ZoneInfo(timezone)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        day = start.astimezone(zone).date() - timedelta(days=1)
        while day <= end.astimezone(zone).date():
            for opens, closes in self._openings_on(day, zone):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total


def answered(conversation: Conversation, at: datetime) -> Conversation:
    """An agent's reply went out: the running target is met."""
    clock = conversation.response_clock
    update: dict[str, object] = {
        "first_response_at": conversation.first_response_at or at,
        "last_agent_reply_at": at,
    }
    if clock is not None:
        met = SlaEvent(target=clock.target, stage="met", at=at)
        update |= {"response_clock": None, "sla_history": (*conversation.sla_history, met)}
    return conversation.model_copy(update=update)


def resolved(conversation: Conversation, at: datetime) -> Conversation:
    """An agent resolved the conversation: the resolution target is met, and nobody waits
    for a response any more."""
    events = [
        SlaEvent(target=clock.target, stage="met", at=at)
        for clock in (conversation.resolution_clock,)
        if clock is not None
    ]
    return conversation.model_copy(
        update={
            "response_clock": None,
            "resolution_clock": None,
            "sla_history": (*conversation.sla_history, *events),
        }
    )


def _field(target: SlaTarget) -> str:
    return "resolution_clock" if target is SlaTarget.RESOLUTION else "response_clock"


def clock_for(conversation: Conversation, target: SlaTarget) -> ResponseClock | None:
    """The running clock of a kind of target: resolution, or the response."""
    clock: ResponseClock | None = getattr(conversation, _field(target))
    return clock


def escalate(conversation: Conversation, alarm: SlaAlarm) -> Conversation | None:
    """The conversation at the alarm's stage; None for a stale alarm (that target was met,
    or replaced, or is past this stage already)."""
    clock = clock_for(conversation, alarm.target)
    if clock is None or (clock.target, clock.started_at) != (alarm.target, alarm.started_at):
        return None
    if SLA_STAGE_ORDER.index(alarm.stage) <= SLA_STAGE_ORDER.index(clock.stage):
        return None
    event = SlaEvent(target=clock.target, stage=alarm.stage, at=alarm.due_at)
    return conversation.model_copy(
        update={
            _field(alarm.target): clock.model_copy(update={"stage": alarm.stage}),
            "sla_history": (*conversation.sla_history, event),
        }
    )
