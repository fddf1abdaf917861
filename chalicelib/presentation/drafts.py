"""What the agent who asked for a draft sees, alone (an ephemeral message in the thread):
the draft, said to be a model's and to be checked, edited and sent as their own reply; or
why there is none. The model's words (which may repeat the customer's) are escaped and
bounded; the card's *Draft a reply* button."""

from typing import Any

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.drafts import ModelDraft, NoDraft
from chalicelib.domain.jobs import CardAction
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    escaped_chunks,
    fitted_message,
    section_block,
)

DRAFT_BUTTON = "Draft a reply"
BY_MODEL = (
    ":robot_face: *Draft reply, written by a model* (only you see it; the customer has not). "
    "Check it against the thread and the orders, edit it, and send it as your reply here."
)


def draft_button(conversation: Conversation) -> dict[str, Any]:
    """The card's button asking for a draft (shops on Bedrock with drafts on)."""
    return {
        "type": "button",
        "action_id": CardAction.DRAFT_REPLY.value,
        "text": {"type": "plain_text", "text": f":pencil2: {DRAFT_BUTTON}", "emoji": True},
        "value": conversation_ref(conversation),
    }


def draft_message(draft: ModelDraft, language: str) -> SlackMessage:
    """The draft, for the agent who asked, marked as a model's."""
    text = draft.shown()
    blocks = [
        context_block(f"{BY_MODEL} _({escape_mrkdwn(language)})_"),
        *(section_block(chunk) for chunk in escaped_chunks(text)),
    ]
    return fitted_message(f"Draft reply (written by a model): {escape_mrkdwn(text)}", blocks)


def no_draft_message(no_draft: NoDraft) -> SlackMessage:
    """Why there is no draft, for the agent who asked."""
    text = f":warning: No draft available ({escape_mrkdwn(no_draft.reason)})."
    return fitted_message(text, [context_block(text)])
