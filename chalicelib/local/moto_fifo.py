"""Keeps the emulator's SQS FIFO queues in order after a visibility timeout, as SQS does.

moto 5.2.5 forgets an in-flight message only when its receive loop reaches it, so when a
whole message group becomes visible again (a worker's failed records handed back), the
group counts as in flight until the loop reaches its *last* message, which is delivered
first. SQS delivers the group from its first message. Releasing every message whose
visibility ran out before each receive gives the emulator SQS's order.
"""

from functools import wraps
from typing import Any

_APPLIED = "_threadline_keeps_fifo_order"


def keep_fifo_group_order() -> None:
    """Patches moto's SQS backend for this process; applying it twice changes nothing."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, _APPLIED, False):
        return

    @wraps(receive)
    def receive_in_group_order(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        expired = {message for message in queue.pending_messages if message.visible}
        queue.pending_messages.difference_update(expired)
        return receive(self, queue_name, *args, **kwargs)

    setattr(receive_in_group_order, _APPLIED, True)
    SQSBackend.receive_message = receive_in_group_order  # type: ignore[method-assign]
