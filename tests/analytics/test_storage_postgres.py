"""Plain PostgreSQL backend: daily partitions, incremental rollup refresh, retention by dropping."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from analytics.storage.postgres import partition_name
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = [pytest.mark.storage, pytest.mark.postgres_only]


def dirty_hours() -> set:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT project_id, hour FROM rollup_dirty_hours")
        return set(cursor.fetchall())


def test_the_events_table_is_partitioned_by_day(store):
    with connection.cursor() as cursor:
        cursor.execute("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'events'::regclass")
        assert cursor.fetchone() == ("r",)


def test_maintenance_creates_partitions_ahead(store, settings):
    settings.PARTITIONS_AHEAD_DAYS = 5
    now = datetime(2031, 6, 10, 12, tzinfo=UTC)
    store.maintain(now)
    days = set(store.partitions())
    expected = {now.date() + timedelta(days=offset) for offset in range(-1, 6)}
    assert expected <= days


def test_a_write_for_a_day_without_partition_creates_it(store, project):
    old_day = datetime(2019, 2, 3, 8, tzinfo=UTC)
    assert store.insert_events([event(project, time=old_day)]) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition_name(old_day.date())])
        assert cursor.fetchone()[0] is not None


def test_a_write_marks_only_the_hours_it_touched(store, project):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM rollup_dirty_hours")
    hour = datetime(2026, 1, 5, 14, tzinfo=UTC)
    store.insert_events([event(project, time=hour + timedelta(minutes=m)) for m in (1, 20, 59)])
    store.insert_events([event(project, time=hour + timedelta(hours=3))])
    assert dirty_hours() == {(project.id, hour), (project.id, hour + timedelta(hours=3))}


@pytest.mark.django_db(transaction=True)
def test_a_refresh_recomputes_only_the_changed_buckets(store):
    project = make_project()
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    store.insert_events([event(project, time=base + timedelta(hours=h)) for h in range(10)])
    store.refresh_rollups()
    assert dirty_hours() == set()

    store.insert_events([event(project, time=base + timedelta(hours=4, minutes=5))])
    assert store.refresh_rollups() == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT events FROM event_counts_hourly WHERE project_id = %s AND bucket = %s",
            [project.id, base + timedelta(hours=4)],
        )
        assert cursor.fetchone() == (2,)
    assert store.refresh_rollups() == 0


@pytest.mark.django_db(transaction=True)
def test_retention_drops_whole_expired_partitions_and_their_rollups(store):
    now = datetime.now(UTC)
    project = make_project(retention_days=30)
    expired_time = now - timedelta(days=45)
    store.insert_events([event(project, time=expired_time), event(project, time=now - timedelta(days=1))])
    store.refresh_rollups()
    assert expired_time.date() in store.partitions()

    store.enforce_retention(now)

    assert expired_time.date() not in store.partitions()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE project_id = %s", [project.id])
        assert cursor.fetchone() == (1,)
        cursor.execute(
            "SELECT count(*) FROM event_counts_daily WHERE project_id = %s AND bucket < %s",
            [project.id, now - timedelta(days=30)],
        )
        assert cursor.fetchone() == (0,)


@pytest.mark.django_db(transaction=True)
def test_two_writers_creating_the_same_partition_at_once_both_succeed(store):
    """Found by bench/chaos.py: the second CREATE of a partition failed (DuplicateTable) and its
    writer dead-lettered an acknowledged batch. Each writer here creates the day's partition in its
    own transaction; the first keeps its transaction open a moment, as a writer's batch does."""
    import threading
    import time

    from django.db import connections, transaction

    from analytics.storage.postgres import PostgresStore

    day = datetime(2032, 2, 29, tzinfo=UTC).date()
    started, errors = threading.Barrier(2), []

    def writer(hold_seconds: float) -> None:
        try:
            started.wait(timeout=10)
            with transaction.atomic():
                PostgresStore().ensure_partitions({day})
                time.sleep(hold_seconds)
        except Exception as error:  # reported below, with its type
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(hold,)) for hold in (0.5, 0.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(day)])
        assert cursor.fetchone()[0]
