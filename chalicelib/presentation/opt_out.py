"""The thread's note when a customer stops or starts order updates."""

from chalicelib.domain.opt_out import OptCommand
from chalicelib.presentation.slack_blocks import SlackMessage, context_block, thread_note


def opt_out_note(command: OptCommand, confirmed_by_provider: bool) -> SlackMessage:
    """What the agents read: the customer's choice, that it covers order updates only, and
    who told the customer."""
    if command is OptCommand.STOP:
        text = (
            ":no_bell: The customer asked to stop order updates: none will be sent until they "
            "write START. Your replies still reach them."
        )
    else:
        text = ":bell: The customer asked for order updates again."
    told = (
        " Twilio confirmed it to them (SMS opt-out)."
        if confirmed_by_provider
        else " They were sent a confirmation."
    )
    return thread_note(text + told, context_block)
