"""Customers: one person behind several addresses of one shop.

An address is what a channel knows a customer by: a phone number (SMS), `whatsapp:` and the
number (WhatsApp through Twilio), `wa:` and the number (WhatsApp Cloud API), `messenger:` or
`instagram:` and the id Meta gives the person for the shop's Page or account, an email
address. Two kinds of link make one customer of several:

- verified by the provider: a phone number is the same person on SMS and WhatsApp (Twilio
  delivers both from the number's owner), so the two are always linked;
- made by the shop: an admin links addresses it knows to be one customer's (an email and a
  phone number, say); the links live in the customer's profile.
"""

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.errors import Conflict
from chalicelib.domain.vocabulary import Channel

_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A Telegram user as the shop's bot knows them: `telegram:` and the user's (private chat's) id.
TELEGRAM_PREFIX = "telegram:"
_TELEGRAM = re.compile(r"^telegram:[1-9][0-9]{0,19}$")
# WhatsApp through Twilio; WhatsApp through Meta's Cloud API.
_PHONE_PREFIXES = ("whatsapp:", "wa:")
# Messenger's and Instagram's ids for a person, scoped to the shop's Page or account.
_META_SCOPED = re.compile(r"^(messenger|instagram):[0-9]{1,40}$")
_PREFIXED_CHANNELS = {
    "whatsapp:": Channel.WHATSAPP,
    "wa:": Channel.WHATSAPP_CLOUD,
    "messenger:": Channel.MESSENGER,
    "instagram:": Channel.INSTAGRAM,
}


def normalized(address: str) -> str | None:
    """An address as conversations store it, or None when it is none of the channels'."""
    value = address.strip()
    if value.startswith(TELEGRAM_PREFIX):
        return value if _TELEGRAM.match(value) else None
    if "@" in value:
        return value.lower() if _EMAIL.match(value) and len(value) <= 254 else None
    if _META_SCOPED.match(value):
        return value
    prefix = next((p for p in _PHONE_PREFIXES if value.startswith(p)), "")
    number = value.removeprefix(prefix).replace(" ", "")
    if not _PHONE.match(number):
        return None
    return f"{prefix}{number}"


def channel_of(address: str) -> Channel:
    if address.startswith(TELEGRAM_PREFIX):
        return Channel.TELEGRAM
    if "@" in address:
        return Channel.EMAIL
    for prefix, channel in _PREFIXED_CHANNELS.items():
        if address.startswith(prefix):
            return channel
    return Channel.SMS


def verified_twins(address: str) -> tuple[str, ...]:
    """The addresses a provider vouches are the same person as `address`, itself first: a
    phone number on SMS, on WhatsApp through Twilio and on the WhatsApp Cloud API."""
    if channel_of(address) in (
        Channel.EMAIL,
        Channel.TELEGRAM,
        Channel.MESSENGER,
        Channel.INSTAGRAM,
    ):
        return (address,)
    number = identity(address)
    return tuple(dict.fromkeys((address, number, *(f"{p}{number}" for p in _PHONE_PREFIXES))))


def identity(address: str) -> str:
    """The person-address behind an address: a phone number stands for its WhatsApp twins."""
    for prefix in _PHONE_PREFIXES:
        if address.startswith(prefix):
            return address.removeprefix(prefix)
    return address


class CustomerProfile(BaseModel):
    """The identities (phone numbers, email addresses) a shop has linked into one customer."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    shop_id: str
    customer_id: str
    identities: tuple[str, ...] = Field(min_length=2)
    linked_at: datetime

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address the customer writes from, on every channel."""
        return _with_twins(self.identities)


def _with_twins(addresses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(twin for a in addresses for twin in verified_twins(a)))


# A profile's identities and their pointers are written in one DynamoDB transaction (at
# most 100 items, with the profile and the profiles it replaces), and the customer's
# conversations are read by their addresses: both stay well within limits at 50.
MOST_IDENTITIES = 50


def linked(
    customer_id: str,
    shop_id: str,
    addresses: list[str],
    profiles: list[CustomerProfile],
    at: datetime,
) -> CustomerProfile:
    """One profile for `addresses` and every profile any of them already belonged to; a
    customer has at most `MOST_IDENTITIES` (their links are written in one transaction)."""
    every = {identity(a) for a in addresses}
    every.update(i for profile in profiles for i in profile.identities)
    if len(every) > MOST_IDENTITIES:
        raise Conflict(
            f"a customer has at most {MOST_IDENTITIES} linked numbers and addresses; "
            f"these links would make {len(every)}: unlink some first"
        )
    return CustomerProfile(
        shop_id=shop_id, customer_id=customer_id, identities=tuple(sorted(every)), linked_at=at
    )


def unlinked(profile: CustomerProfile, address: str) -> CustomerProfile | None:
    """The profile without `address` (and its twin); None once fewer than two remain."""
    remaining = tuple(i for i in profile.identities if i != identity(address))
    if len(remaining) < 2:
        return None
    return profile.model_copy(update={"identities": remaining})


def addresses_of(address: str, profile: CustomerProfile | None) -> tuple[str, ...]:
    """Every address of the customer `address` belongs to, `address` first."""
    return _with_twins([address, *(profile.identities if profile else ())])
