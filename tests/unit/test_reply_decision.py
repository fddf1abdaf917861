"""What becomes of an agent's thread message, decided on plain values: a note or a reply, its
grace period, the agent's last edit, its files, its signature, WhatsApp's window."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.jobs import AgentReply
from chalicelib.domain.messages import ReplyRevision
from chalicelib.domain.reply_decision import (
    Cancelled,
    Content,
    Due,
    Empty,
    Internal,
    KeptFiles,
    Outgoing,
    Send,
    Wait,
    WindowClosed,
    as_revised,
    content,
    to_send,
    when_due,
)
from chalicelib.domain.shop import ReplyMode, ReplyPolicy, Shop
from chalicelib.domain.vocabulary import Channel

pytestmark = pytest.mark.unit

WRITTEN_TS = "1764000500.000000"
WRITTEN_AT = datetime.fromtimestamp(1764000500, UTC)
TEMPLATE_SID = "HX" + "b" * 32


def reply(text: str = "Chega amanhã", **overrides: Any) -> AgentReply:
    fields: dict[str, Any] = {
        "event_id": "Ev1",
        "team_id": "T0SHOP",
        "channel_id": "C0SUPPORT",
        "thread_ts": "1764000000.000100",
        "ts": WRITTEN_TS,
        "user_id": "U0AGENT",
        "text": text,
    }
    return AgentReply(**{**fields, **overrides})


def policy(**fields: Any) -> ReplyPolicy:
    return ReplyPolicy.model_validate({"grace_seconds": 10, **fields})


def revision(text: str | None, revised_ts: str = "1764000504.000000") -> ReplyRevision:
    return ReplyRevision(
        team_id="T0SHOP", channel_id="C0SUPPORT", ts=WRITTEN_TS, text=text, revised_ts=revised_ts
    )


def shop(template: bool = False, **replies: Any) -> Shop:
    twilio: dict[str, Any] = {"account_sid": "AC" + "a" * 32}
    if template:
        twilio["whatsapp_template"] = {
            "name": "follow_up",
            "content_sid": "HX" + "a" * 32,
            "variables": {"1": "{first_name}", "2": "{agent} ({shop})"},
        }
    return Shop.model_validate(
        {"shop_id": "ana", "name": "Loja da Ana", "replies": replies, "twilio": twilio}
    )


def conversation(
    channel: Channel = Channel.SMS, wrote_ago: timedelta | None = None
) -> Conversation:
    """The customer's conversation; on WhatsApp they last wrote `wrote_ago` before now."""
    addresses = {
        Channel.SMS: ("+5511999990000", "+5511988880000"),
        Channel.WHATSAPP: ("whatsapp:+5511999990000", "whatsapp:+5511988880000"),
    }[channel]
    last = WRITTEN_AT - (wrote_ago or timedelta(hours=1))
    return Conversation(
        shop_id="ana",
        conversation_id="conv-1",
        channel=channel,
        customer_address=addresses[0],
        customer_name="Carla Souza",
        shop_address=addresses[1],
        created_at=last,
        last_customer_message_at=last,
        message_count=1,
    )


def after(seconds: float) -> datetime:
    return WRITTEN_AT + timedelta(seconds=seconds)


# Whether it is a reply, and when -----------------------------------------------------------


def test_in_reply_mode_a_message_is_a_reply_due_once_its_grace_period_is_over() -> None:
    assert when_due(reply(), policy(), after(10)) == Due(revisable=True, waited=True)
    assert when_due(reply(), policy(), after(3600)) == Due(revisable=True, waited=True)


@pytest.mark.parametrize(
    ("elapsed", "left"), [(0, 10), (2, 8), (9.5, 0.5)], ids=["at once", "2s", "9.5s"]
)
def test_within_its_grace_period_a_reply_waits_what_is_left_of_it(
    elapsed: float, left: float
) -> None:
    decided = when_due(reply(), policy(), after(elapsed))

    assert isinstance(decided, Wait)
    assert decided.seconds == pytest.approx(left)


def test_the_grace_period_of_a_message_chosen_to_send_runs_from_that_choice() -> None:
    chosen = reply(explicit=True, requested_ts="1764000600.000000")

    waiting = when_due(chosen, policy(), after(105))

    assert isinstance(waiting, Wait)
    assert waiting.seconds == pytest.approx(5)
    assert when_due(chosen, policy(), after(110)) == Due(revisable=True, waited=True)


def test_without_a_grace_period_a_reply_goes_at_once_and_never_shows_it_waited() -> None:
    assert when_due(reply(), policy(grace_seconds=0), after(0)) == Due(revisable=True, waited=False)


def test_a_post_made_for_an_agent_goes_at_once_and_cannot_have_been_edited() -> None:
    canned = reply(posted_for_agent=True)

    assert when_due(canned, policy(), after(0)) == Due(revisable=False, waited=False)


@pytest.mark.parametrize("text", ["note: she is a regular", "*Note:* refund her", "send:"])
def test_in_reply_mode_a_note_stays_internal_and_shows_the_lock(text: str) -> None:
    assert when_due(reply(text), policy(), after(0)) == Internal(marked=True)


def test_in_safe_mode_an_unmarked_message_is_a_note_without_a_lock() -> None:
    assert when_due(reply(), policy(mode="safe"), after(60)) == Internal(marked=False)


def test_in_safe_mode_a_marked_or_chosen_message_is_a_reply() -> None:
    safe = policy(mode=ReplyMode.SAFE)

    assert when_due(reply("send: Chega amanhã"), safe, after(60)) == Due(True, True)
    assert when_due(reply(explicit=True), safe, after(60)) == Due(True, True)
    assert when_due(reply("send:"), safe, after(60)) == Internal(marked=False)


# The agent's last edit ---------------------------------------------------------------------


def test_a_reply_nobody_touched_goes_as_written_its_prefix_aside() -> None:
    assert as_revised(reply(), policy(), None) == Outgoing("Chega amanhã")
    assert as_revised(reply("send: Chega amanhã"), policy(), None) == Outgoing("Chega amanhã")


def test_a_reply_deleted_in_its_grace_period_is_cancelled() -> None:
    assert as_revised(reply(), policy(), revision(None)) == Cancelled()


def test_a_reply_goes_as_last_edited() -> None:
    edited = revision("Chega amanhã!! 🚚")

    assert as_revised(reply("Chega amanha"), policy(), edited) == Outgoing("Chega amanhã!! 🚚")


def test_an_edit_older_than_the_text_a_job_carries_changes_nothing() -> None:
    # Chosen with "Send to customer" after the edit: the job carries the edited text already.
    chosen = reply("Chega amanhã", explicit=True, requested_ts="1764000600.000000")

    assert as_revised(chosen, policy(), revision("Chega amanha")) == Outgoing("Chega amanhã")


def test_an_edit_that_turns_a_reply_into_a_note_keeps_it_internal_with_the_lock() -> None:
    assert as_revised(reply(), policy(), revision("note: refund her")) == Internal(marked=True)
    safe = policy(mode="safe")
    assert as_revised(reply("send: ok"), safe, revision("ok")) == Internal(marked=True)


# What goes out -----------------------------------------------------------------------------


def test_a_reply_with_nothing_to_send_is_empty_naming_the_files_not_fetched() -> None:
    assert content(Outgoing("  "), KeptFiles()) == Empty(())
    assert content(Outgoing(""), KeptFiles(refused=("nota.pdf",))) == Empty(("nota.pdf",))


def test_files_beyond_the_channels_media_go_as_links_after_the_text() -> None:
    kept = KeptFiles(("ana/outbound/F1/a.jpg",), ("b.jpg: https://x/b",), ("c.pdf",))

    assert content(Outgoing(" Fotos \n"), kept) == Content(
        "Fotos\nb.jpg: https://x/b", ("ana/outbound/F1/a.jpg",), ("c.pdf",)
    )
    assert content(Outgoing(""), KeptFiles(("k",))) == Content("", ("k",), ())


def composed(body: str = "Chega amanhã", media: tuple[str, ...] = ()) -> Content:
    return Content(body, media, ())


def test_a_reply_is_signed_by_the_agent_and_goes_back_where_the_customer_wrote() -> None:
    decided = to_send(reply(), conversation(), shop(), composed(), "Bia", after(10))

    assert isinstance(decided, Send)
    assert decided.template_name is None
    message = decided.message
    assert message.text == "Chega amanhã\n— Bia"
    assert (message.to, message.from_) == ("+5511999990000", "+5511988880000")
    assert message.agent_name == "Bia"
    assert message.created_at == after(10)


def test_an_agent_without_a_slack_name_signs_with_the_shops_name() -> None:
    decided = to_send(reply(), conversation(), shop(), composed(), None, after(10))

    assert isinstance(decided, Send)
    assert decided.message.text == "Chega amanhã\n— Loja da Ana"


def test_a_shop_without_a_signature_and_a_reply_of_files_alone_go_unsigned() -> None:
    unsigned = to_send(reply(), conversation(), shop(signature=None), composed(), "Bia", after(10))
    files = to_send(reply(), conversation(), shop(), composed("", ("k",)), "Bia", after(10))

    assert isinstance(unsigned, Send)
    assert unsigned.message.text == "Chega amanhã"
    assert isinstance(files, Send)
    assert files.message.text == ""
    assert files.message.media_keys == ("k",)


def test_an_automatic_reply_speaks_for_the_shop_unsigned() -> None:
    automatic = reply(automatic=True, posted_for_agent=True, user_id="USLACKBOT")

    decided = to_send(automatic, conversation(), shop(), composed(), "Slackbot", after(10))

    assert isinstance(decided, Send)
    assert (decided.message.text, decided.message.agent_name) == ("Chega amanhã", "")
    assert decided.message.automatic


def test_on_whatsapp_within_its_window_a_reply_goes_as_written() -> None:
    open_window = conversation(Channel.WHATSAPP, wrote_ago=timedelta(hours=23))

    decided = to_send(reply(), open_window, shop(template=True), composed(), "Bia", after(10))

    assert isinstance(decided, Send)
    assert decided.message.content_sid is None


def test_on_whatsapp_past_its_window_the_shops_template_goes_instead() -> None:
    closed = conversation(Channel.WHATSAPP, wrote_ago=timedelta(hours=25))
    with_files = composed(media=("k",))

    decided = to_send(reply(), closed, shop(template=True), with_files, "Bia", after(10))

    assert isinstance(decided, Send)
    assert decided.template_name == "follow_up"
    assert decided.message.content_sid == "HX" + "a" * 32
    assert decided.message.content_variables == {"1": "Carla", "2": "Bia (Loja da Ana)"}
    assert decided.message.media_keys == ()


def test_on_whatsapp_past_its_window_without_a_template_nothing_goes() -> None:
    closed = conversation(Channel.WHATSAPP, wrote_ago=timedelta(hours=25))

    assert to_send(reply(), closed, shop(), composed(), "Bia", after(10)) == WindowClosed()


def test_a_shops_own_message_past_the_window_goes_as_the_template_it_brought() -> None:
    closed = conversation(Channel.WHATSAPP, wrote_ago=timedelta(days=3))
    own = reply(automatic=True, content_sid=TEMPLATE_SID, content_variables={"1": "1042"})

    decided = to_send(own, closed, shop(template=True), composed(media=("k",)), None, after(10))

    assert isinstance(decided, Send)
    assert decided.template_name is None
    assert decided.message.content_sid == TEMPLATE_SID
    assert decided.message.content_variables == {"1": "1042"}
    assert decided.message.media_keys == ()
