"""What the outbound worker reads of a reply (the thread's owner, then the conversation, the
reply as stored and the agent's latest revision, together) and how it stores it sent (with
the conversation it answers, in one write)."""

import pytest

from chalicelib.domain.conversation import ConversationStatus
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import DeliveryStatus, ReplyRevision
from tests.contract.linked.conftest import CHANNEL, SHOP, TEAM, Linked, conversation, reply

THREAD = "1764000000.000001"


def test_a_thread_names_its_shop_and_conversation(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())
    records.conversations.attach_slack_thread(read, TEAM, CHANNEL, THREAD)

    owner = records.conversations.thread_owner(TEAM, CHANNEL, THREAD)

    assert owner == (SHOP, read.conversation_id)
    assert records.conversations.thread_owner(TEAM, CHANNEL, "1.1") is None


def test_the_reading_holds_what_is_stored_and_none_for_what_is_not(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())
    attached = records.conversations.attach_slack_thread(read, TEAM, CHANNEL, THREAD)
    first = reply()
    records.replies.claim_outbound(first)
    edit = ReplyRevision(
        team_id=TEAM,
        channel_id=CHANNEL,
        ts=first.slack_ts,
        text="On its way, today",
        revised_ts="1764000003.000000",
        thread_ts=THREAD,
    )
    records.replies.record_revision(edit)
    revision_of = (TEAM, CHANNEL, first.slack_ts)

    stored, outbound, revision = records.replies.reply_reading(
        SHOP, read.conversation_id, first.message_key, revision_of
    )
    unasked = records.replies.reply_reading(SHOP, read.conversation_id, first.message_key, None)
    nothing = records.replies.reply_reading(SHOP, "01GONE", "slack:C0:1.1", (TEAM, CHANNEL, "1.1"))

    assert stored == attached
    assert outbound == first
    assert revision is not None
    assert (revision.text, revision.revised_ts) == ("On its way, today", "1764000003.000000")
    assert unasked == (attached, first, None)
    assert nothing == (None, None, None)


def test_a_reply_sent_is_stored_with_the_conversation_it_answers(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())
    first = reply()
    records.replies.claim_outbound(first)
    answering = read.model_copy(update={"status": ConversationStatus.PENDING})

    moved, saved = records.replies.record_sent(
        first, DeliveryStatus.QUEUED, "SM1", saving=answering
    )
    again = records.replies.record_sent(first, DeliveryStatus.QUEUED, "SM1", saving=saved)

    assert moved
    assert saved == answering.model_copy(update={"version": read.version + 1})
    assert records.conversations.get_conversation(SHOP, read.conversation_id) == saved
    assert records.replies.provider_id_taken(SHOP, "SM1")
    # A retry moves nothing, and leaves the conversation as it is.
    assert again == (False, None)
    assert records.conversations.get_conversation(SHOP, read.conversation_id) == saved


def test_a_conversation_changed_meanwhile_lets_the_reply_be_stored_alone(
    records: Linked,
) -> None:
    read = records.conversations.create_conversation(conversation())
    resolved = records.conversations.save_state(
        read.model_copy(update={"status": ConversationStatus.RESOLVED})
    )
    first = reply()
    records.replies.claim_outbound(first)
    stale = read.model_copy(update={"status": ConversationStatus.PENDING})

    moved, saved = records.replies.record_sent(first, DeliveryStatus.QUEUED, "SM1", saving=stale)

    assert (moved, saved) == (True, None)
    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert (stored.status, stored.provider_message_id) == (DeliveryStatus.QUEUED, "SM1")
    assert records.conversations.get_conversation(SHOP, read.conversation_id) == resolved


def test_a_provider_message_of_another_reply_stores_neither(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())
    first, second = reply(), reply("1764000000.000200")
    records.replies.claim_outbound(first)
    records.replies.claim_outbound(second)
    records.replies.advance_outbound(first, DeliveryStatus.QUEUED, provider_message_id="SM1")
    answering = read.model_copy(update={"status": ConversationStatus.PENDING})

    with pytest.raises(Retryable):
        records.replies.record_sent(second, DeliveryStatus.QUEUED, "SM1", saving=answering)

    assert records.conversations.get_conversation(SHOP, read.conversation_id) == read
