"""What the outbound worker reads of a reply: the thread's owner, then the conversation, the
reply as stored and the agent's latest revision, together."""

from chalicelib.domain.messages import ReplyRevision
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
