"""ConversationRecords: a conversation, its writers and the pointers that find it."""

from datetime import timedelta

import pytest

from chalicelib.domain.conversation import ConversationStatus
from chalicelib.domain.customers import CustomerProfile
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import InboundStatus
from chalicelib.domain.vocabulary import Priority
from tests.contract.linked.conftest import (
    CHANNEL,
    CUSTOMER,
    SHOP,
    SHOP_NUMBER,
    T0,
    TEAM,
    Linked,
    conversation,
    message,
    opened,
)

THREAD = "1764000000.000001"


def test_a_created_conversation_is_the_customers_open_one(records: Linked) -> None:
    created = records.conversations.create_conversation(conversation())

    assert created == conversation()
    assert records.conversations.get_conversation(SHOP, "01CONV") == conversation()
    assert records.conversations.find_open_conversation(SHOP, CUSTOMER) == conversation()
    assert records.conversations.find_open_conversation(SHOP, "+15550100009") is None


def test_the_first_conversation_opened_for_a_customer_wins(records: Linked) -> None:
    records.conversations.create_conversation(conversation("01FIRST"))

    second = records.conversations.create_conversation(conversation("01SECOND"))

    assert second.conversation_id == "01FIRST"
    assert records.conversations.get_conversation(SHOP, "01SECOND") is None


def test_an_expired_open_pointer_counts_as_gone(records: Linked) -> None:
    records.conversations.create_conversation(
        conversation("01OLD"), expires_at=int((T0 + timedelta(days=1)).timestamp())
    )

    fresh = conversation("01NEW", at=T0 + timedelta(days=2))
    assert records.conversations.create_conversation(fresh) == fresh
    assert records.conversations.find_open_conversation(SHOP, CUSTOMER) == fresh


def test_a_follow_up_takes_over_the_pointer_unless_another_moved_it(records: Linked) -> None:
    old = records.conversations.create_conversation(conversation("01OLD"))
    follow_up = conversation("01NEXT", at=T0 + timedelta(days=3))

    assert records.conversations.create_conversation(follow_up, replacing=old) == follow_up

    late = conversation("01LATE", at=T0 + timedelta(days=3))
    assert records.conversations.create_conversation(late, replacing=old) == follow_up
    assert records.conversations.get_conversation(SHOP, "01LATE") is None


def test_a_counted_message_is_processed_with_its_conversation(records: Linked) -> None:
    first = message(at=T0 + timedelta(minutes=1))
    records.inbound.save_inbound(first)
    started = records.conversations.create_conversation(conversation())
    waiting = started.model_copy(update={"status": ConversationStatus.SNOOZED})

    records.conversations.record_inbound(first, waiting, "1764000000.000010")

    stored = records.conversations.get_conversation(SHOP, "01CONV")
    assert stored is not None
    assert (stored.version, stored.message_count) == (1, 1)
    assert stored.status is ConversationStatus.SNOOZED
    assert stored.last_customer_message_at == first.received_at
    assert records.inbound.begin_inbound_attempt(first).status is InboundStatus.PROCESSED
    timeline = list(records.listings.timeline(SHOP, "01CONV"))
    assert [(i["provider_message_id"], i["slack_ts"]) for i in timeline] == [
        (first.provider_message_id, "1764000000.000010")
    ]


def test_a_message_erased_meanwhile_counts_nothing(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)
    started = records.conversations.create_conversation(conversation())
    records.inbound.erase_messages(records.inbound.stored_messages(SHOP))

    with pytest.raises(Retryable):
        records.conversations.record_inbound(first, started, "1764000000.000010")

    assert records.conversations.get_conversation(SHOP, "01CONV") == started
    assert list(records.listings.timeline(SHOP, "01CONV")) == []


def test_a_change_from_a_stale_read_is_refused(records: Linked) -> None:
    read = opened(records, message())
    resolved = read.model_copy(update={"status": ConversationStatus.RESOLVED})

    saved = records.conversations.save_state(resolved)
    stale = records.conversations.save_state(read.model_copy(update={"priority": Priority.HIGH}))

    assert saved is not None
    assert saved.version == read.version + 1
    assert stale is None
    stored = records.conversations.get_conversation(SHOP, "01CONV")
    assert stored is not None
    assert (stored.status, stored.priority, stored.version) == (
        ConversationStatus.RESOLVED,
        saved.priority,
        saved.version,
    )
    assert records.conversations.save_state(conversation("01GONE")) is None


def test_a_thread_is_attached_once_and_finds_its_conversation(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())

    attached = records.conversations.attach_slack_thread(read, TEAM, CHANNEL, THREAD)
    again = records.conversations.attach_slack_thread(read, TEAM, CHANNEL, "1764000000.000002")

    assert attached is not None
    assert attached.slack_thread == (CHANNEL, THREAD)
    assert again is None
    found = records.conversations.find_conversation_by_thread(TEAM, CHANNEL, THREAD)
    assert found == attached
    assert records.conversations.find_conversation_by_thread(TEAM, CHANNEL, "1.1") is None
    gone = conversation("01GONE")
    assert records.conversations.attach_slack_thread(gone, TEAM, CHANNEL, "1.2") is None


def test_mail_finds_its_conversation_by_the_nearest_message_id(records: Linked) -> None:
    opened(records, message(1, mail_id="<first@customer.example>"), "01MAIL")
    records.conversations.create_conversation(conversation("01OTHER", customer="+15550100009"))
    records.conversations.point_mail(SHOP, "01OTHER", ["0100abc@us-east-1.amazonses.com"])

    by_ses = records.conversations.find_conversation_by_mail(
        SHOP, ("<unknown@x>", "0100abc@email.amazonses.com", "<first@customer.example>")
    )
    by_customer = records.conversations.find_conversation_by_mail(
        SHOP, ("<first@customer.example>",)
    )

    assert by_ses is not None
    assert by_ses.conversation_id == "01OTHER"
    assert by_customer is not None
    assert by_customer.conversation_id == "01MAIL"
    assert records.conversations.find_conversation_by_mail(SHOP, ()) is None
    assert (
        records.conversations.find_conversation_by_mail("other", ("<first@customer.example>",))
        is None
    )


def test_posts_about_a_conversation_are_noted_while_it_is_stored(records: Linked) -> None:
    read = records.conversations.create_conversation(conversation())

    assert records.conversations.note_post_about_conversation(read, "C0LEADS", "1.1")
    assert records.conversations.note_post_about_conversation(read, "C0LEADS", "1.2")
    records.conversations.touch_conversation(read, int(T0.timestamp()) + 3600)

    assert records.conversations.posts_about_conversation(read) == [
        ("C0LEADS", "1.1"),
        ("C0LEADS", "1.2"),
    ]
    gone = conversation("01GONE")
    assert not records.conversations.note_post_about_conversation(gone, "C0LEADS", "1.3")
    assert records.conversations.posts_about_conversation(gone) == []
    records.conversations.touch_conversation(gone, int(T0.timestamp()))
    assert records.conversations.get_conversation(SHOP, "01GONE") is None


def test_the_customers_part_is_stored_by_their_message(records: Linked) -> None:
    first = message(1)
    read = opened(records, first)
    second = message(2, at=T0 + timedelta(hours=1)).model_copy(
        update={"customer_name": "Ana Lima", "shop_address": "+15550100077"}
    )
    records.inbound.save_inbound(second)
    # An agent's change the message's worker did not read: the customer's write keeps it.
    assigned = records.conversations.save_state(read.model_copy(update={"assignee_user_id": "U1"}))
    assert assigned is not None

    records.conversations.record_inbound(second, read, "1764000000.000020")

    stored = records.conversations.get_conversation(SHOP, "01CONV")
    assert stored is not None
    assert (stored.customer_name, stored.shop_address) == ("Ana Lima", "+15550100077")
    assert (stored.assignee_user_id, stored.message_count, stored.version) == ("U1", 2, 3)
    assert stored.shop_address != SHOP_NUMBER


def test_activity_moves_the_open_pointers_expiry_along(records: Linked) -> None:
    day = 24 * 3600
    read = records.conversations.create_conversation(
        conversation("01OLD"), expires_at=int(T0.timestamp()) + day
    )
    records.conversations.touch_conversation(read, int(T0.timestamp()) + 3 * day)

    late = conversation("01LATE", at=T0 + timedelta(days=2))
    kept = records.conversations.create_conversation(late)

    assert kept.conversation_id == "01OLD"
    fresh = conversation("01FRESH", at=T0 + timedelta(days=4))
    assert records.conversations.create_conversation(fresh) == fresh


def test_the_open_conversations_of_several_addresses_are_found_together(records: Linked) -> None:
    other = "+15550100009"
    records.conversations.create_conversation(conversation("01FIRST"))
    records.conversations.create_conversation(conversation("01OTHER", customer=other))
    find = records.conversations.find_open_conversations

    found = find(SHOP, [CUSTOMER, "+15550100010", other])

    assert sorted(c.conversation_id for c in found) == ["01FIRST", "01OTHER"]
    assert find(SHOP, ["+15550100010"]) == []
    assert find(SHOP, []) == []


def test_the_open_conversations_are_found_with_the_profile_an_address_is_linked_into(
    records: Linked,
) -> None:
    other = "+15550100009"
    records.conversations.create_conversation(conversation("01FIRST"))
    linked = CustomerProfile(
        shop_id=SHOP, customer_id="CU1", identities=(CUSTOMER, "ana@example.com"), linked_at=T0
    )
    records.profiles.save_profile(linked, [])
    find = records.conversations.find_open_conversations_and_link

    found, customer_id = find(SHOP, [CUSTOMER, f"whatsapp:{CUSTOMER}"], f"whatsapp:{CUSTOMER}")

    assert [c.conversation_id for c in found] == ["01FIRST"]
    assert customer_id == "CU1"
    assert records.profiles.linked_profile(SHOP, "CU1") == linked
    assert find(SHOP, [other], other) == ([], None)
    assert find(SHOP, [], "ana@example.com") == ([], "CU1")
    assert records.profiles.linked_profile(SHOP, "CU2") is None
