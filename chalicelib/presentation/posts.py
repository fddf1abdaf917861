"""The messages mirrored into a conversation's thread: what the customer wrote, and what went
to them that no agent typed there (canned responses, the shop's messages, automatic replies);
and the reactions that mark an agent's reply on its way.
"""

import itertools
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.messages import DeliveryStatus, InboundMessage, MediaItem
from chalicelib.presentation.meta_posts import meta_markers
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    escaped_chunks,
    fitted_message,
    local_time,
    section_block,
    shorten,
    split_lines,
)

# How much of a text a post shows (about three sections): all of it but in the rarest
# mail, and with room left for attachments and markers in Slack's total.
TEXT_SHOWN = 8_000

# A customer's attachments listed by type in their post (the files follow in the thread).
ATTACHMENTS_LISTED = 10

# An attachment's type as its post lists it.
TYPE_SHOWN = 100


# What a fold line counts when the shop's or an automatic reply is too long to show whole.
REPLY_PARTS = ("part of the reply", "parts of the reply")

DELIVERY_REACTIONS = {
    DeliveryStatus.ACCEPTED: "outbox_tray",
    DeliveryStatus.SCHEDULED: "outbox_tray",
    DeliveryStatus.QUEUED: "outbox_tray",
    DeliveryStatus.SENT: "outbox_tray",
    DeliveryStatus.DELIVERED: "white_check_mark",
    DeliveryStatus.READ: "eyes",
    DeliveryStatus.UNDELIVERED: "x",
    DeliveryStatus.FAILED: "x",
    DeliveryStatus.CANCELED: "x",
}


# On an agent's message: waiting out its grace period; kept internal (not sent).
WAITING_REACTION = "hourglass_flowing_sand"

INTERNAL_REACTION = "lock"


# The Slack message metadata event type on a customer's message in its thread: a retry
# that cannot tell whether an earlier attempt's post went through looks for it.
CUSTOMER_MESSAGE_EVENT = "threadline_customer_message"

# A customer message posted this long after it arrived says when it was written: held by an
# outage or a dead-letter queue, it lands below messages the customer wrote after it.
LATE_POST = timedelta(minutes=2)


def customer_message(
    message: InboundMessage, posted_at: datetime | None = None, timezone: str = "UTC"
) -> SlackMessage:
    """A customer's message mirrored into the conversation's thread: a text longer than one
    section block holds runs on in the next ones, up to `TEXT_SHOWN` characters
    (the rest is counted, and the whole follows as `WHOLE_TEXT_NAME`); its attachments
    listed by type (the files themselves follow in the thread). Posted late, it says when it
    was written (in the shop's time zone)."""
    parts, after = _shown_text(
        message.text.strip(), f"the whole message follows as `{WHOLE_TEXT_NAME}`"
    )
    files = _attachment_lines(message.media)
    if not parts and not files:
        parts.append("_(empty message)_")
    blocks = [section_block(part) for part in parts]
    # What follows the text is always shown: what was left out, the files, the markers.
    if files:
        after.extend(section_block(lines) for lines in split_lines("\n".join(files)))
    if message.email is not None and message.email.automated:
        after.append(
            context_block(":robot_face: Sent automatically (an auto-reply): it reopens nothing.")
        )
    after.extend(context_block(marker) for marker in meta_markers(message))
    if posted_at is not None and posted_at - message.received_at >= LATE_POST:
        written = local_time(message.received_at, timezone)
        after.append(
            context_block(
                f":hourglass: Written {written}, posted late: later messages may be above it."
            )
        )
    return fitted_message(
        "\n".join(parts + files),
        blocks + after,
        kept=len(after),
        noun=("part of this message", "parts of this message"),
        metadata=customer_message_metadata(message),
    )


# The file a customer's message too long for one post follows as, whole.
WHOLE_TEXT_NAME = "message.txt"


def shows_whole(text: str) -> bool:
    """Whether a post shows all of a customer's text (else it follows as a file)."""
    return len(text.strip()) <= TEXT_SHOWN


def _shown_text(text: str, whole_kept: str) -> tuple[list[str], list[dict[str, Any]]]:
    """A text as a post shows it: its first `TEXT_SHOWN` characters escaped, in
    section-sized parts; and when it is longer, a line saying how much is left out and
    where the whole is (`whole_kept`)."""
    parts = escaped_chunks(text[:TEXT_SHOWN])
    hidden = len(text) - TEXT_SHOWN
    if hidden <= 0:
        return parts, []
    return parts, [context_block(f"…and {hidden:,} more characters, not shown here: {whole_kept}.")]


def _attachment_lines(media: tuple[MediaItem, ...]) -> list[str]:
    """One line per attachment, with its type, up to `ATTACHMENTS_LISTED`; then how many
    more."""
    types = (shorten(item.content_type or "unknown type", TYPE_SHOWN) for item in media)
    lines = [
        f":paperclip: Attachment ({escape_mrkdwn(kind)})"
        for kind in itertools.islice(types, ATTACHMENTS_LISTED)
    ]
    more = len(media) - ATTACHMENTS_LISTED
    if more > 0:
        lines.append(f"…and {more:,} more file" + ("" if more == 1 else "s"))
    return lines


def customer_message_metadata(message: InboundMessage) -> dict[str, Any]:
    return {
        "event_type": CUSTOMER_MESSAGE_EVENT,
        "event_payload": {"message_key": message.message_key},
    }


def canned_post(text: str, user_id: str, name: str) -> SlackMessage:
    """A canned response as the thread shows it: what the customer gets, and who chose it."""
    chosen = f":zap: Canned response `{escape_mrkdwn(name)}`, sent by <@{user_id}>"
    return _reply_post(text, context_block(chosen))


def shop_message_post(text: str) -> SlackMessage:
    """A message the shop sent first (through the admin API), as the thread shows it."""
    return _reply_post(text, context_block(":outbox_tray: Sent by the shop's system (admin API)"))


def auto_reply_post(text: str, reply_key: str, language: str) -> SlackMessage:
    """An automatic reply as the thread shows it: what the customer gets, marked."""
    what = escape_mrkdwn(reply_key.replace("_", " ").replace("faq:", "FAQ "))
    marker = f":robot_face: Automatic reply ({what}, {escape_mrkdwn(language)})"
    return _reply_post(text, context_block(marker))


def _reply_post(text: str, marker: dict[str, Any]) -> SlackMessage:
    """What went to the customer, as its thread shows it, and the marker saying whence."""
    parts, notes = _shown_text(text, "the customer got all of it")
    blocks = [section_block(part) for part in parts] + notes + [marker]
    return fitted_message(escape_mrkdwn(text), blocks, kept=len(notes) + 1, noun=REPLY_PARTS)
