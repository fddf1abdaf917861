"""A shop's figures over a period: how many conversations, how fast answered and resolved,
service levels kept, customers' satisfaction; for the shop and for each agent.

The figures describe the conversations opened in the period (a cohort), as they stand when
the report is made: a conversation opened on Monday and resolved on Wednesday counts in
Monday's resolution time. Durations are wall-clock seconds, whatever the business hours.
"""

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.conversation import Conversation, SlaEvent
from chalicelib.domain.vocabulary import SLA_STAGE_ORDER, Channel, SlaStage, SlaTarget

HOURS_IN_DAY = 24
CSAT_SCORES = range(1, 6)
_BREACH_STAGES = frozenset({SlaStage.BREACHED, SlaStage.SECOND_LEVEL})


class _Figures(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)


class Durations(_Figures):
    """How long something took, over the conversations where it happened (seconds)."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


class SlaFigures(_Figures):
    """Service-level targets that came to an end: met in time, or breached (late or still
    unmet). `compliance` is the share met in time; None when no target came to an end."""

    met: int
    breached: int
    compliance: float | None


class CsatFigures(_Figures):
    count: int
    average: float | None
    # Answers per score, 1 (bad) to 5 (great).
    distribution: dict[int, int]


class Figures(_Figures):
    conversations: int
    by_channel: dict[Channel, int]
    first_response: Durations
    resolution: Durations
    sla: SlaFigures
    csat: CsatFigures


class AgentFigures(Figures):
    # None: the conversations nobody is assigned to.
    assignee_user_id: str | None


class Report(_Figures):
    """The figures of the conversations a shop opened in [start, end)."""

    shop_id: str
    timezone: str
    start: datetime
    end: datetime
    totals: Figures
    # Conversations opened in each hour of the shop's local day, 0 to 23.
    by_hour: list[int] = Field(min_length=HOURS_IN_DAY, max_length=HOURS_IN_DAY)
    # Busiest first; the unassigned ones last.
    agents: list[AgentFigures]


def percentile(values: list[float], share: float) -> float | None:
    """The value below which `share` of `values` lie, interpolated between the two nearest
    ranks (the median of 1, 2, 3, 10 is 2.5; their 90th percentile 7.9); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    below, above = math.floor(rank), math.ceil(rank)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def _durations(seconds: list[float]) -> Durations:
    return Durations(
        count=len(seconds),
        median_seconds=percentile(seconds, 0.5),
        p90_seconds=percentile(seconds, 0.9),
    )


def sla_outcomes(history: Iterable[SlaEvent]) -> tuple[int, int]:
    """(met in time, breached) of the targets in a conversation's SLA history.

    The history lists each target's stages as they were reached (warning, breached,
    second_level) and "met" when it was met, in order; a target's run ends at "met". A run
    that reached the breach counts as breached, met later or not; a run met before its breach
    counts as met; a running one counts as neither yet. A response target that resolving
    cleared leaves no "met": a stage no later than the last one seen marks the next run."""
    met = breached = 0
    # Per target: the last stage of its current run, and whether that run breached.
    reached: dict[SlaTarget, int] = {}
    run_breached: set[SlaTarget] = set()
    for event in history:
        target = event.target
        if event.stage == "met":
            if target not in run_breached:
                met += 1
            reached.pop(target, None)
            run_breached.discard(target)
            continue
        rank = SLA_STAGE_ORDER.index(event.stage)
        if rank <= reached.get(target, -1):
            run_breached.discard(target)
        reached[target] = rank
        if event.stage in _BREACH_STAGES and target not in run_breached:
            breached += 1
            run_breached.add(target)
    return met, breached


def _sla(conversations: list[Conversation]) -> SlaFigures:
    met = breached = 0
    for conversation in conversations:
        in_time, late = sla_outcomes(conversation.sla_history)
        met, breached = met + in_time, breached + late
    ended = met + breached
    return SlaFigures(met=met, breached=breached, compliance=met / ended if ended else None)


def _csat(conversations: list[Conversation]) -> CsatFigures:
    scores = [c.csat.score for c in conversations if c.csat is not None]
    counted = Counter(scores)
    return CsatFigures(
        count=len(scores),
        average=statistics.fmean(scores) if scores else None,
        distribution={score: counted[score] for score in CSAT_SCORES},
    )


def _figures(conversations: list[Conversation]) -> dict[str, object]:
    channels = Counter(c.channel for c in conversations)
    # A conversation the shop started waited for the customer first, not for an agent.
    first_responses = [
        (c.first_response_at - c.created_at).total_seconds()
        for c in conversations
        if c.first_response_at is not None and not c.started_by_shop
    ]
    resolutions = [
        (c.resolved_at - c.created_at).total_seconds()
        for c in conversations
        if c.resolved_at is not None
    ]
    return {
        "conversations": len(conversations),
        "by_channel": {channel: channels[channel] for channel in Channel},
        "first_response": _durations(first_responses),
        "resolution": _durations(resolutions),
        "sla": _sla(conversations),
        "csat": _csat(conversations),
    }


def build_report(
    shop_id: str,
    conversations: Iterable[Conversation],
    timezone: str,
    start: datetime,
    end: datetime,
) -> Report:
    """The report of the conversations opened in [start, end); others are left out."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("the period needs two aware instants, start before end")
    zone = ZoneInfo(timezone)
    cohort = [c for c in conversations if start <= c.created_at < end]
    by_hour = [0] * HOURS_IN_DAY
    for conversation in cohort:
        by_hour[conversation.created_at.astimezone(zone).hour] += 1
    by_assignee: dict[str | None, list[Conversation]] = {}
    for conversation in cohort:
        by_assignee.setdefault(conversation.assignee_user_id, []).append(conversation)
    ordered = sorted(
        by_assignee.items(),
        key=lambda group: (group[0] is None, -len(group[1]), group[0] or ""),
    )
    return Report(
        shop_id=shop_id,
        timezone=timezone,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        totals=Figures.model_validate(_figures(cohort)),
        by_hour=by_hour,
        agents=[
            AgentFigures.model_validate({"assignee_user_id": assignee, **_figures(group)})
            for assignee, group in ordered
        ],
    )


def local_days(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the local days `first` to `last` (inclusive), as UTC instants: from
    midnight to midnight on the shop's clock, however long DST makes those days."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
