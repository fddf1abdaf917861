"""Order updates sent first (`order_updates.send_updates`): a platform's event (shipped, out
for delivery, delivered, refunded, cancelled) told to the customer it is about.

The customer is the one Threadline knows by an address the order names (its email, its
phone in E.164, and the addresses a profile links to them), never by name; a payload that
names no customer (a refund, a shipment event) has its order's customer asked of the
platform by the order's id (`OrderContacts`), and so has one whose addresses lead to no
conversation (a fulfilment names the order's email, not the phone the customer writes
from): with no conversation at any of them the update is acknowledged, ignored and
counted. A customer who
asked to stop (domain/opt_out.py) is told nothing, counted. Otherwise the update goes on the
channel they last wrote on, in the language of that conversation, unless the channel cannot
carry a message the shop writes first (WhatsApp's 24-hour window shut and no template:
`shop_messages.can_send_first`); then on another conversation's channel that can, else by
email. It travels as a shop's message (the inbound worker opens a pending conversation if
none is open, the outbound worker posts it in the thread marked automatic and sends it).

Each update is sent once: claimed per shop under the platform's id of the event, so a
redelivered webhook finds the claim, and a fulfilment and its later event are two updates.
"""

import hashlib
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import channel_of
from chalicelib.domain.messages import ShopMessage
from chalicelib.domain.order_updates import OrderContact, OrderUpdate, update_text
from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    InboundQueue,
    Metric,
    MetricsPort,
    OptOutRecords,
    OrderContacts,
    ProfileRecords,
    ShopVault,
    WebhookRecords,
)
from chalicelib.services.replies import customer_language
from chalicelib.services.shop_messages import can_send_first

logger = Logger(service="threadline", child=True)


def update_message_id(shop_id: str, event_id: str) -> str:
    """Threadline's own id of the update's message: the same event, the same id (the queue
    and the thread's post record deduplicate on it), and no platform's id in a key."""
    return "update-" + hashlib.sha256(f"{shop_id}\n{event_id}".encode()).hexdigest()


class OrderUpdates:
    def __init__(
        self,
        conversations: ConversationRecords,
        profiles: ProfileRecords,
        opt_outs: OptOutRecords,
        claims: WebhookRecords,
        inbound: InboundQueue,
        metrics: MetricsPort,
        clock: Clock,
        vault: ShopVault,
        contacts: OrderContacts,
    ) -> None:
        self._vault = vault
        self._contacts = contacts
        self._conversations = conversations
        self._profiles = profiles
        self._opt_outs = opt_outs
        self._claims = claims
        self._inbound = inbound
        self._metrics = metrics
        self._clock = clock

    def tell(self, shop: Shop, update: OrderUpdate) -> None:
        """Queues the update to its customer once, if the shop sends this kind and the
        customer is known, reachable and has not asked to stop."""
        config = shop.order_updates
        if config is None or not config.send_updates or update.event not in config.events:
            return
        if shop.slack is None:
            return
        asked = update.incomplete
        if asked:
            contact = self._contact(shop, update)
            if contact is None:
                self._metrics.count(Metric.ORDER_UPDATE_UNKNOWN_CUSTOMER)
                return
            update = update.completed(contact)
        addresses = self._addresses(shop, update.addresses)
        known = self._conversations_at(shop, addresses)
        if not known and update.order_id and not asked:
            # A fulfilment names the order's email only: the customer may write from a phone
            # Threadline never saw beside that email, which the platform knows.
            contact = self._contact(shop, update)
            if contact is not None:
                update = update.completed(contact)
                addresses = self._addresses(shop, (*update.addresses, *contact.addresses))
                known = self._conversations_at(shop, addresses)
        if not known:
            # Someone who never wrote to the shop: not Threadline's to tell.
            self._metrics.count(Metric.ORDER_UPDATE_UNKNOWN_CUSTOMER)
            return
        now = self._clock()
        claim_id = f"update:{update.event_id}"
        if self._opt_outs.opted_out_at(shop.shop_id, addresses) is not None:
            logger.info("order update held: the customer opted out", shop_id=shop.shop_id)
            self._metrics.count(Metric.ORDER_UPDATE_OPTED_OUT)
            # Claimed all the same: a later delivery of the event (a WooCommerce order's
            # next change) after they write START is old news, not an update.
            self._claims.claim_webhook(shop.shop_id, claim_id, now, update.remembered_for)
            return
        target = _target(shop, known, addresses, now)
        if target is None:
            self._metrics.count(Metric.ORDER_UPDATE_UNREACHABLE)
            return
        channel, customer, sender = target
        # The customer's language, as the conversation they last wrote in shows it.
        language = customer_language(known[0], shop)
        if not self._claims.claim_webhook(shop.shop_id, claim_id, now, update.remembered_for):
            return
        try:
            self._inbound.send_inbound(
                ShopMessage(
                    shop_id=shop.shop_id,
                    message_id=update_message_id(shop.shop_id, update.event_id),
                    channel=channel,
                    customer_address=customer,
                    shop_address=sender,
                    text=update_text(update, language),
                    subject=shop.name if channel is Channel.EMAIL else None,
                    requested_at=now,
                    shop_incarnation=shop.incarnation,
                    reply_key=f"order_update:{update.event.value}",
                    language=language,
                    decided_from=known[0].conversation_id,
                )
            )
        except Exception:
            self._claims.release_webhook(shop.shop_id, claim_id)
            raise
        self._metrics.count(Metric.ORDER_UPDATE_QUEUED, channel)

    def _contact(self, shop: Shop, update: OrderUpdate) -> OrderContact | None:
        """The update's order as the platform tells it (its name, its customer's addresses);
        None when the order is gone or the platform refuses (a down platform raises:
        retried)."""
        try:
            return self._contacts.order_contact(
                shop, self._vault.get(shop.shop_id), update.order_id
            )
        except CommerceRefused as refused:
            logger.warning(
                "order update's customer not asked", shop_id=shop.shop_id, reason=refused.reason
            )
            return None

    def _addresses(self, shop: Shop, named: tuple[str, ...]) -> tuple[str, ...]:
        """The order's addresses and every address a profile links to one of them."""
        found = list(named)
        for address in named:
            profile = self._profiles.customer_profile(shop.shop_id, address)
            if profile is not None:
                found += profile.addresses
        return tuple(dict.fromkeys(found))

    def _conversations_at(self, shop: Shop, addresses: tuple[str, ...]) -> list[Conversation]:
        """The customer's latest conversation at each address, the latest written first."""
        found: dict[str, Conversation] = {}
        for address in addresses:
            conversation = self._conversations.find_open_conversation(shop.shop_id, address)
            if conversation is not None:
                found[conversation.conversation_id] = conversation
        return sorted(found.values(), key=_last_written, reverse=True)


def _last_written(conversation: Conversation) -> datetime:
    """When the customer last wrote there: never, in a conversation the shop opened that they
    have not answered (its clock starts at the shop's message)."""
    if conversation.started_by_shop and conversation.message_count == 0:
        return datetime.min.replace(tzinfo=UTC)
    return conversation.last_customer_message_at


def _target(
    shop: Shop, known: list[Conversation], addresses: tuple[str, ...], now: datetime
) -> tuple[Channel, str, str] | None:
    """Channel, customer's address and shop's address the update goes by: the latest
    conversation's channel that can carry it, else an email address of the customer's."""
    for conversation in known:
        if can_send_first(shop, conversation.channel, conversation, now):
            return conversation.channel, conversation.customer_address, conversation.shop_address
    emails = [a for a in addresses if channel_of(a) is Channel.EMAIL]
    if emails and shop.email is not None:
        return Channel.EMAIL, emails[0], shop.email.address
    return None
