"""How email threads: what a customer's mail says about its place in a conversation, and how
a reply keeps its place in the customer's mailbox (subject, In-Reply-To, References).
"""

import re

from pydantic import BaseModel, ConfigDict


class EmailHeaders(BaseModel):
    """What an email says about its place in a conversation."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    # The conversation id from a plus address (support+c<id>@shop.example), if it had one.
    reply_token: str | None = None
    # Sent by a program (auto-reply, list, no-reply mailbox): never opens a conversation.
    automated: bool = False
    # Where SES stored the raw message (bucket, key), for erasing it with the customer.
    raw_location: tuple[str, str] | None = None

    @property
    def answered_ids(self) -> tuple[str, ...]:
        """The messages this one answers, the nearest first."""
        nearest = (self.in_reply_to,) if self.in_reply_to else ()
        return nearest + tuple(reversed(self.references))


class EmailEnvelope(BaseModel):
    """How an emailed reply threads in the customer's mailbox."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    subject: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


EMAIL_CHAIN_LENGTH = 10

# "Re:", "Fwd:" and their cousins in the customers' languages, however often repeated.
_REPLY_PREFIXES = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|res|enc|tr|rv|odp|antw|válasz|továbbítás|balas|rép|"
    r"رد|الرد|جواب|उत्तर|जवाब)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def subject_topic(subject: str) -> str:
    """A subject without its reply and forward prefixes, for comparing conversations."""
    return " ".join(_REPLY_PREFIXES.sub("", subject).split()).casefold()


def reply_subject(subject: str | None) -> str:
    topic = _REPLY_PREFIXES.sub("", subject or "").strip()
    return f"Re: {topic}" if topic else "Re: your message"


def email_chain(kept: tuple[str, ...], email: EmailHeaders | None) -> tuple[str, ...]:
    """The Message-IDs a reply references once `email` has arrived (RFC 5322: the parent's
    References, then the parent), kept short as mail clients do; `kept` without a Message-ID
    to add."""
    if email is None or email.message_id is None:
        return kept
    chain = [*email.references, email.message_id]
    return tuple(dict.fromkeys(chain))[-EMAIL_CHAIN_LENGTH:]


def reply_envelope(subject: str | None, chain: tuple[str, ...]) -> EmailEnvelope:
    """How a reply threads under the conversation's `subject` and Message-ID `chain`."""
    # Without a mail of the customer's to answer (the shop writes first), no "Re:".
    shown = reply_subject(subject) if chain else subject
    return EmailEnvelope(
        subject=shown or "Re: your message",
        in_reply_to=chain[-1] if chain else None,
        references=chain,
    )
