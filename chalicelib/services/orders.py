"""The customer's orders on the conversation: looked up on the shop's commerce platform after
the customer's first message is in Slack, again on the card's *Refresh orders*, when the
customer quotes an order number the summary does not hold, and when the platform tells of a
change; kept on the conversation and drawn on its card.

Each lookup is an `OrdersLookup` job with a FIFO group of its own per conversation
(`<thread>:orders`). A platform outage fails the job, which the queue retries with the usual
backoff (or Shopify's throttle wait) while the card says "orders unavailable"; only later
lookups of the same conversation wait behind it, never the customer's messages, the agents'
replies or the card's buttons, which have groups of their own. A refused token is shown on
the card and not retried.
"""

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.errors import Retryable, WorkspaceUnavailable
from chalicelib.domain.jobs import ConversationAction, OrdersLookup
from chalicelib.domain.order_status_answers import status_reply
from chalicelib.domain.orders import (
    CommerceRefused,
    LookupOutcome,
    OrderSummary,
    customer_keys,
    refused,
    unavailable,
)
from chalicelib.domain.shop import Shop
from chalicelib.services.changes import change_conversation, draw_card
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    Metric,
    MetricsPort,
    OrderDirectory,
    OutboundQueue,
    ProfileRecords,
    ShopLookup,
    ShopVault,
    Workspaces,
)

logger = Logger(service="threadline", child=True)

# What a lookup makes of the summary the conversation holds.
SummaryChange = Callable[[OrderSummary | None], OrderSummary]


def orders_lookup(
    conversation: Conversation, cause: str, order_number: str | None = None
) -> OrdersLookup | None:
    """The lookup job of a conversation with a Slack thread; None before it has one."""
    thread = conversation.slack_thread
    if thread is None or conversation.slack_team_id is None:
        return None
    return OrdersLookup(
        conversation_ref=conversation_ref(conversation),
        team_id=conversation.slack_team_id,
        channel_id=thread[0],
        thread_ts=thread[1],
        cause=cause,
        order_number=order_number or conversation.order_number,
    )


def lookup_due(before: Conversation, after: Conversation, shop: Shop) -> bool:
    """Whether a customer's message calls for a lookup: the conversation's first message from
    the customer, or an order number quoted that the summary does not hold."""
    if not shop.sells_online:
        return False
    if before.message_count == 0 or after.orders is None:
        return True
    quoted = after.order_number
    return (
        quoted is not None
        and quoted != before.order_number
        and after.orders.outcome is LookupOutcome.FOUND
        and after.orders.order(quoted) is None
    )


class OrderLookups:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        profiles: ProfileRecords,
        vault: ShopVault,
        directory: OrderDirectory,
        workspaces: Workspaces,
        outbound: OutboundQueue,
        metrics: MetricsPort,
        clock: Clock,
    ) -> None:
        self._shops = shops
        self._conversations = conversations
        self._profiles = profiles
        self._vault = vault
        self._directory = directory
        self._workspaces = workspaces
        self._outbound = outbound
        self._metrics = metrics
        self._clock = clock

    def look_up(self, job: OrdersLookup) -> None:
        """Looks the conversation's customer up and keeps the summary on the conversation,
        then redraws its card. An outage is kept as "unavailable" and retried."""
        shop_id, _, conversation_id = job.conversation_ref.partition(":")
        shop = self._shops.get_shop(shop_id)
        conversation = self._conversations.get_conversation(shop_id, conversation_id)
        if shop is None or not shop.sells_online or conversation is None:
            logger.info("orders lookup for no shop or conversation dropped")
            return
        if conversation.slack_thread != (job.channel_id, job.thread_ts):
            return
        keys = customer_keys(
            self._addresses(conversation), job.order_number or conversation.order_number
        )
        now = self._clock()
        try:
            found = self._directory.customer_orders(shop, self._vault.get(shop_id), keys, now)
        except Retryable:
            self._metrics.count(Metric.ORDERS_UNAVAILABLE, conversation.channel)
            try:
                self._keep(shop, conversation, lambda kept: unavailable(kept, now), now)
            except Exception:
                logger.exception("orders unavailable not shown", conversation_id=conversation_id)
            raise
        except CommerceRefused as error:
            # The shop's configuration must change: shown on the card, not retried.
            logger.warning("commerce platform refused", shop_id=shop_id, reason=error.reason)
            found = refused(error.reason, now)
        kept = self._keep(shop, conversation, lambda kept: found, now)
        answer = status_reply(job, kept, self._clock()) if kept is not None else None
        if answer is not None:
            self._outbound.send_outbound(answer)

    def refresh(self, action: ConversationAction) -> None:
        """The card's *Refresh orders*: a lookup queued for the conversation whose card
        carries the button."""
        conversation = self._conversations.find_conversation_by_thread(
            action.team_id, action.channel_id, action.message_ts
        )
        if conversation is None or conversation_ref(conversation) != action.conversation_ref:
            logger.info("refresh for no known conversation ignored")
            return
        shop = self._shops.get_shop(conversation.shop_id)
        if shop is None or not shop.sells_online:
            return
        job = orders_lookup(conversation, f"press:{action.action_ts}:{action.user_id}")
        if job is not None:
            self._outbound.send_outbound(job)

    def _addresses(self, conversation: Conversation) -> list[str]:
        """The customer's addresses: the conversation's, and those the shop linked to it."""
        profile = self._profiles.customer_profile(
            conversation.shop_id, conversation.customer_address
        )
        linked = profile.addresses if profile is not None else ()
        return [conversation.customer_address, *linked]

    def _keep(
        self,
        shop: Shop,
        conversation: Conversation,
        summary_of: SummaryChange,
        now: datetime,
    ) -> Conversation | None:
        """The conversation as stored with the summary; None when it is gone."""

        def keep(current: Conversation) -> Conversation:
            return current.model_copy(update={"orders": summary_of(current.orders)})

        result = change_conversation(
            self._conversations, conversation, keep, expires_at=shop.expiry(now)
        )
        if result is None:
            return None
        if not result.changed:
            return result.after
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return result.after
        draw_card(self._conversations, slack, shop, result.after)
        return result.after
