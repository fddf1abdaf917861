"""What agents see in Slack: the conversation's root card and the mirrored messages.

Pure functions that return Block Kit payloads. Everything a customer wrote (text, WhatsApp
profile name) goes through `escape_mrkdwn`, so nobody can ping @channel or forge a link.
Every message and modal is made to fit Slack's limits (`block_kit`) before it is returned,
so no customer input can make Slack refuse it.
"""

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.block_kit import (
    TEXT_OBJECT,
    fit_blocks,
    fit_text,
    fit_view,
    size,
)
from chalicelib.domain.conversation import (
    WHATSAPP_WINDOW,
    CardAction,
    Channel,
    Conversation,
    ConversationAction,
    ConversationStatus,
    DeliveryStatus,
    InboundMessage,
    MediaItem,
    Priority,
    ResponseClock,
    SlaAlarm,
    SlaStage,
    SlaTarget,
    SnoozeOption,
    conversation_ref,
)
from chalicelib.domain.reports import CsatFigures, Durations, Report, SlaFigures
from chalicelib.domain.shop import ReplyMode, ReplyPolicy, Shop
from chalicelib.domain.sla import SlaPolicy

SECTION_TEXT_LIMIT = TEXT_OBJECT
# How much of a text a post shows (about three sections): all of it but in the rarest
# mail, and with room left for attachments and markers in Slack's total.
TEXT_SHOWN = 8_000
# A customer's attachments listed by type in their post (the files follow in the thread).
ATTACHMENTS_LISTED = 10
# Customers' names, subjects and file types as the cards and lists show them.
NAME_SHOWN = 100
SUBJECT_SHOWN = 300
TYPE_SHOWN = 100
FILE_NAMES_LISTED = 10
# What a fold line counts when the shop's or an automatic reply is too long to show whole.
REPLY_PARTS = ("part of the reply", "parts of the reply")

CHANNEL_LABELS = {
    Channel.SMS: ":iphone: SMS",
    Channel.WHATSAPP: ":speech_balloon: WhatsApp",
    Channel.EMAIL: ":email: Email",
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


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]
    # Slack message metadata: {"event_type": ..., "event_payload": {...}}.
    metadata: dict[str, Any] | None = None


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; everything else (RTL scripts, emoji) passes as is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _message(
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


def _note(text: str, block: Callable[[str], dict[str, Any]] = _section) -> SlackMessage:
    """A one-line message of Threadline's own in a section (or a context) block."""
    return _message(text, [block(text)])


def _customer(conversation: Conversation) -> str:
    """The customer as cards and lists name them, escaped: an overlong name shortened, the
    number always shown."""
    name = conversation.customer_name or ""
    if len(name) > NAME_SHOWN:
        conversation = conversation.model_copy(update={"customer_name": _shorten(name, NAME_SHOWN)})
    return escape_mrkdwn(conversation.customer_label)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escaped_chunks(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
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


def _local_time(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d %b %Y %H:%M %Z")


def snooze_label(until: datetime | None, timezone: str) -> str:
    return _local_time(until, timezone) if until else "the customer writes"


SNOOZE_LABELS = {
    SnoozeOption.HOUR: "1 hour",
    SnoozeOption.TOMORROW: "Until tomorrow morning",
    SnoozeOption.CUSTOMER_REPLY: "Until the customer writes",
}


def reply_mode_hint(policy: ReplyPolicy) -> str:
    """How to answer in the thread, under the shop's reply mode."""
    if policy.mode is ReplyMode.REPLY:
        keep = escape_mrkdwn(policy.internal_prefix)
        return (
            f":speech_balloon: Replies go to the customer; start with `{keep}` "
            "to keep one internal."
        )
    send = escape_mrkdwn(policy.send_prefix)
    return (
        f":lock: Safe mode: messages stay internal; start with `{send}` or use "
        "*Send to customer* to answer."
    )


def root_card(conversation: Conversation, shop: Shop) -> SlackMessage:
    """The conversation's root message, kept up to date: who, which channel, what they
    first wrote, what state it is in, how many messages so far, how to answer."""
    timezone = shop.timezone
    channel = CHANNEL_LABELS[conversation.channel]
    customer = _customer(conversation)
    status = STATUS_LABELS[conversation.status]
    if conversation.status is ConversationStatus.SNOOZED:
        status += " until " + snooze_label(conversation.snoozed_until, timezone)
    started = _local_time(conversation.created_at, timezone)
    to_address = conversation.shop_address.removeprefix("whatsapp:")
    preview = escape_mrkdwn(conversation.first_message_preview)
    count = conversation.message_count
    messages = f"{count} message" + ("" if count == 1 else "s")
    heading = f"*{customer}*\n{channel} to {to_address}"
    if conversation.subject:
        heading += f"\n*Subject:* {escape_mrkdwn(_shorten(conversation.subject, SUBJECT_SHOWN))}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
    ]
    assignee = conversation.assignee_user_id
    if preview:
        quoted = f"\u201c{preview}\u201d"
        if conversation.started_by_shop:
            quoted = f":outbox_tray: The shop wrote first: {quoted}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": quoted}]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"*Status:* {status}"},
                {"type": "mrkdwn", "text": f"*Priority:* {PRIORITY_LABELS[conversation.priority]}"},
                {
                    "type": "mrkdwn",
                    "text": f"*Assignee:* <@{assignee}>" if assignee else "*Unassigned*",
                },
                {"type": "mrkdwn", "text": f"*Messages:* {messages}"},
                {"type": "mrkdwn", "text": f"*Started:* {started}"},
                {"type": "mrkdwn", "text": reply_mode_hint(shop.replies)},
            ],
        }
    )
    for clock in (conversation.response_clock, conversation.resolution_clock):
        if clock is not None:
            line = _target_line(clock, conversation, timezone)
            blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    if conversation.previous_thread_url:
        blocks.insert(
            1,
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f":leftwards_arrow_with_hook: The customer wrote before"
                        f"{_elsewhere(conversation)}: "
                        f"<{conversation.previous_thread_url}|earlier conversation>",
                    }
                ],
            },
        )
    satisfaction = _satisfaction(conversation)
    if satisfaction:
        blocks[-1]["elements"].append({"type": "mrkdwn", "text": f"*Satisfaction:* {satisfaction}"})
    if conversation.channel is Channel.WHATSAPP:
        # WhatsApp takes free-form replies only within 24 h of the customer's last message.
        window = "closed until the customer writes"
        if conversation.message_count:
            end = conversation.last_customer_message_at + WHATSAPP_WINDOW
            window = f"until {_local_time(end, timezone)}"
        blocks[-1]["elements"].insert(2, {"type": "mrkdwn", "text": f"*Reply window:* {window}"})
    blocks.append(_card_buttons(conversation))
    # The buttons are always kept: without them the card could not be acted on.
    return _message(f"New {channel.split(' ', 1)[1]} conversation with {customer}", blocks, kept=1)


def _elsewhere(conversation: Conversation) -> str:
    """ ", on WhatsApp" when the earlier conversation was on another channel."""
    previous = conversation.previous_channel
    if previous is None or previous is conversation.channel:
        return ""
    return f", on {_channel_name(previous)}"


def _channel_name(channel: Channel) -> str:
    return CHANNEL_LABELS[channel].split(" ", 1)[1]


def stars(score: int) -> str:
    return "★" * score + "☆" * (5 - score) + f" {score}/5"


def _satisfaction(conversation: Conversation) -> str | None:
    if conversation.csat is not None:
        return stars(conversation.csat.score)
    if (
        conversation.csat_asked_at is not None
        and conversation.status is ConversationStatus.RESOLVED
    ):
        return "asked, no answer yet"
    return None


def rating_note(score: int) -> SlackMessage:
    """Told in the thread when the customer answers the satisfaction question."""
    text = f":star: The customer rated this conversation {stars(score)}."
    return _note(text)


def _target_line(clock: ResponseClock, conversation: Conversation, timezone: str) -> str:
    """A target on the card: when it is due; at the warning how long is left; red once late."""
    due = _local_time(clock.due_at, timezone)
    what = TARGET_LABELS[clock.target]
    if clock.stage in (SlaStage.BREACHED, SlaStage.SECOND_LEVEL):
        return f":red_circle: *{what} overdue* since {due}"
    if clock.stage is SlaStage.WARNING:
        warned = next(
            (e.at for e in reversed(conversation.sla_history) if e.target == clock.target),
            clock.due_at,
        )
        left = max(0, round((clock.due_at - warned).total_seconds() / 60))
        return f":warning: *{what} due:* {due} (in {left} min)"
    return f"*{what} due:* {due}"


def _button(action: CardAction, label: str, ref: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action.value,
        "text": {"type": "plain_text", "text": label},
        "value": ref,
    }
    if style:
        button["style"] = style
    return button


def _card_buttons(conversation: Conversation) -> dict[str, Any]:
    ref = conversation_ref(conversation)
    assignment = (
        _button(CardAction.UNASSIGN, "Unassign", ref)
        if conversation.assignee_user_id
        else _button(CardAction.ASSIGN_TO_ME, "Assign to me", ref)
    )
    match conversation.status:
        case ConversationStatus.RESOLVED:
            state = _button(CardAction.REOPEN, "Reopen", ref)
        case ConversationStatus.SNOOZED:
            state = _button(CardAction.REOPEN, "Wake up", ref)
        case _:
            state = _button(CardAction.RESOLVE, "Resolve", ref, style="primary")
    options = [
        {
            "text": {"type": "plain_text", "text": PRIORITY_LABELS[priority], "emoji": True},
            "value": f"{ref}#{priority.value}",
        }
        for priority in Priority
    ]
    priority = {
        "type": "static_select",
        "action_id": CardAction.SET_PRIORITY.value,
        "placeholder": {"type": "plain_text", "text": "Priority"},
        "options": options,
        "initial_option": options[list(Priority).index(conversation.priority)],
    }
    elements = [assignment, state, priority]
    if conversation.status is not ConversationStatus.RESOLVED:
        elements.append(
            {
                "type": "static_select",
                "action_id": CardAction.SNOOZE.value,
                "placeholder": {"type": "plain_text", "text": ":zzz: Snooze", "emoji": True},
                "options": [
                    {
                        "text": {"type": "plain_text", "text": label},
                        "value": f"{ref}#{option.value}",
                    }
                    for option, label in SNOOZE_LABELS.items()
                ],
            }
        )
    return {"type": "actions", "block_id": "conversation_actions", "elements": elements}


ACTION_NOTES = {
    CardAction.ASSIGN_TO_ME: ":bust_in_silhouette: <@{user}> took this conversation.",
    CardAction.UNASSIGN: ":bust_in_silhouette: <@{user}> unassigned this conversation.",
    CardAction.RESOLVE: ":white_check_mark: <@{user}> resolved this conversation.",
    CardAction.REOPEN: ":arrows_counterclockwise: <@{user}> reopened this conversation.",
    CardAction.SET_PRIORITY: "<@{user}> set the priority to {priority}.",
    CardAction.SNOOZE: ":zzz: <@{user}> snoozed this conversation until {until}.",
}


def action_note(
    action: ConversationAction, conversation: Conversation, timezone: str
) -> SlackMessage:
    """Told in the thread when an agent acts on the card (`conversation` as it is now), so
    the history shows who did what."""
    priority = PRIORITY_LABELS[action.priority] if action.priority else ""
    until = snooze_label(conversation.snoozed_until, timezone)
    text = ACTION_NOTES[action.action].format(user=action.user_id, priority=priority, until=until)
    return _note(text, _context)


TARGET_LABELS = {
    SlaTarget.FIRST_RESPONSE: "First response",
    SlaTarget.NEXT_RESPONSE: "Reply",
    SlaTarget.RESOLUTION: "Resolution",
}


def _mention(user_or_group: str) -> str:
    return f"<!subteam^{user_or_group}>" if user_or_group.startswith("S") else f"<@{user_or_group}>"


def sla_note(
    alarm: SlaAlarm, target_due: datetime, policy: SlaPolicy, timezone: str
) -> SlackMessage:
    """Told in the thread at each stage of a response target (which ends `target_due`)."""
    what = TARGET_LABELS[alarm.target]
    due = _local_time(target_due, timezone)
    match alarm.stage:
        case SlaStage.WARNING:
            text = f":hourglass_flowing_sand: {what} due soon: the target ends {due}."
        case SlaStage.BREACHED:
            callers = " ".join(_mention(who) for who in policy.on_call)
            text = f":rotating_light: {what} overdue (the target ended {due}). {callers}".strip()
        case _:
            lead = f" {_mention(policy.lead_user_id)}" if policy.lead_user_id else ""
            still = "unresolved" if alarm.target is SlaTarget.RESOLUTION else "unanswered"
            text = f":sos: Still {still}: escalated{lead}."
    return _note(text)


def escalation_message(
    conversation: Conversation, alarm: SlaAlarm, thread_url: str, timezone: str
) -> SlackMessage:
    """The second level, told to the shop's lead and its escalation channel."""
    customer = _customer(conversation)
    since = _local_time(alarm.started_at, timezone)
    what = TARGET_LABELS[alarm.target].lower()
    text = (
        f":sos: <{thread_url}|{CHANNEL_LABELS[conversation.channel]} conversation with "
        f"{customer}> has waited for its {what} since {since}."
    )
    return _note(text)


def snooze_over_note(assignee_user_id: str | None) -> SlackMessage:
    """Told in the thread when a snoozed conversation wakes, to whoever has it."""
    who = f" <@{assignee_user_id}>" if assignee_user_id else ""
    text = f":alarm_clock: Snooze over: this conversation is open again.{who}"
    return _note(text)


def continued_note(
    new_thread_url: str, conversation: Conversation, previous: Conversation
) -> SlackMessage:
    """Told in the previous conversation's thread when the customer goes on in a new one
    (after the quiet period, or from another of their addresses)."""
    elsewhere = ""
    if conversation.channel is not previous.channel:
        elsewhere = f", on {_channel_name(conversation.channel)}"
    who = "The shop wrote to the customer" if conversation.started_by_shop else "The customer wrote"
    text = f":arrow_right: {who} again{elsewhere}: <{new_thread_url}|new conversation>."
    return _note(text, _context)


def dead_letter_note(what: str) -> SlackMessage:
    """Told where a job that ran out of tries was for: it waits for the operators, and
    what came after it in the conversation waits behind it."""
    text = (
        f":rotating_light: Threadline could not {escape_mrkdwn(what)}, even after several "
        "tries. It is held for the operators, with anything that came after it in this "
        "conversation; they are alerted and can send it all again, in order. Until then, "
        "answer the customer another way if it is urgent."
    )
    return _note(text)


def reopened_note() -> SlackMessage:
    text = ":arrows_counterclockwise: The customer wrote again: this conversation is open again."
    return _note(text, _context)


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
    blocks = [_section(part) for part in parts]
    # What follows the text is always shown: what was left out, the files, the markers.
    if files:
        after.extend(_section(lines) for lines in _split_lines("\n".join(files)))
    if message.email is not None and message.email.automated:
        after.append(
            _context(":robot_face: Sent automatically (an auto-reply): it reopens nothing.")
        )
    if posted_at is not None and posted_at - message.received_at >= LATE_POST:
        written = _local_time(message.received_at, timezone)
        after.append(
            _context(f":hourglass: Written {written}, posted late: later messages may be above it.")
        )
    return _message(
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
    parts = _escaped_chunks(text[:TEXT_SHOWN])
    hidden = len(text) - TEXT_SHOWN
    if hidden <= 0:
        return parts, []
    return parts, [_context(f"…and {hidden:,} more characters, not shown here: {whole_kept}.")]


def _attachment_lines(media: tuple[MediaItem, ...]) -> list[str]:
    """One line per attachment, with its type, up to `ATTACHMENTS_LISTED`; then how many
    more."""
    types = (_shorten(item.content_type or "unknown type", TYPE_SHOWN) for item in media)
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


def delivery_failed_note(reason: str, error_code: str | None) -> SlackMessage:
    """Told in the thread when a reply could not reach the customer."""
    code = f" (error {escape_mrkdwn(error_code)})" if error_code else ""
    text = f":warning: This reply did not reach the customer: {escape_mrkdwn(reason)}{code}."
    return _note(text)


def files_not_sent_note(names: list[str], text_sent: bool) -> SlackMessage:
    """Told in the thread when files an agent attached could not go to the customer."""
    listed = ", ".join(
        f"`{escape_mrkdwn(_shorten(name, NAME_SHOWN))}`" for name in names[:FILE_NAMES_LISTED]
    )
    if len(names) > FILE_NAMES_LISTED:
        listed += f" and {len(names) - FILE_NAMES_LISTED:,} more"
    outcome = "the rest of the reply went out" if text_sent else "nothing was sent"
    text = (
        f":paperclip: Not sent to the customer: {listed} (larger than 16 MB, or the app "
        f"cannot read files: it needs the `files:read` scope); {outcome}."
    )
    return _note(text)


def nothing_to_send_note() -> SlackMessage:
    text = ":grey_question: This message has nothing a customer can receive: nothing was sent."
    return _note(text, _context)


def attachments_missing_note(count: int) -> SlackMessage:
    """Told in the thread when a customer's attachments could not be fetched."""
    what = "An attachment" if count == 1 else f"{count} attachments"
    text = f":warning: {what} of this message could not be fetched from the provider."
    return _note(text, _context)


def reply_cancelled_note(user_id: str) -> SlackMessage:
    """Told in the thread when an agent deleted a reply before its grace period was over."""
    text = (
        f":wastebasket: <@{user_id}> deleted a reply before it was sent: "
        "the customer did not get it."
    )
    return _note(text, _context)


# Canned responses ------------------------------------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _shorten(text, limit), "emoji": True}


def canned_picker(conversation: Conversation, shop: Shop) -> dict[str, Any]:
    """The modal in which an agent picks a canned response for a conversation."""
    metadata = {
        "ref": conversation_ref(conversation),
        "channel": conversation.slack_channel_id,
        "thread_ts": conversation.slack_thread_ts,
    }
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "canned_response",
        "title": _plain("Canned response", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"To *{_customer(conversation)}* "
                        f"({CHANNEL_LABELS[conversation.channel]})",
                    }
                ],
            }
        ],
    }
    if not shop.canned_responses:
        view["blocks"].append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "This shop has no canned responses yet: an operator adds them "
                    "to the shop's `canned_responses`.",
                },
            }
        )
        return fit_view(view)
    view["submit"] = _plain("Send to customer", 24)
    order: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "order_number",
        "placeholder": _plain("e.g. 1042", 150),
    }
    if conversation.order_number:
        order["initial_value"] = conversation.order_number
    view["blocks"] += [
        {
            "type": "input",
            "block_id": "response",
            "label": _plain("Response", 2000),
            "element": {
                "type": "static_select",
                "action_id": "response",
                "options": [
                    {
                        "text": _plain(canned.name, 75),
                        "description": _plain(canned.text, 75),
                        "value": canned.name,
                    }
                    for canned in shop.canned_responses
                ],
            },
        },
        {
            "type": "input",
            "block_id": "order_number",
            "optional": True,
            "label": _plain("Order number", 2000),
            "hint": _plain("Fills {order_number}; the customer's last #number is suggested.", 150),
            "element": order,
        },
    ]
    return fit_view(view, kept=2)


def canned_post(text: str, user_id: str, name: str) -> SlackMessage:
    """A canned response as the thread shows it: what the customer gets, and who chose it."""
    chosen = f":zap: Canned response `{escape_mrkdwn(name)}`, sent by <@{user_id}>"
    return _reply_post(text, _context(chosen))


def shop_message_post(text: str) -> SlackMessage:
    """A message the shop sent first (through the admin API), as the thread shows it."""
    return _reply_post(text, _context(":outbox_tray: Sent by the shop's system (admin API)"))


def auto_reply_post(text: str, reply_key: str, language: str) -> SlackMessage:
    """An automatic reply as the thread shows it: what the customer gets, marked."""
    what = escape_mrkdwn(reply_key.replace("_", " ").replace("faq:", "FAQ "))
    marker = f":robot_face: Automatic reply ({what}, {escape_mrkdwn(language)})"
    return _reply_post(text, _context(marker))


def _reply_post(text: str, marker: dict[str, Any]) -> SlackMessage:
    """What went to the customer, as its thread shows it, and the marker saying whence."""
    parts, notes = _shown_text(text, "the customer got all of it")
    blocks = [_section(part) for part in parts] + notes + [marker]
    return _message(escape_mrkdwn(text), blocks, kept=len(notes) + 1, noun=REPLY_PARTS)


def window_template_note(template_name: str) -> SlackMessage:
    """Told when a WhatsApp reply went out as the shop's approved template."""
    text = (
        ":envelope_with_arrow: The customer last wrote more than 24 hours ago, and WhatsApp "
        f"then allows only approved templates: *{escape_mrkdwn(template_name)}* went out "
        "instead of your message. Once the customer answers, reply again."
    )
    return _note(text)


def window_closed_note() -> SlackMessage:
    """Told when a WhatsApp reply cannot go out at all."""
    text = (
        ":no_entry: Not sent: the customer last wrote more than 24 hours ago, and WhatsApp "
        "then allows only approved templates. Add one to the shop "
        "(`twilio.whatsapp_template`), or reach the customer another way."
    )
    return _note(text)


def canned_gone_note(name: str) -> SlackMessage:
    text = (
        f":warning: The canned response `{escape_mrkdwn(name)}` no longer exists: nothing was sent."
    )
    return _note(text)


# Slash command -----------------------------------------------------------------------------

COMMAND_HELP = (
    "*Threadline* answers customers from their conversation threads.\n"
    "• `/threadline mine`: your open conversations\n"
    "• `/threadline find <name or number>`: a customer's conversations\n"
    "• `/threadline canned`: the shop's canned responses\n"
    "• On any message of a conversation thread, the *Canned response* shortcut sends one, "
    "and *Send to customer* sends that message."
)


def ephemeral(text: str) -> dict[str, Any]:
    """A slash command's answer (mrkdwn), shown only to the agent who typed it, in as many
    sections as its lines need, within Slack's limits."""
    blocks = [_section(part) for part in _split_lines(text)]
    return {"response_type": "ephemeral", "text": fit_text(text), "blocks": fit_blocks(blocks)}


def thread_link(team_domain: str, channel_id: str, thread_ts: str) -> str:
    host = f"{team_domain}.slack.com" if team_domain else "slack.com"
    return f"https://{host}/archives/{channel_id}/p{thread_ts.replace('.', '')}"


def conversation_list(
    title: str, found: list[tuple[Conversation, str]], team_domain: str
) -> dict[str, Any]:
    """Conversations, one line each with a link to its thread; `found` pairs each with its
    shop's time zone."""
    if not found:
        return ephemeral(f"{escape_mrkdwn(title)}: none.")
    lines = []
    for conversation, timezone in found:
        thread = conversation.slack_thread
        label = _customer(conversation)
        if thread:
            label = f"<{thread_link(team_domain, *thread)}|{label}>"
        status = STATUS_LABELS[conversation.status]
        started = _local_time(conversation.created_at, timezone)
        channel = CHANNEL_LABELS[conversation.channel].split(" ", 1)[0]
        lines.append(f"{channel} {label} · {status} · since {started}")
    return ephemeral(f"*{escape_mrkdwn(title)}*\n" + "\n".join(lines))


def _split_lines(text: str) -> list[str]:
    """Lines grouped into section-sized pieces (links are never cut); a line too long for
    a section alone is cut when the message is fitted."""
    pieces: list[str] = []
    for line in text.split("\n"):
        if pieces and size(pieces[-1]) + 1 + size(line) <= SECTION_TEXT_LIMIT:
            pieces[-1] += "\n" + line
        else:
            pieces.append(line)
    return pieces


CANNED_NAMES_PER_LINE = 10


def canned_list(shops: list[Shop]) -> dict[str, Any]:
    lines = []
    for shop in shops:
        names = [f"`{c.name}`" for c in shop.canned_responses] or ["none yet"]
        rows = (
            names[n : n + CANNED_NAMES_PER_LINE]
            for n in range(0, len(names), CANNED_NAMES_PER_LINE)
        )
        lines.append(f"*{escape_mrkdwn(shop.name)}*: " + ",\n".join(", ".join(row) for row in rows))
    if not lines:
        return ephemeral("No shop uses this workspace.")
    return ephemeral(
        "Canned responses (send one with the *Canned response* shortcut):\n" + "\n".join(lines)
    )


def duration_label(seconds: float | None) -> str:
    """A duration as people say it: 45 s, 12 min, 3 h 05 min, 2 d 4 h; "–" for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _timing(durations: Durations) -> str:
    if durations.count == 0:
        return "none yet"
    median = duration_label(durations.median_seconds)
    return f"median {median}, 90% within {duration_label(durations.p90_seconds)}"


def _sla_label(sla: SlaFigures) -> str:
    if sla.compliance is None:
        return "no target came due"
    return f"{sla.compliance:.0%} met in time ({sla.met} met, {sla.breached} breached)"


def _csat_label(csat: CsatFigures) -> str:
    if csat.average is None:
        return "no answers"
    answers = "answer" if csat.count == 1 else "answers"
    return f"{csat.average:.1f} / 5 from {csat.count} {answers}"


DIGEST_AGENT_LINES = 15


def daily_digest(
    report: Report, shop_name: str, day: date, agent_names: dict[str, str]
) -> SlackMessage:
    """Yesterday's figures for the shop's channel: totals, channels, each agent. Agents go by
    their display name (`agent_names`, by user id), escaped; nobody is mentioned, so the
    digest pings no one."""
    totals = report.totals
    title = f"{shop_name}: {day.strftime('%A %d %b %Y')}"
    channels = " · ".join(
        f"{CHANNEL_LABELS[channel]} {count}" for channel, count in totals.by_channel.items()
    )
    fields = [
        ("Conversations opened", str(totals.conversations)),
        ("First response", _timing(totals.first_response)),
        ("Resolution", _timing(totals.resolution)),
        ("SLA", _sla_label(totals.sla)),
        ("Satisfaction", _csat_label(totals.csat)),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _shorten(title, 150)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": channels}]},
    ]
    lines = []
    for agent in report.agents[:DIGEST_AGENT_LINES]:
        user = agent.assignee_user_id
        who = escape_mrkdwn(agent_names.get(user, user)) if user else "_Unassigned_"
        lines.append(
            f"*{who}*: {agent.conversations} · first response "
            f"{duration_label(agent.first_response.median_seconds)} · resolution "
            f"{duration_label(agent.resolution.median_seconds)} · "
            f"{_csat_label(agent.csat)}"
        )
    if len(report.agents) > DIGEST_AGENT_LINES:
        lines.append(f"… and {len(report.agents) - DIGEST_AGENT_LINES} more")
    if lines:
        for part in _split_lines("*By agent* (medians)\n" + "\n".join(lines)):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    note = (
        f"Conversations opened that day ({escape_mrkdwn(report.timezone)} time), "
        "as they stand now. The chart below shows them per hour."
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    text = (
        f"Daily digest of {escape_mrkdwn(shop_name)}: "
        f"{totals.conversations} conversations on {day.isoformat()}"
    )
    return _message(text, blocks, kept=1, noun=("line", "lines"))
