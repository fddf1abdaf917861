""" "Where is my order?" answered without an agent (`order_updates.answer_status_questions`).

A customer's message is recognised as the question by the triage `rules` engine (its intent
`order_status`, read offline whether or not the shop triages), and answered from the order
summary the conversation holds once the orders lookup has run: the order the customer quoted
if it is theirs, else their latest; its status and tracking link, in their language. Nothing
is answered from a summary the platform could not give (the agent sees the card), and no
order of anyone else's is ever described.
"""

from datetime import datetime, timedelta

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.jobs import AutoReplyJob, OrdersLookup
from chalicelib.domain.orders import (
    LookupOutcome,
    Order,
    OrderSummary,
    order_in_question,
    status_words,
)
from chalicelib.domain.triage.record import Intent
from chalicelib.domain.triage.rules import triage

STATUS_REPLY_KEY = "order_status"
# A question the platform could answer only after retries is left to the agent: a late
# automatic answer would cross whatever the agent has said meanwhile.
ANSWER_WITHIN = timedelta(minutes=10)


def asks_where_order_is(text: str, language: str) -> bool:
    """Whether a customer's message asks where their order is (the rules engine's intent)."""
    return bool(text.strip()) and triage(text, language).intent is Intent.ORDER_STATUS


_ANSWERS = {
    "en": ("Your order {name} is {status}.", "Track it here: {url}"),
    "pt": ("Seu pedido {name} está: {status}.", "Acompanhe aqui: {url}"),
    "es": ("Tu pedido {name} está: {status}.", "Síguelo aquí: {url}"),
    "hu": ("A(z) {name} rendelése: {status}.", "Itt követheti: {url}"),
    "id": ("Pesanan Anda {name}: {status}.", "Lacak di sini: {url}"),
    "hi": ("आपका ऑर्डर {name}: {status}।", "यहाँ ट्रैक करें: {url}"),
    "ar": ("طلبك {name}: {status}.", "تتبّعه هنا: {url}"),
}


def status_answer(
    orders: OrderSummary | None,
    quoted_number: str | None,
    language: str,
    asked_at: datetime,
    now: datetime,
) -> str | None:
    """The answer to the question, or None when none may be sent automatically: the
    summary not freshly found, the question too old, or no order of this customer's."""
    if orders is None or orders.outcome is not LookupOutcome.FOUND:
        return None
    if now - asked_at > ANSWER_WITHIN:
        return None
    order = order_in_question(orders, quoted_number)
    if not isinstance(order, Order):
        return None
    status, track = _ANSWERS.get(language, _ANSWERS["en"])
    words = language if language in _ANSWERS else "en"
    text = status.format(name=order.name, status=status_words(order, words))
    if order.tracking_url:
        text += "\n" + track.format(url=order.tracking_url)
    return text


def status_reply(
    job: OrdersLookup, conversation: Conversation, now: datetime
) -> AutoReplyJob | None:
    """The automatic answer to the lookup's question from the summary it kept; None when
    there is no question or nothing may be said."""
    question = job.status_question
    if question is None or conversation.slack_thread is None:
        return None
    text = status_answer(
        conversation.orders,
        job.order_number or conversation.order_number,
        question.language,
        question.asked_at,
        now,
    )
    if text is None:
        return None
    return AutoReplyJob(
        conversation_ref=conversation_ref(conversation),
        team_id=job.team_id,
        channel_id=job.channel_id,
        thread_ts=job.thread_ts,
        message_key=question.message_key,
        reply_key=STATUS_REPLY_KEY,
        language=question.language,
        text=text,
    )
