"""Snapshots of the generated SQL of the canonical trend and funnel (CONVENTIONS.md: a change to
them must be deliberate). Each backend has its own file, since time bucketing differs.

After a deliberate change: ``UPDATE_SNAPSHOTS=1 pytest tests/analytics/test_query_snapshots.py``
on both backends, and review the diff.
"""

import os
from pathlib import Path

import pytest
from django.db import connection

from analytics.insights.definitions import parse_funnel, parse_trend
from analytics.queries import funnels, trends
from analytics.storage import get_store
from tests.analytics.insight_data import at

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

SNAPSHOTS = Path(__file__).parent / "snapshots"
START, END = at("2026-11-01 00:00"), at("2026-11-08 00:00")


def _check(name: str, fragment) -> None:
    with connection.cursor() as cursor:
        text = fragment.sql.as_string(cursor.connection)
    rendered = "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
    rendered += f"\n-- params: {fragment.params!r}\n"
    path = SNAPSHOTS / f"{name}.{get_store().name}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(rendered)
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"{path.name} did not exist: written, review and commit it")
    assert rendered == path.read_text(), f"the SQL of {name} changed: review, then UPDATE_SNAPSHOTS=1"


def test_the_canonical_trend_sql():
    """Daily unique users of one event with an event-property filter and a breakdown (raw events)."""
    query = parse_trend(
        {
            "series": [{"event": "order_completed", "math": "users"}],
            "filters": [{"property": "currency", "operator": "eq", "value": "EUR"}],
            "breakdown": {"property": "country", "source": "person", "limit": 5},
        }
    )
    scope = trends.SeriesScope(1, 2, START, END, "Europe/Paris", "day")
    _check(
        "trend_raw",
        trends.build_raw_query(query.series[0], scope, filters=query.filters, breakdown=query.breakdown),
    )


def test_the_canonical_trend_sql_from_rollups():
    query = parse_trend({"series": [{"event": "order_completed"}]})
    scope = trends.SeriesScope(1, None, START, END, "UTC", "hour")
    _check("trend_rollup", trends.build_rollup_query(query.series[0], scope, grain="hour"))


def test_the_canonical_funnel_sql():
    """Three ordered steps, a step filter, a one-hour window."""
    query = parse_funnel(
        {
            "steps": [
                "product_viewed",
                {
                    "event": "added_to_cart",
                    "filters": [{"property": "quantity", "operator": "gte", "value": 1}],
                },
                "order_completed",
            ],
            "window_seconds": 3600,
        }
    )
    _check("funnel_ordered", funnels.build_funnel_query(query, funnels.FunnelScope(1, None, START, END)))
