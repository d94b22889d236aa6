"""Event counts per bucket, from the rollups or from raw events (the rollups' reference)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from psycopg import sql

from analytics.storage import get_store

ROLLUP_BY_GRAIN = {
    "hour": ("event_counts_hourly", "event_actors_hourly"),
    "day": ("event_counts_daily", "event_actors_daily"),
}


@dataclass(frozen=True)
class EventCount:
    bucket: datetime
    event: str
    events: int
    users: int
    sessions: int


def _scope(project_id: int, environment_id: int | None) -> tuple[sql.Composable, list]:
    if environment_id is None:
        return sql.SQL("project_id = %s"), [project_id]
    return sql.SQL("project_id = %s AND environment_id = %s"), [project_id, environment_id]


def _fetch(query: sql.Composable, params: list) -> list[EventCount]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [EventCount(*row) for row in cursor.fetchall()]


def rollup_counts(
    *, project_id: int, start: datetime, end: datetime, grain: str = "day", environment_id: int | None = None
) -> list[EventCount]:
    """Events, unique distinct ids and unique sessions per UTC bucket and event, read from rollups."""
    counts_relation, actors_relation = ROLLUP_BY_GRAIN[grain]
    scope, params = _scope(project_id, environment_id)
    query = sql.SQL(
        """
        WITH counts AS (
            SELECT bucket, event, sum(events)::bigint AS events FROM {counts}
            WHERE {scope} AND bucket >= %s AND bucket < %s GROUP BY bucket, event
        ), actors AS (
            SELECT bucket, event, count(DISTINCT distinct_id) AS users, count(DISTINCT session_id) AS sessions
            FROM {actors} WHERE {scope} AND bucket >= %s AND bucket < %s GROUP BY bucket, event
        )
        SELECT c.bucket, c.event, c.events, coalesce(a.users, 0), coalesce(a.sessions, 0)
        FROM counts c LEFT JOIN actors a USING (bucket, event)
        ORDER BY c.bucket, c.event
        """
    ).format(counts=sql.Identifier(counts_relation), actors=sql.Identifier(actors_relation), scope=scope)
    return _fetch(query, [*params, start, end, *params, start, end])


def raw_counts(
    *, project_id: int, start: datetime, end: datetime, grain: str = "day", environment_id: int | None = None
) -> list[EventCount]:
    """The same numbers computed from raw events."""
    scope, params = _scope(project_id, environment_id)
    bucket = get_store().time_bucket(
        sql.SQL("{}::interval").format(sql.Literal(f"1 {grain}")),
        sql.Identifier("time"),
        sql.SQL("'UTC'::text"),
    )
    query = sql.SQL(
        """
        SELECT {bucket} AS bucket, event, count(*), count(DISTINCT distinct_id), count(DISTINCT session_id)
        FROM events WHERE {scope} AND time >= %s AND time < %s
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    ).format(bucket=bucket, scope=scope)
    return _fetch(query, [*params, start, end])


def daily_totals(*, project_id: int, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Events per UTC day across all event names, from the daily rollup (overview sparkline)."""
    query = sql.SQL(
        "SELECT bucket, sum(events)::bigint FROM event_counts_daily "
        "WHERE project_id = %s AND bucket >= %s AND bucket < %s GROUP BY bucket ORDER BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [project_id, start, end])
        return cursor.fetchall()
