"""The durable buffer between the web process and the ingest writers: Redis streams.

One stream entry is one request's accepted events (already enriched), so a request costs one XADD.
Streams are sharded by project (``{prefix}:{project_id % shards}``): writers can be added without
reordering a project's events across shards, and a busy project cannot starve the others' shards.
Redis runs with the append-only file and ``appendfsync everysec`` (config/services.py), so an
acknowledged XADD survives a Redis restart.
"""

from datetime import UTC, datetime
from uuid import UUID

import orjson
from django.conf import settings

from analytics.ingest.incoming import PersonUpdate
from analytics.storage.base import EventRecord
from config.redis import get_redis

GROUP = "writers"
FIELD = b"e"

# XADD unless the stream is already longer than the backlog limit (writers down or far behind):
# then the request gets a 503 and the SDK retries later, instead of Redis filling its memory.
_APPEND_SCRIPT = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])
"""

_TIME_FIELDS = (EventRecord._fields.index("time"), EventRecord._fields.index("received_at"))
_PERSON_FIELD = EventRecord._fields.index("person_id")


class BacklogFull(Exception):
    pass


def stream_names() -> list[str]:
    return [f"{settings.INGEST_STREAM_PREFIX}:{shard}" for shard in range(settings.INGEST_STREAM_SHARDS)]


def stream_for(project_id: int) -> str:
    return f"{settings.INGEST_STREAM_PREFIX}:{project_id % settings.INGEST_STREAM_SHARDS}"


def dead_letter_stream() -> str:
    return f"{settings.INGEST_STREAM_PREFIX}:dead"


def _micros(value: datetime) -> int:
    return round(value.timestamp() * 1_000_000)


def encode(events: list[tuple[EventRecord, PersonUpdate | None]]) -> bytes:
    """[[record fields..., person update], ...] with times as unix microseconds (compact, exact)."""
    rows = []
    for record, update in events:
        row = list(record)
        for index in _TIME_FIELDS:
            row[index] = _micros(row[index])
        row[_PERSON_FIELD] = None
        row.append(update.as_list() if update else None)
        rows.append(row)
    return orjson.dumps(rows)


def decode(payload: bytes) -> list[tuple[EventRecord, PersonUpdate | None]]:
    events = []
    for row in orjson.loads(payload):
        update = PersonUpdate.from_list(row.pop())
        for index in _TIME_FIELDS:
            row[index] = datetime.fromtimestamp(row[index] / 1_000_000, UTC)
        if row[_PERSON_FIELD] is not None:
            row[_PERSON_FIELD] = UUID(row[_PERSON_FIELD])
        events.append((EventRecord(*row), update))
    return events


def append(project_id: int, events: list[tuple[EventRecord, PersonUpdate | None]]) -> bytes:
    """Append one request's events; returns the entry id. Raises BacklogFull or a redis error."""
    client = get_redis()
    script = _script(client)
    entry_id = script(keys=[stream_for(project_id)], args=[settings.INGEST_MAX_BACKLOG, encode(events)])
    if entry_id is None:
        raise BacklogFull
    return entry_id


_scripts: dict[int, object] = {}


def _script(client):
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_APPEND_SCRIPT)
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
