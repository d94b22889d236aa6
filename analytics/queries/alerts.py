"""The numbers alert rules watch, for many windows in one statement each.

Evaluation asks for one window (the last N minutes); the rule form's preview asks for a few hundred
(one per step over the last 7 days), and anomaly rules for the same window in past weeks. Every
function takes a list of ``(start, end)`` windows and returns one value per window, in order.

Counts read the hourly rollup for the whole hours inside a window and raw events for the partial
hours at its edges, and for hours the rollup has not caught up with yet (``stale_hours``, plain
PostgreSQL's dirty marks). A count with property filters reads raw events only.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from psycopg import sql

from analytics.models import QuarantinedEvent
from analytics.queries.filters import Fragment, number_of
from analytics.storage.base import PlanStatus

HOUR = timedelta(hours=1)
Window = tuple[datetime, datetime]

# Counts per window: raw events over each (window index, start, end) part. Every part is one index
# range scan on (project_id, event, time) or (project_id, environment_id, time).
_RAW_PARTS = """
SELECT part.i, (
    SELECT count(*) FROM events e
    WHERE e.project_id = %s AND e.environment_id = %s AND {event_condition}
      AND e.time >= part.lo AND e.time < part.hi AND {filters}
)
FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS part(i, lo, hi)
"""

_ROLLUP_PARTS = """
SELECT part.i, (
    SELECT coalesce(sum(r.events), 0) FROM event_counts_hourly r
    WHERE r.project_id = %s AND r.environment_id = %s AND r.event = %s
      AND r.bucket >= part.lo AND r.bucket < part.hi AND r.bucket <> ALL(%s::timestamptz[])
)
FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS part(i, lo, hi)
"""


@dataclass(frozen=True)
class Scope:
    """Which events: one project environment, one event name (None: every event), and filters."""

    project_id: int
    environment_id: int
    event: str | None
    filters: Fragment | None = None

    def event_condition(self) -> Fragment:
        if self.event is None:
            return Fragment(sql.SQL("TRUE"))
        return Fragment(sql.SQL("e.event = %s"), [self.event])

    def filter_condition(self) -> Fragment:
        return self.filters or Fragment(sql.SQL("TRUE"))


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def split_window(start: datetime, end: datetime, stale_hours: frozenset[datetime]):
    """The whole hours of [start, end) the rollup can answer, and the parts raw events must.

    Returns ``(rollup_range or None, raw_parts)``: hours listed in ``stale_hours`` stay in the
    rollup range (the rollup query skips them) and are counted from raw events instead.
    """
    first_hour, last_hour = _ceil_hour(start), _floor_hour(end)
    if first_hour >= last_hour:
        return None, [(start, end)]
    raw_parts = [part for part in ((start, first_hour), (last_hour, end)) if part[0] < part[1]]
    raw_parts += [(hour, hour + HOUR) for hour in sorted(stale_hours) if first_hour <= hour < last_hour]
    return (first_hour, last_hour), raw_parts


def _columns(parts: list[tuple[int, datetime, datetime]]) -> list[list]:
    return [[p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts]]


def _sum_by_window(query: sql.Composable, params: list, totals: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for index, count in cursor.fetchall():
            totals[index] += int(count or 0)


def rollups_apply(scope: Scope) -> bool:
    """The rollups count events by name; property filters and "every event" read raw events."""
    return scope.event is not None and scope.filters is None


def count_events(
    scope: Scope, windows: list[Window], *, use_rollups: bool, stale_hours: frozenset[datetime] = frozenset()
) -> list[int]:
    """How many events of the scope fell in each window."""
    totals = [0] * len(windows)
    rollup_parts: list[tuple[int, datetime, datetime]] = []
    raw_parts: list[tuple[int, datetime, datetime]] = []
    use_rollups = use_rollups and rollups_apply(scope)
    for index, (start, end) in enumerate(windows):
        if not use_rollups:
            raw_parts.append((index, start, end))
            continue
        hours, raw = split_window(start, end, stale_hours)
        if hours:
            rollup_parts.append((index, *hours))
        raw_parts += [(index, *part) for part in raw]
    if rollup_parts:
        query = sql.SQL(_ROLLUP_PARTS)
        params = [
            scope.project_id,
            scope.environment_id,
            scope.event,
            sorted(stale_hours),
            *_columns(rollup_parts),
        ]
        _sum_by_window(query, params, totals)
    if raw_parts:
        event_condition, filters = scope.event_condition(), scope.filter_condition()
        query = sql.SQL(_RAW_PARTS).format(event_condition=event_condition.sql, filters=filters.sql)
        params = [
            scope.project_id,
            scope.environment_id,
            *event_condition.params,
            *filters.params,
            *_columns(raw_parts),
        ]
        _sum_by_window(query, params, totals)
    return totals


@dataclass(frozen=True)
class PropertyStats:
    measured: int  # events in the window that carry the property as a number
    average: float | None
    p95: float | None


def property_stats(scope: Scope, property_name: str, windows: list[Window]) -> list[PropertyStats]:
    """Average and 95th percentile of a numeric property per window (raw events; strings ignored)."""
    value = number_of(sql.SQL("e.properties"), property_name)
    event_condition, filters = scope.event_condition(), scope.filter_condition()
    query = sql.SQL(
        """
        SELECT stats.measured, stats.average, stats.p95
        FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS w(lo, hi, i)
        CROSS JOIN LATERAL (
            SELECT count(v) AS measured, avg(v) AS average,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY v) AS p95
            FROM (
                SELECT {value} AS v FROM events e
                WHERE e.project_id = %s AND e.environment_id = %s AND {event_condition}
                  AND e.time >= w.lo AND e.time < w.hi AND {filters}
            ) measured_events
        ) stats
        ORDER BY w.i
        """
    ).format(value=value.sql, event_condition=event_condition.sql, filters=filters.sql)
    params = [
        [start for start, _ in windows],
        [end for _, end in windows],
        *value.params,
        scope.project_id,
        scope.environment_id,
        *event_condition.params,
        *filters.params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [PropertyStats(int(n), average, p95) for n, average, p95 in cursor.fetchall()]


def last_event_time(scope: Scope, *, before: datetime, lookback: timedelta) -> datetime | None:
    """When the scope's latest event before ``before`` happened, within ``lookback``."""
    event_condition, filters = scope.event_condition(), scope.filter_condition()
    query = sql.SQL(
        "SELECT max(e.time) FROM events e WHERE e.project_id = %s AND e.environment_id = %s "
        "AND {event_condition} AND e.time >= %s AND e.time < %s AND {filters}"
    ).format(event_condition=event_condition.sql, filters=filters.sql)
    params = [
        scope.project_id,
        scope.environment_id,
        *event_condition.params,
        before - lookback,
        before,
        *filters.params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


# Literal values, so the planner matches the partial index events_broken_env_time (schema.py).
_BROKEN = sql.SQL("e.plan_status IN ({}, {})").format(
    sql.Literal(int(PlanStatus.INVALID)), sql.Literal(int(PlanStatus.ALLOWED))
)


def violating_events(scope: Scope, windows: list[Window]) -> list[int]:
    """Events that broke the plan per window: stored with violations (flagged or allowed) plus
    those the environment blocked into quarantine (counted by when they were received)."""
    event_condition = scope.event_condition()
    quarantine_event = sql.SQL("TRUE") if scope.event is None else sql.SQL("q.event = %s")
    query = sql.SQL(
        """
        SELECT
            (SELECT count(*) FROM events e
             WHERE e.project_id = %s AND e.environment_id = %s AND {event_condition}
               AND e.time >= w.lo AND e.time < w.hi AND {broken})
          + (SELECT count(*) FROM {quarantine} q
             WHERE q.project_id = %s AND q.environment_id = %s AND {quarantine_event}
               AND q.received_at >= w.lo AND q.received_at < w.hi)
        FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS w(lo, hi, i)
        ORDER BY w.i
        """
    ).format(
        event_condition=event_condition.sql,
        quarantine=sql.Identifier(QuarantinedEvent._meta.db_table),
        quarantine_event=quarantine_event,
        broken=_BROKEN,
    )
    params = [
        scope.project_id,
        scope.environment_id,
        *event_condition.params,
        scope.project_id,
        scope.environment_id,
        *([] if scope.event is None else [scope.event]),
        [start for start, _ in windows],
        [end for _, end in windows],
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [int(row[0]) for row in cursor.fetchall()]


def claim_due_rules(*, now: datetime, minute: datetime, table: str, max_interval_minutes: int) -> list[int]:
    """Claim every enabled rule due at ``now`` by moving its next evaluation ahead, in one UPDATE.

    A rule's interval is its window / 60 (1 to ``max_interval_minutes`` minutes), and its next
    evaluation is the next minute m with (m + id) divisible by the interval, so rules with long
    windows spread over the minutes instead of all coming due together.

    TRICKY: the WHERE clause is re-checked on each row after waiting for a concurrent claimer's
    lock (READ COMMITTED), so a rule claimed by another tick is no longer due here: two beats or
    two workers never both claim it.
    """
    query = sql.SQL(
        """
        UPDATE {table} SET next_evaluation_at = %(minute)s + make_interval(
            mins => interval_minutes - ((%(epoch_minute)s + id) %% interval_minutes)::int
        )
        FROM (SELECT id AS due_id, least(%(max)s, greatest(1, window_minutes / 60)) AS interval_minutes
              FROM {table} WHERE enabled AND next_evaluation_at <= %(now)s) due
        WHERE id = due.due_id AND enabled AND next_evaluation_at <= %(now)s
        RETURNING id
        """
    ).format(table=sql.Identifier(table))
    params = {
        "minute": minute,
        "epoch_minute": int(minute.timestamp()) // 60,
        "max": max_interval_minutes,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return sorted(row[0] for row in cursor.fetchall())
