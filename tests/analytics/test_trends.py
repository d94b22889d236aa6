"""Trends: every aggregate, buckets in the project's zone, filters, breakdown, comparison, and the
rollups giving the same numbers as raw events. Expected values are computed by hand below."""

import pytest

from analytics.insights.definitions import QueryError, parse_trend
from analytics.insights.trends import run_trend
from tests.analytics.insight_data import at, ev, refresh_rollups, write
from tests.conftest import make_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

NOW = at("2026-11-12 12:00")
TWO_DAYS = {"date_from": "2026-11-10", "date_to": "2026-11-11"}


@pytest.fixture
def shop(project):
    write(
        [
            ev(project, "2026-11-10 09:00", "purchase", "u1", "s1", amount=10, plan="pro"),
            ev(project, "2026-11-10 10:00", "purchase", "u1", "s1", amount=20, plan="pro"),
            ev(project, "2026-11-10 11:00", "purchase", "u2", "s2", amount=30, plan="free"),
            ev(project, "2026-11-11 08:00", "purchase", "u3", "s3", amount=40, plan="free"),
            ev(project, "2026-11-11 09:00", "purchase", "u3", "s4", amount="oops"),
            ev(
                project,
                "2026-11-11 23:30",
                "purchase",
                "u4",
                "s5",
                amount=100,
                plan="team",
                coupon="WINTER_10%",
            ),
            # not counted: another event, another day, another environment's events are (no env filter)
            ev(project, "2026-11-10 09:30", "page_view", "u1", "s1"),
            ev(project, "2026-11-12 09:00", "purchase", "u1", "s9", amount=1000),
            ev(project, "2026-11-10 12:00", "purchase", "u9", "s8", env="staging", amount=5, plan="pro"),
        ],
        person_properties={"u1": {"country": "FR"}, "u2": {"country": "DE"}, "u3": {"country": "FR"}},
    )
    refresh_rollups()
    return project


def trend(project, *, use_rollups=True, **query):
    definition = parse_trend({"date_range": TWO_DAYS, "environment": "production", **query})
    return run_trend(project, definition, now=NOW, use_rollups=use_rollups)


def values(result, index=0):
    return result.series[index].values


@pytest.mark.parametrize(
    ("math", "expected"),
    [
        # Nov 10: 10, 20, 30 (u1 u1 u2, s1 s1 s2); Nov 11: 40, "oops", 100 (u3 u3 u4, s3 s4 s5).
        ("count", [3, 3]),
        ("users", [2, 2]),
        ("sessions", [2, 3]),
        ("sum", [60, 140]),
        ("avg", [20, 70]),
        ("min", [10, 40]),
        ("max", [30, 100]),
        ("median", [20, 70]),
        # percentile_cont: 0.95 * (3 - 1) = 1.9 -> 20 + 0.9 * 10; 0.95 * (2 - 1) -> 40 + 0.95 * 60.
        ("p95", [29, 97]),
    ],
)
def test_it_computes_every_aggregate_per_day(shop, math, expected):
    series = {"event": "purchase", "math": math}
    if math not in ("count", "users", "sessions"):
        series["property"] = "amount"
    result = trend(shop, series=[series])
    assert [round(v, 6) for v in values(result)] == expected
    assert result.series[0].total == pytest.approx(
        {
            "count": 6,
            "users": 4,
            "sessions": 5,
            "sum": 200,
            "avg": 40,
            "min": 10,
            "max": 100,
            "median": 30,
            "p95": 88,
        }[math]
    )


@pytest.mark.parametrize("math", ["count", "users", "sessions"])
def test_rollups_give_the_same_numbers_as_raw_events_and_say_so(shop, math):
    from_rollups = trend(shop, series=[{"event": "purchase", "math": math}], interval="hour")
    from_events = trend(
        shop, series=[{"event": "purchase", "math": math}], interval="hour", use_rollups=False
    )
    assert from_rollups.source == "rollups"
    assert from_events.source == "events"
    assert values(from_rollups) == values(from_events)
    assert len(from_rollups.buckets) == 48
    assert from_rollups.series[0].total == from_events.series[0].total


def test_a_property_aggregate_or_a_filter_reads_raw_events(shop):
    assert trend(shop, series=[{"event": "purchase", "math": "sum", "property": "amount"}]).source == "events"
    filtered = trend(
        shop,
        series=[{"event": "purchase", "filters": [{"property": "plan", "operator": "eq", "value": "pro"}]}],
    )
    assert filtered.source == "events"
    assert values(filtered) == [2, 0]


def test_buckets_follow_the_projects_time_zone(shop):
    shop.timezone = "Europe/Paris"  # UTC+1 in November: 23:30 UTC on the 11th is the 12th in Paris
    shop.save()
    for use_rollups in (True, False):
        result = trend(shop, series=[{"event": "purchase"}], use_rollups=use_rollups)
        assert [b.isoformat() for b in result.buckets] == [
            "2026-11-09T23:00:00+00:00",
            "2026-11-10T23:00:00+00:00",
        ]
        assert values(result) == [3, 2]
        assert result.source == ("rollups" if use_rollups else "events")


def test_week_and_quarter_hour_buckets(shop):
    weekly = trend(shop, series=[{"event": "purchase"}], interval="week")
    assert [b.date().isoformat() for b in weekly.buckets] == ["2026-11-09"]  # a Monday
    assert values(weekly) == [7]  # whole weeks: the 12th's purchase is in it
    quarter = trend(shop, series=[{"event": "purchase"}], interval="15min")
    assert quarter.source == "events"
    assert len(quarter.buckets) == 2 * 96
    assert sum(values(quarter)) == 6
    assert values(quarter)[9 * 4] == 1  # 09:00-09:15 on the 10th


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"property": "plan", "operator": "eq", "value": "free"}, [1, 1]),
        ({"property": "plan", "operator": "neq", "value": "free"}, [2, 2]),  # "is not" keeps unset ones
        ({"property": "plan", "operator": "in", "value": ["pro", "team"]}, [2, 1]),
        ({"property": "plan", "operator": "not_in", "value": "pro, team"}, [1, 2]),
        ({"property": "coupon", "operator": "contains", "value": "10%"}, [0, 1]),
        ({"property": "coupon", "operator": "contains", "value": "1_"}, [0, 0]),  # _ is no wildcard
        ({"property": "plan", "operator": "not_contains", "value": "r"}, [0, 2]),
        ({"property": "amount", "operator": "gt", "value": 20}, [1, 2]),
        ({"property": "amount", "operator": "gte", "value": 20}, [2, 2]),
        ({"property": "amount", "operator": "lt", "value": "40"}, [3, 0]),
        ({"property": "amount", "operator": "lte", "value": 40}, [3, 1]),
        ({"property": "amount", "operator": "eq", "value": "40"}, [0, 1]),  # typed in a form
        ({"property": "amount", "operator": "eq", "value": 40.0}, [0, 1]),
        ({"property": "plan", "operator": "is_set"}, [3, 2]),
        ({"property": "plan", "operator": "is_not_set"}, [0, 1]),
        ({"property": "browser", "source": "context", "operator": "eq", "value": "Chrome"}, [3, 3]),
        ({"property": "country", "source": "person", "operator": "eq", "value": "FR"}, [2, 2]),
        ({"property": "country", "source": "person", "operator": "is_not_set"}, [0, 1]),
    ],
)
def test_each_filter_operator(shop, flt, expected):
    assert values(trend(shop, series=[{"event": "purchase"}], filters=[flt])) == expected


def test_breakdown_keeps_the_top_values_and_folds_the_rest_into_other(shop):
    result = trend(shop, series=[{"event": "purchase"}], breakdown={"property": "plan", "limit": 2})
    by_value = {(s.breakdown, s.is_other): s.values for s in result.series}
    # Counts over the range: pro 2, free 2, team 1, (not set) 1 -> top 2 are free and pro.
    assert by_value == {("free", False): [1, 1], ("pro", False): [2, 0], ("$other", True): [0, 2]}
    assert result.series[-1].label == "purchase · other"
    assert result.source == "events"


def test_breakdown_by_a_person_property_counts_unique_users(shop):
    result = trend(
        shop,
        series=[{"event": "purchase", "math": "users"}],
        breakdown={"property": "country", "source": "person"},
    )
    by_value = {s.breakdown: (s.values, s.total) for s in result.series}
    assert by_value == {"FR": ([1, 1], 2), "DE": ([1, 0], 1), None: ([0, 1], 1)}


def test_comparison_with_the_previous_period(shop):
    write(
        [
            ev(shop, "2026-11-08 10:00", "purchase", "u1", "s0"),
            ev(shop, "2026-11-09 10:00", "purchase", "u1", "s0"),
        ]
    )
    refresh_rollups()
    result = trend(shop, series=[{"event": "purchase"}], compare=True)
    current, previous = result.series
    assert (current.compare, previous.compare) == ("current", "previous")
    assert previous.values == [1, 1]
    assert [b.date().isoformat() for b in result.previous_buckets] == ["2026-11-08", "2026-11-09"]
    assert (current.total, previous.total) == (6, 2)


def test_several_events_on_one_chart(shop):
    result = trend(shop, series=[{"event": "purchase"}, {"event": "page_view", "label": "Views"}])
    assert [(s.label, s.values) for s in result.series] == [("purchase", [3, 3]), ("Views", [1, 0])]


def test_unique_users_follow_one_person_across_login(project):
    # anon-1 browses, then logs in as u1: one person, on raw events and on rollups alike.
    write([ev(project, "2026-11-10 09:00", "purchase", "anon-1", "s1")])
    write([ev(project, "2026-11-10 09:10", "purchase", "u1", "s1")], links={"u1": "anon-1"})
    write([ev(project, "2026-11-10 09:20", "purchase", "u2", "s2")])
    refresh_rollups()
    for use_rollups in (True, False):
        result = trend(project, series=[{"event": "purchase", "math": "users"}], use_rollups=use_rollups)
        assert values(result) == [2, 0]


def test_empty_project_gives_zeros_not_an_error(project):
    result = trend(
        project, series=[{"event": "purchase"}, {"event": "purchase", "math": "avg", "property": "amount"}]
    )
    assert values(result, 0) == [0, 0]
    assert values(result, 1) == [None, None]


def test_outsiders_events_never_count(shop):
    other = make_project()
    write([ev(other, "2026-11-10 09:00", "purchase", "u1", "s1", amount=10)])
    refresh_rollups()
    assert values(trend(shop, series=[{"event": "purchase"}])) == [3, 3]


def test_named_ranges_end_with_the_current_bucket(shop):
    result = run_trend(shop, parse_trend({"series": [{"event": "purchase"}], "date_range": "7d"}), now=NOW)
    assert result.buckets[0].isoformat() == "2026-11-05T00:00:00+00:00"
    assert result.end.isoformat() == "2026-11-13T00:00:00+00:00"
    assert sum(result.series[0].values) == 8  # staging's event and the 12th's included


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"series": []}, "series"),
        ({"series": [{"event": "x", "math": "sum"}]}, "series.0.property"),
        ({"series": [{"event": "x", "math": "mode"}]}, "series.0.math"),
        (
            {"series": [{"event": "x"}], "interval": "15min", "date_range": {"date_from": "2026-01-01"}},
            "interval",
        ),
        (
            {"series": [{"event": "x", "filters": [{"property": "a", "operator": "gt", "value": "many"}]}]},
            "series.0.filters.0.value",
        ),
        ({"series": [{"event": "x"}], "environment": "nowhere"}, "environment"),
        (
            {"series": [{"event": "x"}], "date_range": {"date_from": "2026-11-10", "date_to": "2026-11-01"}},
            "date_range.date_to",
        ),
    ],
)
def test_bad_definitions_name_the_field(project, query, field):
    with pytest.raises(QueryError) as error:
        run_trend(project, parse_trend(query), now=NOW)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"series": [{"event": "x\x00"}]}, "series.0.event"),
        (
            {"series": [{"event": "x", "filters": [{"property": "a", "value": "b\x00"}]}]},
            "series.0.filters.0.value",
        ),
        (
            {"series": [{"event": "x", "filters": [{"property": "a", "value": float("inf")}]}]},
            "series.0.filters.0.value",
        ),
        (
            {"series": [{"event": "x", "filters": [{"property": "a", "operator": "gt", "value": 10**400}]}]},
            "series.0.filters.0.value",
        ),
        (
            {"series": [{"event": "x"}], "breakdown": {"property": "a", "limit": float("inf")}},
            "breakdown.limit",
        ),
        ({"series": [{"event": "x"}], "breakdown": {"property": "a", "limit": True}}, "breakdown.limit"),
        (
            {"series": [{"event": "x"}], "date_range": {"date_from": "9999-12-01", "date_to": "9999-12-31"}},
            "date_range",
        ),
    ],
)
def test_hostile_values_are_refused_with_the_field_not_a_crash(project, query, field):
    with pytest.raises(QueryError) as error:
        run_trend(project, parse_trend(query), now=NOW)
    assert error.value.field == field
