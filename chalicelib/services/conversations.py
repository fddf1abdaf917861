"""The inbound worker: a customer's message becomes a post in its conversation's thread.

Runs once per message, in order per customer (the FIFO group). Idempotent: a message already
processed is skipped, and the open-conversation pointer is claimed conditionally, so two
first messages cannot open two conversations.
"""

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import (
    Conversation,
    InboundMessage,
    InboundStatus,
    open_conversation,
    with_customer_message,
)
from chalicelib.domain.errors import Retryable
from chalicelib.domain.shop import Shop
from chalicelib.domain.slack_view import customer_message, root_card
from chalicelib.secrets import SecretVault
from chalicelib.services.ports import IdFactory, SlackFactory, SlackPort
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)


class InboundProcessor:
    def __init__(
        self, store: Store, vault: SecretVault, slack: SlackFactory, new_id: IdFactory
    ) -> None:
        self._store = store
        self._vault = vault
        self._slack = slack
        self._new_id = new_id

    def process(self, message: InboundMessage) -> None:
        shop = self._store.get_shop(message.shop_id)
        if shop is None:
            logger.warning("message for an unknown shop dropped", shop_id=message.shop_id)
            return
        if self._store.inbound_status(message) is InboundStatus.PROCESSED:
            logger.info("already processed", message_key=message.message_key)
            return
        token = self._vault.get(shop.shop_id).slack_bot_token
        if token is None:
            raise Retryable("the shop has no Slack bot token")
        slack = self._slack(token.get_secret_value())
        # The card is drawn as it will be once this message is counted.
        conversation = with_customer_message(self._conversation_for(message), message)
        thread = conversation.slack_thread
        card_is_new = thread is None
        if thread is None:
            conversation, thread = self._start_thread(conversation, shop, slack)
        channel, thread_ts = thread
        reply_ts = slack.post(channel, customer_message(message), thread_ts=thread_ts)
        self._store.record_inbound(message, conversation, reply_ts)
        if not card_is_new:
            self._refresh_card(slack, conversation, shop, thread)
        logger.info(
            "customer message posted",
            shop_id=shop.shop_id,
            conversation_id=conversation.conversation_id,
            message_key=message.message_key,
        )

    def _refresh_card(
        self, slack: SlackPort, conversation: Conversation, shop: Shop, thread: tuple[str, str]
    ) -> None:
        # The message itself is in the thread already; a card left behind is refreshed by
        # the next change, so a Slack failure here is not worth a retry.
        try:
            slack.update(*thread, root_card(conversation, shop.timezone))
        except Exception:
            logger.exception("card not refreshed", conversation_id=conversation.conversation_id)

    def _conversation_for(self, message: InboundMessage) -> Conversation:
        existing = self._store.find_open_conversation(message.shop_id, message.customer_address)
        if existing is not None:
            return existing
        return self._store.create_conversation(open_conversation(message, self._new_id()))

    def _start_thread(
        self, conversation: Conversation, shop: Shop, slack: SlackPort
    ) -> tuple[Conversation, tuple[str, str]]:
        channel = shop.slack.channel_id
        thread_ts = slack.post(channel, root_card(conversation, shop.timezone))
        conversation = self._store.attach_slack_thread(
            conversation, shop.slack.team_id, channel, thread_ts
        )
        return conversation, (channel, thread_ts)
