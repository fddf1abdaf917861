"""What Slack shows of Meta's channels (WhatsApp Cloud API, Messenger, Instagram): the
markers under a reaction or an echo, and the notes when a reply cannot go out."""

from chalicelib.domain.messages import InboundKind, InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.presentation.slack_blocks import SlackMessage, channel_name, thread_note


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
