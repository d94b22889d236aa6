"""What a rule sees: its value over windows, and whether that value breaches the rule.

``measure(rule, ends)`` reads one window per end (``[end - window, end)``) and returns a
:class:`Reading` per window. Evaluation asks for one end; the rule form's preview asks for hundreds,
and gets them in the same few statements.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.models import AlertRule, AnomalyDirection, AnomalyMode, PropertyAggregate, RuleKind
from analytics.insights.definitions import QueryError, parse_filters
from analytics.queries import alerts as queries
from analytics.queries.filters import all_of
from analytics.storage import get_store

WEEK = timedelta(weeks=1)
ABSENCE_LOOKBACK = timedelta(days=30)

BELOW_KINDS = {RuleKind.VOLUME_BELOW, RuleKind.RATE_BELOW, RuleKind.PROPERTY_BELOW}


class RuleError(ValueError):
    """The rule cannot be evaluated as written (shown on the rule's page)."""


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: not enough data for a verdict
    breached: bool
    values: dict = field(default_factory=dict)  # everything seen, JSON-safe


def unit_of(rule: AlertRule) -> str:
    if rule.kind in (RuleKind.RATE_BELOW, RuleKind.RATE_ABOVE):
        return "%"
    if rule.kind in (RuleKind.PROPERTY_ABOVE, RuleKind.PROPERTY_BELOW):
        return ""
    return "events"


def format_value(rule: AlertRule, value: float | None) -> str:
    """A value as people read it: ``12 events``, ``3.4 %``, ``1,240.5``."""
    if value is None:
        return "no data"
    unit = unit_of(rule)
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit == "%":
        return f"{number} %"
    if unit == "events":
        return f"{number} event" if value == 1 else f"{number} events"
    return number


def _filters(data, path: str):
    try:
        filters = parse_filters(data or [], path)
    except QueryError as error:
        raise RuleError(f"{error.field}: {error.message}") from None
    if any(flt.source == "person" for flt in filters):
        raise RuleError(f"{path}: alerts filter on event and context properties, not person properties.")
    return all_of(filters) if filters else None


def _scope(rule: AlertRule, event: str | None, filters) -> queries.Scope:
    return queries.Scope(
        project_id=rule.project_id, environment_id=rule.environment_id, event=event or None, filters=filters
    )


def _compare(rule: AlertRule, value: float) -> bool:
    if rule.kind in BELOW_KINDS:
        return value < rule.threshold
    return value > rule.threshold


def _threshold_values(rule: AlertRule, value, **seen) -> dict:
    comparison = "below" if rule.kind in BELOW_KINDS else "above"
    return {
        "value": value,
        "threshold": rule.threshold,
        "comparison": comparison,
        "unit": unit_of(rule),
        **seen,
    }


def _stale_hours(rule: AlertRule, windows: list[queries.Window]) -> frozenset[datetime]:
    """The hours the rollup may lag on, among those it would answer (none: no query)."""
    whole_hours = [
        hours for start, end in windows if (hours := queries.split_window(start, end, frozenset())[0])
    ]
    if not whole_hours:
        return frozenset()
    start = min(start for start, _ in whole_hours)
    end = max(end for _, end in whole_hours)
    return get_store().stale_rollup_hours(rule.project_id, start, end)


def _counts(rule, scope, windows, use_rollups: bool) -> list[int]:
    use_rollups = use_rollups and queries.rollups_apply(scope)
    stale = _stale_hours(rule, windows) if use_rollups else frozenset()
    return queries.count_events(scope, windows, use_rollups=use_rollups, stale_hours=stale)


def _volume(rule, windows, use_rollups, detail) -> list[Reading]:
    counts = _counts(rule, _scope(rule, rule.event, _filters(rule.filters, "filters")), windows, use_rollups)
    return [
        Reading(count, _compare(rule, count), _threshold_values(rule, count, count=count)) for count in counts
    ]


def _rate(rule, windows, use_rollups, detail) -> list[Reading]:
    numerators = _counts(
        rule, _scope(rule, rule.event, _filters(rule.filters, "filters")), windows, use_rollups
    )
    denominator_scope = _scope(
        rule, rule.denominator_event, _filters(rule.denominator_filters, "denominator_filters")
    )
    denominators = _counts(rule, denominator_scope, windows, use_rollups)
    minimum = max(rule.min_sample, 1)
    readings = []
    for numerator, denominator in zip(numerators, denominators, strict=True):
        seen = {"numerator": numerator, "denominator": denominator, "min_sample": rule.min_sample}
        if denominator < minimum:
            reason = (
                f"{denominator} {rule.denominator_event} events, fewer than the minimum sample of {minimum}"
            )
            readings.append(Reading(None, False, {**seen, "reason": reason}))
            continue
        rate = round(100.0 * numerator / denominator, 4)
        readings.append(Reading(rate, _compare(rule, rate), _threshold_values(rule, rate, **seen)))
    return readings


def normal_tail(deviations: float) -> float:
    """P(X < mean - k·stddev) for a normal X: how unlikely a breach of k deviations is."""
    return 0.5 * math.erfc(deviations / math.sqrt(2))


def anomaly_band(rule: AlertRule, history: list[int]) -> tuple[float, float, float, float]:
    """Mean, standard deviation and the band [lower, upper] the count is expected in.

    TRICKY: the deviation has a floor of sqrt(mean) (the Poisson noise of a count): with a few
    identical weeks the sample deviation is 0 and any difference at all would page someone.
    """
    mean = sum(history) / len(history)
    variance = sum((count - mean) ** 2 for count in history) / (len(history) - 1) if len(history) > 1 else 0.0
    stddev = math.sqrt(variance)
    if rule.anomaly_mode == AnomalyMode.PERCENT:
        spread = mean * rule.anomaly_percent / 100.0
    else:
        spread = rule.anomaly_deviations * max(stddev, math.sqrt(mean))
    return mean, stddev, max(mean - spread, 0.0), mean + spread


def _weeks_with_the_event(history: list[int]) -> list[int]:
    """The history without its oldest weeks that saw no event at all: the event did not exist yet,
    and zeros from then would widen the band and blind a new event's rule for weeks."""
    weeks = list(history)
    while weeks and weeks[-1] == 0:
        weeks.pop()
    return weeks


def _is_below(rule: AlertRule, count: int, mean: float, lower: float) -> bool:
    """Below the band; or, in deviations mode, no event at all where that is as unlikely as k
    deviations for a Poisson count (e^-mean): the band's lower edge is clamped at 0, so a low-volume
    event's outage (mean 8, k 3) could never be below it."""
    if count < lower:
        return True
    return (
        rule.anomaly_mode == AnomalyMode.STDDEV
        and count == 0
        and math.exp(-mean) < normal_tail(rule.anomaly_deviations)
    )


def _anomaly(rule, windows, use_rollups, detail) -> list[Reading]:
    weeks = max(rule.anomaly_weeks, 1)
    all_windows = [
        (start - week * WEEK, end - week * WEEK) for start, end in windows for week in range(weeks + 1)
    ]
    counts = _counts(
        rule, _scope(rule, rule.event, _filters(rule.filters, "filters")), all_windows, use_rollups
    )
    readings = []
    for offset in range(0, len(counts), weeks + 1):
        count, history = counts[offset], _weeks_with_the_event(counts[offset + 1 : offset + weeks + 1])
        if not history:
            reason = f"no {rule.event} events in the same window of the last {weeks} weeks"
            readings.append(Reading(None, False, {"count": count, "history": history, "reason": reason}))
            continue
        mean, stddev, lower, upper = anomaly_band(rule, history)
        below, above = _is_below(rule, count, mean, lower), count > upper
        direction = rule.anomaly_direction
        breached = (below and direction != AnomalyDirection.ABOVE) or (
            above and direction != AnomalyDirection.BELOW
        )
        seen = {
            "value": count,
            "count": count,
            "history": history,
            "mean": round(mean, 4),
            "stddev": round(stddev, 4),
            "lower": round(lower, 4),
            "upper": round(upper, 4),
            "comparison": "below" if below else "above" if above else "inside",
            "unit": "events",
        }
        readings.append(Reading(count, breached, seen))
    return readings


def _absence(rule, windows, use_rollups, detail) -> list[Reading]:
    scope = _scope(rule, rule.event, _filters(rule.filters, "filters"))
    counts = _counts(rule, scope, windows, use_rollups)
    readings = []
    for (_, end), count in zip(windows, counts, strict=True):
        seen = {"value": count, "count": count, "threshold": 0, "comparison": "none", "unit": "events"}
        if detail and count == 0:
            last = queries.last_event_time(scope, before=end, lookback=ABSENCE_LOOKBACK)
            seen["last_seen"] = last.isoformat() if last else None
            seen["minutes_since_last"] = round((end - last).total_seconds() / 60) if last else None
        readings.append(Reading(count, count == 0, seen))
    return readings


def _property(rule, windows, use_rollups, detail) -> list[Reading]:
    if not rule.property:
        raise RuleError("property: name the numeric property to watch.")
    scope = _scope(rule, rule.event, _filters(rule.filters, "filters"))
    minimum = max(rule.min_sample, 1)
    readings = []
    for stats in queries.property_stats(scope, rule.property, windows):
        seen = {"measured": stats.measured, "min_sample": rule.min_sample, "property": rule.property}
        if stats.measured < minimum:
            reason = f"{stats.measured} events with a numeric {rule.property}, fewer than {minimum}"
            readings.append(Reading(None, False, {**seen, "reason": reason}))
            continue
        value = stats.p95 if rule.aggregate == PropertyAggregate.P95 else stats.average
        value = round(float(value), 4)
        readings.append(Reading(value, _compare(rule, value), _threshold_values(rule, value, **seen)))
    return readings


def _violations(rule, windows, use_rollups, detail) -> list[Reading]:
    counts = queries.violating_events(_scope(rule, rule.event, None), windows)
    return [
        Reading(count, _compare(rule, count), _threshold_values(rule, count, count=count)) for count in counts
    ]


_MEASURES = {
    RuleKind.VOLUME_BELOW: _volume,
    RuleKind.VOLUME_ABOVE: _volume,
    RuleKind.RATE_BELOW: _rate,
    RuleKind.RATE_ABOVE: _rate,
    RuleKind.ANOMALY: _anomaly,
    RuleKind.ABSENCE: _absence,
    RuleKind.PROPERTY_ABOVE: _property,
    RuleKind.PROPERTY_BELOW: _property,
    RuleKind.VIOLATIONS_ABOVE: _violations,
}

_NEEDS_THRESHOLD = set(RuleKind) - {RuleKind.ANOMALY, RuleKind.ABSENCE}
_NEEDS_EVENT = set(RuleKind) - {RuleKind.VIOLATIONS_ABOVE}


def check(rule: AlertRule) -> None:
    """What evaluation needs of the rule (the form says it first, with field names)."""
    if rule.kind not in _MEASURES:
        raise RuleError(f"kind: unknown rule kind {rule.kind!r}.")
    if rule.kind in _NEEDS_EVENT and not rule.event:
        raise RuleError("event: name the event to watch.")
    if rule.kind in _NEEDS_THRESHOLD and rule.threshold is None:
        raise RuleError("threshold: set the threshold.")
    if rule.kind in (RuleKind.RATE_BELOW, RuleKind.RATE_ABOVE) and not rule.denominator_event:
        raise RuleError("denominator_event: name the event the rate is out of.")
    if rule.window_minutes < 1:
        raise RuleError("window_minutes: the window is at least one minute.")


def measure(
    rule: AlertRule, ends: list[datetime], *, use_rollups: bool = True, detail: bool = False
) -> list[Reading]:
    """One reading per window ``[end - window, end)``. ``detail`` adds costlier context (absence:
    when the event was last seen) that evaluation shows but the preview does not need."""
    check(rule)
    window = timedelta(minutes=rule.window_minutes)
    windows = [(end - window, end) for end in ends]
    return _MEASURES[rule.kind](rule, windows, use_rollups, detail)
