"""Messages a shop sends first (order shipped, a delay notice), through the admin API.

The request is checked here and queued in the customer's inbound group; the inbound worker
opens (or finds) the conversation and its thread, and the outbound worker posts the message
there and sends it, so the customer's answer lands in the same thread. WhatsApp outside its
24-hour window takes an approved template only: the request's, or the shop's.

A caller's `id` makes a retry harmless: the request is filed under it (per shop) and sent
once; the same id with anything else asked answers 409. Past the API, the message goes by
an id of Threadline's own, so no key, deduplication id or post record is ever the caller's
(two shops choosing `order-1042-shipped` meet nowhere).
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.conversation import (
    Conversation,
    ConversationStatus,
    whatsapp_window_open,
)
from chalicelib.domain.customers import channel_of, identity, normalized
from chalicelib.domain.errors import BadRequest, Conflict, NotFound, invalid
from chalicelib.domain.messages import ShopMessage
from chalicelib.domain.shop import REPLY_TEMPLATE, Shop
from chalicelib.domain.single_line import SingleLine
from chalicelib.domain.vocabulary import META_CHANNELS, Channel
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    IdFactory,
    InboundQueue,
    ShopLookup,
    ShopMessageRecords,
)
from chalicelib.store.claims import ShopMessageClaim


class TemplateChoice(BaseModel):
    """An approved WhatsApp template (Twilio Content API) and its variables."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    variables: dict[Annotated[str, Field(pattern=r"^[0-9]{1,2}$")], str] = Field(
        default_factory=dict, max_length=20
    )


class ShopMessageRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True, populate_by_name=True)

    channel: Channel
    to: str = Field(min_length=3, max_length=254)
    text: str = Field(min_length=1, max_length=4000)
    # The caller's idempotency key: a request sent again with it is sent once.
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    name: str | None = Field(default=None, max_length=120)
    subject: SingleLine | None = Field(default=None, max_length=200)
    sender: str | None = Field(default=None, alias="from")
    template: TemplateChoice | None = None


def _request(body: bytes) -> ShopMessageRequest:
    try:
        return ShopMessageRequest.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise invalid("message", error) from error


def _shop_addresses(shop: Shop, channel: Channel) -> list[str]:
    """The numbers (addresses) the shop can write to a customer from, on a channel."""
    match channel:
        case Channel.SMS:
            return list(shop.twilio.sms_numbers) if shop.twilio else []
        case Channel.WHATSAPP:
            numbers = shop.twilio.whatsapp_numbers if shop.twilio else []
            return [f"whatsapp:{number}" for number in numbers]
        case Channel.EMAIL:
            return [shop.email.address] if shop.email else []
        case Channel.TELEGRAM:
            return [shop.telegram.address] if shop.telegram else []
        case Channel.WHATSAPP_CLOUD | Channel.MESSENGER | Channel.INSTAGRAM:
            # Meta's channels: the shop's own id there (see MetaConfig).
            meta_id = shop.meta.ids().get(channel) if shop.meta else None
            return [meta_id] if meta_id else []


def _sender(shop: Shop, request: ShopMessageRequest) -> str:
    """The shop's number (address) the message goes from: the one asked for, else its first
    on the channel."""
    senders = _shop_addresses(shop, request.channel)
    if not senders:
        raise Conflict(f"the shop has no {request.channel.value} number or address")
    if request.sender is None:
        return senders[0]
    sender = normalized(request.sender) or ""
    if request.channel is Channel.WHATSAPP:
        sender = "whatsapp:" + sender.removeprefix("whatsapp:")
    if sender not in senders:
        raise BadRequest("from must be one of the shop's numbers (addresses) there")
    return sender


# How long a caller's id is remembered: sent again within it, the message is sent once;
# given to another message, that one is refused.
CALLER_ID_MEMORY = timedelta(days=7)


def _remembered_until(now: datetime) -> int:
    return int((now + CALLER_ID_MEMORY).timestamp())


def _fingerprint(
    request: ShopMessageRequest, customer: str, sender: str, subject: str | None
) -> str:
    """What a request asks for, as a digest: the same id asking for anything else (another
    customer, channel, sender, text or template) is another message."""
    asked = {
        "channel": request.channel.value,
        "to": customer,
        "from": sender,
        "text": request.text,
        "name": request.name,
        "subject": subject,
        "template": request.template.model_dump() if request.template else None,
    }
    canonical = json.dumps(asked, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def can_send_first(
    shop: Shop, channel: Channel, existing: Conversation | None, now: datetime
) -> bool:
    """Whether a message the shop writes first can go out on a channel, with no template of
    the caller's: WhatsApp and Meta's channels take one only within 24 hours of the
    customer's last message (of the customer's conversation there, `existing`), unless the
    shop set the template that may go past it (a shop's message is never a person's reply,
    so never tagged HUMAN_AGENT)."""
    if channel is Channel.WHATSAPP and shop.twilio and shop.twilio.whatsapp_template:
        return True
    whatsapp = shop.meta.whatsapp if shop.meta else None
    if channel is Channel.WHATSAPP_CLOUD and whatsapp and REPLY_TEMPLATE in whatsapp.templates:
        return True
    if channel is not Channel.WHATSAPP and channel not in META_CHANNELS:
        return True
    return (
        existing is not None
        and existing.status is not ConversationStatus.RESOLVED
        and whatsapp_window_open(existing, now)
    )


def _accepted(message_id: str, channel: Channel, customer: str) -> dict[str, object]:
    return {"message_id": message_id, "channel": channel.value, "to": customer}


class ShopMessages:
    def __init__(
        self,
        shops: ShopLookup,
        claims: ShopMessageRecords,
        conversations: ConversationRecords,
        queue: InboundQueue,
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self._shops = shops
        self._claims = claims
        self._conversations = conversations
        self._queue = queue
        self._clock = clock
        self._new_id = new_id

    def send(self, shop_id: str, body: bytes) -> dict[str, object]:
        shop = self._shops.get_shop(shop_id)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        request = _request(body)
        customer = self._customer(request)
        sender = _sender(shop, request)
        if shop.slack is None:
            raise Conflict("the shop has not connected Slack: answers would have nowhere to go")
        now = self._clock()
        template = request.template
        existing = self._conversations.find_open_conversation(shop.shop_id, customer)
        if request.channel is Channel.WHATSAPP and template is None:
            self._check_window(shop, existing, now)
        if request.channel in META_CHANNELS:
            self._check_meta_window(shop, existing, now, request.channel)
        subject = (request.subject or shop.name) if request.channel is Channel.EMAIL else None
        claim: ShopMessageClaim | None = None
        request_id = self._new_id()
        if request.id is not None:
            asked = ShopMessageClaim(
                shop_id=shop.shop_id,
                caller_id=request.id,
                request_id=request_id,
                fingerprint=_fingerprint(request, customer, sender, subject),
                incarnation=shop.incarnation,
            )
            claim = self._claims.claim_shop_message(
                asked, now=now, expires_at=_remembered_until(now)
            )
            if claim.fingerprint != asked.fingerprint:
                raise Conflict(
                    f"the id {request.id} was given to another message (another recipient, "
                    "channel or text): give each message an id of its own"
                )
            if claim.queued:
                return _accepted(request.id, request.channel, customer)
            request_id = claim.request_id
        job = ShopMessage(
            shop_id=shop.shop_id,
            message_id=request_id,
            channel=request.channel,
            customer_address=customer,
            shop_address=sender,
            text=request.text,
            customer_name=request.name,
            subject=subject,
            content_sid=template.content_sid if template else None,
            content_variables=dict(template.variables) if template else None,
            requested_at=now,
            shop_incarnation=shop.incarnation,
            decided_from=existing.conversation_id if existing else None,
        )
        self._queue.send_inbound(job)
        if claim is not None:
            self._claims.shop_message_queued(claim)
        return _accepted(request.id or request_id, request.channel, customer)

    @staticmethod
    def _customer(request: ShopMessageRequest) -> str:
        address = normalized(request.to)
        if address is None:
            raise BadRequest(
                "to must be a phone number (+14155550100), an email address or a Telegram "
                "user (telegram:123456789)"
            )
        if request.channel is Channel.WHATSAPP:
            address = "whatsapp:" + address.removeprefix("whatsapp:")
        elif request.channel is Channel.WHATSAPP_CLOUD:
            address = "wa:" + identity(address)
        elif request.channel is Channel.SMS:
            address = address.removeprefix("whatsapp:")
        if channel_of(address) is not request.channel:
            raise BadRequest(f"to is no {request.channel.value} address")
        return address

    def _check_window(self, shop: Shop, existing: Conversation | None, now: datetime) -> None:
        """Refuses a free-form WhatsApp message that could not go out."""
        if can_send_first(shop, Channel.WHATSAPP, existing, now):
            return
        raise Conflict(
            "WhatsApp takes only an approved template more than 24 hours after the "
            "customer's last message: give template.content_sid, or set the shop's "
            "twilio.whatsapp_template"
        )

    def _check_meta_window(
        self, shop: Shop, existing: Conversation | None, now: datetime, channel: Channel
    ) -> None:
        """Refuses a message on Meta's channels that could not go out: past the 24-hour
        window only WhatsApp's `reply` template may (a shop's message is never a person's
        reply, so never tagged HUMAN_AGENT)."""
        if can_send_first(shop, channel, existing, now):
            return
        fix = (
            "set the shop's meta.whatsapp.templates.reply"
            if channel is Channel.WHATSAPP_CLOUD
            else "wait until the customer writes"
        )
        raise Conflict(
            f"{channel.value} takes a message only within 24 hours of the customer's last: {fix}"
        )
