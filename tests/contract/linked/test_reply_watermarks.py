"""ReplyRecords.replies_up_to: what a provider's watermark receipt reaches, in one query."""

from datetime import timedelta

from tests.contract.linked.conftest import SHOP, T0, Linked, message, opened, reply


def test_replies_up_to_a_time_come_newest_first_without_customer_messages(
    records: Linked,
) -> None:
    # Given a customer message at T0 and replies at +5, +6 and +7 minutes
    opened(records, message(1))
    replies = [
        reply(f"1764000000.00010{n}").model_copy(
            update={"created_at": T0 + timedelta(minutes=5 + n)}
        )
        for n in range(3)
    ]
    for each in replies:
        records.replies.claim_outbound(each)

    # Then a watermark at +6 reaches the first two, newest first, and no customer message
    found = records.replies.replies_up_to(SHOP, "01CONV", T0 + timedelta(minutes=6), 10)
    assert [r.message_key for r in found] == [replies[1].message_key, replies[0].message_key]

    # And it reads no more than the limit of the latest messages
    newest = records.replies.replies_up_to(SHOP, "01CONV", T0 + timedelta(hours=1), 2)
    assert [r.message_key for r in newest] == [replies[2].message_key, replies[1].message_key]
    assert records.replies.replies_up_to(SHOP, "01CONV", T0, 10) == []
    assert records.replies.replies_up_to(SHOP, "01OTHER", T0 + timedelta(hours=1), 10) == []
