"""The reply windows of Meta's channels, and what a reply becomes in each.

WhatsApp (Cloud API as through Twilio) takes free-form messages within 24 hours of the
customer's last one, then only an approved template. Messenger and Instagram take any
message within 24 hours; past that, up to 7 days, only a person's reply tagged HUMAN_AGENT,
and only where the shop has Meta's permission for it (`meta.human_agent_tag`): never an
automatic message, which Meta's policy forbids.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.canned import first_name
from chalicelib.domain.conversation import Conversation, whatsapp_window_open
from chalicelib.domain.messages import CloudTemplate, OutboundMessage
from chalicelib.domain.shop import REPLY_TEMPLATE, Shop
from chalicelib.domain.vocabulary import Channel

MESSAGING_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


class MessagingWindow(StrEnum):
    OPEN = "open"
    # Past 24 hours: a person's reply, tagged HUMAN_AGENT.
    HUMAN_AGENT = "human_agent"
    CLOSED = "closed"


def messaging_window(
    conversation: Conversation, at: datetime, *, human_agent_tag: bool, automatic: bool
) -> MessagingWindow:
    """Messenger's and Instagram's window for a reply at `at`; closed before the customer
    has written at all (a conversation the shop started), open from the message that opened
    the conversation even before it is counted."""
    if conversation.started_by_shop and conversation.message_count == 0:
        return MessagingWindow.CLOSED
    since = at - conversation.last_customer_message_at
    if since < MESSAGING_WINDOW:
        return MessagingWindow.OPEN
    if human_agent_tag and not automatic and since < HUMAN_AGENT_WINDOW:
        return MessagingWindow.HUMAN_AGENT
    return MessagingWindow.CLOSED


def window_ends(conversation: Conversation, shop: Shop) -> tuple[datetime, datetime | None]:
    """Until when a reply goes out freely, and until when a person's reply may with the
    HUMAN_AGENT tag (None where the shop has not enabled it or the channel has no tag)."""
    end = conversation.last_customer_message_at + MESSAGING_WINDOW
    tagged = (
        shop.meta is not None
        and shop.meta.human_agent_tag
        and conversation.channel in (Channel.MESSENGER, Channel.INSTAGRAM)
    )
    return end, conversation.last_customer_message_at + HUMAN_AGENT_WINDOW if tagged else None


def cloud_template(
    message: OutboundMessage, conversation: Conversation, shop: Shop
) -> CloudTemplate | None:
    """The shop's `reply` template filled for this conversation, if it has one."""
    whatsapp = shop.meta.whatsapp if shop.meta else None
    template = whatsapp.templates.get(REPLY_TEMPLATE) if whatsapp else None
    if template is None:
        return None
    values = {
        "first_name": first_name(conversation.customer_name),
        "shop": shop.name,
        "agent": message.agent_name or shop.name,
    }
    return CloudTemplate(
        name=template.name,
        language=template.language,
        body_parameters=tuple(value.format(**values) for value in template.body_variables),
    )


def meta_outgoing(
    message: OutboundMessage, conversation: Conversation, shop: Shop, now: datetime
) -> tuple[OutboundMessage, str | None] | None:
    """The reply as it may go out on a Meta channel now, with the name of the template sent
    in its place (if one is); None when nothing may go out."""
    if conversation.channel is Channel.WHATSAPP_CLOUD:
        if whatsapp_window_open(conversation, now):
            return message, None
        template = cloud_template(message, conversation, shop)
        if template is None:
            return None
        return message.model_copy(
            update={"cloud_template": template, "media_keys": ()}
        ), template.name
    window = messaging_window(
        conversation,
        now,
        human_agent_tag=shop.meta is not None and shop.meta.human_agent_tag,
        automatic=message.automatic,
    )
    if window is MessagingWindow.CLOSED:
        return None
    return message.model_copy(
        update={"human_agent_tag": window is MessagingWindow.HUMAN_AGENT}
    ), None
