"""The durable buffer between the web process and the ingest writers: Redis streams.

One stream entry is one request's accepted events (already enriched), so a request costs one XADD.
Streams are sharded by project (``{prefix}:{project_id % shards}``): writers can be added without
reordering a project's events across shards, and a busy project cannot starve the others' shards.
Redis runs with the append-only file and ``appendfsync everysec`` (config/services.py), so an
acknowledged XADD survives a Redis restart.
"""

from datetime import UTC, datetime

import orjson
from django.conf import settings

from analytics.ingest.incoming import PersonUpdate
from analytics.storage.base import EventRecord
from config.redis import get_redis

GROUP = "writers"
FIELD = b"e"

# The live inspector's copy of a request (analytics/verification/live.py): while a watcher keeps the
# watch key alive, its events are counted and the request's entry goes to the environment's feed too:
# at most per_second entries a second (beyond, the inspector shows a sample anyway: counted, not
# copied), an entry over max_bytes as its event count only (field `n`), the feed capped in entries
# and expiring ttl after its last entry.
FEED_LUA = """
local function feed(watch, stream, counter, rate, payload, events, max_entries, max_bytes, ttl, per_second)
  if redis.call('EXISTS', watch) == 0 then return end
  redis.call('INCRBY', counter, events)
  redis.call('EXPIRE', counter, ttl)
  local fed = redis.call('INCR', rate)
  if fed == 1 then redis.call('EXPIRE', rate, 2) end
  if fed > tonumber(per_second) then return end
  if string.len(payload) > tonumber(max_bytes) then
    redis.call('XADD', stream, 'MAXLEN', '~', max_entries, '*', 'n', events)
  else
    redis.call('XADD', stream, 'MAXLEN', '~', max_entries, '*', 'e', payload)
  end
  redis.call('EXPIRE', stream, ttl)
end
"""
# One round trip per request: the per-key rate limit (a one-second window, counted in events), the
# backlog guard (writers down or far behind: answer 503 and let the SDK retry, rather than fill Redis's
# memory), then the XADD, and the live inspector's copy if someone watches (``FEED_LUA``). First
# of all, the API key's version: the web process authenticated the key from its own memory, and a key
# changed since (revoked, rotated) must not get in.
# Returns the entry id, or -1 (rate limited), -2 (backlog full) or -3 (the key changed).
_APPEND_SCRIPT = (
    FEED_LUA
    + """
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[5] then return -3 end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local total = redis.call('INCRBY', KEYS[2], ARGV[4])
  if total == tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[2], 2) end
  if total > limit then return -1 end
end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return -2 end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])
feed(KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[2], ARGV[4], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return id
"""
)
_RATE_SCRIPT = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], 2) end
return total
"""

_TIME_FIELDS = (EventRecord._fields.index("time"), EventRecord._fields.index("received_at"))
_PERSON_FIELD = EventRecord._fields.index("person_id")


class BacklogFull(Exception):
    pass


class RateLimited(Exception):
    pass


class KeyChanged(Exception):
    pass


def rate_counter(key_id: int, second: int) -> str:
    return f"ratelimit:ingest:{key_id}:{second}"


def stream_names() -> list[str]:
    return [f"{settings.INGEST_STREAM_PREFIX}:{shard}" for shard in range(settings.INGEST_STREAM_SHARDS)]


def feed_keys(project_id: int, environment_id: int, second: int | None = None) -> list[str]:
    """The live feed's watch key, stream and event counter (beside the ingest streams), and with a
    second, that second's count of entries fed."""
    prefix = f"{settings.INGEST_STREAM_PREFIX}:live"
    suffix = f"{project_id}:{environment_id}"
    keys = [f"{prefix}:watch:{suffix}", f"{prefix}:feed:{suffix}", f"{prefix}:count:{suffix}"]
    return keys if second is None else [*keys, f"{prefix}:rate:{suffix}:{second}"]


def feed_args() -> list:
    """The feed's settings: max entries, max bytes, ttl, entries per second."""
    return [
        settings.LIVE_MAX_ENTRIES,
        settings.LIVE_MAX_ENTRY_BYTES,
        settings.LIVE_TTL_SECONDS,
        settings.LIVE_MAX_ENTRIES_PER_SECOND,
    ]


def stream_for(project_id: int) -> str:
    return f"{settings.INGEST_STREAM_PREFIX}:{project_id % settings.INGEST_STREAM_SHARDS}"


def dead_letter_stream() -> str:
    return f"{settings.INGEST_STREAM_PREFIX}:dead"


def _micros(value: datetime) -> int:
    return round(value.timestamp() * 1_000_000)


def to_row(record: EventRecord, update: PersonUpdate | None = None) -> list:
    """[record fields..., person update]: JSON-ready, times as unix microseconds (compact, exact).

    No person: the writer resolves persons.
    """
    row = list(record)
    for index in _TIME_FIELDS:
        row[index] = _micros(row[index])
    row[_PERSON_FIELD] = None
    row.append(update.as_list() if update else None)
    return row


def encode(events: list[tuple[EventRecord, PersonUpdate | None]]) -> bytes:
    return orjson.dumps([to_row(record, update) for record, update in events])


def decode(payload: bytes) -> list[tuple[EventRecord, PersonUpdate | None]]:
    return [from_row(row) for row in orjson.loads(payload)]


def from_row(row: list) -> tuple[EventRecord, PersonUpdate | None]:
    """The inverse of ``to_row``."""
    row = list(row)
    update = PersonUpdate.from_list(row.pop())
    for index in _TIME_FIELDS:
        row[index] = datetime.fromtimestamp(row[index] / 1_000_000, UTC)
    return EventRecord(*row), update


def append(
    project_id: int,
    environment_id: int,
    events: list,
    *,
    rate_counter_key: str,
    rate_limit: int,
    key_version: tuple[str, int],
    second: int,
) -> bytes:
    """Append one request's events; returns the entry id.

    Raises KeyChanged, RateLimited, BacklogFull, or a redis error.
    """
    client = get_redis()
    version_key, version = key_version
    result = lua_script(client, _APPEND_SCRIPT)(
        keys=[
            stream_for(project_id),
            rate_counter_key,
            version_key,
            *feed_keys(project_id, environment_id, second),
        ],
        args=[
            settings.INGEST_MAX_BACKLOG,
            encode(events),
            rate_limit,
            len(events),
            str(version),
            *feed_args(),
        ],
    )
    if result == -3:
        raise KeyChanged
    if result == -1:
        raise RateLimited
    if result == -2:
        raise BacklogFull
    return result


def count_events(rate_counter_key: str, events: int) -> int:
    """Count events in the key's one-second window (for writes that skip the stream); returns the total."""
    return lua_script(get_redis(), _RATE_SCRIPT)(keys=[rate_counter_key], args=[events])


_scripts: dict[tuple[int, str], object] = {}


def lua_script(client, source: str):
    script = _scripts.get((id(client), source))
    if script is None:
        script = _scripts[(id(client), source)] = client.register_script(source)
    return script


def ensure_groups(client) -> None:
    """Create the consumer group on every shard (from the start: entries added before it count)."""
    import redis

    for stream in stream_names():
        try:
            client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
