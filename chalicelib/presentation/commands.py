"""The slash command's answers: help, lists of conversations, the shops' canned responses."""

from typing import Any

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.shop import Shop
from chalicelib.presentation.block_kit import fit_blocks, fit_text
from chalicelib.presentation.slack_blocks import (
    CHANNEL_LABELS,
    STATUS_LABELS,
    customer_shown,
    escape_mrkdwn,
    local_time,
    section_block,
    split_lines,
)

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
    blocks = [section_block(part) for part in split_lines(text)]
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
        label = customer_shown(conversation)
        if thread:
            label = f"<{thread_link(team_domain, *thread)}|{label}>"
        status = STATUS_LABELS[conversation.status]
        started = local_time(conversation.created_at, timezone)
        channel = CHANNEL_LABELS[conversation.channel].split(" ", 1)[0]
        lines.append(f"{channel} {label} · {status} · since {started}")
    return ephemeral(f"*{escape_mrkdwn(title)}*\n" + "\n".join(lines))


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
