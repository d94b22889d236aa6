"""What release verification reads: how often each expected event arrived since a release started,
how many of those broke the plan, and when the first and last ones happened."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from psycopg import sql

from analytics.plan.models import QuarantinedEvent
from analytics.storage.base import PlanStatus

# Stored events that broke the plan; blocked ones are never in `events` (they are in quarantine).
_BROKEN_STATUSES = [int(PlanStatus.INVALID), int(PlanStatus.ALLOWED)]


@dataclass(frozen=True)
class EventVolume:
    event: str
    count: int  # stored plus quarantined
    with_violations: int  # flagged or allowed with violations, plus quarantined
    first_seen: datetime
    last_seen: datetime


def event_volumes(
    *,
    project_id: int,
    environment_id: int,
    events: list[str],
    start: datetime,
    app_version: str = "",
) -> dict[str, EventVolume]:
    """Per event name (of ``events``) received in the environment with ``time >= start``; names never
    seen are absent. ``app_version`` limits to that version (blank: any).

    Quarantined events already replayed are left out: the replay stored them in ``events``.
    """
    if not events:
        return {}
    events_scope = [
        sql.SQL("project_id = %s"),
        sql.SQL("environment_id = %s"),
        sql.SQL("event = ANY(%s)"),
        sql.SQL("time >= %s"),
    ]
    quarantine_scope = [*events_scope, sql.SQL("replayed_at IS NULL")]
    events_params: list = [project_id, environment_id, list(events), start]
    quarantine_params = list(events_params)
    if app_version:
        events_scope.append(sql.SQL("context->>'app_version' = %s"))
        quarantine_scope.append(sql.SQL("app_version = %s"))
        events_params.append(app_version)
        quarantine_params.append(app_version)
    query = sql.SQL(
        """
        SELECT event, sum(events)::bigint, sum(broken)::bigint, min(first_seen), max(last_seen) FROM (
            SELECT event, count(*) AS events, count(*) FILTER (WHERE plan_status = ANY(%s)) AS broken,
                   min(time) AS first_seen, max(time) AS last_seen
            FROM events WHERE {events_scope} GROUP BY event
            UNION ALL
            SELECT event, count(*), count(*), min(time), max(time)
            FROM {quarantine} WHERE {quarantine_scope} GROUP BY event
        ) AS seen
        GROUP BY event
        """
    ).format(
        events_scope=sql.SQL(" AND ").join(events_scope),
        quarantine=sql.Identifier(QuarantinedEvent._meta.db_table),
        quarantine_scope=sql.SQL(" AND ").join(quarantine_scope),
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [_BROKEN_STATUSES, *events_params, *quarantine_params])
        return {row[0]: EventVolume(*row) for row in cursor.fetchall()}
