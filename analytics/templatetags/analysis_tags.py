"""Filters of the analysis pages and their result fragments (templates/analysis/_*_result.html)."""

import math

from django import template

register = template.Library()

# Retention cells and funnel bars: CSS classes and SVG attributes instead of inline styles, so a
# strict Content-Security-Policy (no 'unsafe-inline' styles) keeps them.
HEAT_LEVELS = 10


def _short(number: float) -> str:
    """12 -> "12", 2.14 -> "2.1"."""
    text = f"{number:.1f}"
    return text.removesuffix(".0")


@register.filter
def duration(seconds) -> str:
    """A time to convert, humanized: "45 s", "3 min", "2.1 h", "1.5 d"; "–" when unknown."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{_short(seconds)} s"
    if seconds < 3600:
        return f"{_short(seconds / 60)} min"
    if seconds < 86400:
        return f"{_short(seconds / 3600)} h"
    return f"{_short(seconds / 86400)} d"


@register.filter
def percent(rate) -> str:
    """A rate from 0 to 1 as "42.3 %"; blank for None."""
    if rate is None:
        return ""
    return f"{_short(float(rate) * 100)} %"


@register.filter
def bar_width(rate) -> str:
    """A rate from 0 to 1 as an SVG width in a 0..100 viewBox (at least a sliver when above 0)."""
    if not rate:
        return "0"
    return f"{max(float(rate) * 100, 0.5):.2f}"


@register.filter
def heat(rate) -> int:
    """A rate from 0 to 1 as a background level 0..10 (CSS classes heat-0 .. heat-10)."""
    if rate is None:
        return 0
    return max(0, min(HEAT_LEVELS, math.ceil(float(rate) * HEAT_LEVELS)))


@register.filter
def chart_data(trend) -> dict:
    """What static/js/charts.js draws from a TrendResult: buckets in unix seconds, and the series
    (the previous period's aligned on the current buckets)."""
    return {
        "buckets": [int(bucket.timestamp()) for bucket in trend.buckets],
        "series": [
            {
                "label": f"{item.label} (previous period)" if item.compare == "previous" else item.label,
                "values": item.values,
                "compare": item.compare,
            }
            for item in trend.series
        ],
        "interval": trend.interval,
        "timezone": trend.timezone,
    }


@register.filter
def at(values, index):
    """``values[index]`` (a table cell of a series), None when out of range."""
    try:
        return values[int(index)]
    except (IndexError, TypeError, ValueError):
        return None


@register.filter
def matched_nothing(trend) -> bool:
    """Whether no series of a trend counted anything (totals all zero or empty)."""
    return not any(item.total for item in trend.series if item.compare == "current")
