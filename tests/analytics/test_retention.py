"""Retention: cohorts by first occurrence (or first appearance), returns per period, the triangle,
identity merge across login. Expected tables computed by hand."""

import pytest

from analytics.insights.definitions import QueryError, parse_retention
from analytics.insights.retention import run_retention
from tests.analytics.insight_data import at, ev, write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

NOW = at("2026-11-12 12:00")


def retention(project, **query):
    definition = parse_retention(
        {
            "cohort_event": "signed_up",
            "return_event": "visit",
            "date_range": {"date_from": "2026-11-08", "date_to": "2026-11-10"},
            "periods": 3,
            **query,
        }
    )
    return run_retention(project, definition, now=NOW)


def table(outcome):
    return [(c.start.date().isoformat(), c.size, c.counts) for c in outcome.cohorts]


def test_daily_cohorts_form_a_triangle(project):
    write(
        [
            ev(project, "2026-11-08 09:00", "signed_up", "P1"),
            ev(project, "2026-11-09 09:00", "visit", "P1"),
            ev(project, "2026-11-11 09:00", "visit", "P1"),
            ev(project, "2026-11-08 10:00", "signed_up", "P2"),
            ev(project, "2026-11-08 11:00", "visit", "P2"),  # the cohort's own day: period 0
            ev(project, "2026-11-10 09:00", "visit", "P2"),
            ev(project, "2026-11-09 09:00", "signed_up", "P3"),
            ev(project, "2026-11-10 09:00", "visit", "P3"),
            ev(project, "2026-11-10 19:00", "visit", "P3"),  # twice in a day counts once
            ev(project, "2026-11-12 09:00", "visit", "P3"),
            ev(project, "2026-11-07 09:00", "signed_up", "P4"),  # first occurrence before the range
            ev(project, "2026-11-09 09:00", "signed_up", "P4"),
            ev(project, "2026-11-10 09:00", "visit", "P4"),
            ev(project, "2026-11-10 09:00", "signed_up", "P5"),
            ev(project, "2026-11-11 09:00", "visit", "P5"),
            ev(project, "2026-11-09 09:00", "visit", "P6"),  # never signed up
        ]
    )
    outcome = retention(project)
    assert table(outcome) == [
        ("2026-11-08", 2, [2, 1, 1, 1]),
        ("2026-11-09", 1, [1, 1, 0, 1]),
        ("2026-11-10", 1, [1, 1, 0, None]),  # the 13th has not started on the 12th
    ]
    assert outcome.cohorts[0].rates == [1, 0.5, 0.5, 0.5]
    # Period 1: (1 + 1 + 1) / (2 + 1 + 1); period 3: only the cohorts that reached it.
    assert outcome.average_rates() == [1, 0.75, 0.25, 2 / 3]


def test_weekly_cohorts_by_first_appearance(project):
    write(
        [
            ev(project, "2026-11-02 09:00", "page_view", "Q1"),  # a Monday
            ev(project, "2026-11-10 09:00", "visit", "Q1"),
            ev(project, "2026-11-03 09:00", "search", "Q2"),
            ev(project, "2026-11-04 09:00", "visit", "Q2"),  # same week: period 0
        ]
    )
    outcome = retention(
        project,
        cohort_event="$signup",
        interval="week",
        periods=2,
        date_range={"date_from": "2026-11-02", "date_to": "2026-11-08"},
    )
    assert table(outcome) == [("2026-11-02", 2, [2, 1, None])]


def test_a_person_is_followed_across_login(project):
    write([ev(project, "2026-11-08 09:00", "signed_up", "anon-a")])
    write([ev(project, "2026-11-09 09:00", "visit", "u-a")], links={"u-a": "anon-a"})
    assert table(retention(project))[0] == ("2026-11-08", 1, [1, 1, 0, 0])


def test_cohort_and_return_filters(project):
    write(
        [
            ev(project, "2026-11-08 09:00", "signed_up", "R1", plan="pro"),
            ev(project, "2026-11-09 09:00", "visit", "R1", page="/pricing"),
            ev(project, "2026-11-08 09:00", "signed_up", "R2", plan="free"),
            ev(project, "2026-11-09 09:00", "visit", "R2", page="/home"),
        ]
    )
    pro = retention(project, cohort_filters=[{"property": "plan", "value": "pro"}])
    assert table(pro)[0] == ("2026-11-08", 1, [1, 1, 0, 0])
    pricing = retention(project, return_filters=[{"property": "page", "value": "/pricing"}])
    assert table(pricing)[0] == ("2026-11-08", 2, [2, 1, 0, 0])


def test_no_data_gives_empty_cohorts(project):
    assert table(retention(project)) == [
        ("2026-11-08", 0, [0, 0, 0, 0]),
        ("2026-11-09", 0, [0, 0, 0, 0]),
        ("2026-11-10", 0, [0, 0, 0, None]),
    ]


def test_bad_retention_names_the_field():
    with pytest.raises(QueryError) as error:
        parse_retention({"cohort_event": "a", "return_event": "b", "periods": 99})
    assert error.value.field == "periods"
