"""What a triage changes on its conversation (pure), what the card and thread show of it,
and the worker's use of it with fakes: chasers counted since the last agent reply, priority
never lowered, an agent's choice kept, targets only tightened, an engine's failure harmless."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.sla import SlaPolicy, answered
from chalicelib.domain.triage.effects import (
    MARKS_KEPT,
    context_of,
    marked,
    raise_to,
    raised_priority,
    route_for,
    routed,
)
from chalicelib.domain.triage.policy import IntentRoute, TriagePolicy, TriageRules
from chalicelib.domain.triage.record import (
    Intent,
    Sentiment,
    Triage,
    TriageContext,
    Urgency,
    UrgencySignal,
)
from chalicelib.domain.triage.rules import RulesEngine
from chalicelib.domain.vocabulary import Channel, Priority, SlaTarget
from chalicelib.presentation.triage import mood_line
from tests.unit.use_cases import CUSTOMER, SHOP, World, acme

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = SlaPolicy.model_validate(
    {
        "business_hours_only": False,
        "targets": {
            "normal": {"first_response": 240, "resolution": 600},
            "urgent": {"first_response": 30, "resolution": 900},
        },
    }
)


def conversation(**changes: object) -> Conversation:
    base = Conversation(
        shop_id="acme",
        conversation_id="c1",
        channel=Channel.SMS,
        customer_address="+34600111222",
        shop_address="+36201234567",
        created_at=NOW,
        last_customer_message_at=NOW,
    )
    return base.model_copy(update=changes)


def urgent(intent: Intent = Intent.REFUND, confidence: float = 0.9) -> Triage:
    return Triage(
        language="en",
        sentiment=Sentiment.NEGATIVE,
        strength=3,
        urgency=Urgency.URGENT,
        signals=(UrgencySignal.CHARGEBACK,),
        intent=intent,
        confidence=confidence,
    )


def calm(mood_strength: int = 0) -> Triage:
    return Triage(language="en", sentiment=Sentiment.NEUTRAL, strength=mood_strength)


def test_chasers_count_the_customers_messages_since_the_last_agent_reply() -> None:
    waiting = conversation()
    for minute in range(3):
        waiting = marked(waiting, calm(), NOW + timedelta(minutes=minute))
    assert context_of(waiting).unanswered == 3

    replied = answered(waiting, NOW + timedelta(minutes=5))
    replied = marked(replied, calm(), NOW + timedelta(minutes=6))

    assert context_of(replied).unanswered == 1
    assert len(context_of(replied).recent) == 4


def test_the_trend_keeps_the_latest_marks() -> None:
    long_one = conversation()
    for minute in range(MARKS_KEPT + 3):
        long_one = marked(long_one, calm(), NOW + timedelta(minutes=minute))

    assert len(long_one.triage_marks) == MARKS_KEPT
    assert long_one.triage_marks[-1].at == NOW + timedelta(minutes=MARKS_KEPT + 2)


def test_priority_is_raised_never_lowered_and_never_over_an_agents_choice() -> None:
    rules = TriageRules()
    high = urgent().model_copy(update={"urgency": Urgency.HIGH})

    assert raised_priority(conversation(), urgent(), rules) is Priority.URGENT
    assert raised_priority(conversation(), high, rules) is Priority.HIGH
    assert raised_priority(conversation(priority=Priority.URGENT), high, rules) is None
    assert raised_priority(conversation(), calm(), rules) is None
    chosen = conversation(priority=Priority.LOW, priority_set_by_agent=True)
    assert raised_priority(chosen, urgent(), rules) is None
    assert raised_priority(conversation(), urgent(), TriageRules(raise_priority=False)) is None


def test_raising_tightens_the_running_targets_from_when_they_started() -> None:
    waiting = POLICY.arm(conversation(), NOW, "UTC")
    now = NOW + timedelta(minutes=40)

    raised = raise_to(waiting, Priority.URGENT, POLICY, "UTC", now)

    assert raised.conversation.priority is Priority.URGENT
    clock = raised.conversation.response_clock
    assert clock is not None
    assert (clock.started_at, clock.due_at) == (NOW, NOW + timedelta(minutes=30))
    # The urgent resolution target is looser here: the running one is kept.
    assert raised.conversation.resolution_clock == waiting.resolution_clock
    assert [(t.target, t.due) for t in raised.tightened] == [
        (SlaTarget.FIRST_RESPONSE, NOW + timedelta(minutes=30))
    ]
    # Alarms for the tightened target only; stages already past (the warning at 24
    # minutes, the breach at 30) fire now.
    assert {a.target for a in raised.alarms} == {SlaTarget.FIRST_RESPONSE}
    assert sorted(a.due_at for a in raised.alarms) == [now, now, NOW + timedelta(minutes=60)]


def test_raising_without_targets_only_sets_the_priority() -> None:
    raised = raise_to(conversation(), Priority.HIGH, None, "UTC", NOW)

    assert raised.conversation.priority is Priority.HIGH
    assert (raised.tightened, raised.alarms) == ((), ())


def test_an_intent_routes_once_and_only_when_the_engine_is_sure() -> None:
    route = IntentRoute(channel_id="C0RETURNS")
    rules = TriageRules(routes={Intent.REFUND: route}, route_confidence=0.6)

    assert route_for(conversation(), urgent(), rules) == route
    assert route_for(conversation(), urgent(confidence=0.5), rules) is None
    assert route_for(conversation(), urgent(Intent.CANCEL), rules) is None
    assert route_for(routed(conversation(), Intent.REFUND), urgent(), rules) is None


def test_a_route_needs_somewhere_to_go() -> None:
    with pytest.raises(ValueError, match="channel_id, mention, or both"):
        IntentRoute()


def test_the_card_line_shows_mood_intent_and_trend() -> None:
    assert mood_line(conversation()) is None
    happy = Triage(language="en", sentiment=Sentiment.POSITIVE, strength=2)
    one = marked(conversation(), happy, NOW)
    assert mood_line(one) == "*Mood:* :smiley: happy · *Intent:* other"

    worse = marked(one, urgent(), NOW + timedelta(minutes=1))

    assert mood_line(worse) == (
        "*Mood:* :rage: furious · *Intent:* refund · *Trend:* :smiley: → :rage: (worsening)"
    )


def _broken(
    engine: RulesEngine, text: str, language: str, context: TriageContext, policy: TriagePolicy
) -> Triage:
    raise RuntimeError("engine down")


def test_the_worker_raises_a_chargeback_threat_out_of_the_box() -> None:
    world = World()
    world.records.shops.put_shop(acme(triage=TriagePolicy()), None)

    world.inbound().process(world.arrives(text="I'm filing a chargeback with my bank!!!"))

    stored = world.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert stored is not None
    assert stored.priority is Priority.URGENT
    [card] = world.slack.roots()
    assert "Triage raised the priority" in world.slack.thread(card.ts)[-1].message.text


def test_an_engines_failure_never_holds_a_message_back(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    world.records.shops.put_shop(acme(triage=TriagePolicy()), None)
    monkeypatch.setattr(RulesEngine, "triage", _broken)

    world.inbound().process(world.arrives(text="I'm filing a chargeback with my bank!!!"))

    [card] = world.slack.roots()
    assert len(world.slack.thread(card.ts)) == 1
    stored = world.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert stored is not None
    assert (stored.priority, stored.triage_marks) == (Priority.NORMAL, ())
