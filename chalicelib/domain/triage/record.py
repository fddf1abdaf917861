"""What triage says of one customer message, and what it knows of the conversation before it.

Kept apart from the engines so that the conversation, the store and the card can name a
triage without importing a lexicon.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Urgency(StrEnum):
    """How soon the message wants a person: in order."""

    NONE = "none"
    HIGH = "high"
    URGENT = "urgent"


URGENCY_ORDER = list(Urgency)


class UrgencySignal(StrEnum):
    ANGER = "anger"
    # The customer has written again and again without an answer.
    CHASING = "chasing"
    CANCEL_THREAT = "cancel_threat"
    CHARGEBACK = "chargeback"
    LEGAL = "legal"
    SAFETY = "safety"


class Intent(StrEnum):
    ORDER_STATUS = "order_status"
    DELIVERY_PROBLEM = "delivery_problem"
    RETURN_EXCHANGE = "return_exchange"
    REFUND = "refund"
    CANCEL = "cancel"
    CHANGE_ORDER = "change_order"
    PRODUCT_QUESTION = "product_question"
    PAYMENT_PROBLEM = "payment_problem"
    COMPLAINT = "complaint"
    PRAISE = "praise"
    OTHER = "other"


class Triage(BaseModel):
    """One message's triage; stored with the message, and in short on its conversation."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    engine: str = "rules"
    language: str
    sentiment: Sentiment
    # 0 for neutral; 1 (mild) to 3 (strong) otherwise.
    strength: int = Field(ge=0, le=3)
    urgency: Urgency = Urgency.NONE
    signals: tuple[UrgencySignal, ...] = ()
    intent: Intent = Intent.OTHER
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)

    @property
    def mood(self) -> int:
        """Sentiment as one signed number, -3 (furious) to 3 (delighted)."""
        if self.sentiment is Sentiment.NEGATIVE:
            return -self.strength
        if self.sentiment is Sentiment.POSITIVE:
            return self.strength
        return 0


class TriageMark(BaseModel):
    """A message's triage in short, as its conversation keeps the latest few (the trend)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    at: datetime
    mood: int = Field(ge=-3, le=3)
    urgency: Urgency = Urgency.NONE
    intent: Intent = Intent.OTHER


class TriageContext(BaseModel):
    """The conversation as triage sees it: how many of the customer's messages before this
    one wait unanswered, and the latest triage marks (oldest first)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    unanswered: int = Field(default=0, ge=0)
    recent: tuple[TriageMark, ...] = ()
