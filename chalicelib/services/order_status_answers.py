""" "Where is my order?" answered without an agent, for shops with
`order_updates.answer_status_questions`.

The question rides on the conversation's orders lookup (its `:orders` FIFO group), so it is
answered from the summary that lookup keeps, never before it: the lookup is queued for such a
message even when the summary is already there (a fresh status is what the customer asks
for). The answer is an automatic reply: posted in the thread marked as such, sent in the
customer's language, once per message (its post id), and the conversation stays open.
"""

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.declared_language import fallback_language
from chalicelib.domain.jobs import OrdersLookup, StatusQuestion
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.order_status_answers import asks_where_order_is
from chalicelib.domain.shop import Shop
from chalicelib.language import detect
from chalicelib.services.orders import orders_lookup


def status_question_lookup(
    conversation: Conversation, message: InboundMessage, shop: Shop
) -> OrdersLookup | None:
    """The orders lookup that answers the message, when it asks where the order is and the
    shop answers such questions; None otherwise."""
    updates = shop.order_updates
    if updates is None or not updates.answer_status_questions or not shop.sells_online:
        return None
    if message.automated or shop.slack is None:
        return None
    default = shop.auto_replies.default_language if shop.auto_replies else "en"
    declared = message.customer_language or conversation.customer_language
    language = detect(
        message.text, SHIPPED_LANGUAGES, fallback_language(declared, SHIPPED_LANGUAGES, default)
    )
    if not asks_where_order_is(message.text, language):
        return None
    job = orders_lookup(conversation, f"message:{message.message_key}")
    if job is None:
        return None
    question = StatusQuestion(
        message_key=message.message_key, language=language, asked_at=message.received_at
    )
    return job.model_copy(update={"status_question": question})
