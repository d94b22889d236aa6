"""Plain PostgreSQL backend: daily declarative partitions, rollups as tables refreshed incrementally.

A statement-level trigger records which (project, hour) buckets each INSERT or DELETE on ``events``
touched, in ``rollup_dirty_hours``; :meth:`PostgresStore.refresh_rollups` recomputes only those.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from analytics.storage import schema
from analytics.storage.base import ROLLUP_RELATIONS, EventStore

PARTITION_PREFIX = "events_p"
REFRESH_LOCK_KEY = 7_240_001  # pg_advisory lock: one rollup refresh at a time
PARTITION_LOCK_KEY = 7_240_002  # pg_advisory lock: one partition creator at a time

_ROLLUP_TABLES = (
    """
    CREATE TABLE {name} (
        bucket          timestamptz NOT NULL,
        project_id      bigint      NOT NULL,
        environment_id  bigint      NOT NULL,
        event           text        NOT NULL,
        events          bigint      NOT NULL,
        PRIMARY KEY (project_id, bucket, environment_id, event)
    )
    """,
    """
    CREATE TABLE {name} (
        bucket          timestamptz NOT NULL,
        project_id      bigint      NOT NULL,
        environment_id  bigint      NOT NULL,
        event           text        NOT NULL,
        distinct_id     text,
        session_id      text,
        events          bigint      NOT NULL
    )
    """,
)

_DIRTY_TRIGGER = (
    """
    CREATE TABLE rollup_dirty_hours (
        id          bigserial   PRIMARY KEY,
        project_id  bigint      NOT NULL,
        hour        timestamptz NOT NULL
    )
    """,
    """
    CREATE FUNCTION events_mark_dirty_hours() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollup_dirty_hours (project_id, hour)
        SELECT DISTINCT project_id, date_trunc('hour', time, 'UTC') FROM changed_rows;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER events_dirty_on_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION events_mark_dirty_hours()
    """,
    """
    CREATE TRIGGER events_dirty_on_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION events_mark_dirty_hours()
    """,
)

# TRICKY: these run inside one transaction after the claimed hours are copied to `refresh_hours`.
# Rows are deleted and recomputed per claimed (project, hour); days are rebuilt from their hours.
_REFRESH_SETUP = (
    "DROP TABLE IF EXISTS pg_temp.refresh_hours, pg_temp.refresh_days",
    "CREATE TEMP TABLE refresh_hours (project_id bigint, hour timestamptz) ON COMMIT DROP",
    """
    WITH claimed AS (DELETE FROM rollup_dirty_hours RETURNING project_id, hour)
    INSERT INTO refresh_hours SELECT DISTINCT project_id, hour FROM claimed
    """,
    """
    CREATE TEMP TABLE refresh_days ON COMMIT DROP AS
    SELECT DISTINCT project_id, date_trunc('day', hour, 'UTC') AS day FROM refresh_hours
    """,
    # A temp table has no statistics until analyzed (the planner would guess thousands of rows).
    "ANALYZE pg_temp.refresh_hours, pg_temp.refresh_days",
    "DELETE FROM event_counts_hourly r USING refresh_hours h WHERE r.project_id = h.project_id AND r.bucket = h.hour",
    "DELETE FROM event_actors_hourly r USING refresh_hours h WHERE r.project_id = h.project_id AND r.bucket = h.hour",
)
# Run once per claimed UTC day, with that day's bounds: the events are read from that day's partition
# only, and matched to the claimed hours by equality. TRICKY: a join on the hour's range instead let
# the planner hash-join every event of the project to the hours (21 s a minute at 10M events for one
# dirty hour; 0.05 s this way).
_REFRESH_HOURS_OF_DAY = (
    """
    INSERT INTO event_counts_hourly (bucket, project_id, environment_id, event, events)
    SELECT h.hour, e.project_id, e.environment_id, e.event, count(*)
    FROM events e
    JOIN refresh_hours h ON h.project_id = e.project_id AND h.hour = date_trunc('hour', e.time, 'UTC')
    WHERE e.time >= %(day)s AND e.time < %(next_day)s
    GROUP BY h.hour, e.project_id, e.environment_id, e.event
    """,
    """
    INSERT INTO event_actors_hourly (bucket, project_id, environment_id, event, distinct_id, session_id, events)
    SELECT h.hour, e.project_id, e.environment_id, e.event, e.distinct_id, e.session_id, count(*)
    FROM events e
    JOIN refresh_hours h ON h.project_id = e.project_id AND h.hour = date_trunc('hour', e.time, 'UTC')
    WHERE e.time >= %(day)s AND e.time < %(next_day)s
    GROUP BY h.hour, e.project_id, e.environment_id, e.event, e.distinct_id, e.session_id
    """,
)
_REFRESH_DAYS = (
    "DELETE FROM event_counts_daily r USING refresh_days d WHERE r.project_id = d.project_id AND r.bucket = d.day",
    """
    INSERT INTO event_counts_daily (bucket, project_id, environment_id, event, events)
    SELECT d.day, r.project_id, r.environment_id, r.event, sum(r.events)
    FROM refresh_days d
    JOIN event_counts_hourly r ON r.project_id = d.project_id AND r.bucket >= d.day AND r.bucket < d.day + interval '1 day'
    GROUP BY d.day, r.project_id, r.environment_id, r.event
    """,
    "DELETE FROM event_actors_daily r USING refresh_days d WHERE r.project_id = d.project_id AND r.bucket = d.day",
    """
    INSERT INTO event_actors_daily (bucket, project_id, environment_id, event, distinct_id, session_id, events)
    SELECT d.day, r.project_id, r.environment_id, r.event, r.distinct_id, r.session_id, sum(r.events)
    FROM refresh_days d
    JOIN event_actors_hourly r ON r.project_id = d.project_id AND r.bucket >= d.day AND r.bucket < d.day + interval '1 day'
    GROUP BY d.day, r.project_id, r.environment_id, r.event, r.distinct_id, r.session_id
    """,
)


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class PostgresStore(EventStore):
    name = "postgres"

    def __init__(self) -> None:
        # Days whose partition is known to exist. Partitions are only dropped by retention, far in
        # the past; a stale entry is corrected by the retry in insert_new.
        self._known_days: set[date] = set()

    # --- schema ------------------------------------------------------------------------------

    def install(self, cursor) -> None:
        cursor.execute(schema.EVENTS_TABLE.format(partitioning="PARTITION BY RANGE (time)"))
        for statement in (*schema.EVENTS_INDEXES, *schema.DEDUP_TABLE):
            cursor.execute(statement)
        for name, ddl in zip(ROLLUP_RELATIONS, _ROLLUP_TABLES * 2, strict=True):
            cursor.execute(sql.SQL(ddl).format(name=sql.Identifier(name)))
        for name in ("event_actors_hourly", "event_actors_daily"):
            cursor.execute(
                sql.SQL("CREATE INDEX {} ON {} (project_id, bucket, event)").format(
                    sql.Identifier(f"{name}_project_bucket"), sql.Identifier(name)
                )
            )
        for statement in _DIRTY_TRIGGER:
            cursor.execute(statement)

    # --- partitions --------------------------------------------------------------------------

    def ensure_partitions(self, days) -> int:
        """Create the daily partitions ``days`` need.

        TRICKY: ``CREATE TABLE IF NOT EXISTS`` does not protect two writers creating the same
        partition at once (the loser gets DuplicateTable, and its batch was dead-lettered: found by
        bench/chaos.py). Creators take a lock held to the end of their transaction and look again.
        """
        created = 0
        with connection.cursor() as cursor:
            for day in sorted(set(days) - self._known_days):
                if not self._partition_exists(cursor, day):
                    with transaction.atomic():
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITION_LOCK_KEY])
                        if not self._partition_exists(cursor, day):
                            cursor.execute(
                                sql.SQL(
                                    "CREATE TABLE {} PARTITION OF events FOR VALUES FROM (%s) TO (%s)"
                                ).format(sql.Identifier(partition_name(day))),
                                [_day_start(day), _day_start(day + timedelta(days=1))],
                            )
                            created += 1
                self._known_days.add(day)
        return created

    @staticmethod
    def _partition_exists(cursor, day: date) -> bool:
        # TRICKY: pg_class itself, not to_regclass(): a name lookup may answer from the session's
        # catalog cache, which has not seen the table another writer committed a moment ago.
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = %s AND relnamespace = current_schema()::regnamespace)",
            [partition_name(day)],
        )
        return cursor.fetchone()[0]

    def prepare_for(self, records) -> None:
        self.ensure_partitions({record.time.astimezone(UTC).date() for record in records})

    def insert_new(self, records, *, prepare=None):
        from psycopg import errors

        try:
            return super().insert_new(
                records, prepare=prepare
            )  # atomic: the caller's transaction stays usable
        except errors.CheckViolation:
            # "no partition of relation events found for row": the cache outlived a partition that
            # was dropped by retention or created in a transaction that rolled back.
            self._known_days.clear()
            return super().insert_new(records, prepare=prepare)

    def maintain(self, now: datetime) -> dict:
        today = now.astimezone(UTC).date()
        days = [today + timedelta(days=offset) for offset in range(-1, settings.PARTITIONS_AHEAD_DAYS + 1)]
        return {"partitions_created": self.ensure_partitions(days)}

    def partitions(self) -> list[date]:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT child.relname FROM pg_inherits
                JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
                JOIN pg_class child ON child.oid = pg_inherits.inhrelid
                WHERE parent.relname = 'events'
                """
            )
            names = [row[0] for row in cursor.fetchall()]
        return sorted(datetime.strptime(name[len(PARTITION_PREFIX) :], "%Y%m%d").date() for name in names)

    def apply_retention(self, *, max_days: int, now: datetime) -> int:
        cutoff_day = (now - timedelta(days=max_days)).astimezone(UTC).date()
        expired = [day for day in self.partitions() if day < cutoff_day]
        with connection.cursor() as cursor:
            for day in expired:
                cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(partition_name(day))))
                self._known_days.discard(day)
            # Dropping a partition fires no trigger: remove the rollups of the dropped days directly.
            for relation in (
                "event_counts_hourly",
                "event_counts_daily",
                "event_actors_hourly",
                "event_actors_daily",
            ):
                cursor.execute(
                    sql.SQL("DELETE FROM {} WHERE bucket < %s").format(sql.Identifier(relation)),
                    [_day_start(cutoff_day)],
                )
        return len(expired)

    # --- rollups -----------------------------------------------------------------------------

    def refresh_rollups(self, *, full: bool = False) -> int:
        """Recompute the rollup buckets that changed since the last run.

        1. Take a transaction-level advisory lock; if another refresh holds it, do nothing.
        2. Claim every committed dirty mark (DELETE ... RETURNING). Marks written by transactions
           still in flight are invisible, so they stay for the next run: nothing is missed.
        3. Recompute the claimed hours from raw events, one claimed UTC day (partition) at a time,
           then their days from the hours.
        ``full=True`` first marks every hour that has events (rebuild from scratch).
        """
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return 0
            if full:
                cursor.execute(
                    """
                    INSERT INTO rollup_dirty_hours (project_id, hour)
                    SELECT DISTINCT project_id, date_trunc('hour', time, 'UTC') FROM events
                    """
                )
            for statement in _REFRESH_SETUP:
                cursor.execute(statement)
            cursor.execute("SELECT DISTINCT day FROM refresh_days ORDER BY day")
            for (day,) in cursor.fetchall():
                bounds = {"day": day, "next_day": day + timedelta(days=1)}
                for statement in _REFRESH_HOURS_OF_DAY:
                    cursor.execute(statement, bounds)
            for statement in _REFRESH_DAYS:
                cursor.execute(statement)
            cursor.execute("SELECT count(*) FROM refresh_hours")
            return cursor.fetchone()[0]

    def stale_rollup_hours(self, project_id: int, start: datetime, end: datetime) -> frozenset[datetime]:
        """The hours marked dirty and not refreshed yet (at most a minute or two of marks)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT hour FROM rollup_dirty_hours WHERE project_id = %s AND hour >= %s AND hour < %s",
                [project_id, start, end],
            )
            return frozenset(row[0] for row in cursor.fetchall())

    def time_bucket(self, interval, column, timezone) -> sql.Composed:
        # date_bin on local wall-clock time, origin on a Monday, as time_bucket does on TimescaleDB.
        return sql.SQL(
            "(date_bin({interval}, {column} AT TIME ZONE {tz}, TIMESTAMP '2000-01-03') AT TIME ZONE {tz})"
        ).format(interval=interval, column=column, tz=timezone)
