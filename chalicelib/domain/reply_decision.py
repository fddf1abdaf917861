"""What becomes of an agent's thread message: decided here, carried out by the outbound worker.

The decision comes in three steps, each on what the worker fetched after the one before:
whether the message is a reply and its grace period is over (`when_due`); what the agent's
last edit made of it, once that is read (`as_revised`); and, its files kept, what goes to
the customer (`content`, then `to_send` with the agent's name). Fetching all of it at once
would read revisions during the grace period and keep the files of a note.
"""

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.canned import first_name
from chalicelib.domain.conversation import Conversation, reply_to, whatsapp_window_open
from chalicelib.domain.jobs import AgentReply
from chalicelib.domain.messages import OutboundMessage, ReplyRevision, slack_time
from chalicelib.domain.meta_windows import meta_outgoing
from chalicelib.domain.shop import ReplyMode, ReplyPolicy, Shop
from chalicelib.domain.vocabulary import META_CHANNELS, Channel


@dataclass(frozen=True)
class Internal:
    """A note for the agents: nothing goes out. `marked`: the message shows a lock."""

    marked: bool


@dataclass(frozen=True)
class Wait:
    """In its grace period still: asked again in `seconds`, the message showing it waits."""

    seconds: float


@dataclass(frozen=True)
class Due:
    """Its grace period is over. `revisable`: an agent could have edited or deleted it
    (Threadline's own posts they cannot); `waited`: it shows it waited, until now."""

    revisable: bool
    waited: bool


@dataclass(frozen=True)
class Cancelled:
    """Deleted in its grace period: nothing goes out, and the thread says so."""


@dataclass(frozen=True)
class Outgoing:
    """What the customer is to read of the message, as last edited, before its files."""

    text: str


@dataclass(frozen=True)
class KeptFiles:
    """The message's files once kept: the keys sent as media, the links for the text where
    the channel takes no more media, and the names of those that could not be fetched."""

    media_keys: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class Empty:
    """Nothing to send (no text, no file that could be fetched); `refused` names the files
    that could not be."""

    refused: tuple[str, ...]


@dataclass(frozen=True)
class Content:
    """What goes out, unsigned: the text with the links to its extra files, and its media."""

    body: str
    media_keys: tuple[str, ...]
    refused: tuple[str, ...]


@dataclass(frozen=True)
class Send:
    """The reply as it goes out; `template_name` names the shop's WhatsApp template sent in
    its place (the window being closed), for the thread to say so."""

    message: OutboundMessage
    template_name: str | None = None


@dataclass(frozen=True)
class WindowClosed:
    """WhatsApp's window is closed and the shop has no template (or Messenger's and
    Instagram's, see domain/meta_windows.py): nothing goes out."""

    channel: Channel = Channel.WHATSAPP


def when_due(reply: AgentReply, policy: ReplyPolicy, now: datetime) -> Internal | Wait | Due:
    """Whether the message is a reply to the customer, and if so whether it is to go now."""
    if policy.outgoing(reply.text, explicit=reply.explicit) is None:
        # Safe mode makes every unmarked message a note: only a marked one shows the lock.
        return Internal(marked=policy.mode is ReplyMode.REPLY)
    grace = 0 if reply.posted_for_agent else policy.grace_seconds
    waited = now.timestamp() - slack_time(reply.version_ts)
    if waited < grace:
        return Wait(grace - waited)
    return Due(revisable=not reply.posted_for_agent, waited=grace > 0)


def as_revised(
    reply: AgentReply, policy: ReplyPolicy, revision: ReplyRevision | None
) -> Cancelled | Internal | Outgoing:
    """The reply as the agent left it by the end of its grace period: deleted, turned into a
    note, or its text as last edited (an edit older than the text the job carries aside)."""
    if revision is not None and revision.deleted:
        return Cancelled()
    text = reply.text
    if revision is not None and revision.text is not None and revision.newer_than(reply.version_ts):
        text = revision.text
    outgoing = policy.outgoing(text, explicit=reply.explicit)
    if outgoing is None:
        return Internal(marked=True)
    return Outgoing(outgoing)


def content(outgoing: Outgoing, files: KeptFiles) -> Empty | Content:
    """The reply's text with the links to the files beyond the channel's media, unless it
    has nothing to send at all."""
    text = outgoing.text.strip()
    if not text and not files.media_keys and not files.links:
        return Empty(files.refused)
    body = "\n".join(part for part in (text, *files.links) if part)
    return Content(body, files.media_keys, files.refused)


def to_send(
    reply: AgentReply,
    conversation: Conversation,
    shop: Shop,
    content: Content,
    display_name: str | None,
    now: datetime,
) -> Send | WindowClosed:
    """The reply as the customer receives it: signed by the agent (`display_name`, their
    Slack name; without one, the shop answers), unsigned when Threadline speaks for the
    shop; on WhatsApp with its window closed, as a template."""
    agent = shop.name if reply.automatic else display_name or shop.name
    if reply.automatic:
        signed = content.body
    else:
        policy = shop.replies
        signed = policy.signed(content.body, agent=agent, shop=shop.name) if content.body else ""
    # An automatic reply speaks for the shop alone.
    speaker = "" if reply.automatic else agent
    message = reply_to(conversation, reply, signed, speaker, now, content.media_keys)
    if conversation.channel is Channel.WHATSAPP and not whatsapp_window_open(conversation, now):
        return _as_template(message, conversation, shop, reply)
    if conversation.channel in META_CHANNELS:
        outgoing = meta_outgoing(message, conversation, shop, now)
        if outgoing is None:
            return WindowClosed(conversation.channel)
        return Send(*outgoing)
    return Send(message)


def _as_template(
    message: OutboundMessage, conversation: Conversation, shop: Shop, reply: AgentReply
) -> Send | WindowClosed:
    """WhatsApp's window is closed: the shop's approved template goes instead, or nothing.
    A shop's message may bring its own template."""
    if reply.content_sid is not None:
        return Send(
            message.model_copy(
                update={
                    "content_sid": reply.content_sid,
                    "content_variables": reply.content_variables or {},
                    "media_keys": (),
                }
            )
        )
    template = shop.twilio.whatsapp_template if shop.twilio else None
    if template is None:
        return WindowClosed()
    values = {
        "first_name": first_name(conversation.customer_name),
        "shop": shop.name,
        "agent": message.agent_name or shop.name,
    }
    variables = {name: value.format(**values) for name, value in template.variables.items()}
    templated = message.model_copy(
        update={
            "content_sid": template.content_sid,
            "content_variables": variables,
            "media_keys": (),
        }
    )
    return Send(templated, template.name)
