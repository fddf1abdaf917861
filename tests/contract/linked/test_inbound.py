"""InboundRecords: a customer message stored once and followed through its processing."""

import zlib
from datetime import timedelta

from chalicelib.domain.messages import InboundStatus
from tests.contract.linked.conftest import CHANNEL, SHOP, T0, Linked, message, opened


def test_a_message_is_stored_once_and_a_repeat_gets_the_first_copy(records: Linked) -> None:
    first = message()

    assert records.inbound.save_inbound(first) is None
    again = records.inbound.save_inbound(first.model_copy(update={"text": "changed"}))

    assert again == (first, InboundStatus.RECEIVED)


def test_each_attempt_is_counted_and_tells_how_far_the_message_got(records: Linked) -> None:
    first = message()
    records.inbound.save_inbound(first)

    assert records.inbound.begin_inbound_attempt(first) == (
        InboundStatus.RECEIVED,
        None,
        False,
        1,
        0,
        False,
    )
    assert records.inbound.mark_posted(first, "1764000000.000010", CHANNEL)
    assert records.inbound.mark_files_shared(first, 2, ["F1", "F2"])
    records.inbound.mark_files_posted(first)
    records.inbound.mark_opt_out_noted(first)

    progress = records.inbound.begin_inbound_attempt(first)
    assert progress == (InboundStatus.RECEIVED, "1764000000.000010", True, 2, 2, True)
    stored = records.inbound.stored_message(SHOP, first.message_key)
    assert stored is not None
    assert stored["slack_file_ids"] == ["F1", "F2"]
    assert stored["slack_channel_id"] == CHANNEL


def test_a_message_not_stored_is_neither_counted_nor_marked(records: Linked) -> None:
    gone = message()

    progress = records.inbound.begin_inbound_attempt(gone)

    assert (progress.status, progress.attempt) == (None, 1)
    assert not records.inbound.mark_posted(gone, "1764000000.000010", CHANNEL)
    assert not records.inbound.mark_files_shared(gone, 1, ["F1"])
    assert not records.inbound.note_post_about_message(SHOP, gone.message_key, CHANNEL, "1.2")
    records.inbound.mark_files_posted(gone)
    records.inbound.mark_opt_out_noted(gone)
    assert records.inbound.stored_message(SHOP, gone.message_key) is None


def test_waiting_messages_come_due_in_arrival_order_until_processed(records: Linked) -> None:
    later, earlier = message(1, at=T0 + timedelta(seconds=5)), message(2, at=T0)
    records.inbound.save_inbound(later)
    records.inbound.save_inbound(earlier)

    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=2)) == []
    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=4)) == [earlier, later]

    records.inbound.note_requeued(earlier, T0 + timedelta(minutes=10))
    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=4)) == [later]
    records.inbound.strand(later)
    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=11)) == [earlier]

    opened(records, earlier)
    assert records.inbound.due_for_requeue(T0 + timedelta(hours=1)) == []
    # A processed message stays processed: a late requeue or strand changes nothing.
    records.inbound.note_requeued(earlier, T0)
    records.inbound.strand(earlier)
    assert records.inbound.due_for_requeue(T0 + timedelta(hours=1)) == []


def test_a_discarded_message_is_processed_and_no_longer_due(records: Linked) -> None:
    automated = message(mail_id="<auto@example.com>")
    records.inbound.save_inbound(automated)

    records.inbound.discard_inbound(automated, "automated_mail")

    stored = records.inbound.stored_message(SHOP, automated.message_key)
    assert stored is not None
    assert (stored["status"], stored["discarded"]) == ("processed", "automated_mail")
    assert records.inbound.due_for_requeue(T0 + timedelta(hours=1)) == []
    assert records.inbound.begin_inbound_attempt(automated).status is InboundStatus.PROCESSED


def test_stored_messages_are_found_by_customer_and_erased(records: Linked) -> None:
    mine, theirs = message(1), message(2, customer="+15550100009")
    for each in (mine, theirs):
        records.inbound.save_inbound(each)
    assert records.inbound.note_post_about_message(SHOP, mine.message_key, CHANNEL, "1.5")

    found = records.inbound.stored_messages(SHOP, [mine.customer_address])

    assert [item["provider_message_id"] for item in found] == [mine.provider_message_id]
    assert found[0]["slack_posts_about"] == [[CHANNEL, "1.5"]]
    assert len(records.inbound.stored_messages(SHOP)) == 2
    assert records.inbound.erase_messages(found) == 1
    assert records.inbound.stored_message(SHOP, mine.message_key) is None
    assert records.inbound.stored_messages(SHOP, [mine.customer_address]) == []
    assert records.inbound.stored_message(SHOP, theirs.message_key) is not None


def test_erasing_a_processed_mail_takes_its_message_id_pointer(records: Linked) -> None:
    mail = message(mail_id="<first@customer.example>")
    opened(records, mail)
    assert records.conversations.find_conversation_by_mail(SHOP, ("<first@customer.example>",))

    records.inbound.erase_messages(records.inbound.stored_messages(SHOP))

    assert (
        records.conversations.find_conversation_by_mail(SHOP, ("<first@customer.example>",)) is None
    )


def _shard(n: int) -> int:
    """The shard of the UNPROCESSED index `message(n)` is written to."""
    return zlib.crc32(message(n).message_key.encode()) % 8


def test_a_shard_cut_at_its_limit_holds_back_what_is_due_after_its_last(
    records: Linked,
) -> None:
    # Two messages in one shard, one in another, arriving in between.
    first = 1
    same = next(n for n in range(2, 100) if _shard(n) == _shard(first))
    other = next(n for n in range(2, 100) if _shard(n) != _shard(first))
    earliest = message(first, at=T0)
    between = message(other, at=T0 + timedelta(seconds=1))
    latest = message(same, at=T0 + timedelta(seconds=2))
    for each in (latest, between, earliest):
        records.inbound.save_inbound(each)

    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=10), limit=1) == [earliest]
    assert records.inbound.due_for_requeue(T0 + timedelta(minutes=10)) == [
        earliest,
        between,
        latest,
    ]
