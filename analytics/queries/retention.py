"""The retention builder: cohorts by a person's first occurrence of an event (or first appearance),
and the periods after it in which they did the return event.

Rows are ``(cohort, period, people)``: with ``period`` NULL, the cohort's size; otherwise how many
of its people did the return event in the bucket starting at ``period`` (after the cohort's own).
"""

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from analytics.insights.definitions import SIGNUP, RetentionQuery
from analytics.queries import bounded_cursor
from analytics.queries import filters as f
from analytics.queries.trends import time_bucket_sql


@dataclass(frozen=True)
class RetentionScope:
    project_id: int
    environment_id: int | None
    start: datetime  # the first cohort's bucket
    end: datetime  # the end of the last cohort's bucket
    returns_end: datetime  # the end of the last period that can be counted
    timezone: str


def _bucket(column: str, query: RetentionQuery, scope: RetentionScope) -> sql.Composable:
    return time_bucket_sql(query.interval, sql.SQL(column), scope.timezone)


def _events(scope: RetentionScope, filters, *, event: str | None) -> tuple[sql.Composable, list]:
    """FROM/WHERE over the project's events of ``event`` (any event when None) matching ``filters``."""
    joins = [f.MERGE_JOIN]
    if f.needs_person(filters):
        joins.append(f.ACTOR_PROPERTIES_JOIN)
    conditions = f.all_of(filters)
    where = [sql.SQL("e.project_id = %s AND e.person_id IS NOT NULL")]
    params: list = [scope.project_id]
    if scope.environment_id is not None:
        where.append(sql.SQL("e.environment_id = %s"))
        params.append(scope.environment_id)
    if event is not None:
        where.append(sql.SQL("e.event = %s"))
        params.append(event)
    where.append(conditions.sql)
    params += conditions.params
    text = sql.SQL("FROM events e {joins} WHERE {where}").format(
        joins=sql.SQL(" ").join(joins), where=sql.SQL(" AND ").join(where)
    )
    return text, params


def build_retention_query(query: RetentionQuery, scope: RetentionScope) -> f.Fragment:
    cohort_event = None if query.cohort_event == SIGNUP else query.cohort_event
    cohort_from, cohort_params = _events(scope, [*query.filters, *query.cohort_filters], event=cohort_event)
    return_from, return_params = _events(
        scope, [*query.filters, *query.return_filters], event=query.return_event
    )
    text = sql.SQL(
        """
        WITH firsts AS (
            -- The FIRST occurrence ever (before the range too): a person who did it last month is
            -- not a new cohort member this month.
            SELECT {actor} AS actor, min(e.time) AS first_time
            {cohort_from} AND e.time < %s
            GROUP BY 1
        ), cohort AS (
            SELECT actor, {cohort_bucket} AS cohort FROM firsts WHERE first_time >= %s
        ), returns AS (
            SELECT DISTINCT {actor} AS actor, {return_bucket} AS period
            {return_from} AND e.time >= %s AND e.time < %s
        )
        SELECT cohort, NULL::timestamptz AS period, count(*) FROM cohort GROUP BY 1
        UNION ALL
        SELECT c.cohort, r.period, count(*)
        FROM cohort c JOIN returns r ON r.actor = c.actor AND r.period > c.cohort
        GROUP BY 1, 2
        """
    ).format(
        actor=f.ACTOR,
        cohort_from=cohort_from,
        cohort_bucket=_bucket("first_time", query, scope),
        return_bucket=_bucket("e.time", query, scope),
        return_from=return_from,
    )
    params = [*cohort_params, scope.end, scope.start, *return_params, scope.start, scope.returns_end]
    return f.Fragment(text, params)


def run(fragment: f.Fragment) -> list[tuple[datetime, datetime | None, int]]:
    with bounded_cursor() as cursor:
        cursor.execute(fragment.sql, fragment.params)
        return cursor.fetchall()
