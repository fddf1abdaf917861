"""The outbound worker's decisions on an agent's thread message, on fakes: a reply goes to
the customer once, after its grace period, as last edited; a note never does."""

import pytest

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.errors import NotYet, Retryable
from chalicelib.domain.jobs import AgentReply
from chalicelib.domain.messages import DeliveryStatus, ReplyRevision
from chalicelib.domain.vocabulary import Priority
from chalicelib.presentation.posts import INTERNAL_REACTION, WAITING_REACTION
from chalicelib.services.ports import Metric
from tests.unit.use_cases import CHANNEL, CUSTOMER, SHOP, SHOP_NUMBER, TEAM, World

# Past the shop's ten seconds of grace.
GRACE_OVER = 11


def _threaded(world: World) -> Conversation:
    """A customer's conversation with its thread, opened by their first message."""
    world.inbound().process(world.arrives())
    conversation = world.records.conversations.find_open_conversation(SHOP, CUSTOMER)
    assert conversation is not None
    return conversation


def _reply(world: World, conversation: Conversation, text: str = "On its way") -> AgentReply:
    """An agent's thread message, written now."""
    assert conversation.slack_thread_ts is not None
    ts = f"{world.clock().timestamp():.6f}"
    return AgentReply(
        event_id=f"Ev{ts}",
        team_id=TEAM,
        channel_id=CHANNEL,
        thread_ts=conversation.slack_thread_ts,
        ts=ts,
        user_id="U0AGENT",
        text=text,
    )


def test_a_reply_is_sent_once_signed_and_answers_the_customer() -> None:
    world = World()
    conversation = _threaded(world)
    reply = _reply(world, conversation)
    world.clock.advance(GRACE_OVER)

    world.replies().send_reply(reply)
    world.replies().send_reply(reply)

    [sent] = world.twilio.sent
    assert (sent.to, sent.from_, sent.text) == (CUSTOMER, SHOP_NUMBER, "On its way\n— Bia")
    stored = world.records.replies.get_outbound(SHOP, reply.message_key)
    assert stored is not None
    assert (stored.status, stored.provider_message_id) == (DeliveryStatus.QUEUED, sent.sid)
    assert world.metrics.counts(Metric.AGENT_REPLY_SENT) == 1
    answered = world.records.conversations.get_conversation(SHOP, conversation.conversation_id)
    assert answered is not None
    assert answered.status is ConversationStatus.PENDING
    assert answered.first_response_at == world.clock()


def test_an_internal_note_is_not_sent() -> None:
    world = World()
    conversation = _threaded(world)
    note = _reply(world, conversation, "note: check the stock first")
    world.clock.advance(GRACE_OVER)

    world.replies().send_reply(note)

    assert world.twilio.sent == []
    assert world.records.replies.get_outbound(SHOP, note.message_key) is None
    assert world.slack.reactions[(CHANNEL, note.ts)] == [INTERNAL_REACTION]


def test_a_reply_waits_out_its_grace_period_then_goes_as_last_edited() -> None:
    world = World()
    conversation = _threaded(world)
    reply = _reply(world, conversation, "On its wya")
    world.clock.advance(3)

    with pytest.raises(NotYet) as waiting:
        world.replies().send_reply(reply)

    assert world.twilio.sent == []
    assert world.slack.reactions[(CHANNEL, reply.ts)] == [WAITING_REACTION]
    assert waiting.value.retry_after is not None
    assert 6 < waiting.value.retry_after <= 7
    edit_ts = f"{world.clock().timestamp():.6f}"
    world.records.replies.record_revision(
        ReplyRevision(
            team_id=TEAM, channel_id=CHANNEL, ts=reply.ts, text="On its way", revised_ts=edit_ts
        )
    )
    world.clock.advance(GRACE_OVER)

    world.replies().send_reply(reply)

    assert [sent.text for sent in world.twilio.sent] == ["On its way\n— Bia"]
    assert WAITING_REACTION not in world.slack.reactions[(CHANNEL, reply.ts)]


def test_a_reply_deleted_in_its_grace_period_is_not_sent() -> None:
    world = World()
    conversation = _threaded(world)
    reply = _reply(world, conversation)
    world.records.replies.record_revision(
        ReplyRevision(team_id=TEAM, channel_id=CHANNEL, ts=reply.ts, text=None, revised_ts=reply.ts)
    )
    world.clock.advance(GRACE_OVER)

    world.replies().send_reply(reply)

    assert world.twilio.sent == []
    assert world.records.replies.get_outbound(SHOP, reply.message_key) is None


def test_a_retry_after_the_send_does_not_send_again() -> None:
    world = World()
    conversation = _threaded(world)
    reply = _reply(world, conversation)
    world.clock.advance(GRACE_OVER)
    # Twilio takes the message, and the answer is lost on the way back.
    world.twilio.lost_answers = 1

    with pytest.raises(Retryable, match="Twilio unreachable"):
        world.replies().send_reply(reply)
    dispatching = world.records.replies.get_outbound(SHOP, reply.message_key)
    assert dispatching is not None
    assert dispatching.status is DeliveryStatus.DISPATCHING

    world.replies().send_reply(reply)

    [sent] = world.twilio.sent
    stored = world.records.replies.get_outbound(SHOP, reply.message_key)
    assert stored is not None
    assert (stored.status, stored.provider_message_id) == (DeliveryStatus.QUEUED, sent.sid)
    assert world.metrics.counts(Metric.AGENT_REPLY_SENT) == 1


def test_a_change_stored_meanwhile_is_kept_and_the_answer_applied_over_it() -> None:
    world = World()
    conversation = _threaded(world)
    reply = _reply(world, conversation)
    world.clock.advance(GRACE_OVER)
    # Another agent raises the priority between the worker's read and its write.
    world.reply_records.before_record.append(
        conversation.model_copy(update={"priority": Priority.HIGH})
    )

    world.replies().send_reply(reply)

    stored = world.records.conversations.get_conversation(SHOP, conversation.conversation_id)
    assert stored is not None
    assert (stored.priority, stored.status) == (Priority.HIGH, ConversationStatus.PENDING)
    assert stored.first_response_at == world.clock()
    assert stored.version == conversation.version + 2
