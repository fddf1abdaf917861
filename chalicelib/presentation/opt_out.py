"""The thread's note when a customer stops or starts order updates."""

from chalicelib.domain.opt_out import OptCommand
from chalicelib.presentation.slack_blocks import SlackMessage, context_block, thread_note


def opt_out_note(
    command: OptCommand, confirmed_by_provider: bool, updates_sent: bool = True
) -> SlackMessage:
    """What the agents read: the customer's choice, that it covers order updates only, and
    who told the customer (no one, in a shop that sends no updates)."""
    if command is OptCommand.STOP:
        text = (
            ":no_bell: The customer asked to stop order updates: none will be sent until they "
            "write START. Your replies still reach them."
        )
    else:
        text = ":bell: The customer asked for order updates again."
    if confirmed_by_provider:
        told = " Twilio confirmed it to them (SMS opt-out)."
    elif updates_sent:
        told = " They were sent a confirmation."
    else:
        told = " The shop sends no order updates now: they were told nothing."
    return thread_note(text + told, context_block)
