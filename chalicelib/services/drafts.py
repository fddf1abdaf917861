"""Drafts an agent can send: the card's *Draft a reply* asks the shop's Bedrock model for a
reply in the customer's language, grounded in the conversation's latest messages and the
customer's own orders as the conversation keeps them. The draft is shown to the agent who
pressed, alone (`chat.postEphemeral` in the thread): never posted to the thread, never sent
to the customer. They edit it and send it as any reply, through the reply path (reply mode,
grace period). Any failure is an ephemeral "no draft available (reason)".

The press is queued in a group of its own per card (`<thread>:draft`, see queues.py): a
model that takes seconds, or a retry, never holds the thread's replies or the card's other
buttons, and a draft changes nothing of the conversation that would need their order."""

from collections.abc import Sequence

from aws_lambda_powertools import Logger

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.domain.conversation import conversation_ref
from chalicelib.domain.drafts import ModelDraft, NoDraft, customer_language, order_facts
from chalicelib.domain.jobs import ConversationAction
from chalicelib.language import detect
from chalicelib.presentation.drafts import draft_message, no_draft_message
from chalicelib.services.handoff import conversation_lines, working_language
from chalicelib.services.ports import (
    ConversationLists,
    ConversationRecords,
    Metric,
    MetricsPort,
    ReplyDrafter,
    ShopLookup,
    Workspaces,
    slack_or_retry,
)

logger = Logger(service="threadline", child=True)


def _detected(lines: Sequence[tuple[str, str]], default: str) -> str:
    """The language of the customer's latest line, where no triage of theirs is stored."""
    said = [text for author, text in lines if author == "customer"]
    return detect(said[-1], SHIPPED_LANGUAGES, default) if said else default


class ReplyDrafts:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        listings: ConversationLists,
        workspaces: Workspaces,
        drafter: ReplyDrafter,
        metrics: MetricsPort,
    ) -> None:
        self._shops = shops
        self._conversations = conversations
        self._listings = listings
        self._workspaces = workspaces
        self._drafter = drafter
        self._metrics = metrics

    def draft(self, action: ConversationAction) -> None:
        """Shows the pressing agent a draft of a reply, or why there is none."""
        conversation = self._conversations.find_conversation_by_thread(
            action.team_id, action.channel_id, action.message_ts
        )
        # Only the conversation whose card carries the button, in the workspace it lives in.
        if conversation is None or conversation_ref(conversation) != action.conversation_ref:
            logger.info("draft asked for no known conversation ignored")
            return
        shop = self._shops.get_shop(conversation.shop_id)
        if shop is None:
            return
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        policy = shop.triage
        outcome: ModelDraft | NoDraft
        if policy is None or not policy.drafts_offered:
            # A card drawn before the shop turned drafts off.
            self._metrics.count(Metric.DRAFT_UNAVAILABLE)
            outcome = NoDraft("drafts are not turned on for this shop")
            language = working_language(shop)
        else:
            items = list(self._listings.timeline(shop.shop_id, conversation.conversation_id))
            lines = conversation_lines(items)
            language = customer_language(items) or _detected(lines, working_language(shop))
            outcome = self._drafter.draft(lines, order_facts(conversation.orders), language, policy)
        message = (
            no_draft_message(outcome)
            if isinstance(outcome, NoDraft)
            else draft_message(outcome, language)
        )
        if not slack.post_ephemeral(
            action.channel_id, action.user_id, message, thread_ts=action.message_ts
        ):
            # A retry would be refused the same: the press is done.
            logger.info("draft not shown: Slack refused it for good")
            self._metrics.count(Metric.DRAFT_NOT_SHOWN)
            return
        logger.info(
            "draft shown",
            conversation_id=conversation.conversation_id,
            drafted=not isinstance(outcome, NoDraft),
        )
