"""What a message's triage changes on its conversation, decided before anything is done:
the trend it joins, the priority it raises to (never lower, never over an agent's choice),
the response targets that tighten with it, and the route its intent takes."""

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.conversation import Conversation, ResponseClock
from chalicelib.domain.jobs import SlaAlarm
from chalicelib.domain.sla import SlaPolicy
from chalicelib.domain.triage.policy import IntentRoute, TriageRules
from chalicelib.domain.triage.record import Intent, Triage, TriageContext, TriageMark, Urgency
from chalicelib.domain.vocabulary import Priority, SlaTarget

# How many of the latest messages' triage a conversation keeps for its trend and chasers.
MARKS_KEPT = 12
PRIORITY_ORDER = list(Priority)
PRIORITY_FOR_URGENCY = {Urgency.HIGH: Priority.HIGH, Urgency.URGENT: Priority.URGENT}


def context_of(conversation: Conversation) -> TriageContext:
    """The conversation as triage reads it: the customer's messages since the last agent's
    reply (as far as the kept marks tell), and the latest marks."""
    since = conversation.last_agent_reply_at
    marks = conversation.triage_marks
    unanswered = sum(1 for mark in marks if since is None or mark.at > since)
    return TriageContext(unanswered=unanswered, recent=marks)


def marked(conversation: Conversation, triage: Triage, at: datetime) -> Conversation:
    """The conversation with the message's triage added to its trend."""
    mark = TriageMark(at=at, mood=triage.mood, urgency=triage.urgency, intent=triage.intent)
    marks = (*conversation.triage_marks, mark)[-MARKS_KEPT:]
    return conversation.model_copy(update={"triage_marks": marks})


def raised_priority(
    conversation: Conversation, triage: Triage, rules: TriageRules
) -> Priority | None:
    """The priority triage raises the conversation to; None when it stays (nothing urgent,
    already as high, or an agent chose it)."""
    wanted = PRIORITY_FOR_URGENCY.get(triage.urgency)
    if wanted is None or not rules.raise_priority or conversation.priority_set_by_agent:
        return None
    if PRIORITY_ORDER.index(wanted) <= PRIORITY_ORDER.index(conversation.priority):
        return None
    return wanted


@dataclass(frozen=True)
class Tightened:
    """A running target whose due time moved earlier with the priority."""

    target: SlaTarget
    was_due: datetime
    due: datetime


@dataclass(frozen=True)
class Raised:
    conversation: Conversation
    tightened: tuple[Tightened, ...]
    # The stages of the tightened targets, each no earlier than `now` (one already past
    # fires at once); the stages set for the old due times become stale as these pass.
    alarms: tuple[SlaAlarm, ...]


def raise_to(
    conversation: Conversation,
    priority: Priority,
    policy: SlaPolicy | None,
    timezone: str,
    now: datetime,
) -> Raised:
    """The conversation at `priority`, its running targets re-armed with that priority's
    tighter minutes, counted from when each started (a looser one is kept)."""
    raised = conversation.model_copy(update={"priority": priority})
    if policy is None:
        return Raised(raised, (), ())
    update: dict[str, ResponseClock | None] = {}
    tightened = []
    for name in ("response_clock", "resolution_clock"):
        clock: ResponseClock | None = getattr(conversation, name)
        minutes = policy.minutes(priority, clock.target) if clock else None
        if clock is None or minutes is None:
            continue
        due = policy.due(clock.started_at, minutes, timezone)
        if due < clock.due_at:
            update[name] = clock.model_copy(update={"due_at": due})
            tightened.append(Tightened(clock.target, clock.due_at, due))
    raised = raised.model_copy(update=update)
    rearmed = raised.model_copy(
        update={
            name: getattr(raised, name) if name in update else None
            for name in ("response_clock", "resolution_clock")
        }
    )
    alarms = tuple(
        alarm.model_copy(update={"due_at": max(alarm.due_at, now)})
        for alarm in policy.alarms(rearmed, timezone)
    )
    return Raised(raised, tuple(tightened), alarms)


def route_for(conversation: Conversation, triage: Triage, rules: TriageRules) -> IntentRoute | None:
    """The route the message's intent takes, if the shop set one, the engine is sure enough,
    and the conversation was not routed for that intent before."""
    route = rules.routes.get(triage.intent)
    if route is None or triage.confidence < rules.route_confidence:
        return None
    if triage.intent in conversation.triage_routed:
        return None
    return route


def routed(conversation: Conversation, intent: Intent) -> Conversation:
    return conversation.model_copy(update={"triage_routed": (*conversation.triage_routed, intent)})
