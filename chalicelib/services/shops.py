"""Shop administration: upsert and read a shop's configuration and secrets."""

from typing import Protocol

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.shop import (
    Shop,
    ShopDocument,
    ShopSecrets,
    is_shop_id,
    masked_document,
    missing_secrets,
)
from chalicelib.secrets import SecretVault
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)


def _checked_shop_id(shop_id: str) -> str:
    if not is_shop_id(shop_id):
        raise BadRequest("shop_id must be 1-63 lower-case letters, digits or dashes")
    return shop_id


def _field_errors(error: ValidationError) -> list[dict[str, object]]:
    # Inputs are left out: a rejected document may hold a token.
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "(body)", "error": e["msg"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


class InstallLinks(Protocol):
    def install_link(self, shop_id: str) -> str | None: ...


class ShopAdmin:
    def __init__(
        self, store: Store, vault: SecretVault, public_url: str, installs: InstallLinks
    ) -> None:
        self._store = store
        self._vault = vault
        self._public_url = public_url
        self._installs = installs

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
            raise BadRequest("invalid shop", _field_errors(error)) from error
        if document.shop_id not in (None, shop_id):
            raise BadRequest(
                "invalid shop", [{"field": "shop_id", "error": "does not match the URL's shop id"}]
            )
        shop, given = document.split(shop_id)
        previous = self._store.get_shop(shop_id, fresh=True)
        stored = self._vault.get(shop_id, fresh=True) if previous else None
        secrets = given.merged_over(stored) if stored else given
        missing = missing_secrets(shop, secrets)
        if missing:
            raise BadRequest(
                "invalid shop", [{"field": name, "error": "Field required"} for name in missing]
            )
        taken = self._store.addresses_taken(shop)
        if taken:
            raise Conflict(f"already used by another shop: {', '.join(taken)}")
        # Secrets first: a shop is never visible before the secrets its webhooks need. A
        # refused write (another shop claimed a number meanwhile) puts the old ones back.
        version = self._vault.put(shop_id, secrets)
        try:
            self._store.put_shop(shop, previous)
        except Exception:
            try:
                self._vault.undo(shop_id, version, stored)
            except Exception:
                # The refusal is what the caller must hear; the stray secret is in the log.
                logger.exception("secret write not taken back", shop_id=shop_id)
            raise
        return previous is None, self._shown(shop, secrets)

    def get(self, shop_id: str) -> dict[str, object]:
        _checked_shop_id(shop_id)
        shop = self._store.get_shop(shop_id, fresh=True)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        return self._shown(shop, self._vault.get(shop_id, fresh=True))
