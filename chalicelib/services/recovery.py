"""Customer messages that were stored but never processed are queued again.

The ack path answers 5xx when a message is stored but could not be queued, yet whether the
provider retries a 5xx depends on its webhook settings; and a message whose processing kept
failing ends in the dead-letter queue. Either way its stored copy still says `received`.
Once a minute the messages due are queued again (the worker skips what is already
processed, so a spare copy is harmless): first 3 minutes after arrival, then every 25
minutes; one still unprocessed after a day, or too large for the queue, is set aside as
stranded, for operators, instead of being retried forever. A message whose shop was deleted
meanwhile (maybe created again with its id) is erased instead: it was meant for no shop
that exists.
"""

from datetime import timedelta

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import TooLarge
from chalicelib.domain.messages import InboundMessage
from chalicelib.media import MediaStore
from chalicelib.queues import Queues
from chalicelib.services.data_rights import erase_orphans
from chalicelib.services.ports import Clock, InboundRecords, ShopLookup
from chalicelib.services.shops import shop_taking

logger = Logger(service="threadline", child=True)

# After its first requeue (3 minutes after arrival, set when it is stored) a message is
# queued again only after a full trip through the queue's retries (~20 minutes) and past
# SQS's 5-minute deduplication window; after a day it is left to operators.
REQUEUE_EVERY = timedelta(minutes=25)
STRAND_AFTER = timedelta(days=1)


class Redelivery:
    def __init__(
        self,
        shops: ShopLookup,
        inbound: InboundRecords,
        queues: Queues,
        media: MediaStore,
        clock: Clock,
    ) -> None:
        self._shops = shops
        self._inbound = inbound
        self._queues = queues
        self._media = media
        self._clock = clock

    def requeue_unprocessed(self) -> int:
        """Returns how many messages were queued again."""
        now = self._clock()
        requeued = 0
        for message in self._inbound.due_for_requeue(now):
            if shop_taking(self._shops, message.shop_id, message.shop_incarnation) is None:
                self._erase(message)
                continue
            if message.received_at < now - STRAND_AFTER:
                self._strand(message, "message stranded: unprocessed for a day")
                continue
            try:
                self._queues.send_inbound(message)
            except TooLarge:
                # Stored before the ack path measured jobs: no queue will ever take it.
                self._strand(message, "message stranded: too large to queue")
                continue
            self._inbound.note_requeued(message, next_due=now + REQUEUE_EVERY)
            requeued += 1
        if requeued:
            logger.warning("unprocessed messages queued again", count=requeued)
        return requeued

    def _erase(self, message: InboundMessage) -> None:
        stored = self._inbound.stored_message(message.shop_id, message.message_key)
        if stored is not None:
            erase_orphans(self._inbound, self._media, [stored])
        logger.warning(
            "message for a deleted shop erased",
            shop_id=message.shop_id,
            message_key=message.message_key,
        )

    def _strand(self, message: InboundMessage, why: str) -> None:
        self._inbound.strand(message)
        logger.error(why, shop_id=message.shop_id, message_key=message.message_key)
