"""What triage shows: the card's mood, intent and trend line, and the thread notes when it
raises a conversation or routes it by intent. Nothing of the customer's text is quoted."""

from datetime import datetime

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.triage.effects import Tightened
from chalicelib.domain.triage.policy import IntentRoute
from chalicelib.domain.triage.record import Intent, Triage, TriageMark, UrgencySignal
from chalicelib.domain.vocabulary import Priority
from chalicelib.presentation.slack_blocks import (
    CHANNEL_LABELS,
    PRIORITY_LABELS,
    TARGET_LABELS,
    SlackMessage,
    context_block,
    customer_shown,
    local_time,
    thread_note,
)

MOOD_FACES = {
    -3: ":rage:",
    -2: ":angry:",
    -1: ":slightly_frowning_face:",
    0: ":neutral_face:",
    1: ":slightly_smiling_face:",
    2: ":smiley:",
    3: ":star-struck:",
}
MOOD_WORDS = {
    -3: "furious",
    -2: "upset",
    -1: "unhappy",
    0: "neutral",
    1: "content",
    2: "happy",
    3: "delighted",
}
INTENT_LABELS = {
    Intent.ORDER_STATUS: "order status",
    Intent.DELIVERY_PROBLEM: "delivery problem",
    Intent.RETURN_EXCHANGE: "return or exchange",
    Intent.REFUND: "refund",
    Intent.CANCEL: "cancellation",
    Intent.CHANGE_ORDER: "order change",
    Intent.PRODUCT_QUESTION: "product question",
    Intent.PAYMENT_PROBLEM: "payment problem",
    Intent.COMPLAINT: "complaint",
    Intent.PRAISE: "praise",
    Intent.OTHER: "other",
}
SIGNAL_LABELS = {
    UrgencySignal.ANGER: "anger",
    UrgencySignal.CHASING: "chasing without an answer",
    UrgencySignal.CANCEL_THREAT: "threatens to cancel",
    UrgencySignal.CHARGEBACK: "chargeback threat",
    UrgencySignal.LEGAL: "legal threat",
    UrgencySignal.SAFETY: "safety",
}
# How many of the latest moods the trend shows.
TREND_SHOWN = 5


def _trend(marks: tuple[TriageMark, ...]) -> str:
    shown = marks[-TREND_SHOWN:]
    faces = " → ".join(MOOD_FACES[mark.mood] for mark in shown)
    if len(shown) < 2:
        return faces
    first, last = shown[0].mood, shown[-1].mood
    direction = "worsening" if last < first else "improving" if last > first else "steady"
    return f"{faces} ({direction})"


def mood_line(conversation: Conversation) -> str | None:
    """The card's triage line: the latest message's mood and intent, and the trend over the
    conversation's latest messages; None before any message was triaged."""
    if not conversation.triage_marks:
        return None
    latest = conversation.triage_marks[-1]
    line = (
        f"*Mood:* {MOOD_FACES[latest.mood]} {MOOD_WORDS[latest.mood]}"
        f" · *Intent:* {INTENT_LABELS[latest.intent]}"
    )
    if len(conversation.triage_marks) > 1:
        line += f" · *Trend:* {_trend(conversation.triage_marks)}"
    return line


def raised_note(
    priority: Priority, triage: Triage, tightened: tuple[Tightened, ...], timezone: str
) -> SlackMessage:
    """Told in the thread when triage raises the conversation's priority."""
    why = ", ".join(SIGNAL_LABELS[signal] for signal in triage.signals)
    text = f":triangular_flag_on_post: Triage raised the priority to {PRIORITY_LABELS[priority]}"
    text += f" ({why})." if why else "."
    for change in tightened:
        text += (
            f"\n{TARGET_LABELS[change.target]} now due {local_time(change.due, timezone)}"
            f" (was {local_time(change.was_due, timezone)})."
        )
    text += "\nChoosing a priority on the card keeps it: triage will not change it again."
    return thread_note(text)


def _mention(user_or_group: str) -> str:
    return f"<!subteam^{user_or_group}>" if user_or_group.startswith("S") else f"<@{user_or_group}>"


def route_note(intent: Intent, route: IntentRoute) -> SlackMessage:
    """Told in the thread when the message's intent has a route."""
    text = f":twisted_rightwards_arrows: Looks like a {INTENT_LABELS[intent]}"
    if route.mention:
        text += f": {_mention(route.mention)}"
    if route.channel_id:
        text += f" (shared in <#{route.channel_id}>)"
    return thread_note(text + ".", context_block)


def routed_post(
    conversation: Conversation, intent: Intent, thread_url: str, now: datetime, timezone: str
) -> SlackMessage:
    """Posted in a route's channel: which conversation, what it is about, since when."""
    channel = CHANNEL_LABELS[conversation.channel]
    text = (
        f":twisted_rightwards_arrows: {INTENT_LABELS[intent].capitalize()}: "
        f"<{thread_url}|{channel} conversation with {customer_shown(conversation)}> "
        f"({local_time(now, timezone)})."
    )
    return thread_note(text)
