"""The pieces every Slack message here is made of: the message itself, fitted to Slack's
limits (`block_kit`) before it is returned; section and context blocks; and the labels and
texts the card, the notes and the lists share.

Everything a customer wrote (text, WhatsApp profile name) goes through `escape_mrkdwn`, so
nobody can ping @channel or forge a link.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.jobs import SnoozeOption
from chalicelib.domain.vocabulary import Channel, Priority, SlaTarget
from chalicelib.presentation.block_kit import TEXT_OBJECT, fit_blocks, fit_text, size

SECTION_TEXT_LIMIT = TEXT_OBJECT

# A customer's name as the cards and lists show it.
NAME_SHOWN = 100

CHANNEL_LABELS = {
    Channel.SMS: ":iphone: SMS",
    Channel.WHATSAPP: ":speech_balloon: WhatsApp",
    Channel.EMAIL: ":email: Email",
    Channel.TELEGRAM: ":airplane: Telegram",
    Channel.WHATSAPP_CLOUD: ":speech_balloon: WhatsApp (Cloud API)",
    Channel.MESSENGER: ":zap: Messenger",
    Channel.INSTAGRAM: ":camera_with_flash: Instagram",
}

PRIORITY_LABELS = {
    Priority.LOW: ":white_circle: Low",
    Priority.NORMAL: ":large_blue_circle: Normal",
    Priority.HIGH: ":large_orange_circle: High",
    Priority.URGENT: ":red_circle: Urgent",
}

STATUS_LABELS = {
    ConversationStatus.OPEN: ":large_green_circle: Open",
    ConversationStatus.PENDING: ":large_yellow_circle: Pending (waiting for the customer)",
    ConversationStatus.SNOOZED: ":zzz: Snoozed",
    ConversationStatus.RESOLVED: ":white_check_mark: Resolved",
}

TARGET_LABELS = {
    SlaTarget.FIRST_RESPONSE: "First response",
    SlaTarget.NEXT_RESPONSE: "Reply",
    SlaTarget.RESOLUTION: "Resolution",
}

SNOOZE_LABELS = {
    SnoozeOption.HOUR: "1 hour",
    SnoozeOption.TOMORROW: "Until tomorrow morning",
    SnoozeOption.CUSTOMER_REPLY: "Until the customer writes",
}


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]
    # Slack message metadata: {"event_type": ..., "event_payload": {...}}.
    metadata: dict[str, Any] | None = None


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; everything else (RTL scripts, emoji) passes as is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section_block(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def fitted_message(
    text: str,
    blocks: list[dict[str, Any]],
    *,
    kept: int = 0,
    noun: tuple[str, str] = ("part", "parts"),
    metadata: dict[str, Any] | None = None,
) -> SlackMessage:
    """Every message is made here: within Slack's limits, the last `kept` blocks always
    shown, what else does not fit folded into a line counting it in `noun`."""
    return SlackMessage(
        text=fit_text(text), blocks=fit_blocks(blocks, kept=kept, noun=noun), metadata=metadata
    )


def thread_note(text: str, block: Callable[[str], dict[str, Any]] = section_block) -> SlackMessage:
    """A one-line message of Threadline's own in a section (or a context) block."""
    return fitted_message(text, [block(text)])


def customer_shown(conversation: Conversation) -> str:
    """The customer as cards and lists name them, escaped: an overlong name shortened, the
    number always shown."""
    name = conversation.customer_name or ""
    if len(name) > NAME_SHOWN:
        conversation = conversation.model_copy(update={"customer_name": shorten(name, NAME_SHOWN)})
    return escape_mrkdwn(conversation.customer_label)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escaped_chunks(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """`text` escaped, in pieces of at most `limit` characters (as Slack's limits count
    them), cut at a line or word break where there is one, and never inside an escape such
    as `&lt;`."""
    chunks: list[str] = []
    rest = text
    while rest:
        escaped = escape_mrkdwn(rest)
        if size(escaped) <= limit:
            chunks.append(escaped)
            break
        # The longest raw prefix whose escaped form fits.
        length, used = 0, 0
        for character in rest:
            grown = size(escape_mrkdwn(character))
            if used + grown > limit:
                break
            used += grown
            length += 1
        cut = max(rest.rfind("\n", 0, length), rest.rfind(" ", 0, length))
        if cut < length // 2:
            cut = length
        chunks.append(escape_mrkdwn(rest[:cut]))
        rest = rest[cut:].lstrip(" \n")
    return chunks


def local_time(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d %b %Y %H:%M %Z")


def snooze_label(until: datetime | None, timezone: str) -> str:
    return local_time(until, timezone) if until else "the customer writes"


def channel_name(channel: Channel) -> str:
    return CHANNEL_LABELS[channel].split(" ", 1)[1]


def split_lines(text: str) -> list[str]:
    """Lines grouped into section-sized pieces (links are never cut); a line too long for
    a section alone is cut when the message is fitted."""
    pieces: list[str] = []
    for line in text.split("\n"):
        if pieces and size(pieces[-1]) + 1 + size(line) <= SECTION_TEXT_LIMIT:
            pieces[-1] += "\n" + line
        else:
            pieces.append(line)
    return pieces
