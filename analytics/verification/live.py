"""The live inspector's feed: a short Redis stream per environment, fed only while someone watches.

1. A watcher (the inspector page, polling) keeps the environment's watch key alive for
   ``LIVE_WATCH_SECONDS``.
2. The ingest append script (``analytics/ingest/buffer.py``) runs ``buffer.FEED_LUA`` in the round trip
   that makes a request durable: while the watch key exists it counts the request's events and copies
   its stream entry to the environment's feed, at most ``LIVE_MAX_ENTRIES_PER_SECOND`` entries a
   second (more than a poll shows: beyond, counted only), capped at ``LIVE_MAX_ENTRIES`` requests. An
   entry over ``LIVE_MAX_ENTRY_BYTES`` is fed as its event count only. The feed expires
   ``LIVE_TTL_SECONDS`` after its last entry. Nobody watching costs one EXISTS per request.
3. A poll reads the newest entries after its cursor (newest first), filters them, and shows at most
   a page of them: at hundreds of events per second it shows a sample and says how many arrived.

The feed is Redis, not process memory: every web worker sees the same events and cursors.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import redis
from django.conf import settings

from analytics.ingest import buffer
from analytics.storage.base import EventRecord
from config.redis import get_redis

logger = logging.getLogger(__name__)

_PUBLISH_SCRIPT = (
    buffer.FEED_LUA
    + "feed(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])"
)

# Entries (requests) one poll reads at most; older ones after the cursor are counted, not shown.
READ_ENTRIES = 300
# Without a cursor (a page opens, filters change): the feed's latest requests only.
BACKFILL_ENTRIES = 100


def publish(project_id: int, environment_id: int, events: list, *, second: int) -> None:
    """Feed events that skipped the stream (``?sync=true``), after they were stored.

    Best effort: the events are durable already, so a Redis failure here must not fail the request.
    """
    client = get_redis()
    keys = buffer.feed_keys(project_id, environment_id, second)
    try:
        if client.exists(keys[0]):
            buffer.lua_script(client, _PUBLISH_SCRIPT)(
                keys=keys, args=[buffer.encode(events), len(events), *buffer.feed_args()]
            )
    except redis.RedisError:
        logger.warning("live feed of project %s unavailable", project_id, exc_info=True)


def watch(project_id: int, environment_id: int) -> None:
    get_redis().set(buffer.feed_keys(project_id, environment_id)[0], 1, ex=settings.LIVE_WATCH_SECONDS)


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class LiveEvent:
    entry_id: str
    index: int  # in its request
    record: EventRecord


@dataclass
class Page:
    events: list[LiveEvent]  # newest first
    cursor: str
    arrived: int = 0  # events that arrived since the previous cursor, shown or not
    matched: int = 0  # of those read, how many passed the filters
    too_large: int = 0  # events in requests too large to show live
    fed: int = 0  # events read from the feed (those arrived, less those counted but not copied)

    @property
    def sampled(self) -> bool:
        return self.arrived > self.fed or self.matched > len(self.events) or self.too_large > 0


@dataclass
class Cursor:
    entry_id: str = ""
    count: int = 0

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        entry_id, _, count = (text or "").partition("/")
        if not _is_entry_id(entry_id) or not _DIGITS.fullmatch(count):
            return cls()
        return cls(entry_id, int(count))

    def __str__(self) -> str:
        return f"{self.entry_id}/{self.count}" if self.entry_id else ""


_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only (str.isdigit takes "²"), and within Redis's 64 bits
_ENTRY_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")


def _is_entry_id(text: str) -> bool:
    return bool(_ENTRY_ID.fullmatch(text))


def read(
    project_id: int,
    environment_id: int,
    *,
    cursor: str,
    matches: Callable[[EventRecord], bool],
    limit: int,
) -> Page:
    """The newest events after ``cursor`` that pass ``matches``, at most ``limit``; keeps the feed on.

    With no cursor, what the feed already holds (the last few requests) fills the first page.
    """
    after = Cursor.parse(cursor)
    watch_key, stream, counter = buffer.feed_keys(project_id, environment_id)
    # MULTI/EXEC: the entries and the counter from the same instant, so "arrived" matches "read".
    pipe = get_redis().pipeline(transaction=True)
    pipe.set(watch_key, 1, ex=settings.LIVE_WATCH_SECONDS)
    if after.entry_id:
        pipe.xrevrange(stream, max="+", min=f"({after.entry_id}", count=READ_ENTRIES)
    else:
        pipe.xrevrange(stream, max="+", min="-", count=BACKFILL_ENTRIES)
    pipe.get(counter)
    _, entries, count = pipe.execute()
    count = int(count or 0)
    # An empty feed still gives a cursor: the counter's value says how many arrive after it.
    newest = _text(entries[0][0]) if entries else (after.entry_id or "0-0")
    page = Page(events=[], cursor=str(Cursor(newest, count)))
    read_events = 0
    for entry_id, fields in entries:
        entry_id = _text(entry_id)
        if b"n" in fields:
            page.too_large += int(fields[b"n"])
            read_events += int(fields[b"n"])
            continue
        rows = orjson.loads(fields[buffer.FIELD])
        read_events += len(rows)
        for index in range(len(rows) - 1, -1, -1):  # newest first within a request too
            record, _ = buffer.from_row(rows[index])
            if not matches(record):
                continue
            page.matched += 1
            if len(page.events) < limit:
                page.events.append(LiveEvent(entry_id, index, record))
    page.fed = read_events - page.too_large
    counted = bool(after.entry_id) and count >= after.count  # else the counter expired meanwhile
    page.arrived = count - after.count if counted else read_events
    return page


def find(project_id: int, environment_id: int, entry_id: str, index: int) -> EventRecord | None:
    """One event still in the feed, or None (the feed moved on, or no such event)."""
    if not _is_entry_id(entry_id) or index < 0:
        return None
    stream = buffer.feed_keys(project_id, environment_id)[1]
    try:
        entries = get_redis().xrange(stream, min=entry_id, max=entry_id, count=1)
    except redis.ResponseError:  # an id Redis cannot parse (too large): no such event
        return None
    if not entries or buffer.FIELD not in entries[0][1]:
        return None
    rows = orjson.loads(entries[0][1][buffer.FIELD])
    return buffer.from_row(rows[index])[0] if index < len(rows) else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Filters:
    """What the inspector shows: every field optional; ``event`` matches part of the name."""

    event: str = ""
    distinct_id: str = ""
    device_id: str = ""
    session_id: str = ""
    invalid_only: bool = False
    is_invalid: Callable[[EventRecord], bool] = field(default=lambda record: False, repr=False)

    def __call__(self, record: EventRecord) -> bool:
        if self.event and self.event.lower() not in record.event.lower():
            return False
        if self.distinct_id and record.distinct_id != self.distinct_id:
            return False
        if self.device_id and record.device_id != self.device_id:
            return False
        if self.session_id and record.session_id != self.session_id:
            return False
        return not self.invalid_only or self.is_invalid(record)

    @property
    def any(self) -> bool:
        return bool(self.event or self.distinct_id or self.device_id or self.session_id or self.invalid_only)
