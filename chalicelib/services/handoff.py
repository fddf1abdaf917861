"""Summaries at hand-off: when a conversation goes to someone new, or an agent presses the
card's *Summarise*, a note in its thread says what the customer wants, what has been done and
what is still open, in the shop's working language. Shops on the `bedrock` engine get their
model's summary; any failure of it, and every other shop, get the extractive digest."""

from collections.abc import Iterable, Mapping

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.handoff import HandoffReason, handoff_digest
from chalicelib.domain.shop import Shop
from chalicelib.domain.triage.policy import TriageEngineName
from chalicelib.presentation.handoff import digest_note, model_note
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.ports import ConversationLists, HandoffSummariser, SlackPort

logger = Logger(service="threadline", child=True)


def working_language(shop: Shop) -> str:
    """The language the shop's team works in: its automatic replies' default language."""
    return shop.auto_replies.default_language if shop.auto_replies else "en"


def conversation_lines(items: Iterable[Mapping[str, object]]) -> list[tuple[str, str]]:
    """A timeline's stored items as (author, text) lines, oldest first."""

    def at(item: Mapping[str, object]) -> str:
        return str(item.get("created_at" if "agent_user_id" in item else "received_at", ""))

    lines = []
    for item in sorted(items, key=at):
        if "agent_user_id" in item:
            author = "automatic reply" if item.get("automatic") else "agent"
        else:
            author = "customer"
        text = str(item.get("text") or "")
        if text.strip():
            lines.append((author, text))
    return lines


class HandoffSummaries:
    def __init__(self, listings: ConversationLists, summariser: HandoffSummariser) -> None:
        self._listings = listings
        self._summariser = summariser

    def note(
        self,
        shop: Shop,
        conversation: Conversation,
        reason: HandoffReason,
        user_id: str | None,
    ) -> SlackMessage:
        """The summary note of the conversation as stored now."""
        items = list(self._listings.timeline(shop.shop_id, conversation.conversation_id))
        language = working_language(shop)
        policy = shop.triage
        if policy is not None and policy.engine is TriageEngineName.BEDROCK:
            summary = self._summariser.summarise(conversation_lines(items), language, policy)
            if summary is not None:
                return model_note(summary, language, reason, user_id)
        return digest_note(handoff_digest(conversation, items), language, reason, user_id)

    def post(
        self,
        slack: SlackPort,
        shop: Shop,
        conversation: Conversation,
        reason: HandoffReason,
        user_id: str | None,
    ) -> None:
        """Posts the summary note in the conversation's thread (none without a thread)."""
        thread = conversation.slack_thread
        if thread is None:
            return
        note = self.note(shop, conversation, reason, user_id)
        slack.post(thread[0], note, thread_ts=thread[1])
        logger.info(
            "hand-off summary posted",
            conversation_id=conversation.conversation_id,
            reason=reason.value,
        )
