"""Ids that callers, senders and providers choose, made safe to be keys.

A Message-ID, a caller's idempotency key or a provider's message id ends up in DynamoDB keys,
SQS group and deduplication ids and Slack post records. Whoever builds such a key prefixes it
with the shop (and, where it matters, the conversation), so two tenants never share one; what
this module adds is the fit: an id too long for where it goes, or holding characters that
place refuses, is replaced by a digest of the whole, never cut, so two ids sharing a prefix
never become one key.
"""

import hashlib

# Hex SHA-256, and the mark that sets it apart from the readable part kept before it.
_DIGEST_LENGTH = 64
_MARK = "~"


def fitted(value: str, limit: int, allowed: frozenset[str] | None = None) -> str:
    """`value` itself when it fits in `limit` UTF-8 bytes, uses only `allowed` characters
    (any, when None) and holds no `~`; otherwise a readable ASCII start of it, `~` and the
    SHA-256 of all of it, within `limit`. A kept value has no `~` and a replaced one has, so
    no chosen id can pose as another's digest, and two replaced ones meet only if their
    digests collide."""
    encoded = value.encode("utf-8", "surrogatepass")
    fits = len(encoded) <= limit and _MARK not in value
    if fits and (allowed is None or allowed.issuperset(value)):
        return value
    digest = hashlib.sha256(encoded).hexdigest()
    room = max(limit - _DIGEST_LENGTH - len(_MARK), 0)
    readable = "".join(
        c
        for c in value
        if c.isascii() and c.isprintable() and c != _MARK and (allowed is None or c in allowed)
    )
    return f"{readable[:room]}{_MARK}{digest}"[-limit:]
