"""What a colleague picking a conversation up needs to know, drawn from what is stored: what
the customer wants (their intents, as triage read them, and the point of their latest
messages), what agents have done (their replies), and what is still open (the customer's
messages since the last reply). Extractive: nothing is made up, so it needs no model."""

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.triage.record import Intent, Triage

# The latest customer messages quoted, and how much of each: a note, not a transcript.
POINTS_QUOTED = 3
POINT_CHARACTERS = 160
# A sentence ends at . ! ? (and their CJK, Arabic and Devanagari forms) or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟।])\s|\n")


# A conversation the customer reopens after this long without a word gets a summary: whoever
# picks it up has forgotten it, or never saw it.
REOPEN_QUIET = timedelta(days=1)


def reopened_after_quiet(before: Conversation, after: Conversation, now: datetime) -> bool:
    """Whether a customer's message at `now` reopened the conversation (resolved or snoozed
    `before`, open `after`) after more than a day of quiet from them."""
    closed = before.status in (ConversationStatus.RESOLVED, ConversationStatus.SNOOZED)
    reopened = closed and after.status is ConversationStatus.OPEN
    return reopened and now - before.last_customer_message_at > REOPEN_QUIET


class HandoffReason(StrEnum):
    """Why a summary is posted."""

    ASSIGNED = "assigned"
    REQUESTED = "requested"
    REOPENED = "reopened"


class HandoffDigest(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    # What the customer wants, most recent intent last, each once (OTHER left out).
    intents: tuple[Intent, ...] = ()
    # The first sentence of each of the customer's latest messages, oldest first.
    points: tuple[str, ...] = ()
    customer_messages: int = 0
    agent_replies: int = 0
    automatic_replies: int = 0
    # The customer's messages after the last reply (agent or automatic).
    unanswered: int = 0


def first_sentence(text: str, limit: int = POINT_CHARACTERS) -> str:
    """The text's first sentence, its whitespace folded, at most `limit` characters."""
    stripped = text.strip()
    sentence = _SENTENCE_END.split(stripped, maxsplit=1)[0] if stripped else ""
    folded = " ".join(sentence.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def _triage_of(item: Mapping[str, object]) -> Triage | None:
    stored = item.get("triage")
    if not isinstance(stored, str):
        return None
    try:
        return Triage.model_validate(json.loads(stored))
    except (ValueError, ValidationError):
        return None


def _at(item: Mapping[str, object]) -> datetime | None:
    stamp = item.get("created_at" if "agent_user_id" in item else "received_at")
    try:
        return datetime.fromisoformat(str(stamp)) if stamp else None
    except ValueError:
        return None


def handoff_digest(
    conversation: Conversation, items: Iterable[Mapping[str, object]]
) -> HandoffDigest:
    """The digest of a conversation from its timeline's stored items (customer messages and
    replies, in any order)."""
    dated = [(at, item) for item in items if (at := _at(item)) is not None]
    dated.sort(key=lambda pair: pair[0])
    intents: list[Intent] = [mark.intent for mark in conversation.triage_marks]
    customer: list[str] = []
    agent_replies = automatic_replies = unanswered = 0
    for _, item in dated:
        if "agent_user_id" in item:
            if item.get("automatic"):
                automatic_replies += 1
            else:
                agent_replies += 1
            unanswered = 0
            continue
        unanswered += 1
        customer.append(str(item.get("text") or ""))
        triage = _triage_of(item)
        if triage is not None:
            intents.append(triage.intent)
    # Each intent once, at its latest place.
    latest = list(reversed(dict.fromkeys(reversed(intents))))
    points = [point for text in customer if (point := first_sentence(text))]
    return HandoffDigest(
        intents=tuple(intent for intent in latest if intent is not Intent.OTHER),
        points=tuple(points[-POINTS_QUOTED:]),
        customer_messages=len(customer),
        agent_replies=agent_replies,
        automatic_replies=automatic_replies,
        unanswered=unanswered,
    )


# A model's summary: each part a few sentences at most.
SUMMARY_PART_CHARACTERS = 600


class ModelSummary(BaseModel):
    """A summary a model wrote, as its answer must be: anything else is malformed."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    wants: str
    done: str
    still_open: str

    def parts(self) -> tuple[str, str, str]:
        """The three parts, their whitespace folded and each bounded."""
        return (
            first_sentence_free(self.wants),
            first_sentence_free(self.done),
            first_sentence_free(self.still_open),
        )


def first_sentence_free(text: str, limit: int = SUMMARY_PART_CHARACTERS) -> str:
    """`text` with its whitespace folded, at most `limit` characters."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"
