"""What a project's data holds, for the analysis pages' pickers: the event names seen (from the
daily rollups, busiest first) and property names seen lately (a sample of recent raw events)."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone
from psycopg import sql

MAX_EVENT_NAMES = 500
MAX_PROPERTY_NAMES = 300
# Property names are read from at most this many events of the last day: a hint, not an inventory.
PROPERTY_SAMPLE_EVENTS = 2000


def event_names(project_id: int, *, days: int = 90) -> list[str]:
    """Event names seen in the project in the last ``days`` days, the busiest first."""
    statement = sql.SQL(
        """
        SELECT event FROM event_counts_daily
        WHERE project_id = %s AND bucket >= %s
        GROUP BY event ORDER BY sum(events) DESC, event LIMIT %s
        """
    )
    since = timezone.now() - timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(statement, [project_id, since, MAX_EVENT_NAMES])
        return [row[0] for row in cursor.fetchall()]


def has_events(project_id: int) -> bool:
    """Whether the project holds any event at all (the raw table: rollups may lag a minute)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM events WHERE project_id = %s)"), [project_id])
        return cursor.fetchone()[0]


def recent_property_names(project_id: int) -> list[str]:
    """Top-level event property names of a sample of the last day's events, sorted."""
    statement = sql.SQL(
        """
        SELECT DISTINCT key FROM (
            SELECT properties FROM events
            WHERE project_id = %s AND time >= %s AND jsonb_typeof(properties) = 'object'
            LIMIT %s
        ) sample, jsonb_object_keys(sample.properties) AS key
        ORDER BY key LIMIT %s
        """
    )
    since = timezone.now() - timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(statement, [project_id, since, PROPERTY_SAMPLE_EVENTS, MAX_PROPERTY_NAMES])
        return [row[0] for row in cursor.fetchall()]
