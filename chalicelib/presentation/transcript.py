"""A conversation's transcript, for the admin API: as JSON, CSV, or a readable HTML page."""

import csv
import html
import io
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.conversation import Conversation

Author = Literal["customer", "agent", "automatic"]


class TranscriptEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    at: datetime
    author: Author
    name: str
    text: str
    attachments: int = 0
    # Agents' and automatic replies: how far they got (sent, delivered, read, failed, ...).
    delivery: str | None = None


def entry_from_item(item: dict[str, object], conversation: Conversation) -> TranscriptEntry:
    """A stored message (customer's or a reply) as a transcript line."""
    if "agent_user_id" in item:
        automatic = bool(item.get("automatic"))
        return TranscriptEntry(
            at=datetime.fromisoformat(str(item["created_at"])),
            author="automatic" if automatic else "agent",
            name=str(item.get("agent_name") or ("Threadline" if automatic else "agent")),
            text=str(item.get("text", "")),
            attachments=len(item.get("media_keys") or []),  # type: ignore[arg-type]
            delivery=str(item.get("status")),
        )
    return TranscriptEntry(
        at=datetime.fromisoformat(str(item["received_at"])),
        author="customer",
        name=conversation.customer_label.replace("\u2068", "").replace("\u2069", ""),
        text=str(item.get("text", "")),
        attachments=len(item.get("media") or []),  # type: ignore[arg-type]
    )


def as_csv(entries: list[TranscriptEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "author", "name", "text", "attachments", "delivery"])
    for entry in entries:
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.author,
                _cell(entry.name),
                _cell(entry.text),
                entry.attachments,
                entry.delivery or "",
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    """A spreadsheet does not run a cell that starts like a formula (OWASP's list: a leading
    tab or carriage return is skipped by some spreadsheets before the formula sign)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_html(conversation: Conversation, entries: list[TranscriptEntry], timezone: str) -> str:
    zone = ZoneInfo(timezone)
    rows = "".join(
        f'<article class="{entry.author}"><header><b>{html.escape(entry.name)}</b> · '
        f"{entry.at.astimezone(zone):%d %b %Y %H:%M %Z}"
        + (f" · {html.escape(entry.delivery)}" if entry.delivery else "")
        + (f" · {entry.attachments} attachment(s)" if entry.attachments else "")
        + f'</header><p dir="auto">{html.escape(entry.text).replace(chr(10), "<br>")}</p>'
        "</article>"
        for entry in entries
    )
    title = html.escape(f"{conversation.customer_label} · {conversation.channel.value}")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font-family:sans-serif;max-width:48rem;margin:auto}"
        "article{margin:1rem 0;padding:.5rem 1rem;border-radius:.5rem;background:#f4f4f4}"
        "article.agent,article.automatic{background:#e8f0fe}</style></head>"
        f"<body><h1>{title}</h1>{rows}</body></html>"
    )
