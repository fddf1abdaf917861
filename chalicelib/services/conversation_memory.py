"""The customers' open conversations as this container last stored and read them back, so
that a warm worker's next message of the same customer reads neither the pointer nor the
conversation. Acting on a remembered copy is safe because the message's post is noted only
while the conversation is still at the remembered version and still the customer's open one
(`InboundRecords.mark_posted(while_current=...)`); a copy found stale there is forgotten and
the message goes on from the conversation as stored."""

import threading
from collections import OrderedDict

from chalicelib.domain.conversation import Conversation

# Enough for the customers a container's worker meets in a busy spell; the oldest go first.
REMEMBERED_AT_MOST = 512


class ConversationMemory:
    def __init__(self, size: int = REMEMBERED_AT_MOST) -> None:
        self._size = size
        self._conversations: OrderedDict[tuple[str, str], Conversation] = OrderedDict()
        # Lambda runs one job at a time per container; the local stack's pumps share one.
        self._lock = threading.Lock()

    def recall(self, shop_id: str, customer_address: str) -> Conversation | None:
        key = (shop_id, customer_address)
        with self._lock:
            conversation = self._conversations.get(key)
            if conversation is not None:
                self._conversations.move_to_end(key)
            return conversation

    def keep(self, conversation: Conversation) -> None:
        """Remembers a conversation as read back stored; one without a thread is not worth
        it (the message that starts it reads it again anyway)."""
        if conversation.slack_thread is None:
            return
        key = (conversation.shop_id, conversation.customer_address)
        with self._lock:
            self._conversations[key] = conversation
            self._conversations.move_to_end(key)
            while len(self._conversations) > self._size:
                self._conversations.popitem(last=False)

    def forget(self, shop_id: str, customer_address: str) -> None:
        with self._lock:
            self._conversations.pop((shop_id, customer_address), None)
