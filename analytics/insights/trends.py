"""The trend runner: choose the source, run each series, zero-fill the buckets, compare, cache.

Rollups answer a series when the question allows it: count, unique users or unique sessions, no
property filter, no breakdown, buckets of an hour or more, and a time zone whose offset is whole
hours (daily rollups when local days are UTC days). Anything else reads raw events. The result says
which (``source``).
"""

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.core.cache import cache
from django.db import connection
from django.utils import timezone as dj_timezone

from analytics.insights import timerange
from analytics.insights.definitions import COUNT_MATHS, QueryError, TrendQuery, TrendSeries, to_json
from analytics.queries import trends as builder
from projects.models import Environment, Project

CACHE_SECONDS = 30
OTHER = "$other"


@dataclass
class SeriesResult:
    label: str
    event: str
    math: str
    values: list[float | None]
    breakdown: str | None = None  # the value, for a broken-down series
    is_other: bool = False
    compare: str = "current"  # or "previous": the same series over the period before
    total: float | None = None  # over the whole range (unique counts are not sums of buckets)


@dataclass
class TrendResult:
    buckets: list[datetime]
    series: list[SeriesResult]
    source: str  # "rollups" when every series came from rollups, else "events"
    interval: str
    timezone: str
    start: datetime
    end: datetime
    previous_buckets: list[datetime] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # per series

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "interval": self.interval,
            "timezone": self.timezone,
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
            "buckets": [bucket.isoformat() for bucket in self.buckets],
            "previous_buckets": [bucket.isoformat() for bucket in self.previous_buckets],
            "series": [
                {
                    "label": s.label,
                    "event": s.event,
                    "math": s.math,
                    "breakdown": s.breakdown,
                    "is_other": s.is_other,
                    "compare": s.compare,
                    "values": s.values,
                    "total": s.total,
                    "source": source,
                }
                for s, source in zip(self.series, self.sources, strict=True)
            ],
        }


def environment_id_of(project: Project, slug: str | None) -> int | None:
    if not slug:
        return None
    environment_id = (
        Environment.objects.filter(project=project, slug=slug).values_list("id", flat=True).first()
    )
    if environment_id is None:
        raise QueryError("environment", f"This project has no environment {slug!r}.")
    return environment_id


def can_use_rollups(series: TrendSeries, query: TrendQuery, window: timerange.Window) -> bool:
    return (
        series.math in COUNT_MATHS
        and not series.filters
        and not query.filters
        and query.breakdown is None
        and window.interval != "15min"
        and timerange.whole_hour_offsets(window)
    )


def _series_rows(series, query, scope, window, *, use_rollups: bool) -> tuple[str, list[builder.TrendRow]]:
    if use_rollups and can_use_rollups(series, query, window):
        # Daily rollups only when the window is made of whole days: the whole-range total (interval
        # None) of an hourly window must not read the daily rows its edges cut through.
        whole_days = (
            window.interval in ("day", "week") and timerange.utc_aligned(window) and scope.end == window.end
        )
        grain = "day" if whole_days else "hour"
        return builder.ROLLUPS, builder.run(builder.build_rollup_query(series, scope, grain=grain))
    fragment = builder.build_raw_query(series, scope, filters=query.filters, breakdown=query.breakdown)
    return builder.EVENTS, builder.run(fragment)


def _fill(buckets: list[datetime], rows: list[builder.TrendRow], math: str) -> dict[tuple, list]:
    """Values per (breakdown, is_other), one per bucket: 0 for counts, None where nothing was measured."""
    empty = 0.0 if math in COUNT_MATHS or math == "sum" else None
    grouped: dict[tuple, list] = {}
    for row in rows:
        values = grouped.setdefault((row.breakdown, row.is_other), [empty] * len(buckets))
        # A bucket the database labels differently (a repeated hour at a DST change) joins the bucket it falls in.
        index = max(bisect.bisect_right(buckets, row.bucket) - 1, 0)
        if row.value is None:
            continue
        if values[index] in (None, 0.0):
            values[index] = row.value
        elif math in ("count", "sum"):  # additive; for the others the first bucket's value stands
            values[index] += row.value
    return grouped


def _run_window(
    project,
    query,
    window,
    environment_id,
    *,
    compare: str,
    use_rollups: bool,
    total_end: datetime | None = None,
):
    """The series over ``window``; their totals over ``window.start .. total_end`` (default: its end)."""
    buckets = window.buckets()
    results, sources = [], []
    for series in query.series:
        scope = builder.SeriesScope(
            project_id=project.id,
            environment_id=environment_id,
            start=window.start,
            end=window.end,
            timezone=window.timezone,
            interval=window.interval,
        )
        source, rows = _series_rows(series, query, scope, window, use_rollups=use_rollups)
        whole = builder.SeriesScope(**{**scope.__dict__, "interval": None, "end": total_end or window.end})
        _, total_rows = _series_rows(series, query, whole, window, use_rollups=use_rollups)
        totals = {(row.breakdown, row.is_other): row.value for row in total_rows}
        grouped = _fill(buckets, rows, series.math)
        ordered = sorted(grouped, key=lambda key: (key[1], -(totals.get(key) or 0), key[0] or ""))
        if not ordered and query.breakdown is None:
            ordered = [(None, False)]
            grouped[(None, False)] = _fill(buckets, [], series.math).get((None, False)) or [
                0.0 if series.math in COUNT_MATHS or series.math == "sum" else None
            ] * len(buckets)
        for key in ordered:
            breakdown, is_other = key
            total = totals.get(key)
            if total is None and series.math in COUNT_MATHS + ("sum",):
                total = 0.0
            results.append(
                SeriesResult(
                    label=series.name
                    if query.breakdown is None
                    else f"{series.name} · {_breakdown_label(breakdown, is_other)}",
                    event=series.event,
                    math=series.math,
                    values=grouped[key],
                    breakdown=OTHER if is_other else breakdown,
                    is_other=is_other,
                    compare=compare,
                    total=total,
                )
            )
            sources.append(source)
    return buckets, results, sources


def _breakdown_label(value: str | None, is_other: bool) -> str:
    if is_other:
        return "other"
    return "(not set)" if value is None else value


def run_trend(
    project: Project, query: TrendQuery, *, now: datetime | None = None, use_rollups: bool = True
) -> TrendResult:
    """The trend of ``query`` over the project's events (raises QueryError on a bad range)."""
    now = now or dj_timezone.now()
    window = timerange.resolve(query.date_range, interval=query.interval, timezone=project.timezone, now=now)
    environment_id = environment_id_of(project, query.environment)
    buckets, series, sources = _run_window(
        project, query, window, environment_id, compare="current", use_rollups=use_rollups
    )
    previous_buckets: list[datetime] = []
    if query.compare:
        previous = window.previous()
        # TRICKY: the current window runs to the end of the bucket holding now, so its total covers
        # only the time elapsed; the previous total is cut at the same point of its period, or an
        # unfinished day (or hour) would always look like a drop.
        elapsed = min(now, window.end) - window.start
        previous_buckets, previous_series, previous_sources = _run_window(
            project,
            query,
            previous,
            environment_id,
            compare="previous",
            use_rollups=use_rollups,
            total_end=min(previous.end, previous.start + elapsed),
        )
        for item in previous_series:
            item.values = (item.values + [None] * len(buckets))[: len(buckets)]
        series += previous_series
        sources += previous_sources
    return TrendResult(
        buckets=buckets,
        series=series,
        source=builder.ROLLUPS if sources and all(s == builder.ROLLUPS for s in sources) else builder.EVENTS,
        interval=query.interval,
        timezone=project.timezone,
        start=window.start,
        end=window.end,
        previous_buckets=previous_buckets,
        sources=sources,
    )


def cached_trend(project: Project, query: TrendQuery, *, now: datetime | None = None) -> TrendResult:
    """``run_trend`` behind a short cache: a dashboard of many viewers costs one query a minute."""
    now = now or dj_timezone.now()
    digest = hashlib.sha256(orjson.dumps(to_json(query), option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    # The database's name too: two databases on one Redis (tests, staging) reuse project ids.
    database = connection.settings_dict["NAME"]
    key = f"trend:{database}:{project.id}:{project.timezone}:{digest}:{int(now.timestamp()) // CACHE_SECONDS}"
    result = cache.get(key)
    if result is None:
        result = run_trend(project, query, now=now)
        cache.set(key, result, CACHE_SECONDS * 2)
    return result
