"""What Slack shows of Meta's channels (WhatsApp Cloud API, Messenger, Instagram): the
markers under a reaction or an echo, and the notes when a reply cannot go out."""

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import InboundKind, InboundMessage
from chalicelib.domain.meta_windows import window_ends
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    channel_name,
    local_time,
    thread_note,
)


def meta_markers(message: InboundMessage) -> list[str]:
    """The context lines under a reaction or an echo; none under a customer's message."""
    if message.kind is InboundKind.REACTION:
        return [":leftwards_arrow_with_hook: A reaction to an earlier message: nothing awaits."]
    if message.kind is InboundKind.ECHO:
        return [
            ":outbox_tray: Sent by the shop outside Threadline (the Page, the app or the phone): "
            "shown here only, never sent again."
        ]
    return []


def meta_window_closed_note(channel: Channel, human_agent_tag: bool) -> SlackMessage:
    """Told when a reply on a Meta channel cannot go out at all, with what the agent can do."""
    if channel is Channel.WHATSAPP_CLOUD:
        text = (
            ":no_entry: Not sent: the customer last wrote more than 24 hours ago, and WhatsApp "
            "then allows only approved templates. Add one to the shop "
            "(`meta.whatsapp.templates.reply`), or reach the customer another way."
        )
    elif human_agent_tag:
        text = (
            f":no_entry: Not sent: the customer last wrote to {channel_name(channel)} more than "
            "7 days ago (automatic messages: more than 24 hours ago). Wait until they write "
            "again, or reach them another way."
        )
    else:
        text = (
            f":no_entry: Not sent: the customer last wrote to {channel_name(channel)} more than "
            "24 hours ago. Wait until they write again, reach them another way, or (once Meta "
            "granted the app Human Agent) enable `meta.human_agent_tag` for replies up to 7 days."
        )
    return thread_note(text)


def messaging_window_label(conversation: Conversation, shop: Shop) -> str:
    """Messenger's and Instagram's window on the card: until when replies go out freely, and
    until when a person's reply may with the HUMAN_AGENT tag where the shop enabled it."""
    if not conversation.message_count:
        return "closed until the customer writes"
    end, tagged_end = window_ends(conversation, shop)
    label = f"until {local_time(end, shop.timezone)}"
    if tagged_end is not None:
        label += f" (an agent's reply until {local_time(tagged_end, shop.timezone)})"
    return label
