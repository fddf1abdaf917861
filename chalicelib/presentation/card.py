"""A conversation's root card in Slack, kept up to date: who, which channel, what they first
wrote, its state and targets, how to answer, and the buttons that act on it.
"""

from typing import Any

from chalicelib.domain.conversation import (
    WHATSAPP_WINDOW,
    Conversation,
    ConversationStatus,
    ResponseClock,
    conversation_ref,
)
from chalicelib.domain.jobs import CardAction
from chalicelib.domain.shop import ReplyMode, ReplyPolicy, Shop
from chalicelib.domain.vocabulary import Channel, Priority, SlaStage
from chalicelib.presentation.drafts import draft_button
from chalicelib.presentation.meta_posts import messaging_window_label
from chalicelib.presentation.orders import orders_blocks, refresh_orders_button
from chalicelib.presentation.slack_blocks import (
    CHANNEL_LABELS,
    PRIORITY_LABELS,
    SNOOZE_LABELS,
    STATUS_LABELS,
    TARGET_LABELS,
    SlackMessage,
    channel_name,
    context_block,
    customer_shown,
    escape_mrkdwn,
    fitted_message,
    local_time,
    section_block,
    shorten,
    snooze_label,
)
from chalicelib.presentation.triage import mood_line

# An email subject as the card shows it.
SUBJECT_SHOWN = 300


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
    channel = CHANNEL_LABELS[conversation.channel]
    customer = customer_shown(conversation)
    to_address = conversation.shop_address.removeprefix("whatsapp:")
    heading = f"*{customer}*\n{channel} to {to_address}"
    if conversation.subject:
        heading += f"\n*Subject:* {escape_mrkdwn(shorten(conversation.subject, SUBJECT_SHOWN))}"
    buttons = _card_buttons(conversation)
    if shop.sells_online:
        buttons["elements"].append(refresh_orders_button(conversation))
    if shop.triage is not None and shop.triage.drafts_offered:
        buttons["elements"].append(draft_button(conversation))
    blocks = [
        section_block(heading),
        *(context_block(line) for line in _card_lines(conversation, shop.timezone)),
        _card_facts(conversation, shop),
        *orders_blocks(conversation, shop),
        buttons,
    ]
    # The buttons are always kept: without them the card could not be acted on.
    return fitted_message(
        f"New {channel.split(' ', 1)[1]} conversation with {customer}", blocks, kept=1
    )


def _card_lines(conversation: Conversation, timezone: str) -> list[str]:
    """The card's lines under its heading: the earlier conversation, the running targets,
    and what was first written."""
    lines = []
    if conversation.previous_thread_url:
        lines.append(
            f":leftwards_arrow_with_hook: The customer wrote before{_elsewhere(conversation)}: "
            f"<{conversation.previous_thread_url}|earlier conversation>"
        )
    for clock in (conversation.resolution_clock, conversation.response_clock):
        if clock is not None:
            lines.append(_target_line(clock, conversation, timezone))
    mood = mood_line(conversation)
    if mood:
        lines.append(mood)
    preview = escape_mrkdwn(conversation.first_message_preview)
    if preview:
        quoted = f"\u201c{preview}\u201d"
        if conversation.started_by_shop:
            quoted = f":outbox_tray: The shop wrote first: {quoted}"
        lines.append(quoted)
    return lines


def _card_facts(conversation: Conversation, shop: Shop) -> dict[str, Any]:
    """The card's facts in one context block: state, priority, who has it, how to answer."""
    timezone = shop.timezone
    status = STATUS_LABELS[conversation.status]
    if conversation.status is ConversationStatus.SNOOZED:
        status += " until " + snooze_label(conversation.snoozed_until, timezone)
    facts = [f"*Status:* {status}", f"*Priority:* {PRIORITY_LABELS[conversation.priority]}"]
    if conversation.channel in (Channel.WHATSAPP, Channel.WHATSAPP_CLOUD):
        facts.append(f"*Reply window:* {_reply_window(conversation, timezone)}")
    if conversation.channel in (Channel.MESSENGER, Channel.INSTAGRAM):
        facts.append(f"*Reply window:* {messaging_window_label(conversation, shop)}")
    assignee = conversation.assignee_user_id
    count = conversation.message_count
    facts += [
        f"*Assignee:* <@{assignee}>" if assignee else "*Unassigned*",
        f"*Messages:* {count} message" + ("" if count == 1 else "s"),
        f"*Started:* {local_time(conversation.created_at, timezone)}",
        reply_mode_hint(shop.replies),
    ]
    satisfaction = _satisfaction(conversation)
    if satisfaction:
        facts.append(f"*Satisfaction:* {satisfaction}")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fact} for fact in facts]}


def _reply_window(conversation: Conversation, timezone: str) -> str:
    """WhatsApp takes free-form replies only within 24 h of the customer's last message."""
    if not conversation.message_count:
        return "closed until the customer writes"
    end = conversation.last_customer_message_at + WHATSAPP_WINDOW
    return f"until {local_time(end, timezone)}"


def _elsewhere(conversation: Conversation) -> str:
    """ ", on WhatsApp" when the earlier conversation was on another channel."""
    previous = conversation.previous_channel
    if previous is None or previous is conversation.channel:
        return ""
    return f", on {channel_name(previous)}"


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


def _target_line(clock: ResponseClock, conversation: Conversation, timezone: str) -> str:
    """A target on the card: when it is due; at the warning how long is left; red once late."""
    due = local_time(clock.due_at, timezone)
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
    elements.append(_button(CardAction.SUMMARISE, "Summarise", ref))
    return {"type": "actions", "block_id": "conversation_actions", "elements": elements}
