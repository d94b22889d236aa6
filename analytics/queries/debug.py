"""The events of a debug session: one device, or the events the browser SDK tagged with the session's
code, received while the session was open. Stored ones from ``events``, blocked ones from quarantine."""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q
from psycopg import sql

from analytics.ingest import buffer
from analytics.plan.models import QuarantinedEvent
from analytics.queries import jsonb
from analytics.storage.base import EVENT_COLUMNS, EventRecord

DEBUG_PROPERTY = "$debug_session"
# The time column (which the index and the partitions follow) is clock-skew corrected at ingestion,
# so it stays close to the receive time the session window is about; an SDK's queue flushed late
# is what this slack is for. It also bounds what each poll of a debug page scans (events has no
# device index, on purpose: every event would pay for it).
_TIME_SLACK = timedelta(hours=1)

_SESSION_EVENTS = sql.SQL(
    """
    SELECT {columns} FROM events
    WHERE project_id = %(project_id)s AND environment_id = %(environment_id)s
      AND time >= %(time_from)s AND time < %(time_to)s
      AND received_at >= %(start)s AND received_at < %(end)s {after}
      AND ((%(device_id)s <> '' AND device_id = %(device_id)s) OR properties ->> {debug} = %(code)s)
    ORDER BY received_at DESC, time DESC
    LIMIT %(limit)s
    """
)

_DEVICE = EVENT_COLUMNS.index("device_id")
_PROPERTIES = EVENT_COLUMNS.index("properties")


def _record(row) -> EventRecord:
    record = EventRecord(*row)
    return record._replace(properties=jsonb(record.properties), context=jsonb(record.context))


def session_events(
    *,
    project_id: int,
    environment_id: int,
    device_id: str,
    code: str,
    start: datetime,
    end: datetime,
    after: datetime | None = None,
    limit: int = 1000,
) -> list[EventRecord]:
    """Newest first, at most ``limit``, only those received after ``after`` if given."""
    params = {
        "project_id": project_id,
        "environment_id": environment_id,
        "time_from": start - _TIME_SLACK,
        "time_to": end + _TIME_SLACK,
        "start": start,
        "end": end,
        "after": after,
        "device_id": device_id,
        "code": code,
        "limit": limit,
    }
    query = _SESSION_EVENTS.format(
        columns=sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS)),
        debug=sql.Literal(DEBUG_PROPERTY),
        after=sql.SQL("AND received_at > %(after)s") if after is not None else sql.SQL(""),
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        stored = [_record(row) for row in cursor.fetchall()]
    received = Q(received_at__gte=start, received_at__lt=end)
    if after is not None:
        received &= Q(received_at__gt=after)
    mine = Q(**{f"record__{_PROPERTIES}__{DEBUG_PROPERTY}": code})
    if device_id:
        mine |= Q(**{f"record__{_DEVICE}": device_id})
    blocked = [
        buffer.from_row(row)[0]
        for row in QuarantinedEvent.objects.filter(
            received, mine, project_id=project_id, environment_id=environment_id
        )
        .order_by("-received_at")
        .values_list("record", flat=True)[:limit]
    ]
    merged = sorted(stored + blocked, key=lambda record: (record.received_at, record.time), reverse=True)
    return merged[:limit]
