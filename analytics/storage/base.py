"""What both storage backends share: the event record, the bulk insert path and retention."""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from typing import NamedTuple
from uuid import UUID

import orjson
import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql

logger = logging.getLogger(__name__)

ROLLUP_RELATIONS = ("event_counts_hourly", "event_counts_daily", "event_actors_hourly", "event_actors_daily")


class PlanStatus(IntEnum):
    """How an event fared against the tracking plan when it was ingested."""

    UNCHECKED = 0
    VALID = 1
    INVALID = 2  # stored and flagged: the environment's policy is `allow` or `flag`


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
_ARRAY_TYPES = {
    "time": "timestamptz[]",
    "received_at": "timestamptz[]",
    "project_id": "int8[]",
    "environment_id": "int8[]",
    "person_id": "uuid[]",
    "plan_status": "int2[]",
}
_JSON_COLUMNS = ("properties", "context")


def _build_insert_sql() -> sql.Composed:
    """One statement: claim the message ids, then insert only the events whose id was new.

    1. ``incoming`` unnests one array per column (a multi-row insert without a row per parameter).
    2. ``fresh`` inserts (project_id, message_id) into ``event_dedup``; ids seen before conflict and are
       skipped, so a redelivered batch writes nothing twice.
    3. The outer INSERT keeps only the incoming rows that ``fresh`` returned.
    Being one statement, it is atomic: the ids are never claimed without their events.
    """
    unnest_args = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(_ARRAY_TYPES.get(column, "text[]")))
        for column in EVENT_COLUMNS
    )
    column_list = sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
    select_list = sql.SQL(", ").join(
        sql.SQL("i.{}::jsonb").format(sql.Identifier(c))
        if c in _JSON_COLUMNS
        else sql.SQL("i.{}").format(sql.Identifier(c))
        for c in EVENT_COLUMNS
    )
    return sql.SQL(
        """
        WITH incoming AS (
            SELECT * FROM unnest({unnest_args}) AS t({column_list})
        ), fresh AS (
            INSERT INTO event_dedup (project_id, message_id, received_at)
            SELECT project_id, message_id, received_at FROM incoming
            ON CONFLICT DO NOTHING
            RETURNING project_id, message_id
        )
        INSERT INTO events ({column_list})
        SELECT {select_list} FROM incoming i JOIN fresh f USING (project_id, message_id)
        """
    ).format(unnest_args=unnest_args, column_list=column_list, select_list=select_list)


INSERT_EVENTS_SQL = _build_insert_sql()


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
        records = unique_by_message_id(records)
        if not records:
            return 0
        self.prepare_for(records)
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(INSERT_EVENTS_SQL, to_columns(records))
            return cursor.rowcount

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

    def prune_dedup(self, now: datetime, *, batch_size: int = 50_000) -> int:
        """Forget message ids older than the dedup window, in batches so no lock is held for long."""
        cutoff = now - timedelta(days=settings.DEDUP_WINDOW_DAYS)
        total = 0
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    """
                    DELETE FROM event_dedup WHERE ctid IN (
                        SELECT ctid FROM event_dedup WHERE received_at < %s LIMIT %s
                    )
                    """,
                    [cutoff, batch_size],
                )
                total += cursor.rowcount
                if cursor.rowcount < batch_size:
                    return total
