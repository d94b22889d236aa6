"""KPI cards: the value and the previous period's from the trend totals (unique users distinct over
the range, not a sum of days), the change, the daily sparkline, and the on / below / above rule.
Expected values are computed by hand below."""

import uuid

import pytest

from analytics.insights.definitions import QueryError, parse_kpi, parse_trend
from analytics.insights.kpis import kpi_status, relative_change, run_kpi
from analytics.insights.trends import run_trend
from tests.analytics.insight_data import at, ev, refresh_rollups, write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

NOW = at("2026-11-12 12:00")
TWO_DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}  # the previous period: Nov 8 and 9


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Cached trends are keyed by project id: other test databases on the same Redis reuse ids."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}"}
    }


@pytest.fixture
def shop(project):
    write(
        [
            # the range: Nov 10: u1 (10), u1 (20), u2 (30); Nov 11: u3 (40), u1 (100)
            ev(project, "2026-11-10 09:00", "purchase", "u1", "s1", amount=10),
            ev(project, "2026-11-10 10:00", "purchase", "u1", "s1", amount=20),
            ev(project, "2026-11-10 11:00", "purchase", "u2", "s2", amount=30),
            ev(project, "2026-11-11 08:00", "purchase", "u3", "s3", amount=40),
            ev(project, "2026-11-11 20:00", "purchase", "u1", "s4", amount=100),
            # the previous period: Nov 8: u1 (50); Nov 9: u5 (50)
            ev(project, "2026-11-08 09:00", "purchase", "u1", "s0", amount=50),
            ev(project, "2026-11-09 09:00", "purchase", "u5", "s5", amount=50),
            # outside both, another event, another environment
            ev(project, "2026-11-07 09:00", "purchase", "u1", "s6", amount=1000),
            ev(project, "2026-11-12 09:00", "purchase", "u1", "s7", amount=1000),
            ev(project, "2026-11-10 09:30", "page_view", "u1", "s1"),
            ev(project, "2026-11-10 12:00", "purchase", "u9", "s8", env="staging", amount=5),
        ]
    )
    refresh_rollups()
    return project


def kpi(project, series=None, **fields):
    definition = parse_kpi(
        {
            "series": series or {"event": "purchase"},
            "date_range": TWO_DAYS,
            "environment": "production",
            **fields,
        }
    )
    return run_kpi(project, definition, now=NOW)


def test_it_counts_the_range_and_the_previous_period(shop):
    outcome = kpi(shop)
    assert outcome.value == 5
    assert outcome.previous_value == 2
    assert outcome.change == pytest.approx(1.5)  # (5 - 2) / 2
    assert outcome.sparkline == [3, 2]
    assert [b.date().isoformat() for b in outcome.buckets] == ["2026-11-10", "2026-11-11"]
    assert outcome.source == "rollups"
    assert outcome.status == "no_target"
    assert outcome.label == "purchase"


def test_unique_users_are_distinct_over_the_range_not_a_sum_of_days(shop):
    outcome = kpi(shop, {"event": "purchase", "math": "users"})
    assert outcome.sparkline == [2, 2]  # Nov 10: u1 u2; Nov 11: u3 u1
    assert outcome.value == 3  # u1, u2, u3: not 4
    assert outcome.previous_value == 2  # u1, u5
    assert outcome.change == pytest.approx(0.5)


def test_a_property_aggregate_reads_raw_events(shop):
    total = kpi(shop, {"event": "purchase", "math": "sum", "property": "amount"})
    assert (total.value, total.previous_value, total.sparkline) == (200, 100, [60, 140])
    assert total.change == pytest.approx(1.0)
    assert total.source == "events"
    average = kpi(shop, {"event": "purchase", "math": "avg", "property": "amount"})
    assert average.value == pytest.approx(40)  # 200 / 5, not the mean of the daily means (20, 70)
    assert average.previous_value == pytest.approx(50)
    assert average.change == pytest.approx(-0.2)


def test_filters_apply_to_both_periods(shop):
    outcome = kpi(shop, filters=[{"property": "amount", "operator": "gte", "value": 40}])
    assert (outcome.value, outcome.previous_value) == (2, 2)
    assert outcome.change == 0


def test_no_previous_events_means_no_change(shop):
    outcome = kpi(shop, {"event": "page_view"})
    assert (outcome.value, outcome.previous_value, outcome.change) == (1, 0, None)


def test_an_average_of_nothing_has_no_data(shop):
    outcome = kpi(shop, {"event": "never_sent", "math": "avg", "property": "amount"}, target=10)
    assert outcome.value is None
    assert outcome.sparkline == [None, None]
    assert outcome.status == "no_data"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"target": 5}, "on"),  # at least the target
        ({"target": 6}, "below"),
        ({"target": 4, "higher_is_better": False}, "above"),
        ({"target": 5, "higher_is_better": False}, "on"),  # at most the target
        ({"lower": 3, "upper": 8}, "on"),
        ({"lower": 6}, "below"),
        ({"upper": 4}, "above"),
        ({"lower": 5, "upper": 5}, "on"),
        ({"target": 100, "lower": 1, "upper": 9}, "on"),  # thresholds win over the target
    ],
)
def test_the_status_against_the_target(shop, fields, status):
    outcome = kpi(shop, **fields)
    assert outcome.value == 5
    assert outcome.status == status


def test_the_status_rule_by_hand():
    def query(**fields):
        return parse_kpi({"series": {"event": "e"}, **fields})

    assert kpi_status(10, query()) == "no_target"
    assert kpi_status(9.99, query(target=10)) == "below"
    assert kpi_status(10.01, query(target=10, higher_is_better=False)) == "above"
    assert kpi_status(0, query(lower=0)) == "on"
    assert kpi_status(-1, query(lower=0)) == "below"
    assert kpi_status(None, query(target=1)) == "no_data"


def test_the_change_is_relative_and_missing_without_a_previous_value():
    assert relative_change(15, 10) == pytest.approx(0.5)
    assert relative_change(5, 10) == pytest.approx(-0.5)
    assert relative_change(5, 0) is None
    assert relative_change(5, None) is None
    assert relative_change(None, 3) is None
    assert relative_change(-5, -10) == pytest.approx(0.5)  # up from -10 is up


def test_the_cached_run_gives_the_same_numbers(shop):
    definition = parse_kpi({"series": {"event": "purchase", "math": "users"}, "date_range": TWO_DAYS})
    fresh = run_kpi(shop, definition, now=NOW)
    cached = run_kpi(shop, definition, now=NOW, cached=True)
    again = run_kpi(shop, definition, now=NOW, cached=True)
    assert fresh.as_json() == cached.as_json() == again.as_json()
    assert fresh.value == 4  # every environment: u9 on staging too


def test_a_named_range_ends_today_and_compares_with_the_days_before(shop):
    outcome = run_kpi(shop, parse_kpi({"series": {"event": "purchase"}, "date_range": "7d"}), now=NOW)
    # 7d: the day holding now - 7 days (Nov 5) to the end of today (Nov 12): 8 days.
    assert len(outcome.sparkline) == 8
    assert outcome.value == 10  # every purchase from Nov 7 to 12 (1+1+1+4+2+1), staging's too
    assert outcome.previous_value == 0
    assert outcome.as_json()["date_from"] == "2026-11-05T00:00:00+00:00"
    assert outcome.as_json()["previous_date_from"] == "2026-10-28T00:00:00+00:00"


def test_the_last_24_hours_are_counted_by_the_hour(shop):
    # Now is Nov 12 12:00: from Nov 11 12:00 to the end of the current hour (13:00), 25 hours.
    outcome = run_kpi(shop, parse_kpi({"series": {"event": "purchase"}, "date_range": "24h"}), now=NOW)
    assert len(outcome.sparkline) == 25
    assert outcome.source == "rollups"  # hourly rollups: daily rows would cut through the range's edges
    assert (
        outcome.value == 2
    )  # Nov 11 20:00 and Nov 12 09:00 (not Nov 11 08:00: a day's buckets would take it)
    # Nov 10 11:00 to Nov 11 12:00: Nov 10 11:00, Nov 10 12:00 (staging) and Nov 11 08:00
    assert outcome.previous_value == 3
    assert outcome.as_json()["date_from"] == "2026-11-11T12:00:00+00:00"


def test_an_unknown_environment_is_a_query_error(shop):
    with pytest.raises(QueryError) as raised:
        kpi(shop, environment="nope")
    assert raised.value.field == "environment"


def test_steady_traffic_shows_no_change_although_today_is_unfinished(project):
    """The current period ends with today, half gone at noon: the previous total is cut at the same
    point of its own period, so a steady stream compares as steady, from rollups and events alike."""
    from datetime import timedelta

    start = at("2026-10-28 00:30")
    write(
        [
            ev(project, (start + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M"), "tick", "u1")
            for h in range(15 * 24 + 12)  # until now: no events from the future
        ]
    )
    refresh_rollups()
    for series in ({"event": "tick"}, {"event": "tick", "math": "sum", "property": "missing"}):
        outcome = run_kpi(project, parse_kpi({"series": series, "date_range": "7d"}), now=NOW)
        if series.get("math") == "sum":
            assert outcome.source == "events"
            continue
        assert outcome.source == "rollups"
        assert (outcome.value, outcome.previous_value, outcome.change) == (180, 180, 0)
    raw = run_trend(
        project,
        parse_trend({"series": [{"event": "tick"}], "date_range": "7d", "compare": True}),
        now=NOW,
        use_rollups=False,
    )
    assert [s.total for s in raw.series] == [180, 180]
