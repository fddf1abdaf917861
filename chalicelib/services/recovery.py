"""Customer messages that were stored but never processed are queued again.

The ack path answers 5xx when a message is stored but could not be queued, yet whether the
provider retries a 5xx depends on its webhook settings; and a message whose processing kept
failing ends in the dead-letter queue. Either way its stored copy still says `received`.
Once a minute the oldest such messages are queued again (the worker skips what is already
processed, so a spare copy is harmless); one that keeps failing is set aside as stranded,
for operators, instead of being retried forever.
"""

from datetime import timedelta

from aws_lambda_powertools import Logger

from chalicelib.queues import Queues
from chalicelib.services.ports import Clock
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# Longer than a normal trip through the queue, so in-flight messages are left alone.
REQUEUE_AFTER = timedelta(minutes=3)
MAX_REQUEUES = 5


class Redelivery:
    def __init__(self, store: Store, queues: Queues, clock: Clock) -> None:
        self._store = store
        self._queues = queues
        self._clock = clock

    def requeue_unprocessed(self) -> int:
        """Returns how many messages were queued again."""
        requeued = 0
        for message, attempts in self._store.unprocessed_before(self._clock() - REQUEUE_AFTER):
            if attempts >= MAX_REQUEUES:
                self._store.strand(message)
                logger.error(
                    "message stranded after repeated requeues",
                    shop_id=message.shop_id,
                    message_key=message.message_key,
                )
                continue
            if self._store.note_requeued(message):
                self._queues.send_inbound(message)
                requeued += 1
        if requeued:
            logger.warning("unprocessed messages queued again", count=requeued)
        return requeued
