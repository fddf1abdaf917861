"""Automatic replies: what a shop says by itself, in the customer's language.

- The acknowledgement promises an answer by the due time of the response target.
- The out-of-hours reply, instead, says when the shop opens again.
- FAQ answers reply to phrases a shop chooses (returns, shipping times, opening hours);
  they may quote the customer's order (`{order_status}`, `{tracking_url}`, …): an answer
  with no order of the customer's to quote is not sent.

Each may be switched off and is sent at most once per conversation, or once per so many
hours. None ever answers a program (an auto-reply, a list, a no-reply mailbox). Templates
ship in English, Hindi, Arabic, Hungarian, Indonesian, Portuguese and Spanish; a shop may
override them and add its own languages.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.canned import (
    fill,
    first_name,
    in_language,
    placeholder_check,
    placeholders_in,
)
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.orders import ORDER_PLACEHOLDERS, OrderRefusal, fill_order
from chalicelib.domain.sla import SlaPolicy

SHIPPED_LANGUAGES = ("en", "hi", "ar", "hu", "id", "pt", "es")
TEMPLATE_FIELDS = frozenset({"first_name", "due", "opens", "shop"})


class AutoReplyKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    OUT_OF_HOURS = "out_of_hours"
    FAQ = "faq"


DEFAULT_TEMPLATES: dict[AutoReplyKind, dict[str, str]] = {
    AutoReplyKind.ACKNOWLEDGEMENT: {
        "en": "Hi {first_name}, thanks for your message! We'll reply by {due}.",
        "pt": "Olá {first_name}, recebemos sua mensagem! Responderemos até {due}.",
        "es": "Hola {first_name}, ¡recibimos tu mensaje! Te responderemos antes de {due}.",
        "hu": "Köszönjük, {first_name}, megkaptuk az üzenetét! Legkésőbb {due} válaszolunk.",
        "id": "Halo {first_name}, pesan Anda sudah kami terima! "
        "Kami akan membalas paling lambat {due}.",
        "hi": "नमस्ते {first_name}, आपका संदेश मिल गया है! हम {due} तक जवाब देंगे।",
        "ar": "مرحبًا {first_name}، وصلتنا رسالتك! سنرد عليك بحلول {due}.",
    },
    AutoReplyKind.OUT_OF_HOURS: {
        "en": "Hi {first_name}, we're closed right now. We open again {opens} "
        "and will reply by {due}.",
        "pt": "Olá {first_name}, estamos fechados agora. Voltamos {opens} "
        "e responderemos até {due}.",
        "es": "Hola {first_name}, ahora estamos cerrados. Volvemos {opens} "
        "y te responderemos antes de {due}.",
        "hu": "Köszönjük, {first_name}, most zárva vagyunk. Újra nyitunk: {opens}, "
        "és legkésőbb {due} válaszolunk.",
        "id": "Halo {first_name}, saat ini kami tutup. Kami buka kembali {opens} "
        "dan akan membalas paling lambat {due}.",
        "hi": "नमस्ते {first_name}, अभी हम बंद हैं। हम {opens} फिर खुलेंगे और {due} तक जवाब देंगे।",
        "ar": "مرحبًا {first_name}، نحن مغلقون الآن. نعود {opens} وسنرد عليك بحلول {due}.",
    },
}
# How a moment reads in each language: today / tomorrow / a date, and the time.
_DAY_WORDS = {
    "en": ("today", "tomorrow"),
    "pt": ("hoje", "amanhã"),
    "es": ("hoy", "mañana"),
    "hu": ("ma", "holnap"),
    "id": ("hari ini", "besok"),
    "hi": ("आज", "कल"),
    "ar": ("اليوم", "غدًا"),
}
_MOMENT_FORMATS = {
    "en": "{time} {day}",
    "pt": "{day} às {time}",
    "es": "{day} a las {time}",
    "hu": "{day} {time}",
    "id": "{day} pukul {time}",
    "hi": "{day} {time} बजे",
    "ar": "{day} الساعة {time}",
}


def moment(at: datetime, now: datetime, timezone: str, language: str) -> str:
    """`at` as a customer reads it, in the shop's time: "10:30 tomorrow", "amanhã às 10:30"."""
    zone = ZoneInfo(timezone)
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    today_word, tomorrow_word = _DAY_WORDS.get(language, _DAY_WORDS["en"])
    if local.date() == today:
        day = today_word
    elif local.date() == today + timedelta(days=1):
        day = tomorrow_word
    else:
        day = local.strftime("%d/%m")
    pattern = _MOMENT_FORMATS.get(language, _MOMENT_FORMATS["en"])
    return pattern.format(day=day, time=local.strftime("%H:%M"))


Template = Annotated[
    str,
    AfterValidator(placeholder_check(TEMPLATE_FIELDS)),
    Field(min_length=1, max_length=1000),
]
FaqTemplate = Annotated[
    str,
    AfterValidator(placeholder_check(TEMPLATE_FIELDS | ORDER_PLACEHOLDERS)),
    Field(min_length=1, max_length=1000),
]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Frequency(_Strict):
    enabled: bool = True
    # None: once per conversation; hours: again after so many hours.
    every_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class FaqRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    # Matched as whole words, case and accents as written.
    phrases: list[str] = Field(min_length=1, max_length=30)
    answers: dict[Language, FaqTemplate] = Field(min_length=1)
    every_hours: int | None = Field(default=None, ge=1, le=24 * 90)

    def matches(self, text: str) -> bool:
        return any(
            re.search(rf"(?<!\w){re.escape(phrase.casefold())}(?!\w)", text.casefold())
            for phrase in self.phrases
        )


class AutoReplyPolicy(_Strict):
    default_language: Language = "en"
    acknowledgement: Frequency = Field(default_factory=Frequency)
    out_of_hours: Frequency = Field(default_factory=Frequency)
    faq: list[FaqRule] = Field(default_factory=list, max_length=50)
    # The shop's own wording, per kind and language, over the shipped templates.
    templates: dict[AutoReplyKind, dict[Language, Template]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _faq_names_unique(self) -> Self:
        names = [rule.name for rule in self.faq]
        if len(names) != len(set(names)):
            raise ValueError("FAQ rule names must be unique")
        return self

    def languages(self) -> list[str]:
        """Every language this shop can answer in: the customer's is chosen among them."""
        found = set(SHIPPED_LANGUAGES) | {self.default_language}
        for wording in self.templates.values():
            found |= set(wording)
        for rule in self.faq:
            found |= set(rule.answers)
        return sorted(found)

    def template(self, kind: AutoReplyKind, language: str) -> str:
        own, shipped = self.templates.get(kind, {}), DEFAULT_TEMPLATES[kind]
        return in_language(own, shipped, language, self.default_language)


@dataclass(frozen=True)
class AutoReply:
    """An automatic reply to send: `key` is what its frequency is counted by."""

    kind: AutoReplyKind
    key: str
    language: str
    text: str


def _due_again(
    conversation: Conversation, key: str, every_hours: int | None, now: datetime
) -> bool:
    last = conversation.auto_replies_sent.get(key)
    if last is None:
        return True
    return every_hours is not None and now - last >= timedelta(hours=every_hours)


def plan(
    conversation: Conversation,
    message: InboundMessage,
    policy: AutoReplyPolicy,
    sla: SlaPolicy | None,
    shop_name: str,
    timezone: str,
    language: str,
) -> list[AutoReply]:
    """The automatic replies a customer's message calls for, in `language`."""
    if message.automated:
        return []
    now = message.received_at
    values = {"first_name": first_name(message.customer_name), "shop": shop_name}
    replies = []
    clock = conversation.response_clock
    if sla is not None and clock is not None:
        values["due"] = moment(clock.due_at, now, timezone, language)
        opens = sla.due(now, 0, timezone)
        closed = sla.business_hours_only and opens > now
        kind = AutoReplyKind.OUT_OF_HOURS if closed else AutoReplyKind.ACKNOWLEDGEMENT
        frequency = policy.out_of_hours if closed else policy.acknowledgement
        values["opens"] = moment(opens, now, timezone, language)
        if frequency.enabled and _due_again(conversation, kind.value, frequency.every_hours, now):
            text = fill(policy.template(kind, language), **values)
            replies.append(AutoReply(kind, kind.value, language, text))
    for rule in policy.faq:
        key = f"faq:{rule.name}"
        if rule.matches(message.text) and _due_again(conversation, key, rule.every_hours, now):
            answer = (
                rule.answers.get(language)
                or rule.answers.get(policy.default_language)
                or next(iter(rule.answers.values()))
            )
            order = fill_order(
                placeholders_in(answer), conversation.orders, conversation.order_number, language
            )
            if isinstance(order, OrderRefusal):
                # Never an order of someone else's, nor an answer with gaps: not sent (and
                # not counted as sent, so a later message may get it).
                continue
            text = fill(answer, **({"due": "", "opens": ""} | values | dict(order)))
            replies.append(AutoReply(AutoReplyKind.FAQ, key, language, text))
    return replies


def sent(conversation: Conversation, replies: list[AutoReply], at: datetime) -> Conversation:
    """The conversation remembering when each automatic reply went out."""
    if not replies:
        return conversation
    stamps = dict(conversation.auto_replies_sent) | {reply.key: at for reply in replies}
    return conversation.model_copy(update={"auto_replies_sent": stamps})
