"""The inbound worker's per-container memory of customers' open conversations."""

from datetime import UTC, datetime

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.conversation_memory import ConversationMemory

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _conversation(customer: str, *, threaded: bool = True) -> Conversation:
    conversation = Conversation(
        shop_id="ana",
        conversation_id=f"01{customer[-4:]}",
        channel=Channel.SMS,
        customer_address=customer,
        shop_address="+15550000000",
        created_at=AT,
        last_customer_message_at=AT,
        first_message_preview="oi",
    )
    if not threaded:
        return conversation
    thread = {"slack_team_id": "T1", "slack_channel_id": "C1", "slack_thread_ts": "1.1"}
    return conversation.model_copy(update=thread)


def test_the_least_recently_used_customer_goes_first_when_full() -> None:
    memory = ConversationMemory(size=2)
    first, second, third = (_conversation(f"+1555000000{n}") for n in (1, 2, 3))
    memory.keep(first)
    memory.keep(second)
    assert memory.recall("ana", first.customer_address) == first

    memory.keep(third)

    assert memory.recall("ana", second.customer_address) is None
    assert memory.recall("ana", first.customer_address) == first
    assert memory.recall("ana", third.customer_address) == third


def test_a_conversation_without_a_thread_is_not_kept_and_a_forgotten_one_is_gone() -> None:
    memory = ConversationMemory()
    unthreaded, threaded = (
        _conversation("+15550000001", threaded=False),
        _conversation("+15550000002"),
    )
    memory.keep(unthreaded)
    memory.keep(threaded)

    memory.forget("ana", threaded.customer_address)

    assert memory.recall("ana", unthreaded.customer_address) is None
    assert memory.recall("ana", threaded.customer_address) is None
