"""`POST /webhooks/shopify/{shop_id}`: Shopify's webhooks, verified first, acted on once.

A bad signature is refused (403) before anything is read or written. A delivery is claimed
by its `X-Shopify-Webhook-Id` within the shop before it is acted on, and the claim is given
back if acting fails (503), so Shopify's retry is acted on and a redelivery is not. An order
or shipment of a customer with an open conversation queues its orders lookup; of anyone else
it is acknowledged, ignored and counted. The compliance topics are acted on: a customer's
redaction drops the order summaries kept on their conversations (and redraws their cards),
the shop's drops all of them, a data request is told in the shop's channel (Threadline's
export answers it).
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.channels.base import WebhookRequest
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import BadRequest, Forbidden, Retryable, WorkspaceUnavailable
from chalicelib.domain.order_updates import shopify_update
from chalicelib.domain.outside_input import json_object
from chalicelib.domain.shop import Shop
from chalicelib.domain.shopify_webhooks import (
    WebhookWork,
    customer_addresses,
    signature_valid,
    work_of,
)
from chalicelib.presentation.slack_blocks import SlackMessage, escape_mrkdwn, thread_note
from chalicelib.services.changes import change_conversation, draw_card
from chalicelib.services.orders import orders_lookup
from chalicelib.services.ports import (
    Clock,
    ConversationLists,
    ConversationRecords,
    Metric,
    MetricsPort,
    OutboundQueue,
    ShopLookup,
    ShopVault,
    WebhookRecords,
    Workspaces,
)

if TYPE_CHECKING:
    from chalicelib.services.order_updates import OrderUpdates

logger = Logger(service="threadline", child=True)

AWS_ERRORS = (ClientError, BotoCoreError)
# A shop's conversations read per page when the shop's data is redacted.
PAGE = 100


def data_request_note(shop_id: str, request_id: str) -> SlackMessage:
    text = (
        ":inbox_tray: Shopify passed on a customer's request for their data "
        f"(data request {escape_mrkdwn(request_id)}). Threadline keeps their messages and "
        "the order summaries on their conversations: export them for the customer with "
        f"`GET /admin/shops/{shop_id}/customers/<their address>` (docs/API.md)."
    )
    return thread_note(text)


def act_once(
    claims: WebhookRecords, shop_id: str, webhook_id: str, now: datetime, act: Callable[[], None]
) -> None:
    """Acts on a platform's delivery once: claimed within the shop first (a duplicate is
    acknowledged, not acted on), the claim given back if acting fails so a retry acts."""
    try:
        if not claims.claim_webhook(shop_id, webhook_id, now):
            logger.info("duplicate commerce webhook", shop_id=shop_id)
            return
    except AWS_ERRORS as error:
        raise Retryable("webhook not recorded") from error
    try:
        act()
    except Exception as error:
        claims.release_webhook(shop_id, webhook_id)
        if isinstance(error, AWS_ERRORS):
            raise Retryable("webhook not acted on") from error
        raise


def refresh_orders(
    conversations: ConversationRecords,
    outbound: OutboundQueue,
    metrics: MetricsPort,
    shop: Shop,
    addresses: tuple[str, ...],
    webhook_id: str,
) -> None:
    """Queues the orders lookup of each open conversation of the customer an order names;
    an order of anyone else is ignored and counted."""
    queued = 0
    seen: set[str] = set()
    for address in addresses:
        conversation = conversations.find_open_conversation(shop.shop_id, address)
        if conversation is None or conversation.conversation_id in seen:
            continue
        seen.add(conversation.conversation_id)
        job = orders_lookup(conversation, f"webhook:{webhook_id}")
        if job is not None:
            outbound.send_outbound(job)
            queued += 1
    if not queued:
        # An order of someone who is not talking to the shop: nothing to refresh.
        metrics.count(Metric.COMMERCE_WEBHOOK_IGNORED)


class ShopifyWebhooks:
    def __init__(
        self,
        shops: ShopLookup,
        vault: ShopVault,
        conversations: ConversationRecords,
        lists: ConversationLists,
        claims: WebhookRecords,
        outbound: OutboundQueue,
        workspaces: Workspaces,
        metrics: MetricsPort,
        clock: Clock,
        updates: "OrderUpdates | None" = None,
    ) -> None:
        self._shops = shops
        self._vault = vault
        self._conversations = conversations
        self._lists = lists
        self._claims = claims
        self._outbound = outbound
        self._workspaces = workspaces
        self._metrics = metrics
        self._clock = clock
        self._updates = updates

    def receive(self, shop_id: str, request: WebhookRequest) -> None:
        shop = self._shops.get_shop(shop_id)
        secret = self._vault.get(shop_id).shopify_webhook_secret if shop else None
        signature = request.headers.get("x-shopify-hmac-sha256")
        if (
            shop is None
            or secret is None
            or not signature_valid(request.body, signature, secret.get_secret_value())
        ):
            raise Forbidden("invalid Shopify signature")
        # One app (one secret) may serve several stores: a store's webhook acts on its shop.
        domain = request.headers.get("x-shopify-shop-domain", "").strip().lower()
        if shop.shopify is not None and domain != shop.shopify.domain:
            raise Forbidden("the webhook is for another Shopify store")
        webhook_id = request.headers.get("x-shopify-webhook-id", "").strip()
        topic = request.headers.get("x-shopify-topic", "")
        if not webhook_id or not topic:
            raise BadRequest("X-Shopify-Webhook-Id and X-Shopify-Topic are required")
        payload = json_object(request.body)
        act_once(
            self._claims,
            shop_id,
            # The header is outside the signature: its id claimed apart from any other kind
            # (WooCommerce's deliveries, order updates' events).
            f"shopify:{webhook_id}",
            self._clock(),
            lambda: self._act_and_tell(shop, topic, payload, webhook_id),
        )

    def _act_and_tell(
        self, shop: Shop, topic: str, payload: dict[str, Any], webhook_id: str
    ) -> None:
        self._act(shop, work_of(topic), payload, webhook_id)
        # A shop that left Shopify keeps its webhook secret (and answers the compliance
        # topics): its old store's orders are no longer its to tell customers of.
        if shop.shopify is None or self._updates is None:
            return
        update = shopify_update(topic, payload)
        if update is not None:
            self._updates.tell(shop, update)

    def _act(self, shop: Shop, work: WebhookWork, payload: dict[str, Any], webhook_id: str) -> None:
        match work:
            case WebhookWork.REFRESH:
                refresh_orders(
                    self._conversations,
                    self._outbound,
                    self._metrics,
                    shop,
                    customer_addresses(payload),
                    webhook_id,
                )
            case WebhookWork.REDACT_CUSTOMER:
                addresses = customer_addresses(payload)
                if addresses:
                    self._forget(shop, self._lists.conversations_of(shop.shop_id, addresses))
            case WebhookWork.REDACT_SHOP:
                self._forget_all(shop)
            case WebhookWork.DATA_REQUEST:
                self._tell_data_request(shop, payload)
            case WebhookWork.IGNORE:
                self._metrics.count(Metric.COMMERCE_WEBHOOK_IGNORED)

    def _forget(self, shop: Shop, conversations: list[Conversation]) -> None:
        """Drops the order summaries kept on the conversations, and redraws their cards."""
        now = self._clock()
        for conversation in conversations:
            if conversation.orders is None:
                continue
            result = change_conversation(
                self._conversations,
                conversation,
                lambda current: current.model_copy(update={"orders": None}),
                expires_at=shop.expiry(now),
            )
            if result is not None and result.changed:
                self._redraw(shop, result.after)

    def _forget_all(self, shop: Shop) -> None:
        after = None
        while True:
            page, after = self._lists.conversations_page(shop.shop_id, {}, PAGE, after)
            self._forget(shop, page)
            if after is None:
                return

    def _redraw(self, shop: Shop, conversation: Conversation) -> None:
        # The summary is gone from the store: the card is redrawn at once, best effort (a
        # card left behind is redrawn by the conversation's next change).
        try:
            draw_card(
                self._conversations, self._workspaces.slack_for(shop.shop_id), shop, conversation
            )
        except WorkspaceUnavailable:
            return
        except Exception:
            logger.exception("card not redrawn after redaction")

    def _tell_data_request(self, shop: Shop, payload: dict[str, Any]) -> None:
        request = payload.get("data_request")
        request_id = str(request.get("id", "")) if isinstance(request, dict) else ""
        logger.info("Shopify data request received", shop_id=shop.shop_id)
        if shop.slack is None:
            return
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return
        slack.post(shop.slack.channel_id, data_request_note(shop.shop_id, request_id or "?"))
