"""InboundRecords.mark_posted's conditions (issue 20): the post noted once, and, for a
worker acting on a remembered conversation, only while that conversation is still at its
version and the customer's open one."""

import pytest

from chalicelib.domain.errors import ConversationChanged, Retryable
from tests.contract.linked.conftest import CHANNEL, Linked, conversation, message


def test_a_post_is_noted_once_and_a_later_one_gets_the_first(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)

    assert records.inbound.mark_posted(first, "1764000000.000010", CHANNEL) == ("1764000000.000010")
    assert records.inbound.mark_posted(first, "1764000000.000020", CHANNEL) == ("1764000000.000010")


def test_a_post_is_noted_while_the_remembered_conversation_is_current(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)
    opened = records.conversations.create_conversation(conversation())

    noted = records.inbound.mark_posted(first, "1764000000.000010", CHANNEL, while_current=opened)

    assert noted == "1764000000.000010"


def test_a_changed_conversation_refuses_the_post_and_tells_it_as_stored(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)
    opened = records.conversations.create_conversation(conversation())
    changed = records.conversations.save_state(opened.model_copy(update={"assignee_user_id": "U1"}))
    assert changed is not None

    with pytest.raises(ConversationChanged) as refused:
        records.inbound.mark_posted(first, "1764000000.000010", CHANNEL, while_current=opened)

    assert refused.value.current is not None
    assert (refused.value.current.version, refused.value.current.assignee_user_id) == (1, "U1")
    assert records.inbound.begin_inbound_attempt(first).slack_ts is None


def test_a_replaced_conversation_refuses_the_post_with_nothing_current(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)
    opened = records.conversations.create_conversation(conversation())
    records.conversations.create_conversation(conversation("01NEXT"), replacing=opened)

    with pytest.raises(ConversationChanged) as refused:
        records.inbound.mark_posted(first, "1764000000.000010", CHANNEL, while_current=opened)

    assert refused.value.current is None


def test_a_conversation_is_not_opened_for_a_message_erased_meanwhile(records: Linked) -> None:
    gone = message()

    with pytest.raises(Retryable):
        records.conversations.create_conversation(conversation(), while_stored=gone)

    assert records.conversations.find_open_conversation(gone.shop_id, gone.customer_address) is None
