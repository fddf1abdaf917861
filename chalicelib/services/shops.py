"""Shop administration: upsert and read a shop's configuration and secrets."""

import base64
import binascii
import json
from datetime import timedelta
from typing import Protocol

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.errors import BadRequest, Conflict, NotFound, invalid
from chalicelib.domain.outside_input import json_document, number_parameter
from chalicelib.domain.shop import (
    Shop,
    ShopDocument,
    ShopSecrets,
    is_shop_id,
    masked_document,
    missing_secrets,
)
from chalicelib.domain.vocabulary import Channel
from chalicelib.media import MediaStore
from chalicelib.presentation.transcript import TranscriptEntry, entry_from_item
from chalicelib.services.data_rights import erase_orphans
from chalicelib.services.ports import (
    Clock,
    ConversationLists,
    ConversationRecords,
    DigestRecords,
    IdFactory,
    InboundRecords,
    OptOutRecords,
    ProfileRecords,
    ShopLookup,
    ShopRecords,
    ShopVault,
)
from chalicelib.store.listings import conversations_page_start

logger = Logger(service="threadline", child=True)


def _checked_shop_id(shop_id: str) -> str:
    if not is_shop_id(shop_id):
        raise BadRequest("shop_id must be 1-63 lower-case letters, digits or dashes")
    return shop_id


def _cursor(key: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def _cursor_key(cursor: str, shop_id: str) -> dict[str, object]:
    """A page cursor back as the key it was made from; one made for another shop, or made
    up, is refused."""
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode())
        key = conversations_page_start(shop_id, json_document(decoded, "cursor"))
    except (ValueError, binascii.Error, BadRequest) as error:
        raise BadRequest("invalid cursor") from error
    if key is None:
        raise BadRequest("invalid cursor")
    return key


def shop_taking(shops: ShopLookup, shop_id: str, incarnation: str | None) -> Shop | None:
    """The shop a queued or stored message was meant for; None once that shop is deleted
    (even if another was created with its id since: no cached config of the deleted one is
    left by then, see `recreate_after`)."""
    shop = shops.get_shop(shop_id)
    return shop if shop is not None and shop.takes(incarnation) else None


def recreate_after(shop_cache_seconds: int) -> timedelta:
    """How long a deleted shop's id waits before a shop may be created with it: past every
    container's cached config of the deleted shop, so whatever such a container still
    accepted carries the deleted shop's incarnation, never the new one's."""
    return max(timedelta(minutes=10), timedelta(seconds=2 * shop_cache_seconds))


class InstallLinks(Protocol):
    def install_link(self, shop_id: str) -> str | None: ...


class ShopAdmin:
    def __init__(
        self,
        shops: ShopRecords,
        conversations: ConversationRecords,
        listings: ConversationLists,
        inbound: InboundRecords,
        profiles: ProfileRecords,
        digests: DigestRecords,
        vault: ShopVault,
        public_url: str,
        installs: InstallLinks,
        media: MediaStore,
        new_id: IdFactory,
        clock: Clock,
        shop_cache_seconds: int,
        opt_outs: OptOutRecords | None = None,
    ) -> None:
        self._opt_outs = opt_outs
        self._shops = shops
        self._conversations = conversations
        self._listings = listings
        self._inbound = inbound
        self._profiles = profiles
        self._digests = digests
        self._vault = vault
        self._public_url = public_url
        self._installs = installs
        self._media = media
        self._new_id = new_id
        self._clock = clock
        self._recreate_after = recreate_after(shop_cache_seconds)

    def _shown(self, shop: Shop, secrets: ShopSecrets) -> dict[str, object]:
        document = masked_document(shop, secrets, self._public_url)
        link = self._installs.install_link(shop.shop_id)
        if link:
            webhooks = document["webhooks"]
            assert isinstance(webhooks, dict)
            webhooks["slack_install"] = link
        return document

    def put(self, shop_id: str, body: bytes) -> tuple[bool, dict[str, object]]:
        """Creates or replaces a shop. Secrets left out or sent back masked keep their stored
        value. Returns whether the shop is new, and the shop as `get` shows it."""
        _checked_shop_id(shop_id)
        try:
            # pydantic's own JSON parser: malformed or absurdly nested JSON is a field error too.
            document = ShopDocument.model_validate_json(body)
        except ValidationError as error:
            raise invalid("shop", error) from error
        if document.shop_id not in (None, shop_id):
            raise BadRequest(
                "invalid shop", [{"field": "shop_id", "error": "does not match the URL's shop id"}]
            )
        shop, given = document.split(shop_id)
        previous = self._shops.get_shop(shop_id, fresh=True)
        if previous is None:
            self._refuse_if_just_deleted(shop_id)
        incarnation = previous.incarnation if previous else None
        shop = shop.model_copy(update={"incarnation": incarnation or self._new_id()})
        stored = self._vault.get(shop_id, fresh=True) if previous else None
        secrets = given.merged_over(stored) if stored else given
        missing = missing_secrets(shop, secrets)
        if missing:
            raise BadRequest(
                "invalid shop", [{"field": name, "error": "Field required"} for name in missing]
            )
        taken = self._shops.addresses_taken(shop)
        if taken:
            raise Conflict(f"already used by another shop: {', '.join(taken)}")
        # Secrets first: a shop is never visible before the secrets its webhooks need. A
        # refused write (another shop claimed a number meanwhile) puts the old ones back.
        if previous is None:
            self._vault.revive(shop_id)
        version = self._vault.put(shop_id, secrets)
        try:
            self._shops.put_shop(shop, previous)
        except Exception:
            try:
                self._vault.undo(shop_id, version, stored)
            except Exception:
                # The refusal is what the caller must hear; the stray secret is in the log.
                logger.exception("secret write not taken back", shop_id=shop_id)
            raise
        return previous is None, self._shown(shop, secrets)

    def delete(self, shop_id: str) -> dict[str, object]:
        """Removes a shop that has no conversations left (its customers erased first): its
        customers' messages that no conversation held (waiting, unprocessed, discarded) with
        their files, its customers' profiles and order-update opt-outs, its digests' records,
        its configuration, its addresses (free for another shop) and its secrets. What is
        still queued for it is dropped: its stored copy is gone, and a shop created again
        with the same id is another incarnation."""
        shop = self._existing(shop_id)
        if self._listings.recent_conversations(shop_id, 1):
            raise Conflict(
                "the shop still has conversations: erase its customers first "
                "(threadline shop delete --erase-customers)"
            )
        messages, files = erase_orphans(
            self._inbound, self._media, self._inbound.stored_messages(shop_id)
        )
        profiles = self._profiles.erase_profiles(shop_id)
        if self._opt_outs is not None:
            self._opt_outs.erase_opt_outs(shop_id)
        self._digests.erase_digests(shop_id)
        self._vault.delete(shop_id)
        self._shops.delete_shop(shop, self._clock(), self._recreate_after)
        logger.info(
            "shop deleted", shop_id=shop_id, messages=messages, files=files, profiles=profiles
        )
        return {"deleted": shop_id, "messages": messages, "files": files, "profiles": profiles}

    def _refuse_if_just_deleted(self, shop_id: str) -> None:
        until = self._shops.shop_deleted_until(shop_id, self._clock())
        if until is not None:
            raise Conflict(
                f"a shop {shop_id} was deleted a moment ago; its id can be used again "
                f"from {until.isoformat(timespec='seconds')}"
            )

    def conversations(self, shop_id: str, query: dict[str, str]) -> dict[str, object]:
        """A page of the shop's conversations (see the OpenAPI document for the filters)."""
        self._existing(shop_id)
        unknown = set(query) - {"status", "channel", "assignee", "sla", "limit", "cursor"}
        if unknown:
            raise BadRequest(f"unknown parameter {sorted(unknown)[0]}")
        checks = {
            "status": {s.value for s in ConversationStatus},
            "channel": {c.value for c in Channel},
            "sla": {"running", "overdue"},
        }
        for name, allowed in checks.items():
            if name in query and query[name] not in allowed:
                raise BadRequest(f"{name} must be one of {', '.join(sorted(allowed))}")
        limit = number_parameter(query, "limit", default=50, low=1, high=100)
        after = _cursor_key(query["cursor"], shop_id) if "cursor" in query else None
        filters = {k: v for k, v in query.items() if k in ("status", "channel", "assignee", "sla")}
        found, last = self._listings.conversations_page(shop_id, filters, limit, after)
        return {
            "conversations": [c.model_dump(mode="json") for c in found],
            "next_cursor": _cursor(last) if last else None,
        }

    def transcript(
        self, shop_id: str, conversation_id: str
    ) -> tuple[Shop, Conversation, list[TranscriptEntry]]:
        shop = self._existing(shop_id)
        conversation = self._conversations.get_conversation(shop_id, conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        entries = [
            entry_from_item(item, conversation)
            for item in self._listings.timeline(shop_id, conversation_id)
        ]
        return shop, conversation, sorted(entries, key=lambda e: e.at)

    def _existing(self, shop_id: str) -> Shop:
        _checked_shop_id(shop_id)
        shop = self._shops.get_shop(shop_id, fresh=True)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        return shop

    def every_shop(self) -> dict[str, object]:
        return {
            "shops": [
                self._shown(shop, self._vault.get(shop.shop_id)) for shop in self._shops.shops()
            ]
        }

    def get(self, shop_id: str) -> dict[str, object]:
        _checked_shop_id(shop_id)
        shop = self._shops.get_shop(shop_id, fresh=True)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        return self._shown(shop, self._vault.get(shop_id, fresh=True))
