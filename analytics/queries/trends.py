"""The trend builder: one SQL statement per series, from the rollups or from raw events.

``build_series_query`` returns the statement and its parameters; rows are
``(bucket, breakdown, is_other, value)``. The runner (``analytics.insights.trends``) decides the
source, zero-fills the buckets and caches.
"""

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from analytics.insights.definitions import Breakdown, PropertyFilter, TrendSeries
from analytics.queries import bounded_cursor
from analytics.queries import filters as f
from analytics.storage import get_store

ROLLUPS = "rollups"
EVENTS = "events"

# Rollup relation by grain: (counts, actors).
_ROLLUP_RELATIONS = {
    "hour": ("event_counts_hourly", "event_actors_hourly"),
    "day": ("event_counts_daily", "event_actors_daily"),
}
_INTERVAL_SQL = {"15min": "15 minutes", "hour": "1 hour", "day": "1 day", "week": "7 days"}


@dataclass(frozen=True)
class SeriesScope:
    """Where a series reads: the project, an environment, the time range and the bucket width."""

    project_id: int
    environment_id: int | None
    start: datetime
    end: datetime
    timezone: str
    interval: str | None  # None: one value for the whole range


@dataclass(frozen=True)
class TrendRow:
    bucket: datetime | None
    breakdown: str | None
    is_other: bool
    value: float | None


def time_bucket_sql(interval: str, column: sql.Composable, timezone: str) -> sql.Composed:
    """The start of ``column``'s bucket of ``interval`` (15min, hour, day, week) in ``timezone``."""
    return get_store().time_bucket(
        sql.SQL("{}::interval").format(sql.Literal(_INTERVAL_SQL[interval])),
        column,
        # A literal, not a parameter: the PostgreSQL store's expression names the zone twice. The
        # zone is a validated name, and Literal quotes it.
        sql.SQL("{}::text").format(sql.Literal(timezone)),
    )


def _bucket(column: sql.Composable, scope: SeriesScope) -> f.Fragment:
    if scope.interval is None:
        return f.Fragment(sql.SQL("%s::timestamptz"), [scope.start])
    return f.Fragment(time_bucket_sql(scope.interval, column, scope.timezone))


def _aggregate(series: TrendSeries) -> f.Fragment:
    if series.math == "count":
        return f.Fragment(sql.SQL("count(*)::float8"))
    if series.math == "users":
        return f.Fragment(sql.SQL("count(DISTINCT pdi.person_id)::float8"))
    if series.math == "sessions":
        return f.Fragment(sql.SQL("count(DISTINCT e.session_id)::float8"))
    number = f.number_of(sql.SQL("e.properties"), series.property)
    template = {
        "sum": "sum({})",
        "avg": "avg({})",
        "min": "min({})",
        "max": "max({})",
        "median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY {})",
        "p95": "percentile_cont(0.95) WITHIN GROUP (ORDER BY {})",
    }[series.math]
    return f.Fragment(sql.SQL(template).format(number.sql), number.params)


def _scope_condition(scope: SeriesScope, time_column: str) -> f.Fragment:
    condition = sql.SQL("e.project_id = %s AND {time} >= %s AND {time} < %s").format(
        time=sql.SQL(time_column)
    )
    params = [scope.project_id, scope.start, scope.end]
    if scope.environment_id is not None:
        condition = sql.SQL("{} AND e.environment_id = %s").format(condition)
        params.append(scope.environment_id)
    return f.Fragment(condition, params)


def build_raw_query(
    series: TrendSeries,
    scope: SeriesScope,
    *,
    filters: tuple[PropertyFilter, ...] = (),
    breakdown: Breakdown | None = None,
) -> f.Fragment:
    """The series from raw events: any math, any filter, any breakdown."""
    all_filters = (*filters, *series.filters)
    joins = []
    if series.math == "users" or f.needs_person(all_filters, breakdown):
        joins.append(f.PERSON_JOIN)
    if f.needs_person(all_filters, breakdown):
        joins.append(f.PERSON_PROPERTIES_JOIN)
    bucket = _bucket(sql.SQL("e.time"), scope)
    aggregate = _aggregate(series)
    where = _scope_condition(scope, "e.time")
    conditions = f.all_of(all_filters)
    breakdown_expr = f.breakdown_value(breakdown) if breakdown else f.Fragment(sql.SQL("NULL::text"))
    rows = sql.SQL(
        """
        SELECT {bucket} AS bucket, {breakdown} AS breakdown, {aggregate} AS value
        FROM events e {joins}
        WHERE {where} AND e.event = %s AND {conditions}
        GROUP BY 1, 2
        """
    ).format(
        bucket=bucket.sql,
        breakdown=breakdown_expr.sql,
        aggregate=aggregate.sql,
        joins=sql.SQL(" ").join(joins),
        where=where.sql,
        conditions=conditions.sql,
    )
    params = [
        *bucket.params,
        *breakdown_expr.params,
        *aggregate.params,
        *where.params,
        series.event,
        *conditions.params,
    ]
    if breakdown is None:
        return f.Fragment(
            sql.SQL("SELECT bucket, NULL::text, false, value FROM ({rows}) grouped ORDER BY bucket").format(
                rows=rows
            ),
            params,
        )
    # Top N values by their number of events over the whole range; the rest fold into "other". Other
    # is aggregated again from the events (unique counts and percentiles do not add up).
    breakdown_only = f.breakdown_value(breakdown)
    query = sql.SQL(
        """
        WITH top AS (
            SELECT {breakdown} AS breakdown FROM events e {joins}
            WHERE {where} AND e.event = %s AND {conditions}
            GROUP BY 1 ORDER BY count(*) DESC, 1 NULLS LAST LIMIT %s
        )
        SELECT {bucket} AS bucket,
               CASE WHEN top.ranked THEN {breakdown} END AS breakdown,
               NOT coalesce(top.ranked, false) AS is_other,
               {aggregate} AS value
        FROM events e {joins}
        LEFT JOIN (SELECT breakdown, true AS ranked FROM top) top ON top.breakdown IS NOT DISTINCT FROM {breakdown}
        WHERE {where} AND e.event = %s AND {conditions}
        GROUP BY 1, 2, 3
        ORDER BY 1, 3, 2 NULLS LAST
        """
    ).format(
        breakdown=breakdown_only.sql,
        joins=sql.SQL(" ").join(joins),
        where=where.sql,
        conditions=conditions.sql,
        bucket=bucket.sql,
        aggregate=aggregate.sql,
    )
    params = [
        *breakdown_only.params,
        *where.params,
        series.event,
        *conditions.params,
        breakdown.limit,
        *bucket.params,
        *breakdown_only.params,
        *aggregate.params,
        *breakdown_only.params,
        *where.params,
        series.event,
        *conditions.params,
    ]
    return f.Fragment(query, params)


def build_rollup_query(series: TrendSeries, scope: SeriesScope, *, grain: str) -> f.Fragment:
    """The series from the hourly or daily rollups: count, unique users (persons) or sessions."""
    counts, actors = _ROLLUP_RELATIONS[grain]
    bucket = _bucket(sql.SQL("e.bucket"), scope)
    where = _scope_condition(scope, "e.bucket")
    if series.math == "count":
        source, aggregate, joins = counts, sql.SQL("sum(e.events)::float8"), sql.SQL("")
    elif series.math == "users":
        source, aggregate, joins = actors, sql.SQL("count(DISTINCT pdi.person_id)::float8"), f.PERSON_JOIN
    else:
        source, aggregate, joins = actors, sql.SQL("count(DISTINCT e.session_id)::float8"), sql.SQL("")
    query = sql.SQL(
        """
        SELECT {bucket} AS bucket, NULL::text, false, {aggregate} AS value
        FROM {source} e {joins}
        WHERE {where} AND e.event = %s
        GROUP BY 1 ORDER BY 1
        """
    ).format(
        bucket=bucket.sql, aggregate=aggregate, source=sql.Identifier(source), joins=joins, where=where.sql
    )
    return f.Fragment(query, [*bucket.params, *where.params, series.event])


def run(fragment: f.Fragment) -> list[TrendRow]:
    with bounded_cursor() as cursor:
        cursor.execute(fragment.sql, fragment.params)
        return [TrendRow(*row) for row in cursor.fetchall()]
