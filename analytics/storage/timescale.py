"""TimescaleDB backend: a hypertable with 1-day chunks, continuous aggregates, and policies for
refresh, compression and retention (run by TimescaleDB's own job scheduler)."""

from datetime import datetime

from django.conf import settings
from django.db import connection
from psycopg import sql

from analytics.storage import schema
from analytics.storage.base import EventStore

CONTINUOUS_AGGREGATES = {
    # name: (bucket width, extra group-by columns, policy schedule)
    "event_counts_hourly": ("1 hour", (), "5 minutes"),
    "event_actors_hourly": ("1 hour", ("distinct_id", "session_id"), "5 minutes"),
    "event_counts_daily": ("1 day", (), "1 hour"),
    "event_actors_daily": ("1 day", ("distinct_id", "session_id"), "1 hour"),
}


def _continuous_aggregate_sql(name: str, width: str, extra_columns: tuple[str, ...]) -> sql.Composed:
    group_columns = [sql.Identifier(c) for c in ("project_id", "environment_id", "event", *extra_columns)]
    return sql.SQL(
        """
        CREATE MATERIALIZED VIEW {name}
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL {width}, time) AS bucket, {columns}, count(*) AS events
        FROM events
        GROUP BY bucket, {columns}
        WITH NO DATA
        """
    ).format(name=sql.Identifier(name), width=sql.Literal(width), columns=sql.SQL(", ").join(group_columns))


class TimescaleStore(EventStore):
    name = "timescaledb"

    def install(self, cursor) -> None:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        cursor.execute(schema.EVENTS_TABLE.format(partitioning=""))
        cursor.execute(
            "SELECT create_hypertable('events', by_range('time', INTERVAL '1 day'), create_default_indexes => false)"
        )
        for statement in (*schema.EVENTS_INDEXES, *schema.DEDUP_TABLE):
            cursor.execute(statement)
        for name, (width, extra_columns, schedule) in CONTINUOUS_AGGREGATES.items():
            cursor.execute(_continuous_aggregate_sql(name, width, extra_columns))
            # start_offset NULL: late events of any age are materialised (refreshes follow the
            # invalidation log, so an unchanged past costs nothing). Buckets newer than end_offset are
            # answered by real-time aggregation (materialized_only = false).
            cursor.execute(
                "SELECT add_continuous_aggregate_policy(%s, start_offset => NULL, end_offset => INTERVAL '1 hour', "
                "schedule_interval => %s::interval)",
                [name, schedule],
            )
        cursor.execute(
            "ALTER TABLE events SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'project_id, environment_id', timescaledb.compress_orderby = 'time DESC')"
        )
        cursor.execute(
            "SELECT add_compression_policy('events', compress_after => make_interval(days => %s))",
            [settings.COMPRESS_AFTER_DAYS],
        )
        cursor.execute(
            "SELECT add_retention_policy('events', drop_after => make_interval(days => %s))",
            [settings.RETENTION_DEFAULT_DAYS],
        )

    def policy_jobs(self) -> list[tuple[int, str, str]]:
        """(job id, procedure, relation) of every policy Beacon registered."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT job_id, proc_name, hypertable_name FROM timescaledb_information.jobs
                WHERE proc_schema = '_timescaledb_functions' AND proc_name LIKE 'policy_%'
                ORDER BY job_id
                """
            )
            return cursor.fetchall()

    def refresh_rollups(self, *, full: bool = False) -> int:
        """TimescaleDB's scheduler runs the refresh policies; this refreshes now (tests, backfills).

        TRICKY: refresh_continuous_aggregate cannot run inside a transaction block.
        """
        if connection.in_atomic_block:
            raise RuntimeError("refresh_rollups on TimescaleDB must run outside a transaction.")
        with connection.cursor() as cursor:
            for name in CONTINUOUS_AGGREGATES:
                cursor.execute("CALL refresh_continuous_aggregate(%s, NULL, NULL)", [name])
        return len(CONTINUOUS_AGGREGATES)

    def refresh_rollups_on_schedule(self) -> int:
        return 0  # the continuous-aggregate refresh policies run in TimescaleDB's own scheduler

    def apply_retention(self, *, max_days: int, now: datetime) -> int:
        """Keep the retention policy at the longest project retention; its job drops the chunks."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT job_id, (config->>'drop_after')::interval = make_interval(days => %s)
                FROM timescaledb_information.jobs
                WHERE proc_name = 'policy_retention' AND hypertable_name = 'events'
                """,
                [max_days],
            )
            row = cursor.fetchone()
            if row is not None and row[1]:
                return 0
            cursor.execute("SELECT remove_retention_policy('events', if_exists => true)")
            cursor.execute(
                "SELECT add_retention_policy('events', drop_after => make_interval(days => %s))", [max_days]
            )
        return 0

    def time_bucket(self, interval, column, timezone) -> sql.Composed:
        return sql.SQL("time_bucket({interval}, {column}, {tz})").format(
            interval=interval, column=column, tz=timezone
        )
