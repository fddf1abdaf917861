"""Threadline's own notes in a conversation's thread (and to its escalation channel): who did
what on the card, service-level alarms, replies that could not go out, and the like.
"""

from datetime import datetime

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.jobs import CardAction, ConversationAction, SlaAlarm
from chalicelib.domain.sla import SlaPolicy
from chalicelib.domain.vocabulary import SlaStage, SlaTarget
from chalicelib.presentation.card import stars
from chalicelib.presentation.slack_blocks import (
    CHANNEL_LABELS,
    NAME_SHOWN,
    PRIORITY_LABELS,
    TARGET_LABELS,
    SlackMessage,
    channel_name,
    context_block,
    customer_shown,
    escape_mrkdwn,
    local_time,
    shorten,
    snooze_label,
    thread_note,
)


def rating_note(score: int) -> SlackMessage:
    """Told in the thread when the customer answers the satisfaction question."""
    text = f":star: The customer rated this conversation {stars(score)}."
    return thread_note(text)


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
    return thread_note(text, context_block)


def _mention(user_or_group: str) -> str:
    return f"<!subteam^{user_or_group}>" if user_or_group.startswith("S") else f"<@{user_or_group}>"


def sla_note(
    alarm: SlaAlarm, target_due: datetime, policy: SlaPolicy, timezone: str
) -> SlackMessage:
    """Told in the thread at each stage of a response target (which ends `target_due`)."""
    what = TARGET_LABELS[alarm.target]
    due = local_time(target_due, timezone)
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
    return thread_note(text)


def escalation_message(
    conversation: Conversation, alarm: SlaAlarm, thread_url: str, timezone: str
) -> SlackMessage:
    """The second level, told to the shop's lead and its escalation channel."""
    customer = customer_shown(conversation)
    since = local_time(alarm.started_at, timezone)
    what = TARGET_LABELS[alarm.target].lower()
    text = (
        f":sos: <{thread_url}|{CHANNEL_LABELS[conversation.channel]} conversation with "
        f"{customer}> has waited for its {what} since {since}."
    )
    return thread_note(text)


def snooze_over_note(assignee_user_id: str | None) -> SlackMessage:
    """Told in the thread when a snoozed conversation wakes, to whoever has it."""
    who = f" <@{assignee_user_id}>" if assignee_user_id else ""
    text = f":alarm_clock: Snooze over: this conversation is open again.{who}"
    return thread_note(text)


def continued_note(
    new_thread_url: str, conversation: Conversation, previous: Conversation
) -> SlackMessage:
    """Told in the previous conversation's thread when the customer goes on in a new one
    (after the quiet period, or from another of their addresses)."""
    elsewhere = ""
    if conversation.channel is not previous.channel:
        elsewhere = f", on {channel_name(conversation.channel)}"
    who = "The shop wrote to the customer" if conversation.started_by_shop else "The customer wrote"
    text = f":arrow_right: {who} again{elsewhere}: <{new_thread_url}|new conversation>."
    return thread_note(text, context_block)


def dead_letter_note(what: str) -> SlackMessage:
    """Told where a job that ran out of tries was for: it waits for the operators, and
    what came after it in the conversation waits behind it."""
    text = (
        f":rotating_light: Threadline could not {escape_mrkdwn(what)}, even after several "
        "tries. It is held for the operators, with anything that came after it in this "
        "conversation; they are alerted and can send it all again, in order. Until then, "
        "answer the customer another way if it is urgent."
    )
    return thread_note(text)


def reopened_note() -> SlackMessage:
    text = ":arrows_counterclockwise: The customer wrote again: this conversation is open again."
    return thread_note(text, context_block)


def delivery_failed_note(reason: str, error_code: str | None) -> SlackMessage:
    """Told in the thread when a reply could not reach the customer."""
    code = f" (error {escape_mrkdwn(error_code)})" if error_code else ""
    text = f":warning: This reply did not reach the customer: {escape_mrkdwn(reason)}{code}."
    return thread_note(text)


# The names of files not sent that a note lists.
FILE_NAMES_LISTED = 10


def files_not_sent_note(names: list[str], text_sent: bool) -> SlackMessage:
    """Told in the thread when files an agent attached could not go to the customer."""
    listed = ", ".join(
        f"`{escape_mrkdwn(shorten(name, NAME_SHOWN))}`" for name in names[:FILE_NAMES_LISTED]
    )
    if len(names) > FILE_NAMES_LISTED:
        listed += f" and {len(names) - FILE_NAMES_LISTED:,} more"
    outcome = "the rest of the reply went out" if text_sent else "nothing was sent"
    text = (
        f":paperclip: Not sent to the customer: {listed} (larger than 16 MB, or the app "
        f"cannot read files: it needs the `files:read` scope); {outcome}."
    )
    return thread_note(text)


def nothing_to_send_note() -> SlackMessage:
    text = ":grey_question: This message has nothing a customer can receive: nothing was sent."
    return thread_note(text, context_block)


def attachments_missing_note(count: int) -> SlackMessage:
    """Told in the thread when a customer's attachments could not be fetched."""
    what = "An attachment" if count == 1 else f"{count} attachments"
    text = f":warning: {what} of this message could not be fetched from the provider."
    return thread_note(text, context_block)


def reply_cancelled_note(user_id: str) -> SlackMessage:
    """Told in the thread when an agent deleted a reply before its grace period was over."""
    text = (
        f":wastebasket: <@{user_id}> deleted a reply before it was sent: "
        "the customer did not get it."
    )
    return thread_note(text, context_block)


def window_template_note(template_name: str) -> SlackMessage:
    """Told when a WhatsApp reply went out as the shop's approved template."""
    text = (
        ":envelope_with_arrow: The customer last wrote more than 24 hours ago, and WhatsApp "
        f"then allows only approved templates: *{escape_mrkdwn(template_name)}* went out "
        "instead of your message. Once the customer answers, reply again."
    )
    return thread_note(text)


def window_closed_note() -> SlackMessage:
    """Told when a WhatsApp reply cannot go out at all."""
    text = (
        ":no_entry: Not sent: the customer last wrote more than 24 hours ago, and WhatsApp "
        "then allows only approved templates. Add one to the shop "
        "(`twilio.whatsapp_template`), or reach the customer another way."
    )
    return thread_note(text)


def canned_gone_note(name: str) -> SlackMessage:
    text = (
        f":warning: The canned response `{escape_mrkdwn(name)}` no longer exists: nothing was sent."
    )
    return thread_note(text)
