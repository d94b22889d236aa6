"""Violation counts (written by the ingest writer) and the reads of the violations report."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from psycopg import sql

from analytics.queries import jsonb

# Adds a batch's counts to the hourly buckets in one statement (ORM upserts cannot add).
_ADD_COUNTS_SQL = sql.SQL(
    """
    INSERT INTO analytics_violationcount
        (project_id, environment_id, hour, event, property, kind, app_version, count)
    SELECT * FROM unnest(
        %s::int8[], %s::int8[], %s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int8[]
    )
    ON CONFLICT (project_id, environment_id, hour, event, property, kind, app_version)
    DO UPDATE SET count = analytics_violationcount.count + excluded.count
    """
)

BucketKey = tuple[int, int, datetime, str, str, str, str]


def add_counts(counts: Counter[BucketKey]) -> None:
    if not counts:
        return
    keys = sorted(counts)  # a stable order: two writers upserting the same buckets cannot deadlock
    columns = list(zip(*keys, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(_ADD_COUNTS_SQL, [*map(list, columns), [counts[key] for key in keys]])


@dataclass(frozen=True)
class ViolationRow:
    event: str
    property: str
    kind: str
    environment_id: int
    app_version: str
    count: int
    last_hour: datetime


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    count: int


def _filters(
    project_id: int, start: datetime, environment_id: int | None, event: str | None, kind: str | None
):
    conditions = [sql.SQL("project_id = %s"), sql.SQL("hour >= %s")]
    params: list = [project_id, start]
    for column, value in (("environment_id", environment_id), ("event", event), ("kind", kind)):
        if value:
            conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    return sql.SQL(" AND ").join(conditions), params


def violation_rows(
    *,
    project_id: int,
    start: datetime,
    environment_id: int | None = None,
    event: str | None = None,
    kind: str | None = None,
    limit: int = 500,
) -> list[ViolationRow]:
    """Counts per event, property, kind, environment and app version since ``start``, largest first."""
    where, params = _filters(project_id, start, environment_id, event, kind)
    query = sql.SQL(
        """
        SELECT event, property, kind, environment_id, app_version, sum(count)::bigint, max(hour)
        FROM analytics_violationcount WHERE {where}
        GROUP BY event, property, kind, environment_id, app_version
        ORDER BY 6 DESC, event, property, kind LIMIT %s
        """
    ).format(where=where)
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, limit])
        return [ViolationRow(*row) for row in cursor.fetchall()]


def violations_per_hour(
    *,
    project_id: int,
    start: datetime,
    environment_id: int | None = None,
    event: str | None = None,
    kind: str | None = None,
) -> list[HourCount]:
    where, params = _filters(project_id, start, environment_id, event, kind)
    query = sql.SQL(
        "SELECT hour, sum(count)::bigint FROM analytics_violationcount WHERE {where} GROUP BY hour ORDER BY hour"
    ).format(where=where)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [HourCount(*row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class SeenEvent:
    event: str
    count: int
    last_seen: datetime


def seen_events(*, project_id: int, start: datetime, limit: int = 200) -> list[SeenEvent]:
    """Event names received since ``start`` (from the hourly rollup), most frequent first."""
    query = sql.SQL(
        """
        SELECT event, sum(events)::bigint, max(bucket) FROM event_counts_hourly
        WHERE project_id = %s AND bucket >= %s GROUP BY event ORDER BY 2 DESC, event LIMIT %s
        """
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [project_id, start, limit])
        return [SeenEvent(*row) for row in cursor.fetchall()]


def recent_properties(*, project_id: int, event: str, start: datetime, limit: int = 50) -> list[dict]:
    """The properties of the latest events of one name (to infer a definition from)."""
    query = sql.SQL(
        "SELECT properties FROM events WHERE project_id = %s AND event = %s AND time >= %s "
        "ORDER BY time DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [project_id, event, start, limit])
        rows = [jsonb(row[0]) for row in cursor.fetchall()]
        return [row if isinstance(row, dict) else {} for row in rows]
