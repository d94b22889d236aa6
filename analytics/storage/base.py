"""What both storage backends share: the event record, the bulk insert path and retention."""

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from typing import NamedTuple
from uuid import UUID

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from psycopg import sql
from psycopg.types.json import set_json_dumps

logger = logging.getLogger(__name__)

# The rollups every query reads by name, on both backends (counts, then actors; hourly, then daily).
ROLLUP_RELATIONS = ("event_counts_hourly", "event_actors_hourly", "event_counts_daily", "event_actors_daily")


class PlanStatus(IntEnum):
    """How an event fared against the tracking plan when it was ingested."""

    UNCHECKED = 0  # the project has no tracking plan yet
    VALID = 1
    INVALID = 2  # breaks the plan; stored and flagged (the environment's policy is `flag`)
    ALLOWED = 3  # breaks the plan; stored as usual, violations recorded (policy `allow`)
    BLOCKED = 4  # breaks the plan; never in `events`: kept in quarantine (policy `block`)


class EventRecord(NamedTuple):
    """One event as the store writes it. Plain data: the ingest path builds no ORM objects."""

    time: datetime
    received_at: datetime
    project_id: int
    environment_id: int
    event: str
    message_id: str
    distinct_id: str | None = None
    person_id: UUID | None = None
    anonymous_id: str | None = None
    device_id: str | None = None
    session_id: str | None = None
    properties: dict | None = None
    context: dict | None = None
    plan_status: int = PlanStatus.UNCHECKED


EVENT_COLUMNS = EventRecord._fields
# PostgreSQL type of each column, for binary COPY and for the arrays of the INSERT fallback.
_COLUMN_TYPES = {
    "time": "timestamptz",
    "received_at": "timestamptz",
    "project_id": "int8",
    "environment_id": "int8",
    "person_id": "uuid",
    "properties": "jsonb",
    "context": "jsonb",
    "plan_status": "int2",
}
_COPY_TYPES = [_COLUMN_TYPES.get(column, "text") for column in EVENT_COLUMNS]
_JSON_COLUMNS = ("properties", "context")


# The safe claim, for a batch holding an id seen before, or a server without COPY: skip conflicts.
_CLAIM_SQL = sql.SQL(
    """
    INSERT INTO event_dedup (project_id, message_key, received_at)
    SELECT * FROM unnest(%b::int8[], %b::bytea[], %b::timestamptz[])
    ON CONFLICT DO NOTHING
    RETURNING project_id, message_key
    """
)
_COPY_KEYS_SQL = sql.SQL("COPY event_dedup (project_id, message_key, received_at) FROM STDIN (FORMAT BINARY)")
_COLUMN_LIST = sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
_COPY_SQL = sql.SQL("COPY events ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMN_LIST)


def _build_unnest_insert_sql() -> sql.Composed:
    """A multi-row INSERT from one binary array per column (for servers that cannot take COPY)."""
    arrays = sql.SQL(", ").join(
        # JSON travels as text[] and is cast per element: a jsonb[] parameter would need Jsonb wrappers.
        sql.SQL("{}::{}[]").format(
            sql.Placeholder(format=sql.PyFormat.BINARY),
            sql.SQL("text" if c in _JSON_COLUMNS else _COLUMN_TYPES.get(c, "text")),
        )
        for c in EVENT_COLUMNS
    )
    select_list = sql.SQL(", ").join(
        sql.SQL("{}::jsonb").format(sql.Identifier(c)) if c in _JSON_COLUMNS else sql.Identifier(c)
        for c in EVENT_COLUMNS
    )
    return sql.SQL(
        "INSERT INTO events ({columns}) SELECT {select_list} FROM unnest({arrays}) AS t({columns})"
    ).format(columns=_COLUMN_LIST, select_list=select_list, arrays=arrays)


_UNNEST_INSERT_SQL = _build_unnest_insert_sql()


def message_key(message_id: str) -> bytes:
    """The dedup key: 16 bytes whatever the SDK's id looks like (not a security boundary)."""
    return hashlib.md5(message_id.encode(), usedforsecurity=False).digest()


def _dumps(value: dict | None) -> str:
    return orjson.dumps(value or {}).decode()


def to_columns(records: Sequence[EventRecord]) -> list[list]:
    """Turn rows into one list per column, JSON columns already serialised."""
    columns = [list(column) for column in zip(*records, strict=True)]
    for name in _JSON_COLUMNS:
        index = EVENT_COLUMNS.index(name)
        columns[index] = [_dumps(value) for value in columns[index]]
    return columns


def unique_by_message_id(records: Iterable[EventRecord]) -> list[EventRecord]:
    """Keep the first record of each (project, message id): duplicates inside one batch are retries too."""
    seen: dict[tuple[int, str], EventRecord] = {}
    for record in records:
        seen.setdefault((record.project_id, record.message_id), record)
    return list(seen.values())


class EventStore:
    """The interface. Subclasses install the schema and keep partitions, rollups and retention."""

    name: str

    # --- writing -----------------------------------------------------------------------------

    def insert_events(self, records: Sequence[EventRecord]) -> int:
        """Write events exactly once (by project + message id). Returns how many were new."""
        return len(self.insert_new(records))

    def insert_new(
        self,
        records: Sequence[EventRecord],
        *,
        prepare: Callable[[list[EventRecord]], list[EventRecord]] | None = None,
    ) -> list[EventRecord]:
        """Write events exactly once (by project + message id). Returns the ones that were new.

        1. Claim the batch's message keys (md5 of the message id) in ``event_dedup``.
        2. ``prepare`` (identity resolution) sees only the claimed events, and returns them to write.
        3. Write those events into ``events``.
        All steps share one transaction: ids are never claimed without their events, and a retried
        identify cannot apply its person changes twice.

        TRICKY: the claim is optimistic. Almost every batch is all new ids, so the keys are COPYed in
        (fast); an id seen before makes that COPY fail on the primary key, and the batch is then
        claimed again with INSERT ... ON CONFLICT DO NOTHING (speculative insertion: slower, but it
        settles duplicates and races with other writers alike).
        """
        records = unique_by_message_id(records)
        if not records:
            return []
        self.prepare_for(records)
        keys = [message_key(record.message_id) for record in records]
        if settings.BULK_WRITE_METHOD == "copy":
            try:
                return self._write_once(records, keys, prepare, fast=True)
            except psycopg.errors.UniqueViolation:
                logger.debug("batch holds a message id seen before: claiming it with ON CONFLICT")
        return self._write_once(records, keys, prepare, fast=False)

    def _write_once(
        self, records: Sequence[EventRecord], keys: list[bytes], prepare, *, fast: bool
    ) -> list[EventRecord]:
        connection.ensure_connection()
        with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
            if fast:
                self._claim_all_by_copy(cursor, records, keys)  # raises UniqueViolation on a seen id
                fresh = list(records)
            else:
                claimed = self._claim_by_insert(cursor, records, keys)
                fresh = [r for r, key in zip(records, keys, strict=True) if (r.project_id, key) in claimed]
            if fresh and prepare is not None:
                fresh = prepare(fresh)
            if fresh:
                self._write_rows(cursor, fresh, copy=fast)
        return fresh

    @staticmethod
    def _claim_all_by_copy(cursor, records, keys) -> None:
        with cursor.copy(_COPY_KEYS_SQL) as copy:
            copy.set_types(["int8", "bytea", "timestamptz"])
            for record, key in zip(records, keys, strict=True):
                copy.write_row((record.project_id, key, record.received_at))

    @staticmethod
    def _claim_by_insert(cursor, records, keys) -> set[tuple[int, bytes]]:
        cursor.execute(
            _CLAIM_SQL,
            [[record.project_id for record in records], keys, [record.received_at for record in records]],
        )
        return {(project_id, bytes(key)) for project_id, key in cursor.fetchall()}

    @staticmethod
    def _write_rows(cursor, records: Sequence[EventRecord], *, copy: bool) -> None:
        if not copy:
            cursor.execute(_UNNEST_INSERT_SQL, to_columns(records))
            return
        # TRICKY: in binary COPY a jsonb value must be the object itself (a str would be encoded as
        # a JSON string); orjson does the encoding, for this cursor only.
        set_json_dumps(orjson.dumps, context=cursor)
        json_indexes = [EVENT_COLUMNS.index(name) for name in _JSON_COLUMNS]
        with cursor.copy(_COPY_SQL) as copy_stream:
            copy_stream.set_types(_COPY_TYPES)
            for record in records:
                row = list(record)
                for index in json_indexes:
                    if row[index] is None:
                        row[index] = {}
                copy_stream.write_row(row)

    def prepare_for(self, records: Sequence[EventRecord]) -> None:
        """Make sure the events' time range can be written (plain PostgreSQL: partitions)."""

    # --- reading helpers -----------------------------------------------------------------------

    def time_bucket(
        self, interval: sql.Composable, column: sql.Composable, timezone: sql.Composable
    ) -> sql.Composed:
        """The start of the bucket holding ``column``, aligned in ``timezone`` (weeks start on Monday)."""
        raise NotImplementedError

    # --- maintenance (Celery beat) ---------------------------------------------------------------

    def install(self, cursor) -> None:
        raise NotImplementedError

    def maintain(self, now: datetime) -> dict:
        """Periodic housekeeping that keeps writes possible (partitions ahead)."""
        return {}

    def refresh_rollups(self, *, full: bool = False) -> int:
        """Bring the rollups up to date with the raw events; returns the buckets refreshed."""
        raise NotImplementedError

    def stale_rollup_hours(self, project_id: int, start: datetime, end: datetime) -> frozenset[datetime]:
        """Hours in [start, end) whose rollup rows may lag the raw events: readers count them raw.
        None on TimescaleDB, whose real-time aggregation answers the newest buckets from events."""
        return frozenset()

    def refresh_rollups_on_schedule(self) -> int:
        """What the every-minute beat task does; TimescaleDB overrides it (its policies refresh)."""
        return self.refresh_rollups()

    def apply_retention(self, *, max_days: int, now: datetime) -> int:
        """Drop whole time ranges older than ``max_days``; returns partitions/chunks dropped."""
        raise NotImplementedError

    def enforce_retention(self, now: datetime) -> dict:
        """Per-project retention: drop what every project has expired, delete the rest per project."""
        from projects.models import Project

        retention = dict(Project.objects.values_list("id", "retention_days"))
        max_days = max(retention.values(), default=settings.RETENTION_DEFAULT_DAYS)
        dropped = self.apply_retention(max_days=max_days, now=now)
        deleted = 0
        with connection.cursor() as cursor:
            for project_id, days in retention.items():
                if days >= max_days:
                    continue
                cursor.execute(
                    "DELETE FROM events WHERE project_id = %s AND time < %s",
                    [project_id, now - timedelta(days=days)],
                )
                deleted += cursor.rowcount
        return {"max_days": max_days, "dropped": dropped, "deleted_rows": deleted}

    def delete_project(self, project_id: int) -> int:
        """Every stored row of a deleted project; returns the raw events deleted."""
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM events WHERE project_id = %s", [project_id])
            deleted = cursor.rowcount
            cursor.execute("DELETE FROM event_dedup WHERE project_id = %s", [project_id])
        # The rollups follow: the DELETE marks the hours dirty (PostgreSQL) or invalidates the
        # continuous aggregates (TimescaleDB), and the next refresh empties those buckets.
        return deleted

    def prune_dedup(self, now: datetime, *, batch_size: int = 50_000) -> int:
        """Forget message ids older than the dedup window, in batches so no lock is held for long."""
        cutoff = now - timedelta(days=settings.DEDUP_WINDOW_DAYS)
        total = 0
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    """
                    DELETE FROM event_dedup WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM event_dedup WHERE received_at < %s LIMIT %s
                    ))
                    """,
                    [cutoff, batch_size],
                )
                total += cursor.rowcount
                if cursor.rowcount < batch_size:
                    return total
