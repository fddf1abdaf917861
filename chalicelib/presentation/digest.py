"""The daily digest of a shop's figures, for its Slack channel."""

from datetime import date
from typing import Any

from chalicelib.domain.reports import CsatFigures, Durations, Report, SlaFigures
from chalicelib.presentation.slack_blocks import (
    CHANNEL_LABELS,
    SlackMessage,
    escape_mrkdwn,
    fitted_message,
    shorten,
    split_lines,
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
        {"type": "header", "text": {"type": "plain_text", "text": shorten(title, 150)}},
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
        for part in split_lines("*By agent* (medians)\n" + "\n".join(lines)):
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
    return fitted_message(text, blocks, kept=1, noun=("line", "lines"))
