"""bench/querydata.py loads a small data set right: counts, identity, mix, order, rollups (no timing)."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection

from analytics.models import Person, PersonDistinctId
from analytics.storage import schema
from bench import querydata

pytestmark = pytest.mark.postgres_only

EVENTS, DAYS, PERSONS = 20_000, 3, 500
# Target share of each event and the tolerance a 20k-event sample keeps to (a smoke test, not a fit).
MIX = {
    "page_view": (0.45, 0.04),
    "product_viewed": (0.20, 0.03),
    "added_to_cart": (0.10, 0.02),
    "search": (0.08, 0.02),
    "checkout_started": (0.05, 0.015),
    "order_completed": (0.03, 0.01),
    "logged_in": (0.03, 0.01),
    "signed_up": (0.01, 0.005),
    "button_clicked": (0.03, 0.01),
    "error_shown": (0.02, 0.01),
}


def rows(query: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


@pytest.fixture
def stats(db):
    return querydata.load(events=EVENTS, days=DAYS, persons=PERSONS, seed=7, workers=1)


def test_it_loads_the_exact_counts_in_the_time_range(stats):
    assert (stats.events, stats.persons, stats.days, stats.skipped) == (EVENTS, PERSONS, DAYS, False)
    assert stats.end <= datetime.now(UTC) and (stats.end.minute, stats.end.second) == (0, 0)
    ((count, unique_ids, first, last),) = rows(
        "SELECT count(*), count(DISTINCT message_id), min(time), max(time) FROM events WHERE project_id = %s",
        [stats.project_id],
    )
    assert count == unique_ids == EVENTS
    assert stats.start <= first and last < stats.end
    assert stats.load_seconds > 0 and stats.table_bytes > 0 and stats.partitions >= DAYS


def test_persons_and_distinct_ids_map_every_event_to_its_person(stats):
    assert Person.objects.filter(project_id=stats.project_id).count() == PERSONS
    distinct_ids = PersonDistinctId.objects.filter(project_id=stats.project_id)
    users = distinct_ids.filter(distinct_id__startswith="user_")
    anonymous = distinct_ids.filter(distinct_id__startswith="anon_")
    assert (
        users.count() == PERSONS and stats.distinct_ids == distinct_ids.count() == PERSONS + anonymous.count()
    )
    assert 0.12 * PERSONS < anonymous.count() < 0.28 * PERSONS
    assert not anonymous.exclude(person__in=users.values("person")).exists()
    # Every event's person_id is the person its distinct id maps to.
    ((unmapped, anonymous_events, persons_seen),) = rows(
        """
        SELECT count(*) FILTER (WHERE d.person_id IS DISTINCT FROM e.person_id),
               count(*) FILTER (WHERE e.distinct_id LIKE 'anon\\_%%'),
               count(DISTINCT e.person_id)
        FROM events e
        LEFT JOIN analytics_persondistinctid d ON d.project_id = e.project_id AND d.distinct_id = e.distinct_id
        WHERE e.project_id = %s
        """,
        [stats.project_id],
    )
    assert unmapped == 0 and anonymous_events > 0
    assert persons_seen > PERSONS // 2
    # The anonymous events come before that session's login, and the person goes on as the user.
    ((late_anonymous,),) = rows(
        """
        SELECT count(*) FROM events a JOIN events l ON l.project_id = a.project_id
            AND l.session_id = a.session_id AND l.event IN ('logged_in', 'signed_up')
        WHERE a.project_id = %s AND a.distinct_id LIKE 'anon\\_%%' AND a.time > l.time
        """,
        [stats.project_id],
    )
    assert late_anonymous == 0


def test_the_event_mix_environments_and_properties_look_like_a_shop(stats):
    counts = dict(
        rows("SELECT event, count(*) FROM events WHERE project_id = %s GROUP BY event", [stats.project_id])
    )
    assert set(counts) == set(MIX)
    for event, (share, tolerance) in MIX.items():
        assert abs(counts[event] / EVENTS - share) <= tolerance, (event, counts[event] / EVENTS)
    environments = dict(
        rows(
            "SELECT environment_id, count(*) FROM events WHERE project_id = %s GROUP BY 1", [stats.project_id]
        )
    )
    assert set(environments) == {stats.environments["production"], stats.environments["staging"]}
    assert 0.92 < environments[stats.environments["production"]] / EVENTS < 0.98
    ((order, view, context),) = rows(
        """
        SELECT (SELECT properties FROM events WHERE project_id = %s AND event = 'order_completed' LIMIT 1),
               (SELECT properties FROM events WHERE project_id = %s AND event = 'page_view' LIMIT 1),
               (SELECT context FROM events WHERE project_id = %s LIMIT 1)
        """,
        [stats.project_id] * 3,
    )
    order, view, context = (json.loads(value) for value in (order, view, context))  # Django's cursor: text
    assert set(order) == {"order_id", "revenue", "currency", "items"} and order["revenue"] > 0
    assert set(view) == {"path", "referrer", "load_time_ms"}
    assert {"browser", "os", "device_type", "page", "app_version"} <= set(context)


def test_sessions_run_through_the_funnel_in_order(stats):
    ((sessions, out_of_order, carts, orders),) = rows(
        """
        SELECT count(*),
               count(*) FILTER (WHERE cart < view OR checkout < cart OR ordered < checkout
                                OR (cart IS NOT NULL AND view IS NULL) OR (ordered IS NOT NULL AND checkout IS NULL)),
               count(cart), count(ordered)
        FROM (SELECT session_id,
                     min(time) FILTER (WHERE event = 'product_viewed') AS view,
                     min(time) FILTER (WHERE event = 'added_to_cart') AS cart,
                     min(time) FILTER (WHERE event = 'checkout_started') AS checkout,
                     min(time) FILTER (WHERE event = 'order_completed') AS ordered,
                     max(time) - min(time) AS duration
              FROM events WHERE project_id = %s GROUP BY session_id) s
        """,
        [stats.project_id],
    )
    assert out_of_order == 0
    assert sessions > EVENTS / 15 and sessions > carts > orders > 0


def test_rollups_equal_raw_counts(stats):
    raw = rows(
        """
        SELECT date_trunc('hour', time, 'UTC'), environment_id, event, count(*) FROM events
        WHERE project_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
        [stats.project_id],
    )
    hourly = rows(
        """
        SELECT bucket, environment_id, event, events FROM event_counts_hourly
        WHERE project_id = %s ORDER BY 1, 2, 3
        """,
        [stats.project_id],
    )
    assert hourly == raw
    ((daily, actors),) = rows(
        """
        SELECT (SELECT sum(events) FROM event_counts_daily WHERE project_id = %s),
               (SELECT sum(events) FROM event_actors_hourly WHERE project_id = %s)
        """,
        [stats.project_id] * 2,
    )
    assert daily == actors == EVENTS
    assert sum(stats.mix.values()) == EVENTS


INDEXES = """
    SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
    WHERE i.indrelid = 'events'::regclass ORDER BY 1
"""
PARTITIONS_SHORT_OF_AN_INDEX = """
    SELECT count(*) FROM pg_partition_tree('events') p
    WHERE p.isleaf AND (SELECT count(*) FROM pg_index WHERE indrelid = p.relid)
        <> (SELECT count(*) FROM pg_index WHERE indrelid = 'events'::regclass)
"""


def test_the_event_indexes_come_back_as_the_migrations_made_them(db):
    before = rows(INDEXES)
    assert {name for name in (s.split()[2] for s in schema.EVENTS_INDEXES)} <= {
        d[0].split()[2] for d in before
    }
    querydata.load(events=EVENTS, days=DAYS, persons=PERSONS, seed=7, workers=1)
    assert rows(INDEXES) == before
    assert rows(PARTITIONS_SHORT_OF_AN_INDEX) == [(0,)]


def test_a_second_load_with_the_same_parameters_finds_the_data(stats):
    again = querydata.load(events=EVENTS, days=DAYS, persons=PERSONS, seed=7, workers=1)
    assert again.skipped and again.project_id == stats.project_id and again.events == EVENTS
    other = querydata.load(events=EVENTS // 2, days=DAYS, persons=PERSONS, seed=7, workers=1)
    assert not other.skipped and other.project_id != stats.project_id
    assert rows("SELECT count(*) FROM events")[0][0] == EVENTS // 2
    assert not Person.objects.filter(project_id=stats.project_id).exists()
