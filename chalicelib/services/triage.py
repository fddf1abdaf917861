"""Triage in the inbound worker: each customer message read for mood, urgency and intent by
the shop's engine, kept with the message and on the conversation's trend; then what it
changes, as one version-checked change of the conversation: the priority raised (with its
response targets re-armed, tighter) and the intent routed, each told in the thread.

Triage never holds a message back: an engine's failure leaves the message untriaged, and a
failure to tell is logged (the change itself is stored)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.shop import Shop
from chalicelib.domain.triage.effects import (
    Raised,
    context_of,
    marked,
    raise_to,
    raised_priority,
    route_for,
    routed,
)
from chalicelib.domain.triage.policy import IntentRoute, TriagePolicy
from chalicelib.domain.triage.record import Triage
from chalicelib.language import detect
from chalicelib.presentation.triage import raised_note, route_note, routed_post
from chalicelib.services.changes import change_conversation
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    SchedulesPort,
    SlackPort,
    TriageEngine,
)

logger = Logger(service="threadline", child=True)


class MessageTriage:
    def __init__(
        self,
        conversations: ConversationRecords,
        schedules: SchedulesPort,
        engines: Mapping[str, TriageEngine],
        clock: Clock,
        sla_minute_seconds: float = 60.0,
    ) -> None:
        self._conversations = conversations
        self._schedules = schedules
        self._engines = engines
        self._clock = clock
        self._sla_minute_seconds = sla_minute_seconds

    def read(
        self, message: InboundMessage, before: Conversation, counted: Conversation, shop: Shop
    ) -> tuple[Conversation, Triage | None]:
        """The message's triage (None for a shop without triage, an automatic mail, a
        message without text, or an engine's failure), and the conversation as `counted`
        with it on its trend. `before` is the conversation before this message."""
        policy = shop.triage
        automated = message.email is not None and message.email.automated
        if policy is None or automated or not message.text.strip():
            return counted, None
        engine = self._engines.get(policy.engine.value)
        if engine is None:
            logger.warning("no triage engine", engine=policy.engine.value)
            return counted, None
        default = shop.auto_replies.default_language if shop.auto_replies else "en"
        language = detect(message.text, SHIPPED_LANGUAGES, default)
        try:
            triage = engine.triage(message.text, language, context_of(before), policy)
        except Exception:
            logger.exception("message not triaged", message_key=message.message_key)
            return counted, None
        logger.info(
            "message triaged",
            message_key=message.message_key,
            engine=engine.name,
            sentiment=triage.sentiment.value,
            urgency=triage.urgency.value,
            intent=triage.intent.value,
        )
        return marked(counted, triage, message.received_at), triage

    def act(
        self, slack: SlackPort, shop: Shop, conversation: Conversation, triage: Triage
    ) -> Conversation:
        """Raises and routes the stored conversation as the triage calls for; returns it as
        stored after (the same when nothing changed)."""
        policy = shop.triage
        thread = conversation.slack_thread
        if policy is None or thread is None:
            return conversation
        now = self._clock()
        done: dict[str, Any] = {}

        def change(current: Conversation) -> Conversation:
            done.clear()
            changed = self._raise(current, triage, shop, policy, now, done)
            route = route_for(changed, triage, policy.rules)
            if route is not None:
                done["route"] = route
                changed = routed(changed, triage.intent)
            return changed

        result = change_conversation(
            self._conversations, conversation, change, expires_at=shop.expiry(now)
        )
        if result is None or not result.changed:
            return conversation
        after = result.after
        try:
            raised: Raised | None = done.get("raised")
            if raised is not None:
                note = raised_note(after.priority, triage, raised.tightened, shop.timezone)
                slack.post(thread[0], note, thread_ts=thread[1])
            route: IntentRoute | None = done.get("route")
            if route is not None:
                self._tell_route(slack, shop, after, triage, route, now)
        except Exception:
            logger.exception("triage not told", conversation_id=after.conversation_id)
        return after

    def _raise(
        self,
        current: Conversation,
        triage: Triage,
        shop: Shop,
        policy: TriagePolicy,
        now: datetime,
        done: dict[str, Any],
    ) -> Conversation:
        priority = raised_priority(current, triage, policy.rules)
        if priority is None:
            return current
        sla = shop.sla.scaled(self._sla_minute_seconds) if shop.sla else None
        raised = raise_to(current, priority, sla, shop.timezone, now)
        # Set before the state is stored: a retry finds it stored and stops, so the tighter
        # alarms must exist by then.
        for alarm in raised.alarms:
            self._schedules.set_alarm(alarm)
        done["raised"] = raised
        return raised.conversation

    def _tell_route(
        self,
        slack: SlackPort,
        shop: Shop,
        conversation: Conversation,
        triage: Triage,
        route: IntentRoute,
        now: datetime,
    ) -> None:
        channel, thread_ts = conversation.slack_thread or ("", "")
        slack.post(channel, route_note(triage.intent, route), thread_ts=thread_ts)
        if route.channel_id is None:
            return
        link = slack.permalink(channel, thread_ts)
        post = routed_post(conversation, triage.intent, link, now, shop.timezone)
        where = slack.post_to(route.channel_id, post)
        # Filed on the conversation: the customer's erasure deletes it with the thread.
        if not self._conversations.note_post_about_conversation(conversation, *where):
            slack.delete(*where)
