"""Customers across channels, for the admin API: look one up, link addresses into one
customer, unlink them; and the earlier conversation a new one continues."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import (
    CustomerProfile,
    addresses_of,
    channel_of,
    identity,
    linked,
    normalized,
    unlinked,
)
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.outside_input import json_document
from chalicelib.domain.shop import Shop
from chalicelib.services.ports import (
    Clock,
    ConversationLists,
    ConversationRecords,
    IdFactory,
    ProfileRecords,
    ShopLookup,
)

# A name search reads this many of the shop's latest conversations.
NAME_SEARCH_DEPTH = 500
MAX_CUSTOMERS_FOUND = 20


class LinkRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=True)

    address: str


def address_in(value: str) -> str:
    """A customer named in a path: a URL-encoded phone number or email address."""
    address = normalized(unquote(value))
    if address is None:
        raise BadRequest("a customer is a phone number (+14155550100) or an email address")
    return address


def latest_elsewhere(
    profiles: ProfileRecords, conversations: ConversationRecords, shop_id: str, address: str
) -> Conversation | None:
    """The customer's latest conversation from another of their addresses (on another
    channel, or linked by the shop), to continue from."""
    profile = profiles.customer_profile(shop_id, address)
    return latest_of_profile(conversations, shop_id, address, profile)


def latest_of_profile(
    conversations: ConversationRecords,
    shop_id: str,
    address: str,
    profile: CustomerProfile | None,
    *,
    read: Iterable[str] = (),
    found: Iterable[Conversation] = (),
) -> Conversation | None:
    """`latest_elsewhere` with the address's profile (None: unlinked) read by the caller.
    `read`: addresses whose open conversations the caller has read already (`found`), not
    read again."""
    done = set(read)
    others = [a for a in addresses_of(address, profile)[1:] if a not in done]
    candidates = [*found, *conversations.find_open_conversations(shop_id, others)]
    elsewhere = [c for c in candidates if c.customer_address != address]
    return max(elsewhere, key=lambda c: c.last_customer_message_at, default=None)


class Customers:
    def __init__(
        self,
        shops: ShopLookup,
        profiles: ProfileRecords,
        listings: ConversationLists,
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self._shops = shops
        self._profiles = profiles
        self._listings = listings
        self._clock = clock
        self._new_id = new_id

    def _shop(self, shop_id: str) -> Shop:
        shop = self._shops.get_shop(shop_id)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        return shop

    def find(self, shop_id: str, query: dict[str, str]) -> dict[str, object]:
        """Customers by any of their addresses (exact), or by a part of their name."""
        self._shop(shop_id)
        wanted = (query.get("q") or "").strip()
        if len(wanted) < 2:
            raise BadRequest("q must be an address, or at least two letters of a name")
        address = normalized(wanted)
        if address is not None:
            view = self.view(shop_id, address)
            # Known by what they wrote, or by the shop's links.
            known = view["conversations"] or view["customer_id"]
            return {"customers": [view] if known else []}
        needle = wanted.casefold()
        views: list[dict[str, object]] = []
        seen: set[str] = set()
        for conversation in self._listings.recent_conversations(shop_id, NAME_SEARCH_DEPTH):
            name = (conversation.customer_name or "").casefold()
            if needle not in name or conversation.customer_address in seen:
                continue
            view = self.view(shop_id, conversation.customer_address)
            seen.update(str(entry["address"]) for entry in _entries(view))
            views.append(view)
            if len(views) == MAX_CUSTOMERS_FOUND:
                break
        return {"customers": views}

    def view(self, shop_id: str, address: str) -> dict[str, object]:
        """A customer as the admin sees them: their addresses and every conversation."""
        profile = self._profiles.customer_profile(shop_id, address)
        addresses = addresses_of(address, profile)
        conversations = self._listings.conversations_of(shop_id, addresses)
        names = [c.customer_name for c in conversations if c.customer_name]
        return {
            "customer_id": profile.customer_id if profile else None,
            "name": names[0] if names else None,
            "addresses": [
                {"address": a, "channel": channel_of(a).value} for a in sorted(addresses)
            ],
            "conversations": [_summary(c) for c in conversations],
        }

    def link(self, shop_id: str, customer: str, body: bytes) -> dict[str, object]:
        """Links another address to the customer's (merging their profiles, if any)."""
        shop = self._shop(shop_id)
        address = address_in(customer)
        document = json_document(body or b"{}")
        try:
            other = address_in(LinkRequest.model_validate(document).address)
        except ValidationError as error:
            raise BadRequest('the body must be {"address": "<phone number or email>"}') from error
        if identity(other) == identity(address):
            raise Conflict("these addresses are already the same customer")
        found = (self._profiles.customer_profile(shop_id, a) for a in (address, other))
        profiles = list({p.customer_id: p for p in found if p is not None}.values())
        customer_id = profiles[0].customer_id if profiles else self._new_id()
        now = self._clock()
        merged = linked(customer_id, shop_id, [address, other], profiles, now)
        self._profiles.save_profile(merged, profiles, expires_at=shop.expiry(now))
        return self.view(shop_id, address)

    def unlink(self, shop_id: str, customer: str, address: str) -> dict[str, object]:
        """Takes one address out of the customer's profile."""
        shop = self._shop(shop_id)
        own, leaving = address_in(customer), address_in(address)
        profile = self._profiles.customer_profile(shop_id, own)
        if profile is None or identity(leaving) not in profile.identities:
            raise NotFound("this address is not linked to the customer")
        remaining = unlinked(profile, leaving)
        self._profiles.save_profile(
            remaining,
            [profile],
            released=(identity(leaving),),
            expires_at=shop.expiry(self._clock()),
        )
        kept = own if identity(own) != identity(leaving) else profile.identities[0]
        return self.view(shop_id, kept)


def _entries(view: dict[str, object]) -> list[dict[str, Any]]:
    addresses = view["addresses"]
    return list(addresses) if isinstance(addresses, list) else []


def _summary(conversation: Conversation) -> dict[str, object]:
    return conversation.model_dump(
        mode="json",
        include={
            "conversation_id",
            "channel",
            "customer_address",
            "status",
            "created_at",
            "last_customer_message_at",
            "message_count",
            "first_message_preview",
            "assignee_user_id",
            "csat",
            "slack_team_id",
            "slack_channel_id",
            "slack_thread_ts",
        },
    )
