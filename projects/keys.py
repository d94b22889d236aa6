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
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from config.redis import get_redis
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
    # The project's ingestion settings ride along, so an ingest request needs no other lookup; a
    # change republishes every key of the project (``publish_project_keys``).
    keep_ip: bool = False
    plan_version: int = 0
    plan_policy: str = "allow"

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
    return f"apikey:v3:{key_hash}"


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        key_id=key.id,
        project_id=key.project_id,
        environment_id=key.environment_id,
        environment_slug=key.environment.slug,
        kind=key.kind,
        expires_at=key.expires_at,
        keep_ip=key.project.keep_ip,
        plan_version=key.project.plan_version,
        plan_policy=key.environment.plan_policy,
    )


def _load(raw_key: str, key_hash: str) -> KeyInfo | str:
    key = (
        ApiKey.objects.select_related("environment", "project").filter(prefix=raw_key[:PREFIX_LENGTH]).first()
    )
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


def version_key(key_hash: str) -> str:
    """A counter in Redis, bumped after every change of the key (revoke, rotate, project settings)."""
    return f"beacon:apikey-version:{key_hash}"


# key hash -> (scope, version, when loaded): the ingestion hot path's per-process copy.
_local: dict[str, tuple[KeyInfo, int, float]] = {}


def authenticate_key_versioned(raw_key: str | None) -> tuple[KeyInfo, tuple[str, int]] | None:
    """``authenticate_key`` without a Redis round trip: (scope, (version key, version)), or None.

    The caller must hand the version to an operation that compares it with Redis's (the ingestion
    append script does, in the round trip of its XADD) and, when they differ, call ``forget_local``
    and start again. So a revoke, a rotation or a project setting change still reaches every process
    at its very next request, and an unchanged key costs no lookup at all.
    """
    if not raw_key or not KEY_PATTERN.match(raw_key):
        return None
    key_hash = hash_key(raw_key)
    now = time.monotonic()
    local = _local.get(key_hash)
    if local is None or now - local[2] >= CACHE_SECONDS:
        # TRICKY: the version is read before the scope, and publish_key_state writes the scope before
        # bumping the version: a stale scope can only be paired with a stale version (and retried).
        version = int(get_redis().get(version_key(key_hash)) or 0)
        info = authenticate_key(raw_key)
        if info is None:
            _local.pop(key_hash, None)
            return None
        local = _local[key_hash] = (info, version, now)
    else:
        if not local[0].usable():
            return None
        _touch(local[0].key_id)
    return local[0], (version_key(key_hash), local[1])


def forget_local(raw_key: str) -> None:
    _local.pop(hash_key(raw_key), None)


_touched_at: dict[int, float] = {}


def _touch(key_id: int) -> None:
    """Record last use at most once a minute per key, not on every request.

    Each process remembers when it last asked, so a busy key costs one Redis write per process per
    minute (not one per request); Redis then lets one process per minute write the database.
    """
    now = time.monotonic()
    if now - _touched_at.get(key_id, -LAST_USED_EVERY_SECONDS) < LAST_USED_EVERY_SECONDS:
        return
    _touched_at[key_id] = now
    if cache.add(f"apikey-used:{key_id}", 1, LAST_USED_EVERY_SECONDS):
        ApiKey.objects.filter(id=key_id).update(last_used_at=timezone.now())


def publish_project_keys(project_id: int) -> None:
    """After a project setting that keys carry changed, republish every live key of the project."""
    for key in ApiKey.objects.select_related("environment", "project").filter(
        project_id=project_id, revoked_at=None
    ):
        publish_key_state(key)


def publish_key_state(key: ApiKey) -> None:
    """After the transaction that changed ``key`` commits, overwrite its cache entry everywhere."""

    def publish() -> None:
        if key.revoked_at is not None:
            cache.set(_cache_key(key.key_hash), _REVOKED, TOMBSTONE_SECONDS)
        else:
            cache.set(_cache_key(key.key_hash), _info(key), CACHE_SECONDS)
        get_redis().incr(version_key(key.key_hash))  # after the scope: see authenticate_key_versioned

    transaction.on_commit(publish)
