"""TimescaleDB backend: hypertable, continuous aggregates and each policy job, on a real TimescaleDB."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from psycopg import sql

from analytics.queries.counts import raw_counts
from analytics.storage.timescale import CONTINUOUS_AGGREGATES
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = [pytest.mark.storage, pytest.mark.timescaledb]


def fetchall(query, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_events_is_a_hypertable_with_one_day_chunks(store):
    assert fetchall(
        "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_name = 'events'"
    )
    intervals = fetchall(
        "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'events' AND column_name = 'time'"
    )
    assert intervals == [(timedelta(days=1),)]


def test_the_continuous_aggregates_exist(store):
    names = {
        row[0] for row in fetchall("SELECT view_name FROM timescaledb_information.continuous_aggregates")
    }
    assert names == set(CONTINUOUS_AGGREGATES)


def test_the_policies_are_registered(store):
    jobs = {(proc, relation) for _, proc, relation in store.policy_jobs()}
    assert ("policy_compression", "events") in jobs
    assert ("policy_retention", "events") in jobs
    refreshed = {relation for proc, relation in jobs if proc == "policy_refresh_continuous_aggregate"}
    assert refreshed == set(CONTINUOUS_AGGREGATES)


def _materialized_rows(view: str, project_id: int):
    """Rows in the aggregate's materialization hypertable: what refreshes wrote, without real-time data."""
    schema, table = fetchall(
        "SELECT materialization_hypertable_schema, materialization_hypertable_name "
        "FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
        [view],
    )[0]
    return fetchall(
        sql.SQL(
            "SELECT bucket, event, sum(events)::bigint FROM {} WHERE project_id = %s GROUP BY 1, 2 ORDER BY 1, 2"
        ).format(sql.Identifier(schema, table)),
        [project_id],
    )


@pytest.mark.django_db(transaction=True)
def test_each_refresh_policy_job_materialises_the_raw_counts(store):
    project = make_project()
    # Whole past days only: the daily policy (end_offset 1 hour) never materialises today's bucket,
    # so events reaching into today would make this test fail late in the (UTC) day.
    base = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    records = [
        event(project, time=base + timedelta(hours=h, minutes=m), name=name, distinct_id=f"u{m}")
        for h in range(0, 30, 3)
        for m, name in ((1, "page_view"), (2, "page_view"), (3, "purchase"))
    ]
    store.insert_events(records)
    assert _materialized_rows("event_counts_hourly", project.id) == []

    refresh_jobs = [
        job for job, proc, _ in store.policy_jobs() if proc == "policy_refresh_continuous_aggregate"
    ]
    for job_id in refresh_jobs:
        with connection.cursor() as cursor:
            cursor.execute("CALL run_job(%s)", [job_id])

    start, end = base - timedelta(days=1), base + timedelta(days=3)
    for grain, view in (("hour", "event_counts_hourly"), ("day", "event_counts_daily")):
        raw = [
            (row.bucket, row.event, row.events)
            for row in raw_counts(project_id=project.id, start=start, end=end, grain=grain)
        ]
        assert _materialized_rows(view, project.id) == raw
    actors = fetchall(
        "SELECT count(DISTINCT distinct_id) FROM event_actors_daily WHERE project_id = %s", [project.id]
    )
    assert actors == [(3,)]


@pytest.mark.django_db(transaction=True)
def test_the_compression_job_compresses_old_chunks(store, settings):
    project = make_project()
    old = datetime.now(UTC) - timedelta(days=settings.COMPRESS_AFTER_DAYS + 5)
    store.insert_events([event(project, time=old + timedelta(minutes=m)) for m in range(5)])
    (job_id,) = [job for job, proc, _ in store.policy_jobs() if proc == "policy_compression"]
    with connection.cursor() as cursor:
        cursor.execute("CALL run_job(%s)", [job_id])
    compressed = fetchall(
        "SELECT is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'events' AND range_start <= %s AND range_end > %s",
        [old, old],
    )
    assert compressed == [(True,)]
    # Compressed chunks still answer queries.
    assert (
        sum(
            row.events
            for row in raw_counts(
                project_id=project.id, start=old - timedelta(days=1), end=old + timedelta(days=1)
            )
        )
        == 5
    )


@pytest.mark.django_db(transaction=True)
def test_the_retention_job_drops_chunks_older_than_the_longest_project_retention(store):
    now = datetime.now(UTC)
    project = make_project(retention_days=60)
    expired = now - timedelta(days=90)
    store.insert_events([event(project, time=expired), event(project, time=now - timedelta(days=1))])
    store.enforce_retention(now)  # sets the policy to 60 days, the longest retention of any project
    (job_id,) = [job for job, proc, _ in store.policy_jobs() if proc == "policy_retention"]
    with connection.cursor() as cursor:
        cursor.execute("CALL run_job(%s)", [job_id])
    remaining_chunks = fetchall(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'events' AND range_end <= %s",
        [now - timedelta(days=60)],
    )
    assert remaining_chunks == [(0,)]
    assert fetchall("SELECT count(*) FROM events WHERE project_id = %s", [project.id]) == [(1,)]
