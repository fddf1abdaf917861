"""The linked repositories (shops, customer messages, conversations, replies, profiles,
erasure) over one table, for either backend, and the models their cases store."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.email_threading import EmailHeaders
from chalicelib.domain.messages import InboundMessage, OutboundMessage
from chalicelib.domain.shop import Shop, SlackConfig, TwilioConfig
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.ports import (
    ConversationLists,
    ConversationRecords,
    ErasureRecords,
    InboundRecords,
    ProfileRecords,
    ReplyRecords,
    ShopRecords,
)
from tests.fakes import FakeRecords

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SHOP = "acme"
CUSTOMER = "+15550100001"
SHOP_NUMBER = "+15550199999"
TEAM, CHANNEL = "T0ACME", "C0SUPPORT"


@dataclass(frozen=True)
class Linked:
    """The repositories of one table, each as the services see it."""

    shops: ShopRecords
    inbound: InboundRecords
    conversations: ConversationRecords
    listings: ConversationLists
    replies: ReplyRecords
    profiles: ProfileRecords
    erasures: ErasureRecords


@pytest.fixture
def records(backend: str, request: pytest.FixtureRequest) -> Linked:
    """The fakes over one FakeRecords, or the real repositories over moto's table."""
    source = FakeRecords() if backend == "fake" else request.getfixturevalue("moto_repositories")
    return Linked(
        source.shops,
        source.inbound,
        source.conversations,
        source.listings,
        source.replies,
        source.profiles,
        source.erasures,
    )


def shop(shop_id: str = SHOP, numbers: tuple[str, ...] = (SHOP_NUMBER,)) -> Shop:
    return Shop(
        shop_id=shop_id,
        name=shop_id.title(),
        slack=SlackConfig(team_id=TEAM, channel_id=CHANNEL),
        twilio=TwilioConfig(account_sid="AC" + "0" * 32, sms_numbers=list(numbers)),
    )


def message(
    n: int = 1,
    *,
    at: datetime = T0,
    customer: str = CUSTOMER,
    mail_id: str | None = None,
) -> InboundMessage:
    email = EmailHeaders(message_id=mail_id, subject="Order") if mail_id else None
    return InboundMessage(
        shop_id=SHOP,
        channel=Channel.EMAIL if mail_id else Channel.SMS,
        provider="email" if mail_id else "twilio",
        provider_message_id=f"SM{n:032d}",
        customer_address=customer,
        shop_address=SHOP_NUMBER,
        customer_name="Ana",
        text=f"message {n}",
        received_at=at,
        email=email,
    )


def conversation(
    conversation_id: str = "01CONV", *, at: datetime = T0, customer: str = CUSTOMER
) -> Conversation:
    return Conversation(
        shop_id=SHOP,
        conversation_id=conversation_id,
        channel=Channel.SMS,
        customer_address=customer,
        shop_address=SHOP_NUMBER,
        created_at=at,
        last_customer_message_at=at,
        first_message_preview="hello",
    )


def reply(ts: str = "1764000000.000100", *, conversation_id: str = "01CONV") -> OutboundMessage:
    return OutboundMessage(
        shop_id=SHOP,
        message_key=f"slack:{CHANNEL}:{ts}",
        conversation_id=conversation_id,
        channel=Channel.SMS,
        to=CUSTOMER,
        from_=SHOP_NUMBER,
        text="On its way",
        agent_user_id="U0AGENT",
        slack_channel_id=CHANNEL,
        slack_ts=ts,
        slack_thread_ts="1764000000.000001",
        created_at=T0 + timedelta(minutes=5),
    )


def opened(records: Linked, first: InboundMessage, conversation_id: str = "01CONV") -> Conversation:
    """A conversation opened by `first`, the message stored and counted on it."""
    records.inbound.save_inbound(first)
    started = records.conversations.create_conversation(
        conversation(conversation_id, at=first.received_at, customer=first.customer_address)
    )
    records.conversations.record_inbound(first, started, "1764000000.000010")
    stored = records.conversations.get_conversation(SHOP, conversation_id)
    assert stored is not None
    return stored
