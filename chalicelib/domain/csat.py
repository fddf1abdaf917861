"""Customer satisfaction (CSAT): one question after a conversation is resolved.

When an agent resolves a conversation, the customer gets "How did we do? Reply with a
number from 1 to 5" on the channel they used, in their language, once per conversation.
A lone 1–5 (in any script's digits, or as that many stars) within the shop's answer window
is the rating: stored on the conversation and shown on its card, and it does not reopen the
conversation. Anything else is a message like any other, and reopens it.
"""

import re
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.domain.auto_replies import Language
from chalicelib.domain.canned import fill, first_name, in_language, placeholder_check
from chalicelib.domain.conversation import (
    Conversation,
    ConversationStatus,
    CsatRating,
    whatsapp_window_open,
)
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import META_CHANNELS, Channel

# Automatic replies' keys, which the thread shows ("satisfaction question").
SURVEY_KEY = "satisfaction_question"
THANKS_KEY = "satisfaction_thanks"
TEMPLATE_FIELDS = frozenset({"first_name", "shop"})

DEFAULT_QUESTIONS = {
    "en": "How did we do, {first_name}? Reply with a number from 1 (bad) to 5 (great).",
    "pt": "Como foi o nosso atendimento, {first_name}? Responda com um número de 1 (ruim) "
    "a 5 (ótimo).",
    "es": "¿Qué tal te atendimos, {first_name}? Responde con un número del 1 (mal) "
    "al 5 (excelente).",
    "hu": "Mennyire volt elégedett velünk, {first_name}? Válaszoljon egy számmal 1 (rossz) "
    "és 5 (kiváló) között.",
    "id": "Bagaimana layanan kami, {first_name}? Balas dengan angka 1 (buruk) sampai "
    "5 (sangat baik).",
    "hi": "हमारी सेवा कैसी रही? 1 (खराब) से 5 (बहुत अच्छी) तक कोई अंक भेजें।",
    "ar": "كيف كانت خدمتنا؟ أرسل رقمًا من 1 (سيئة) إلى 5 (ممتازة).",
}
DEFAULT_THANKS = {
    "en": "Thank you for your rating!",
    "pt": "Obrigado pela sua avaliação!",
    "es": "¡Gracias por tu valoración!",
    "hu": "Köszönjük az értékelést!",
    "id": "Terima kasih atas penilaian Anda!",
    "hi": "आपकी रेटिंग के लिए धन्यवाद!",
    "ar": "شكرًا على تقييمك!",
}

Template = Annotated[
    str,
    AfterValidator(placeholder_check(TEMPLATE_FIELDS)),
    Field(min_length=1, max_length=500),
]


class CsatPolicy(BaseModel):
    """A shop's satisfaction survey; present means on."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    # Answers later than this after the question are ordinary messages.
    window_hours: int = Field(default=72, ge=1, le=24 * 30)
    default_language: Language = "en"
    # Per language, replacing or adding to the shipped wording.
    questions: dict[Language, Template] = Field(default_factory=dict)
    thanks: dict[Language, Template] = Field(default_factory=dict)

    def languages(self) -> list[str]:
        return sorted({*DEFAULT_QUESTIONS, *self.questions})

    def question(self, language: str, customer_name: str | None, shop: str) -> str:
        template = in_language(self.questions, DEFAULT_QUESTIONS, language, self.default_language)
        return fill(template, first_name=first_name(customer_name), shop=shop)

    def thanks_text(self, language: str, customer_name: str | None, shop: str) -> str:
        template = in_language(self.thanks, DEFAULT_THANKS, language, self.default_language)
        return fill(template, first_name=first_name(customer_name), shop=shop)


def survey_key(conversation: Conversation) -> str:
    """What the question answers, in place of a customer message: the conversation itself,
    asked once."""
    return f"csat:{conversation.conversation_id}"


def survey_due(conversation: Conversation, now: datetime) -> bool:
    """Whether resolving `conversation` at `now` asks the question: once per conversation,
    and on WhatsApp, Messenger and Instagram only while free-form messages are allowed."""
    if conversation.status is not ConversationStatus.RESOLVED:
        return False
    if conversation.csat_asked_at is not None or conversation.csat is not None:
        return False
    # Meta's channels allow an automatic message within the same 24 hours (never tagged).
    windowed = conversation.channel is Channel.WHATSAPP or conversation.channel in META_CHANNELS
    return not windowed or whatsapp_window_open(conversation, now)


# A lone rating: "4", "٤", "४", "4/5", "4 ⭐", "⭐⭐⭐⭐" (stars alone up to five).
_SCORE = re.compile(r"^\s*(\d)\s*(?:/\s*5)?\s*[.!]?\s*(?:[⭐★]\s*)?$")
_STARS = re.compile(r"^\s*(?:[⭐★]\uFE0F?\s*){1,5}$")


def score_in(text: str) -> int | None:
    """The rating a message gives, if it is nothing but a rating."""
    if len(text.strip()) > 32:  # no rating is longer; the patterns backtrack on long blanks
        return None
    match = _SCORE.match(text)
    if match:
        score = int(match.group(1))
        return score if 1 <= score <= 5 else None
    if _STARS.match(text):
        return sum(1 for character in text if character in "⭐★")
    return None


def survey_answer(
    conversation: Conversation, message: InboundMessage, policy: CsatPolicy | None
) -> int | None:
    """The rating `message` gives in answer to the conversation's question, if it is one."""
    asked = conversation.csat_asked_at
    if policy is None or asked is None or conversation.csat is not None:
        return None
    if conversation.status is not ConversationStatus.RESOLVED:
        return None
    if not asked <= message.received_at <= asked + timedelta(hours=policy.window_hours):
        return None
    if message.media:
        return None
    return score_in(message.text)


def rated(conversation: Conversation, message: InboundMessage, score: int) -> Conversation:
    """The conversation once the customer's rating is counted on it: still resolved."""
    return conversation.model_copy(
        update={
            "message_count": conversation.message_count + 1,
            "last_customer_message_at": message.received_at,
            "csat": CsatRating(score=score, at=message.received_at),
        }
    )
