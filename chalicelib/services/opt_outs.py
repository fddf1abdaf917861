"""A customer's STOP (or START) for order updates, heard by the inbound worker once their
message is in the thread: the choice recorded for the person (every address of theirs
answers to it), a note in the thread, and a confirmation in their language saying how to
undo it, sent as an automatic reply. On SMS Twilio's Advanced Opt-Out confirms by itself,
so Threadline records the choice and sends nothing more (domain/opt_out.py)."""

from dataclasses import dataclass

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import addresses_of, identity
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.opt_out import (
    OptCommand,
    confirmation,
    confirmed_by_provider,
    opt_request,
)
from chalicelib.domain.shop import Shop
from chalicelib.presentation.opt_out import opt_out_note
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.ports import OptOutRecords, ProfileRecords
from chalicelib.services.replies import customer_language


@dataclass(frozen=True)
class OptOutHeard:
    note: SlackMessage
    # The automatic reply to send (its key, text and language); None when the provider
    # confirms by itself.
    confirmation: tuple[str, str, str] | None


class OptOutKeeper:
    def __init__(self, opt_outs: OptOutRecords, profiles: ProfileRecords | None = None) -> None:
        self._opt_outs = opt_outs
        self._profiles = profiles

    def heard(
        self, message: InboundMessage, conversation: Conversation, shop: Shop
    ) -> OptOutHeard | None:
        """Records the customer's STOP or START when the message is one; None otherwise."""
        # Only the customer's own words: not what the shop echoed from another inbox, nor
        # an auto-reply mail.
        request = None if message.automated else opt_request(message.text)
        if request is None:
            return None
        if request.command is OptCommand.STOP:
            self._opt_outs.record_opt_out(
                shop.shop_id, message.customer_address, message.received_at
            )
        else:
            # A STOP from any address of the person is lifted: it held for all of them.
            for address in self._person(shop.shop_id, message.customer_address):
                self._opt_outs.record_opt_in(shop.shop_id, address)
        by_provider = confirmed_by_provider(message.channel, request)
        # A shop that sends no updates does not answer about them (the choice is kept should
        # it start).
        config = shop.order_updates
        updates_sent = config is not None and config.send_updates
        note = opt_out_note(request.command, by_provider, updates_sent)
        if by_provider or not updates_sent:
            return OptOutHeard(note, None)
        language = request.language or customer_language(conversation, shop)
        key = f"order_updates_{request.command.value}"
        return OptOutHeard(note, (key, confirmation(request.command, language), language))

    def stopped(self, shop_id: str, addresses: tuple[str, ...]) -> bool:
        """Whether the person at any of the addresses (or linked to one) asked to stop."""
        person = tuple(a for address in addresses for a in self._person(shop_id, address))
        return self._opt_outs.opted_out_at(shop_id, person) is not None

    def _person(self, shop_id: str, address: str) -> tuple[str, ...]:
        """The person's addresses, once each (a number stands for its WhatsApp twins)."""
        profile = self._profiles.customer_profile(shop_id, address) if self._profiles else None
        return tuple(dict.fromkeys(identity(a) for a in addresses_of(address, profile)))
