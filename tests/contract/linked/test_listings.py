"""ConversationLists: a shop's conversations newest first, by page, period or customer, and a
conversation's timeline."""

from datetime import timedelta

from chalicelib.domain.conversation import ConversationStatus
from tests.contract.linked.conftest import SHOP, T0, Linked, conversation, message, opened, reply


def _five(records: Linked) -> None:
    """Five customers' conversations, an hour apart; the second and fourth resolved."""
    for n in range(5):
        created = records.conversations.create_conversation(
            conversation(f"01C{n}", at=T0 + timedelta(hours=n), customer=f"+1555010000{n}")
        )
        if n in (1, 3):
            update = {"status": ConversationStatus.RESOLVED, "assignee_user_id": "U1"}
            records.conversations.save_state(created.model_copy(update=update))


def test_recent_conversations_come_newest_first(records: Linked) -> None:
    _five(records)

    recent = records.listings.recent_conversations(SHOP, 3)

    assert [c.conversation_id for c in recent] == ["01C4", "01C3", "01C2"]
    assert records.listings.recent_conversations("other", 3) == []


def test_pages_follow_each_other_until_the_last(records: Linked) -> None:
    _five(records)

    pages, after = [], None
    for _ in range(3):
        page, after = records.listings.conversations_page(SHOP, {}, 2, after)
        pages.append([c.conversation_id for c in page])
        if after is None:
            break

    assert pages == [["01C4", "01C3"], ["01C2", "01C1"], ["01C0"]]
    assert after is None


def test_a_filtered_page_holds_what_its_read_kept(records: Linked) -> None:
    _five(records)

    first, after = records.listings.conversations_page(SHOP, {"status": "resolved"}, 2, None)
    second, last = records.listings.conversations_page(SHOP, {"status": "resolved"}, 2, after)
    third, end = records.listings.conversations_page(SHOP, {"assignee": "U1"}, 2, last)

    assert [c.conversation_id for c in first] == ["01C3"]
    assert [c.conversation_id for c in second] == ["01C1"]
    assert [c.conversation_id for c in third] == []
    assert end is None


def test_a_period_holds_its_start_but_not_its_end(records: Linked) -> None:
    _five(records)

    period = records.listings.conversations_created(
        SHOP, T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    )

    assert [c.conversation_id for c in period] == ["01C1", "01C2"]


def test_a_customers_conversations_are_found_by_any_of_their_addresses(records: Linked) -> None:
    _five(records)

    found = records.listings.conversations_of(SHOP, ("+15550100001", "+15550100003", "x"))

    assert [c.conversation_id for c in found] == ["01C3", "01C1"]


def test_a_timeline_holds_customer_messages_and_replies_oldest_first(records: Linked) -> None:
    first = message(1)
    opened(records, first)
    later = message(2, at=T0 + timedelta(minutes=10))
    records.inbound.save_inbound(later)
    stored = records.conversations.get_conversation(SHOP, "01CONV")
    assert stored is not None
    records.conversations.record_inbound(later, stored, "1764000000.000030")
    records.replies.claim_outbound(reply())
    # Waiting messages are on no timeline.
    records.inbound.save_inbound(message(3, at=T0 + timedelta(minutes=20)))

    timeline = list(records.listings.timeline(SHOP, "01CONV"))

    assert [i.get("provider_message_id") or i["message_key"] for i in timeline] == [
        first.provider_message_id,
        reply().message_key,
        later.provider_message_id,
    ]
