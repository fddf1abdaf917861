"""Changes to a stored conversation that workers running at once cannot lose.

Card presses, timers and replies run in different FIFO groups, so two of them may read the
same conversation at once. The store keeps a change only if the conversation is still at the
version it was read at; the loser reads again and applies its change to what won. A change
is a function of the conversation alone, and applied to a state that has it already it
changes nothing: a retried job, or the second of two agents pressing the same button, stops
there.

Every writer redraws the card after it writes, then reads the version back: one that drew an
older state after a newer one was drawn finds the newer version and draws again, so the last
drawing is of the stored state.
"""

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import Retryable
from chalicelib.domain.shop import Shop
from chalicelib.presentation.card import root_card
from chalicelib.services.ports import ConversationRecords, SlackPort

# Conflicts need other writers in the very same instant; a few rounds settle them.
ATTEMPTS = 5

# The conversation with the change; the same conversation when it had the change already;
# None when the change no longer applies (a stale alarm).
Change = Callable[[Conversation], Conversation | None]


@dataclass(frozen=True)
class Changed:
    """The stored state a change was applied to, and the state stored with it (`before`
    itself when there was nothing to change)."""

    before: Conversation
    after: Conversation

    @property
    def changed(self) -> bool:
        return self.after != self.before


def change_conversation(
    conversations: ConversationRecords,
    read: Conversation,
    change: Change,
    *,
    expires_at: int | None,
) -> Changed | None:
    """Applies `change` to the conversation as stored, starting from `read`, and stores it;
    None when the change no longer applies or the conversation is gone."""
    current: Conversation | None = read
    for _ in range(ATTEMPTS):
        if current is None:
            return None
        changed = change(current)
        if changed is None:
            return None
        if changed == current:
            return Changed(current, current)
        stored = conversations.save_state(changed, expires_at=expires_at)
        if stored is not None:
            return Changed(current, stored)
        current = conversations.get_conversation(read.shop_id, read.conversation_id)
    raise Retryable("the conversation kept changing while it was being changed")


def draw_card(
    conversations: ConversationRecords,
    slack: SlackPort,
    shop: Shop,
    drawn: Conversation,
    *,
    shown: bool = False,
) -> Conversation | None:
    """Redraws the conversation's card as `drawn` (a state as stored, at its version; `shown`
    when the card shows it already), and again as stored until no other write came in
    between. Returns the state last drawn, as read back stored (None when it is gone, has
    no thread, or kept changing)."""
    for _ in range(ATTEMPTS):
        if drawn.slack_thread is None:
            return None
        if not shown:
            slack.update(*drawn.slack_thread, root_card(drawn, shop))
        shown = False
        stored = conversations.get_conversation(drawn.shop_id, drawn.conversation_id)
        if stored is None or stored.version == drawn.version:
            return stored
        drawn = stored
    return None
