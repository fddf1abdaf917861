"""Links that customers open to fetch an agent's file, valid for as long as promised.

A presigned S3 URL lives only as long as the credentials that signed it, and a function's
are a session's, which ends within hours. So a customer gets a link to Threadline itself,
`/media/<token>`, whose token names the object and its shop and says until when it is
valid, signed with the deployment's key (HMAC-SHA256). Opening it checks the signature in
constant time and answers with a fresh presigned URL that needs to live only for the
redirect.

A token is `<payload>.<signature>`, both base64url without padding; the payload is
`<expires, epoch seconds>\\n<shop id>\\n<object key>` in UTF-8. Only the canonical encoding
of each part is read, so no two tokens carry the same grant (a changed character that
decoding would drop or round away is a different, refused token).
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.shop import is_shop_id

LINK_LIFETIME = timedelta(days=7)
# An object key is at most 1,024 bytes; with the rest, a token stays well under this.
TOKEN_CHARACTERS = 2048
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH_SECONDS = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class MediaGrant:
    """What a token lets its holder fetch, and until when."""

    shop_id: str
    key: str
    expires_at: int

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


def grant_for(shop_id: str, key: str, now: datetime) -> MediaGrant:
    return MediaGrant(shop_id, key, int((now + LINK_LIFETIME).timestamp()))


def _encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decoded(text: str) -> bytes | None:
    """The bytes `text` is the canonical encoding of; None for anything else."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if _encoded(data) == text else None


def _signature(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def token_for(grant: MediaGrant, key: bytes) -> str:
    payload = f"{grant.expires_at}\n{grant.shop_id}\n{grant.key}".encode()
    return f"{_encoded(payload)}.{_encoded(_signature(payload, key))}"


def read_token(token: str, key: bytes | None) -> MediaGrant:
    """The grant a token carries, if `key` signed it; Forbidden otherwise (expiry is the
    caller's to check: an expired link is genuine, just no longer valid)."""
    refused = Forbidden("this link is not valid")
    if key is None or len(token) > TOKEN_CHARACTERS:
        raise refused
    encoded_payload, _, encoded_signature = token.partition(".")
    payload, signature = _decoded(encoded_payload), _decoded(encoded_signature)
    if payload is None or signature is None:
        raise refused
    if not hmac.compare_digest(signature, _signature(payload, key)):
        raise refused
    # Signed by us, so well formed; read defensively all the same.
    try:
        expires, shop_id, object_key = payload.decode("utf-8").split("\n", 2)
    except (UnicodeDecodeError, ValueError):
        raise refused from None
    if not (_EPOCH_SECONDS.fullmatch(expires) and is_shop_id(shop_id)):
        raise refused
    if not object_key.startswith(f"{shop_id}/"):
        raise refused
    return MediaGrant(shop_id, object_key, int(expires))
