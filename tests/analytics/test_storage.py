"""The event store's contract, on whichever backend this run installed (both runs execute these)."""

import os
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from psycopg import sql

from analytics.models import StorageState
from analytics.queries.counts import raw_counts, rollup_counts
from analytics.storage import get_store
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = pytest.mark.storage

ANCHOR = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


def count_events(project) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE project_id = %s", [project.id])
        return cursor.fetchone()[0]


def test_it_installs_the_backend_this_run_asked_for(db):
    requested = os.environ.get("BEACON_STORAGE_BACKEND", "auto")
    installed = StorageState.objects.get(id=1).backend
    assert installed == get_store().name
    if requested != "auto":
        assert installed == requested


def test_it_writes_each_message_id_once(store, project):
    first = [event(project, time=ANCHOR + timedelta(minutes=i), message_id=f"m-{i}") for i in range(3)]
    assert store.insert_events(first) == 3

    retry = [*first, event(project, time=ANCHOR, message_id="m-3")]
    assert store.insert_events(retry) == 1
    assert count_events(project) == 4


def test_it_deduplicates_inside_one_batch(store, project):
    same = event(project, time=ANCHOR, message_id="dup")
    assert store.insert_events([same, same._replace(properties={"other": True})]) == 1
    assert count_events(project) == 1


def test_a_retry_with_a_corrected_timestamp_is_still_a_duplicate(store, project):
    original = event(project, time=ANCHOR, message_id="skewed")
    store.insert_events([original])
    # The second delivery's clock-skew correction moved the time by a few seconds, across midnight.
    assert store.insert_events([original._replace(time=ANCHOR + timedelta(days=1, seconds=3))]) == 0
    assert count_events(project) == 1


def test_message_ids_are_unique_per_project_not_globally(store, project):
    other = make_project()
    shared_id = str(uuid.uuid4())
    assert store.insert_events([event(project, time=ANCHOR, message_id=shared_id)]) == 1
    assert store.insert_events([event(other, time=ANCHOR, message_id=shared_id)]) == 1


def test_it_stores_every_column(store, project):
    record = event(project, time=ANCHOR, properties={"price": 12.5, "tags": ["a", "b"], "nested": {"x": 1}})
    record = record._replace(
        person_id=uuid.uuid4(),
        anonymous_id="anon-1",
        device_id="dev-1",
        plan_status=2,
        context={"library": {"name": "beacon.js", "version": "0.1.0"}, "app_version": "1.2.3"},
    )
    store.insert_events([record])
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT {} FROM events WHERE project_id = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, record._fields))
            ),
            [project.id],
        )
        row = cursor.fetchone()
    stored = dict(zip(record._fields, row, strict=True))
    expected = record._asdict()
    # Django's connection leaves jsonb as text for JSONField to parse.
    assert orjson.loads(stored.pop("properties")) == expected.pop("properties")
    assert orjson.loads(stored.pop("context")) == expected.pop("context")
    assert stored == expected


@pytest.mark.parametrize(
    ("interval", "timezone", "expected"),
    [
        ("15 minutes", "UTC", datetime(2026, 3, 4, 10, 30, tzinfo=UTC)),
        ("1 day", "Asia/Shanghai", datetime(2026, 3, 3, 16, 0, tzinfo=UTC)),  # local midnight, UTC+8
        ("7 days", "UTC", datetime(2026, 3, 2, tzinfo=UTC)),  # weeks start on Monday
    ],
)
def test_one_bucket_helper_aligns_time_the_same_on_both_backends(db, interval, timezone, expected):
    bucket = get_store().time_bucket(
        sql.SQL("{}::interval").format(sql.Literal(interval)),
        sql.SQL("%s::timestamptz"),
        sql.SQL("{}::text").format(sql.Literal(timezone)),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {}").format(bucket), [datetime(2026, 3, 4, 10, 41, tzinfo=UTC)])
        assert cursor.fetchone()[0] == expected


def _spread_events(project):
    """Events over three days and several hours, users and sessions, in two environments."""
    staging = project.environments.get(slug="staging")
    records = []
    for day in range(3):
        for hour in (1, 7, 23):
            for n in range(day + hour % 5 + 1):
                records.append(
                    event(
                        project,
                        time=ANCHOR - timedelta(days=day, hours=hour, minutes=n),
                        name="purchase" if n % 3 == 0 else "page_view",
                        distinct_id=f"user-{n % 4}",
                        session_id=f"session-{day}-{n % 2}",
                        environment=staging if n % 4 == 3 else None,
                    )
                )
    return records


@pytest.mark.django_db(transaction=True)
def test_the_rollups_give_the_numbers_the_raw_events_give(store):
    project = make_project()
    records = _spread_events(project)
    assert store.insert_events(records) == len(records)
    store.refresh_rollups()

    start, end = ANCHOR - timedelta(days=4), ANCHOR + timedelta(days=1)
    for grain in ("hour", "day"):
        from_rollups = rollup_counts(project_id=project.id, start=start, end=end, grain=grain)
        from_raw = raw_counts(project_id=project.id, start=start, end=end, grain=grain)
        assert from_rollups == from_raw
        assert sum(row.events for row in from_raw) == len(records)
    production = project.environments.get(slug="production")
    assert rollup_counts(
        project_id=project.id, start=start, end=end, environment_id=production.id
    ) == raw_counts(project_id=project.id, start=start, end=end, environment_id=production.id)


@pytest.mark.django_db(transaction=True)
def test_rollups_follow_late_events_and_deletions(store):
    project = make_project()
    store.insert_events(_spread_events(project))
    store.refresh_rollups()
    start, end = ANCHOR - timedelta(days=4), ANCHOR + timedelta(days=1)

    late = [
        event(
            project, time=ANCHOR - timedelta(days=2, hours=7, minutes=30), name="signup", distinct_id="late"
        )
    ]
    store.insert_events(late)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events WHERE project_id = %s AND event = 'purchase'", [project.id])
    store.refresh_rollups()

    from_rollups = rollup_counts(project_id=project.id, start=start, end=end, grain="hour")
    assert from_rollups == raw_counts(project_id=project.id, start=start, end=end, grain="hour")
    assert {row.event for row in from_rollups} == {"page_view", "signup"}


def test_per_project_retention_deletes_only_that_projects_old_events(store):
    now = datetime.now(UTC)
    short = make_project(retention_days=5)
    long = make_project(retention_days=400)
    for project in (short, long):
        store.insert_events(
            [event(project, time=now - timedelta(days=10)), event(project, time=now - timedelta(hours=2))]
        )
    result = store.enforce_retention(now)
    assert result["deleted_rows"] >= 1
    assert count_events(short) == 1
    assert count_events(long) == 2


def test_it_forgets_message_ids_after_the_dedup_window(store, project, settings):
    settings.DEDUP_WINDOW_DAYS = 7
    old = event(project, time=ANCHOR, message_id="old-id")._replace(
        received_at=datetime.now(UTC) - timedelta(days=8)
    )
    fresh = event(project, time=ANCHOR, message_id="fresh-id")
    store.insert_events([old, fresh])
    assert store.prune_dedup(datetime.now(UTC)) >= 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT message_key = decode(md5('fresh-id'), 'hex') FROM event_dedup WHERE project_id = %s",
            [project.id],
        )
        assert cursor.fetchall() == [(True,)]


@pytest.mark.postgres_only
@pytest.mark.parametrize("method", ["copy", "insert"])
def test_both_write_methods_store_the_same_rows(store, project, settings, method):
    settings.BULK_WRITE_METHOD = method
    records = [event(project, time=ANCHOR + timedelta(seconds=i), properties={"i": i}) for i in range(50)]
    assert store.insert_events(records) == 50
    assert store.insert_events(records[:10]) == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum((properties->>'i')::int) FROM events WHERE project_id = %s", [project.id])
        assert cursor.fetchone() == (sum(range(50)),)


@pytest.mark.postgres_only
def test_a_batch_mixing_new_and_seen_ids_keeps_exactly_the_new_ones(store, project, settings):
    """The optimistic COPY of keys fails on the seen id; the ON CONFLICT path settles the batch."""
    settings.BULK_WRITE_METHOD = "copy"
    seen = event(project, time=ANCHOR, message_id="seen")
    store.insert_events([seen])
    batch = [
        event(project, time=ANCHOR, message_id="new-1"),
        seen,
        event(project, time=ANCHOR, message_id="new-2"),
    ]
    assert store.insert_events(batch) == 2
    assert count_events(project) == 3
