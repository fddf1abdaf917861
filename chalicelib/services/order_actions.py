"""What the actions on an order taken from Slack (refunds, cancellations, returns) share:
the thread a press or a modal names, found only if it is the conversation's it says and its
shop has a store; who may act (the shop's `commerce_actions.allowed`, user groups asked of
Slack); and the plan a confirmation carried, keyed by its submission."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.foreign_ids import fitted
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

# DynamoDB and SQS take the key whole; Shopify's idempotency key up to 255 characters.
KEY_LIMIT = 200
GONE = "This conversation is gone."
PlanT = TypeVar("PlanT", bound=BaseModel)


class Confirmation(Protocol):
    """A confirmation modal submitted: whose, from which submission, with what it showed."""

    @property
    def view_id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def metadata(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ConfirmedPlan(Generic[PlanT]):
    """The plan a confirmation carried, in the thread it names."""

    channel_id: str
    thread_ts: str
    conversation_ref: str
    plan: PlanT


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

    def confirmed_plan(
        self,
        confirmed: Confirmation,
        plan_type: type[PlanT],
        kind: str,
        again: str,
        not_allowed: str,
    ) -> ConfirmedPlan[PlanT] | str:
        """The plan a confirmation modal carried, for the person who submitted it, keyed by
        the submission; else why not (`again` when the modal's data no longer holds)."""
        try:
            metadata = confirmed.metadata
            channel_id, thread_ts = str(metadata["ch"]), str(metadata["ts"])
            fields = dict(metadata["plan"])
            ref = str(fields["conversation_ref"])
        except (KeyError, TypeError, ValueError):
            return again
        found = self.thread(confirmed.team_id, channel_id, thread_ts, ref)
        if found is None:
            return GONE
        conversation, shop = found
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        if not self.allowed(shop, slack, confirmed.user_id):
            return not_allowed
        # The modal's submission, namespaced by the shop: Slack gives the same view id to a
        # double click and to its own retry.
        key = fitted(f"{shop.shop_id}:{kind}:{confirmed.view_id}", KEY_LIMIT)
        fields |= {"shop_id": shop.shop_id, "requested_by": confirmed.user_id}
        try:
            plan = plan_type.model_validate(fields | {"submission_key": key})
        except ValidationError:
            return again
        return ConfirmedPlan(channel_id, thread_ts, conversation_ref(conversation), plan)

    @staticmethod
    def allowed(shop: Shop, slack: SlackPort, user_id: str) -> bool:
        config = shop.commerce_actions
        if config is None:
            return False
        if user_id in config.allowed:
            return True
        members = {group: slack.usergroup_members(group) for group in user_groups(config)}
        return may_act(config, user_id, members)
