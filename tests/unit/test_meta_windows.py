"""The reply windows of Meta's channels, decided on plain values: WhatsApp Cloud API's 24 h
and its template, Messenger's and Instagram's 24 h and the HUMAN_AGENT tag up to 7 days for
a person's reply only."""

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.conversation import Conversation, whatsapp_window_open
from chalicelib.domain.messages import CloudTemplate
from chalicelib.domain.meta_windows import MessagingWindow, messaging_window, window_ends
from chalicelib.domain.reply_decision import Send, WindowClosed, to_send
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel
from tests.unit.test_reply_decision import WRITTEN_AT, after, composed, reply

pytestmark = pytest.mark.unit


def meta_shop(human_agent_tag: bool = False, template: bool = False) -> Shop:
    whatsapp: dict[str, Any] = {"phone_number_id": "106540352242922"}
    if template:
        whatsapp["templates"] = {
            "reply": {
                "name": "follow_up",
                "language": "pt_BR",
                "body_variables": ["{first_name}", "{agent} ({shop})"],
            }
        }
    meta = {
        "whatsapp": whatsapp,
        "messenger": {"page_id": "11"},
        "human_agent_tag": human_agent_tag,
    }
    return Shop.model_validate({"shop_id": "ana", "name": "Loja da Ana", "meta": meta})


def conversation(channel: Channel, wrote_ago: timedelta) -> Conversation:
    last = WRITTEN_AT - wrote_ago
    return Conversation(
        shop_id="ana",
        conversation_id="conv-1",
        channel=channel,
        customer_address="wa:+5511999990000"
        if channel is Channel.WHATSAPP_CLOUD
        else "messenger:P",
        customer_name="Carla Souza",
        shop_address="106540352242922" if channel is Channel.WHATSAPP_CLOUD else "11",
        created_at=last,
        last_customer_message_at=last,
        message_count=1,
    )


@pytest.mark.parametrize(
    ("wrote_ago", "tag", "automatic", "window"),
    [
        (timedelta(hours=23), False, False, MessagingWindow.OPEN),
        (timedelta(hours=23), True, True, MessagingWindow.OPEN),
        (timedelta(hours=25), False, False, MessagingWindow.CLOSED),
        (timedelta(hours=25), True, False, MessagingWindow.HUMAN_AGENT),
        # Never for automatic messages: Meta's policy forbids it.
        (timedelta(hours=25), True, True, MessagingWindow.CLOSED),
        (timedelta(days=7, minutes=1), True, False, MessagingWindow.CLOSED),
    ],
)
def test_messenger_window(
    wrote_ago: timedelta, tag: bool, automatic: bool, window: MessagingWindow
) -> None:
    at = WRITTEN_AT
    found = messaging_window(
        conversation(Channel.MESSENGER, wrote_ago), at, human_agent_tag=tag, automatic=automatic
    )
    assert found is window


def test_before_the_customer_writes_no_window_is_open() -> None:
    never = conversation(Channel.INSTAGRAM, timedelta(0)).model_copy(
        update={"message_count": 0, "started_by_shop": True}
    )
    assert messaging_window(never, WRITTEN_AT, human_agent_tag=True, automatic=False) is (
        MessagingWindow.CLOSED
    )
    assert not whatsapp_window_open(never, WRITTEN_AT)


def test_the_message_that_opened_the_conversation_opens_the_window_before_it_is_counted() -> None:
    # Given a conversation a customer's message opened, its thread posted, the message not
    # yet counted (the worker counts it after posting): an agent may already answer
    opening = conversation(Channel.INSTAGRAM, timedelta(seconds=2)).model_copy(
        update={"message_count": 0}
    )
    assert messaging_window(opening, WRITTEN_AT, human_agent_tag=False, automatic=False) is (
        MessagingWindow.OPEN
    )
    assert whatsapp_window_open(opening, WRITTEN_AT)


def test_past_24_hours_a_persons_messenger_reply_goes_tagged_where_the_shop_enabled_it() -> None:
    late = conversation(Channel.MESSENGER, timedelta(days=2))
    tagged = to_send(reply(), late, meta_shop(human_agent_tag=True), composed(), "Bia", after(10))
    refused = to_send(reply(), late, meta_shop(), composed(), "Bia", after(10))
    automatic = to_send(
        reply(automatic=True), late, meta_shop(human_agent_tag=True), composed(), None, after(10)
    )
    assert isinstance(tagged, Send)
    assert tagged.message.human_agent_tag
    assert refused == WindowClosed(Channel.MESSENGER)
    assert automatic == WindowClosed(Channel.MESSENGER)


def test_within_24_hours_a_messenger_reply_goes_untagged() -> None:
    fresh = conversation(Channel.MESSENGER, timedelta(hours=1))
    decided = to_send(reply(), fresh, meta_shop(human_agent_tag=True), composed(), "Bia", after(10))
    assert isinstance(decided, Send)
    assert not decided.message.human_agent_tag


def test_past_whatsapps_window_the_shops_reply_template_goes_filled_or_nothing() -> None:
    late = conversation(Channel.WHATSAPP_CLOUD, timedelta(hours=25))
    templated = to_send(reply(), late, meta_shop(template=True), composed(), "Bia", after(10))
    refused = to_send(reply(), late, meta_shop(), composed(), "Bia", after(10))
    assert isinstance(templated, Send)
    assert templated.template_name == "follow_up"
    assert templated.message.cloud_template == CloudTemplate(
        name="follow_up", language="pt_BR", body_parameters=("Carla", "Bia (Loja da Ana)")
    )
    assert refused == WindowClosed(Channel.WHATSAPP_CLOUD)


def test_within_whatsapps_window_a_cloud_reply_goes_as_written() -> None:
    fresh = conversation(Channel.WHATSAPP_CLOUD, timedelta(hours=2))
    decided = to_send(reply(), fresh, meta_shop(template=True), composed(), "Bia", after(10))
    assert isinstance(decided, Send)
    assert decided.message.cloud_template is None


def test_the_card_knows_until_when_each_window_is_open() -> None:
    late = conversation(Channel.MESSENGER, timedelta(hours=1))
    end, tagged_end = window_ends(late, meta_shop(human_agent_tag=True))
    assert end == late.last_customer_message_at + timedelta(hours=24)
    assert tagged_end == late.last_customer_message_at + timedelta(days=7)
    assert window_ends(late, meta_shop())[1] is None


def test_the_card_shows_messengers_window_with_the_agents_tagged_time() -> None:
    from chalicelib.presentation.meta_posts import messaging_window_label

    fresh = conversation(Channel.MESSENGER, timedelta(hours=1))
    label = messaging_window_label(fresh, meta_shop(human_agent_tag=True))
    assert label.startswith("until ")
    assert "an agent's reply until" in label
    assert "agent" not in messaging_window_label(fresh, meta_shop())


@pytest.mark.parametrize("channel", [Channel.WHATSAPP_CLOUD, Channel.MESSENGER, Channel.INSTAGRAM])
def test_the_satisfaction_question_is_asked_on_meta_only_within_24_hours(channel: Channel) -> None:
    from chalicelib.domain.conversation import ConversationStatus
    from chalicelib.domain.csat import survey_due

    def resolved(wrote_ago: timedelta) -> Conversation:
        found = conversation(channel, wrote_ago)
        return found.model_copy(update={"status": ConversationStatus.RESOLVED})

    assert survey_due(resolved(timedelta(hours=23)), WRITTEN_AT)
    assert not survey_due(resolved(timedelta(hours=25)), WRITTEN_AT)
