"""KPI cards: one number over a range against a target, with the previous period and a sparkline.

A KPI is a trend of one series by day (by hour over the last 24 hours) with the comparison on: the
series' totals over the whole range are the value and the previous value (so unique users are
distinct over the range, not a sum of days), and its daily values are the sparkline.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone as dj_timezone

from analytics.insights.definitions import KpiQuery, TrendQuery
from analytics.insights.trends import TrendResult, cached_trend, run_trend
from projects.models import Project

ON, BELOW, ABOVE, NO_TARGET, NO_DATA = "on", "below", "above", "no_target", "no_data"
STATUS_LABELS = {
    ON: "on target",
    BELOW: "below target",
    ABOVE: "above target",
    NO_TARGET: "no target",
    NO_DATA: "no data",
}


@dataclass
class KpiOutcome:
    label: str
    math: str
    value: float | None
    previous_value: float | None
    change: float | None  # relative (0.25 is +25 %); None when the previous value is 0 or missing
    status: str  # on, below, above, no_target; no_data when nothing was measured (an avg of no events)
    target: float | None
    lower: float | None
    upper: float | None
    higher_is_better: bool
    sparkline: list[float | None]  # one value per day of the range (per hour for 24h)
    buckets: list[datetime]
    start: datetime
    end: datetime
    source: str  # "rollups" or "events", as the trend says
    timezone: str = "UTC"
    previous_start: datetime | None = None
    previous_end: datetime | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def tone(self) -> str:
        """The badge's colour: good (on target), bad (off target on the worse side), warn (outside
        the thresholds on the better side: worth a look), or neutral."""
        if self.status == ON:
            return "good"
        if self.status == BELOW:
            return "bad" if self.higher_is_better else "warn"
        if self.status == ABOVE:
            return "warn" if self.higher_is_better else "bad"
        return "neutral"

    @property
    def change_is_good(self) -> bool | None:
        if not self.change:
            return None
        return (self.change > 0) == self.higher_is_better

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "math": self.math,
            "value": self.value,
            "previous_value": self.previous_value,
            "change": self.change,
            "status": self.status,
            "target": self.target,
            "lower": self.lower,
            "upper": self.upper,
            "higher_is_better": self.higher_is_better,
            "sparkline": self.sparkline,
            "buckets": [bucket.isoformat() for bucket in self.buckets],
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
            "previous_date_from": self.previous_start.isoformat() if self.previous_start else None,
            "previous_date_to": self.previous_end.isoformat() if self.previous_end else None,
            "timezone": self.timezone,
            "source": self.source,
        }


def kpi_status(value: float | None, query: KpiQuery) -> str:
    """The status rule: thresholds first (below ``lower`` / above ``upper``, between is on);
    otherwise the target is the line, on its better side (or on it) is on."""
    if query.lower is not None or query.upper is not None:
        if value is None:
            return NO_DATA
        if query.lower is not None and value < query.lower:
            return BELOW
        if query.upper is not None and value > query.upper:
            return ABOVE
        return ON
    if query.target is None:
        return NO_TARGET
    if value is None:
        return NO_DATA
    if query.higher_is_better:
        return ON if value >= query.target else BELOW
    return ON if value <= query.target else ABOVE


def relative_change(value: float | None, previous: float | None) -> float | None:
    if value is None or not previous:
        return None
    return (value - previous) / abs(previous)


def trend_query_of(query: KpiQuery) -> TrendQuery:
    # TRICKY: ranges are whole buckets, so "24h" by day would be yesterday and today (up to 48 hours):
    # the last 24 hours are counted by the hour (25 buckets, the current one included).
    interval = "hour" if query.date_range.range == "24h" else "day"
    return TrendQuery(
        series=(query.series,),
        interval=interval,
        date_range=query.date_range,
        environment=query.environment,
        filters=query.filters,
        compare=True,
    )


def outcome_of(query: KpiQuery, trend: TrendResult) -> KpiOutcome:
    current = next(s for s in trend.series if s.compare == "current")
    previous = next((s for s in trend.series if s.compare == "previous"), None)
    value = current.total
    previous_value = previous.total if previous else None
    return KpiOutcome(
        label=query.series.name,
        math=query.series.math,
        value=value,
        previous_value=previous_value,
        change=relative_change(value, previous_value),
        status=kpi_status(value, query),
        target=query.target,
        lower=query.lower,
        upper=query.upper,
        higher_is_better=query.higher_is_better,
        sparkline=list(current.values),
        buckets=list(trend.buckets),
        start=trend.start,
        end=trend.end,
        source=trend.source,
        timezone=trend.timezone,
        previous_start=trend.previous_buckets[0] if trend.previous_buckets else None,
        previous_end=trend.start if trend.previous_buckets else None,
    )


def run_kpi(
    project: Project, query: KpiQuery, now: datetime | None = None, *, cached: bool = False
) -> KpiOutcome:
    """The KPI of ``query`` (raises QueryError on a bad range or environment). ``cached`` reads
    through the trend cache (dashboards)."""
    now = now or dj_timezone.now()
    trend_query = trend_query_of(query)
    trend = (
        cached_trend(project, trend_query, now=now) if cached else run_trend(project, trend_query, now=now)
    )
    return outcome_of(query, trend)
