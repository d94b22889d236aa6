"""API keys: format, hashing, and the lookup the ingestion hot path uses.

A key looks like ``bcn_w_<32 base62 chars>`` (``w`` write, ``s`` secret): 190 random bits. The first
14 characters are its prefix, stored in clear so a key can be found and shown in lists; the rest is
only ever stored as part of a SHA-256 of the whole key.

Lookups are cached in Redis (Django's cache), which every web worker shares, so a request with a
known key costs one Redis GET and no database query. Invalidation is immediate for every worker:

1. a cache miss reads the database and fills the cache with ``cache.add`` (set only if absent);
2. revoking or rotating writes the new state over the entry with ``cache.set`` after the commit,
   and a revoked key's entry is a tombstone that outlives any positive entry;
3. so a reader that raced the revoke (read the row before the commit) cannot put a stale "valid"
   entry back: its ``add`` fails on the tombstone.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from projects.models import ApiKey, ApiKeyKind

_ALPHABET = string.ascii_letters + string.digits
_KIND_LETTER = {ApiKeyKind.WRITE: "w", ApiKeyKind.SECRET: "s"}
KEY_PATTERN = re.compile(r"^bcn_[ws]_[A-Za-z0-9]{32}$")
PREFIX_LENGTH = 14
CACHE_SECONDS = 300
TOMBSTONE_SECONDS = 3600
LAST_USED_EVERY_SECONDS = 60
_REVOKED = "revoked"
_UNKNOWN = "unknown"


@dataclass(frozen=True)
class KeyInfo:
    key_id: int
    project_id: int
    environment_id: int
    environment_slug: str
    kind: str
    expires_at: datetime | None

    def usable(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())

    def can_read(self) -> bool:
        return self.kind == ApiKeyKind.SECRET

    def write_refusal(self, environment_slug: str) -> str | None:
        """Why this key may not send events to that environment, or None if it may.

        Both kinds send events, but only to the key's own environment.
        """
        if environment_slug == self.environment_slug:
            return None
        return (
            f"This API key belongs to environment {self.environment_slug!r}, but the event names environment "
            f"{environment_slug!r}. Use a key of {environment_slug!r}, or send to {self.environment_slug!r}."
        )


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key(kind: str) -> tuple[str, str, str]:
    """A new key: (raw key shown once, prefix, hash)."""
    raw = f"bcn_{_KIND_LETTER[kind]}_" + "".join(secrets.choice(_ALPHABET) for _ in range(32))
    return raw, raw[:PREFIX_LENGTH], hash_key(raw)


def _cache_key(key_hash: str) -> str:
    return f"apikey:v1:{key_hash}"


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        key_id=key.id,
        project_id=key.project_id,
        environment_id=key.environment_id,
        environment_slug=key.environment.slug,
        kind=key.kind,
        expires_at=key.expires_at,
    )


def _load(raw_key: str, key_hash: str) -> KeyInfo | str:
    key = ApiKey.objects.select_related("environment").filter(prefix=raw_key[:PREFIX_LENGTH]).first()
    if key is None or not hmac.compare_digest(key.key_hash, key_hash):
        return _UNKNOWN
    if key.revoked_at is not None:
        return _REVOKED
    return _info(key)


def authenticate_key(raw_key: str | None) -> KeyInfo | None:
    """The key's scope if it is valid now; None if it is malformed, unknown, revoked or expired."""
    if not raw_key or not KEY_PATTERN.match(raw_key):
        return None
    key_hash = hash_key(raw_key)
    cached = cache.get(_cache_key(key_hash))
    if cached is None:
        cached = _load(raw_key, key_hash)
        cache.add(_cache_key(key_hash), cached, CACHE_SECONDS if isinstance(cached, KeyInfo) else 60)
    if not isinstance(cached, KeyInfo) or not cached.usable():
        return None
    _touch(cached.key_id)
    return cached


def _touch(key_id: int) -> None:
    """Record last use at most once a minute per key, not on every request."""
    if cache.add(f"apikey-used:{key_id}", 1, LAST_USED_EVERY_SECONDS):
        ApiKey.objects.filter(id=key_id).update(last_used_at=timezone.now())


def publish_key_state(key: ApiKey) -> None:
    """After the transaction that changed ``key`` commits, overwrite its cache entry everywhere."""

    def publish() -> None:
        if key.revoked_at is not None:
            cache.set(_cache_key(key.key_hash), _REVOKED, TOMBSTONE_SECONDS)
        else:
            cache.set(_cache_key(key.key_hash), _info(key), CACHE_SECONDS)

    transaction.on_commit(publish)
