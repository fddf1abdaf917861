"""ErasureRecords: a conversation erased with everything that points at it or repeats it,
and nothing of another customer's."""

from datetime import timedelta

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.csat import THANKS_KEY
from chalicelib.domain.jobs import auto_reply_post_id
from chalicelib.domain.messages import DeliveryStatus, ReplyRevision
from tests.contract.linked.conftest import (
    CHANNEL,
    SHOP,
    T0,
    TEAM,
    Linked,
    message,
    opened,
    reply,
)

THREAD = "1764000000.000001"


def _threaded(records: Linked, conversation_id: str, customer: str, n: int) -> Conversation:
    """A customer's conversation with its thread, a mail counted and an agent's reply sent,
    edited, and posted for the agent by the bot."""
    first = message(n, customer=customer, mail_id=f"<{n}@customer.example>")
    read = opened(records, first, conversation_id)
    thread = f"1764000000.00000{n}"
    threaded = records.conversations.attach_slack_thread(read, TEAM, CHANNEL, thread)
    assert threaded is not None
    answer = reply(f"1764000000.00010{n}", conversation_id=conversation_id).model_copy(
        update={"to": customer, "slack_thread_ts": thread, "post_id": f"canned:{n}"}
    )
    records.replies.claim_outbound(answer)
    records.replies.advance_outbound(answer, DeliveryStatus.SENT, provider_message_id=f"SM{n}")
    records.replies.record_bot_post(TEAM, f"canned:{n}", answer.slack_ts, answer.text)
    ref = conversation_ref(threaded)
    records.replies.record_bot_post(
        TEAM, auto_reply_post_id(ref, first.message_key, THANKS_KEY), "1.9", "Thanks"
    )
    for ts in (answer.slack_ts, f"1764000000.00020{n}"):
        records.replies.record_revision(
            ReplyRevision(
                team_id=TEAM,
                channel_id=CHANNEL,
                ts=ts,
                text="edited",
                revised_ts="1764000100.000001",
                thread_ts=thread,
            )
        )
    return threaded


def test_a_conversation_goes_with_its_messages_pointers_edits_and_posts(
    records: Linked,
) -> None:
    erased = _threaded(records, "01ERASED", "+15550100001", 1)
    kept = _threaded(records, "01KEPT", "+15550100002", 2)
    items = list(records.listings.timeline(SHOP, "01ERASED"))

    assert records.erasures.erase_conversation(erased, items) == 2

    assert records.conversations.get_conversation(SHOP, "01ERASED") is None
    assert records.conversations.find_open_conversation(SHOP, "+15550100001") is None
    assert records.conversations.find_conversation_by_thread(TEAM, CHANNEL, THREAD) is None
    assert records.conversations.find_conversation_by_mail(SHOP, ("<1@customer.example>",)) is None
    assert list(records.listings.timeline(SHOP, "01ERASED")) == []
    assert records.inbound.stored_messages(SHOP, ["+15550100001"]) == []
    assert not records.replies.provider_id_taken(SHOP, "SM1")
    assert records.replies.bot_post(TEAM, "canned:1") is None
    mail_key = message(1, mail_id="<1@customer.example>").message_key
    thanks = auto_reply_post_id(conversation_ref(erased), mail_key, THANKS_KEY)
    assert records.replies.bot_post(TEAM, thanks) is None
    for ts in ("1764000000.000101", "1764000000.000201"):
        assert records.replies.reply_revision(TEAM, CHANNEL, ts) is None

    assert records.conversations.get_conversation(SHOP, "01KEPT") == kept
    assert len(list(records.listings.timeline(SHOP, "01KEPT"))) == 2
    assert records.conversations.find_conversation_by_mail(SHOP, ("<2@customer.example>",))
    assert records.replies.provider_id_taken(SHOP, "SM2")
    assert records.replies.bot_post(TEAM, "canned:2") is not None
    assert records.replies.reply_revision(TEAM, CHANNEL, "1764000000.000202") is not None


def test_the_open_pointer_stays_when_it_names_a_newer_conversation(records: Linked) -> None:
    old = opened(records, message(1))
    follow_up = old.model_copy(
        update={"conversation_id": "01NEXT", "created_at": T0 + timedelta(days=2)}
    )
    records.conversations.create_conversation(follow_up, replacing=old)

    records.erasures.erase_conversation(old, list(records.listings.timeline(SHOP, "01CONV")))

    found = records.conversations.find_open_conversation(SHOP, old.customer_address)
    assert found is not None
    assert found.conversation_id == "01NEXT"
