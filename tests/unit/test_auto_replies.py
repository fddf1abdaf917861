"""Automatic replies: the right one, in the customer's language, with the promised time in
the shop's time zone, never twice, never to a program."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.auto_replies import (
    SHIPPED_LANGUAGES,
    AutoReplyKind,
    AutoReplyPolicy,
    moment,
    plan,
    sent,
)
from chalicelib.domain.conversation import open_conversation
from chalicelib.domain.email_threading import EmailHeaders
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.sla import SlaPolicy
from chalicelib.domain.vocabulary import Channel
from chalicelib.language import detect

pytestmark = pytest.mark.unit

SAO_PAULO = "America/Sao_Paulo"
SLA = SlaPolicy.model_validate({"targets": {"normal": {"first_response": 60}}})
POLICY = AutoReplyPolicy.model_validate(
    {
        "default_language": "pt",
        "faq": [
            {
                "name": "returns",
                "phrases": ["devolução", "devolver", "return"],
                "answers": {
                    "pt": "Devoluções: até 30 dias, em qualquer agência dos Correios.",
                    "en": "Returns: within 30 days, at any post office.",
                },
            }
        ],
    }
)


def message(
    text: str, at: datetime, name: str | None = "Ana Souza", **email: Any
) -> InboundMessage:
    return InboundMessage(
        shop_id="loja",
        channel=Channel.EMAIL if email else Channel.WHATSAPP,
        provider="email" if email else "twilio",
        provider_message_id="m1",
        customer_address="whatsapp:+5511987654321",
        shop_address="whatsapp:+14155550101",
        customer_name=name,
        text=text,
        received_at=at,
        email=EmailHeaders(**email) if email else None,
    )


def replies_to(text: str, local_time: str, language: str = "pt", **email: Any):  # type: ignore[no-untyped-def]
    at = datetime.fromisoformat(local_time).replace(tzinfo=UTC) + timedelta(hours=3)
    incoming = message(text, at, **email)
    conversation = SLA.arm(open_conversation(incoming, "c1"), at, SAO_PAULO)
    return plan(
        conversation, incoming, POLICY, SLA, "Loja da Ana", SAO_PAULO, language
    ), conversation


def test_an_acknowledgement_promises_the_due_time_of_the_target() -> None:
    # A Monday, 10:00 in São Paulo, 60 minutes to answer
    [ack], _ = replies_to("Oi, cadê meu pedido?", "2026-11-23 10:00")
    assert ack.kind is AutoReplyKind.ACKNOWLEDGEMENT
    assert ack.text == "Olá Ana, recebemos sua mensagem! Responderemos até hoje às 11:00."


def test_out_of_hours_says_when_the_shop_opens_and_when_it_will_answer() -> None:
    # Friday 20:00: closed until Monday 09:00; 60 minutes of opening hours → 10:00
    [closed], _ = replies_to("Oi, cadê meu pedido?", "2026-11-27 20:00")
    assert closed.kind is AutoReplyKind.OUT_OF_HOURS
    assert closed.text == (
        "Olá Ana, estamos fechados agora. Voltamos 30/11 às 09:00 "
        "e responderemos até 30/11 às 10:00."
    )


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_every_shipped_language_has_both_templates_filled(language: str) -> None:
    [ack], _ = replies_to("?", "2026-11-23 17:30", language)
    [closed], _ = replies_to("?", "2026-11-23 19:30", language)
    for text in (ack.text, closed.text):
        assert "{" not in text
        assert "Ana" in text
    assert ack.language == language


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "10:30 tomorrow"),
        ("pt", "amanhã às 10:30"),
        ("es", "mañana a las 10:30"),
        ("hu", "holnap 10:30"),
        ("id", "besok pukul 10:30"),
        ("hi", "कल 10:30 बजे"),
        ("ar", "غدًا الساعة 10:30"),
    ],
)
def test_a_moment_reads_naturally_in_each_language(language: str, expected: str) -> None:
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 17:00 in São Paulo
    at = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 10:30 the next day there
    assert moment(at, now, SAO_PAULO, language) == expected


def test_a_faq_phrase_gets_its_answer_once_per_conversation() -> None:
    replies, conversation = replies_to("Quero devolver a camiseta", "2026-11-23 10:00")
    assert [r.key for r in replies] == ["acknowledgement", "faq:returns"]
    assert replies[1].text == "Devoluções: até 30 dias, em qualquer agência dos Correios."
    # Sent: the next message asking again gets neither
    after = sent(conversation, replies, conversation.created_at)
    again = message("E a devolução?", conversation.created_at + timedelta(minutes=5))
    assert plan(after, again, POLICY, SLA, "Loja", SAO_PAULO, "pt") == []


def test_a_phrase_counts_only_as_a_whole_word() -> None:
    replies, _ = replies_to("returned?", "2026-11-23 10:00", "en")
    assert [r.key for r in replies] == ["acknowledgement"]


def test_an_acknowledgement_every_so_many_hours_when_the_shop_wants_it() -> None:
    policy = AutoReplyPolicy.model_validate(
        POLICY.model_dump() | {"acknowledgement": {"every_hours": 24}}
    )
    at = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    first = message("Oi", at)
    conversation = SLA.arm(open_conversation(first, "c1"), at, SAO_PAULO)
    replies = plan(conversation, first, policy, SLA, "Loja", SAO_PAULO, "pt")
    conversation = sent(conversation, replies, at)
    assert (
        plan(
            conversation, message("Oi?", at + timedelta(hours=2)), policy, SLA, "L", SAO_PAULO, "pt"
        )
        == []
    )
    later = message("Oi de novo", at + timedelta(hours=25))
    assert [r.key for r in plan(conversation, later, policy, SLA, "L", SAO_PAULO, "pt")] == [
        "acknowledgement"
    ]


def test_programs_never_get_an_automatic_reply() -> None:
    replies, _ = replies_to("Out of office: returns Monday", "2026-11-23 10:00", automated=True)
    assert replies == []


def test_switched_off_replies_are_not_sent_and_the_shops_wording_wins() -> None:
    policy = AutoReplyPolicy.model_validate(
        {
            "acknowledgement": {"enabled": False},
            "templates": {"out_of_hours": {"pt": "Fechados. Voltamos {opens}."}},
        }
    )
    at = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    incoming = message("Oi", at)
    conversation = SLA.arm(open_conversation(incoming, "c1"), at, SAO_PAULO)
    assert plan(conversation, incoming, policy, SLA, "Loja", SAO_PAULO, "pt") == []
    night = message("Oi", at + timedelta(hours=10))
    conversation = SLA.arm(open_conversation(night, "c2"), night.received_at, SAO_PAULO)
    [closed] = plan(conversation, night, policy, SLA, "Loja", SAO_PAULO, "pt")
    assert closed.text == "Fechados. Voltamos amanhã às 09:00."


@pytest.mark.parametrize(
    "policy",
    [
        {"templates": {"acknowledgement": {"pt": "Até {when}"}}},
        {"faq": [{"name": "a", "phrases": ["x"], "answers": {"pt": "y"}}] * 2},
        {"faq": [{"name": "a", "phrases": [], "answers": {"pt": "y"}}]},
        {"default_language": "Portuguese"},
    ],
)
def test_a_broken_policy_is_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AutoReplyPolicy.model_validate(policy)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Oi, cadê meu pedido?", "pt"),
        ("Hola, ¿dónde está mi pedido?", "es"),
        ("Hi, where is my order?", "en"),
        ("मेरा ऑर्डर कहाँ है?", "hi"),
        ("مرحبا، أين طلبي؟", "ar"),
        ("Hol van a rendelésem?", "hu"),
        ("Halo, pesanan saya belum sampai", "id"),
        ("ok", "pt"),
        ("👍 123", "pt"),
    ],
)
def test_the_customers_language_is_recognised_or_the_shops_default_used(
    text: str, language: str
) -> None:
    assert detect(text, POLICY.languages(), POLICY.default_language) == language
