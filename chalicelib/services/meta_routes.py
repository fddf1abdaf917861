"""The inbound worker's word on which shop a Meta message belongs to.

The ack path routes each entry by the claim its container cached (`meta_intake.ClaimCache`,
kept up to the shop cache's 60 s so that a warm ack costs one write and one send): an id a
shop released and another claimed in that time is filed under its former owner. Here the
claim is read afresh, once per message: one the id's new owner claims is filed again under
that shop (stored and queued in its customer's group, deduplicated like any delivery) and its
first copy erased, before anything of it reaches the former owner's Slack. So a claim change
takes effect at once for every message not yet posted, at one GetItem in the worker.
"""

from aws_lambda_powertools import Logger

from chalicelib.domain.messages import InboundMessage, InboundStatus
from chalicelib.domain.shop import meta_address
from chalicelib.services.conversations import InboundProcessor
from chalicelib.services.ports import InboundQueue, InboundRecords, MetricsPort, ShopRecords

logger = Logger(service="threadline", child=True)

META_MESSAGE_REFILED = "MetaMessageRefiled"


class MetaRoutes:
    def __init__(
        self,
        shops: ShopRecords,
        inbound: InboundRecords,
        queue: InboundQueue,
        metrics: MetricsPort,
        processor: InboundProcessor,
    ) -> None:
        self._shops = shops
        self._inbound = inbound
        self._queue = queue
        self._metrics = metrics
        self._processor = processor

    def process(self, message: InboundMessage, receive_count: int | None = None) -> None:
        """Processes a Meta message under the shop that claims its id now."""
        owner = self._shops.shop_for_address(meta_address(message.channel, message.shop_address))
        if owner is None or owner == message.shop_id or not self._refiled(message, owner):
            # Unclaimed since (as before: its shop released the id a moment ago), its own
            # shop's, or already in a thread: it stays where it was filed.
            self._processor.process(message, receive_count)

    def _refiled(self, message: InboundMessage, owner: str) -> bool:
        stored = self._inbound.stored_message(message.shop_id, message.message_key)
        shop = self._shops.get_shop(owner)
        if stored is None or "slack_ts" in stored or shop is None:
            return False
        moved = message.model_copy(update={"shop_id": owner, "shop_incarnation": shop.incarnation})
        saved = self._inbound.save_inbound(moved, expires_at=shop.expiry(moved.received_at))
        if saved is None or saved[1] is InboundStatus.RECEIVED:
            self._queue.send_inbound(saved[0] if saved else moved)
        # Another shop's customer's words are not kept under the former owner.
        self._inbound.erase_messages([stored])
        logger.info("meta message filed under the id's new owner", shop_id=owner)
        self._metrics.count(META_MESSAGE_REFILED, message.channel)
        return True
