"""What the actions on an order taken from Slack (refunds, cancellations) share: the thread a
press or a modal names, found only if it is the conversation's it says and its shop has a
store; and who may act (the shop's `commerce_actions.allowed`, user groups asked of Slack)."""

from collections.abc import Callable
from decimal import Decimal

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.orders import Money
from chalicelib.domain.refunds import may_act, user_groups
from chalicelib.domain.shop import Shop
from chalicelib.services.ports import (
    ConversationRecords,
    ShopLookup,
    SlackPort,
    Workspaces,
    slack_or_retry,
)

logger = Logger(service="threadline", child=True)


def refund_limit(shop: Shop, currency: str) -> Money:
    """The shop's limit above which giving money back needs a second person."""
    actions = shop.commerce_actions
    amount = actions.refund_limit if actions else Decimal(0)
    return Money(amount=amount, currency=currency)


def _has_shopify(shop: Shop) -> bool:
    return shop.shopify is not None


class OrderActionThreads:
    """`acts_on` says which shops the action is for (by default those with a Shopify store:
    cancellations and returns are Shopify's only)."""

    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        workspaces: Workspaces,
        acts_on: Callable[[Shop], bool] = _has_shopify,
    ) -> None:
        self._shops = shops
        self._conversations = conversations
        self._workspaces = workspaces
        self._acts_on = acts_on

    def thread(
        self, team_id: str, channel_id: str, thread_ts: str, ref: str
    ) -> tuple[Conversation, Shop] | None:
        """The conversation of this thread and its shop, if the thread is `ref`'s and the
        action is for the shop's store."""
        conversation = self._conversations.find_conversation_by_thread(
            team_id, channel_id, thread_ts
        )
        if conversation is None or conversation_ref(conversation) != ref:
            return None
        shop = self._shops.get_shop(conversation.shop_id)
        if shop is None or not self._acts_on(shop):
            return None
        return conversation, shop

    def worker_thread(
        self, team_id: str, channel_id: str, thread_ts: str, ref: str
    ) -> tuple[Shop, SlackPort] | None:
        """In the worker: the thread's shop and its Slack (a retry when Slack is not there)."""
        found = self.thread(team_id, channel_id, thread_ts, ref)
        if found is None:
            logger.info("order action for no known conversation dropped")
            return None
        shop = found[1]
        return shop, slack_or_retry(self._workspaces, shop.shop_id)

    @staticmethod
    def allowed(shop: Shop, slack: SlackPort, user_id: str) -> bool:
        config = shop.commerce_actions
        if config is None:
            return False
        if user_id in config.allowed:
            return True
        members = {group: slack.usergroup_members(group) for group in user_groups(config)}
        return may_act(config, user_id, members)
