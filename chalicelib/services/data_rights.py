"""A customer's rights over their data: everything about them in one export, or erased.

A customer is named by one address, and covers every address linked to it: a phone number
both SMS and WhatsApp (the same person on two channels), and whatever the shop linked into
the customer's profile.
"""

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import CustomerProfile, addresses_of
from chalicelib.domain.errors import NotFound
from chalicelib.media import MediaStore
from chalicelib.services.customers import address_in
from chalicelib.services.ports import Clock
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# What a stored message carries for the table's sake, not the customer's.
_KEYS = {"PK", "SK", "GSI1PK", "GSI1SK", "status_rank", "shown_rank"}


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (the table's numbers are Decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


class CustomerData:
    def __init__(self, store: Store, media: MediaStore, clock: Clock) -> None:
        self._store = store
        self._media = media
        self._clock = clock

    def _customer(
        self, shop_id: str, customer: str
    ) -> tuple[CustomerProfile | None, list[Conversation]]:
        if self._store.get_shop(shop_id) is None:
            raise NotFound(f"no shop {shop_id}")
        address = address_in(customer)
        profile = self._store.customer_profile(shop_id, address)
        return profile, self._store.conversations_of(shop_id, addresses_of(address, profile))

    def export(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Every conversation with the customer, each with every message as stored."""
        profile, conversations = self._customer(shop_id, customer)
        if not conversations:
            raise NotFound("no conversations with this customer")
        return {
            "customer": unquote(customer),
            "linked_identities": list(profile.identities) if profile else [],
            "exported_at": self._clock().isoformat(),
            "conversations": [
                {
                    "conversation": conversation.model_dump(mode="json"),
                    "messages": [
                        {k: _plain(v) for k, v in item.items() if k not in _KEYS}
                        for item in self._store.timeline(shop_id, conversation.conversation_id)
                    ],
                }
                for conversation in conversations
            ],
        }

    def erase(self, shop_id: str, customer: str) -> dict[str, Any]:
        """Deletes the customer's conversations, messages, files and raw mail, and every
        record pointing at them; returns (and keeps) a receipt without personal data."""
        profile, conversations = self._customer(shop_id, customer)
        messages = files = 0
        for conversation in conversations:
            items = list(self._store.timeline(shop_id, conversation.conversation_id))
            files += self._erase_files(shop_id, items)
            messages += self._store.erase_conversation(conversation, items)
        if profile is not None:
            self._store.save_profile(None, [profile])
        erased_at: datetime = self._clock()
        receipt = {
            "erased_at": erased_at.isoformat(),
            # Proves which customer was erased to whoever knows the address, to nobody else.
            "customer_sha256": hashlib.sha256(
                f"{shop_id}:{unquote(customer)}".encode()
            ).hexdigest(),
            "conversations": len(conversations),
            "messages": messages,
            "files": files,
        }
        self._store.record_erasure(shop_id, receipt)
        logger.info("customer erased", shop_id=shop_id, conversations=len(conversations))
        return receipt

    def _erase_files(self, shop_id: str, items: list[dict[str, Any]]) -> int:
        own: list[str] = []
        raw: list[tuple[str, str]] = []
        for item in items:
            if "agent_user_id" in item:
                own += [str(key) for key in item.get("media_keys") or []]
            else:
                own.append(f"{shop_id}/inbound/{item['provider']}:{item['provider_message_id']}/")
                email = item.get("email")
                location = email.get("raw_location") if isinstance(email, dict) else None
                if location:
                    raw.append((str(location[0]), str(location[1])))
        erased = self._media.erase(self._media.bucket, own)
        for bucket, key in raw:
            erased += self._media.erase(bucket, [key])
        return erased
