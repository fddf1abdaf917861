"""A warm worker remembers the customer's open conversation as it last stored it (issue 20):
its next message reads neither the pointer nor the conversation, and the remembered copy is
checked as the message's post is noted. A copy found stale there changes nothing that was
stored since, and the message lands where it belongs."""

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.vocabulary import Priority
from chalicelib.presentation.notes import reopened_note
from tests.fakes import FakeSlack
from tests.integration.test_conversations import CUSTOMER, texts
from tests.integration.test_data_rights import write


def _open(container: Any) -> Conversation:
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert isinstance(conversation, Conversation)
    assert conversation.slack_thread_ts is not None
    return conversation


def _thread(slack: FakeSlack, conversation: Conversation) -> list[str]:
    assert conversation.slack_thread_ts is not None
    return texts(slack.thread(conversation.slack_thread_ts))


def test_a_conversation_changed_by_an_agent_since_it_was_remembered_keeps_the_change(
    client: Any, shop: str, container: Any, run_workers, slack: FakeSlack
):
    # Given a customer's conversation, remembered by the worker that opened it, then made
    # urgent and resolved by an agent
    write(client, 1, From=CUSTOMER, Body="Oi")
    run_workers()
    opened = _open(container)
    changed = {
        "priority": Priority.URGENT,
        "priority_set_by_agent": True,
        "status": ConversationStatus.RESOLVED,
        "resolved_at": datetime.now(UTC),
    }
    assert container.store.conversations.save_state(opened.model_copy(update=changed))

    # When the customer writes again
    write(client, 2, From=CUSTOMER, Body="Alguém?")
    run_workers()

    # Then the message is in the thread once (its post kept, nothing deleted), counted on
    # the conversation as stored: it opens it again, and says so; the agent's priority stands
    after = _open(container)
    assert _thread(slack, after) == ["Oi", "Alguém?", reopened_note().text]
    assert slack.deleted == []
    assert after.message_count == 2
    assert after.status is ConversationStatus.OPEN
    assert after.priority is Priority.URGENT
    assert after.version == opened.version + 2


def test_a_conversation_replaced_since_it_was_remembered_gets_no_more_messages(
    client: Any, shop: str, container: Any, run_workers, slack: FakeSlack
):
    # Given a customer's conversation, remembered by the worker that opened it, then
    # replaced as their open one by a new conversation
    write(client, 1, From=CUSTOMER, Body="Oi")
    run_workers()
    old = _open(container)
    new = old.model_copy(
        update={
            "conversation_id": "01NEWCONVERSATION0000000000",
            "created_at": datetime.now(UTC),
            **dict.fromkeys(("slack_team_id", "slack_channel_id", "slack_thread_ts")),
            "message_count": 0,
            "version": 0,
        }
    )
    container.store.conversations.create_conversation(new, replacing=old)

    # When the customer writes again
    write(client, 2, From=CUSTOMER, Body="Alguém?")
    run_workers()

    # Then the post made in the old thread is taken back, and the message is in the new
    # conversation's thread, counted there
    assert old.slack_thread_ts is not None
    [posted_old] = [p for p in slack.thread(old.slack_thread_ts) if texts([p]) == ["Alguém?"]]
    assert (posted_old.channel, posted_old.ts) in slack.deleted
    current = _open(container)
    assert current.conversation_id == new.conversation_id
    assert _thread(slack, current) == ["Alguém?"]
    assert current.message_count == 1
