"""ReplyRecords: a reply claimed once and moved forward, its edits, the bot's posts."""

import pytest

from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import DeliveryStatus, ReplyRevision
from tests.contract.linked.conftest import CHANNEL, SHOP, TEAM, Linked, reply


def test_a_reply_is_claimed_once_and_a_repeat_gets_the_first_copy(records: Linked) -> None:
    first = reply()

    assert records.replies.claim_outbound(first) is None
    again = records.replies.claim_outbound(first.model_copy(update={"text": "changed"}))

    assert again == first
    assert records.replies.get_outbound(SHOP, first.message_key) == first
    assert records.replies.get_outbound(SHOP, "slack:C0:1.1") is None


def test_a_delivery_status_only_moves_forward(records: Linked) -> None:
    first = reply()
    records.replies.claim_outbound(first)
    advance = records.replies.advance_outbound

    assert advance(first, DeliveryStatus.QUEUED, provider_message_id="SM1")
    assert advance(first, DeliveryStatus.DELIVERED)
    assert not advance(first, DeliveryStatus.SENT)
    assert not advance(first, DeliveryStatus.DELIVERED)
    assert not advance(reply("1764000000.000900"), DeliveryStatus.SENT)

    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert (stored.status, stored.provider_message_id) == (DeliveryStatus.DELIVERED, "SM1")
    assert records.replies.provider_id_taken(SHOP, "SM1")
    assert not records.replies.provider_id_taken(SHOP, "SM2")


def test_a_provider_message_belongs_to_one_reply(records: Linked) -> None:
    first, second = reply(), reply("1764000000.000200")
    records.replies.claim_outbound(first)
    records.replies.claim_outbound(second)
    records.replies.advance_outbound(first, DeliveryStatus.QUEUED, provider_message_id="SM1")

    with pytest.raises(Retryable):
        records.replies.advance_outbound(second, DeliveryStatus.QUEUED, provider_message_id="SM1")

    stored = records.replies.get_outbound(SHOP, second.message_key)
    assert stored is not None
    assert stored.status is DeliveryStatus.PENDING
    # The same reply again: the pointer is its own, the status no further.
    assert not records.replies.advance_outbound(
        first, DeliveryStatus.QUEUED, provider_message_id="SM1"
    )


def test_what_slack_shows_only_moves_forward(records: Linked) -> None:
    first = reply()
    records.replies.claim_outbound(first)

    records.replies.mark_shown(first.model_copy(update={"status": DeliveryStatus.DELIVERED}))
    records.replies.mark_shown(first.model_copy(update={"status": DeliveryStatus.SENT}))
    records.replies.mark_shown(reply("1764000000.000900"))

    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert stored.shown_status is DeliveryStatus.DELIVERED
    assert records.replies.get_outbound(SHOP, reply("1764000000.000900").message_key) is None


def _revision(revised_ts: str, text: str | None) -> ReplyRevision:
    return ReplyRevision(
        team_id=TEAM, channel_id=CHANNEL, ts="1.1", text=text, revised_ts=revised_ts
    )


def test_the_latest_edit_wins_and_a_deletion_stays(records: Linked) -> None:
    records.replies.record_revision(_revision("1764000010.000001", "second"))
    records.replies.record_revision(_revision("1764000005.000001", "first"))

    latest = records.replies.reply_revision(TEAM, CHANNEL, "1.1")
    assert latest == _revision("1764000010.000001", "second")

    records.replies.record_revision(_revision("1764000020.000001", None))
    records.replies.record_revision(_revision("1764000030.000001", "after"))

    deleted = records.replies.reply_revision(TEAM, CHANNEL, "1.1")
    assert deleted == _revision("1764000020.000001", None)
    assert records.replies.reply_revision(TEAM, CHANNEL, "9.9") is None


def test_a_bot_post_is_recorded_for_its_job(records: Linked) -> None:
    assert records.replies.bot_post(TEAM, "auto:acme:01CONV:x:greeting") is None

    records.replies.record_bot_post(TEAM, "auto:acme:01CONV:x:greeting", "1.7", "Hello")

    assert records.replies.bot_post(TEAM, "auto:acme:01CONV:x:greeting") == ("1.7", "Hello")


def test_a_status_callback_moves_its_reply_forward_and_takes_its_display_once(
    records: Linked,
) -> None:
    first = reply()
    records.replies.claim_outbound(first)
    records.replies.advance_outbound(first, DeliveryStatus.QUEUED, provider_message_id="SM1")
    advance = records.replies.advance_by_provider_id

    sent = advance(SHOP, "SM1", DeliveryStatus.SENT)
    # Behind what is stored: nothing written, the reply returned as it is.
    late = advance(SHOP, "SM1", DeliveryStatus.QUEUED, error_code="30003")

    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert sent is not None
    assert late is not None
    # The write took the display: the caller brings Slack up from what it showed.
    assert sent.display_taken
    assert sent.reply.status is DeliveryStatus.SENT
    assert sent.reply.shown_status is DeliveryStatus.PENDING
    assert (stored.status, stored.shown_status) == (DeliveryStatus.SENT, DeliveryStatus.SENT)
    assert not late.display_taken
    assert late.reply == stored
    assert stored.error_code is None
    assert advance(SHOP, "SM2", DeliveryStatus.SENT) is None


def test_a_display_given_back_is_behind_again_unless_moved_on(records: Linked) -> None:
    first = reply()
    records.replies.claim_outbound(first)
    records.replies.advance_outbound(first, DeliveryStatus.QUEUED, provider_message_id="SM1")
    failed = records.replies.advance_by_provider_id(
        SHOP, "SM1", DeliveryStatus.UNDELIVERED, error_code="30003"
    )
    assert failed is not None

    records.replies.give_back_display(failed)

    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert (stored.status, stored.error_code) == (DeliveryStatus.UNDELIVERED, "30003")
    assert stored.shown_status is DeliveryStatus.PENDING
    assert stored.display_behind
    # Taken again and shown as READ meanwhile: giving back the older take changes nothing.
    read = records.replies.advance_by_provider_id(SHOP, "SM1", DeliveryStatus.READ)
    assert read is not None
    assert read.display_taken
    records.replies.give_back_display(failed)
    stored = records.replies.get_outbound(SHOP, first.message_key)
    assert stored is not None
    assert stored.shown_status is DeliveryStatus.READ
