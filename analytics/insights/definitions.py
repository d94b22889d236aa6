"""What an insight asks: trends, funnels, retention and KPI cards as plain, validated data.

The same definitions come from the pages' forms, the query API's JSON bodies and saved insights
(``Insight.query``). ``parse_*`` turns a JSON object into a frozen dataclass or raises
:class:`QueryError` naming the field; ``to_json`` gives the canonical JSON back (saved insights
store it, caches hash it).
"""

import builtins
import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

MAX_SERIES = 10
MAX_FILTERS = 20
MIN_STEPS, MAX_STEPS = 2, 20
MAX_BREAKDOWN_LIMIT = 50
MAX_RANGE_DAYS = 400

INTERVALS = {
    "15min": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
# The largest number of buckets a trend may ask for (15-minute buckets over 90 days is 8,640).
MAX_BUCKETS = 10_000

COUNT_MATHS = ("count", "users", "sessions")
PROPERTY_MATHS = ("sum", "avg", "min", "max", "median", "p95")
MATHS = COUNT_MATHS + PROPERTY_MATHS

OPERATORS = (
    "eq",
    "neq",
    "contains",
    "not_contains",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
)
VALUELESS_OPERATORS = ("is_set", "is_not_set")
NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")
# Where a filtered or broken-down property lives: the event's properties, its context (browser,
# os, device_type, app_version, ...), or the person's properties (current, after identity merge).
PROPERTY_SOURCES = ("event", "context", "person")

FUNNEL_ORDERS = ("ordered", "strict", "any")
RETENTION_INTERVALS = ("day", "week")
SIGNUP = "$signup"  # a retention cohort by the person's first appearance, not an event


class QueryError(ValueError):
    """An insight definition that cannot run, with the field at fault (``steps.1.event``)."""

    def __init__(self, field_path: str, message: str):
        super().__init__(f"{field_path}: {message}" if field_path else message)
        self.field = field_path
        self.message = message


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    operator: str = "eq"
    value: Any = None
    source: str = "event"


@dataclass(frozen=True)
class Breakdown:
    property: str
    source: str = "event"
    limit: int = 10


@dataclass(frozen=True)
class DateRange:
    """A named range ending now (``7d``) or explicit dates: ``date_from`` / ``date_to`` (inclusive
    days in the project's time zone, or ISO datetimes)."""

    range: str | None = "7d"
    date_from: str | None = None
    date_to: str | None = None


@dataclass(frozen=True)
class TrendSeries:
    event: str
    math: str = "count"
    property: str | None = None  # the numeric event property of sum/avg/min/max/median/p95
    filters: tuple[PropertyFilter, ...] = ()
    label: str | None = None

    @builtins.property  # (the `property` field above shadows the builtin in this class body)
    def name(self) -> str:
        if self.label:
            return self.label
        if self.math == "count":
            return self.event
        if self.math in COUNT_MATHS:
            return f"{self.event} ({self.math})"
        return f"{self.event} ({self.math} of {self.property})"


@dataclass(frozen=True)
class TrendQuery:
    series: tuple[TrendSeries, ...]
    interval: str = "day"
    date_range: DateRange = field(default_factory=DateRange)
    environment: str | None = None  # an environment slug; None: every environment of the project
    filters: tuple[PropertyFilter, ...] = ()
    breakdown: Breakdown | None = None
    compare: bool = False


@dataclass(frozen=True)
class FunnelStep:
    event: str
    filters: tuple[PropertyFilter, ...] = ()
    # The longest this step may come after the previous one, on top of the funnel's window.
    window_seconds: int | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.event


@dataclass(frozen=True)
class FunnelExclusion:
    """A person who does ``event`` between step ``from_step`` and step ``to_step`` (0-based) of
    their conversion is left out of the funnel."""

    event: str
    from_step: int = 0
    to_step: int = 1
    filters: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class FunnelQuery:
    steps: tuple[FunnelStep, ...]
    window_seconds: int = 14 * 86400
    order: str = "ordered"
    exclusions: tuple[FunnelExclusion, ...] = ()
    date_range: DateRange = field(default_factory=DateRange)
    environment: str | None = None
    filters: tuple[PropertyFilter, ...] = ()
    breakdown: Breakdown | None = None


@dataclass(frozen=True)
class RetentionQuery:
    cohort_event: str  # an event name, or "$signup"
    return_event: str
    interval: str = "day"
    periods: int = 7  # the columns after period 0
    date_range: DateRange = field(default_factory=DateRange)
    environment: str | None = None
    cohort_filters: tuple[PropertyFilter, ...] = ()
    return_filters: tuple[PropertyFilter, ...] = ()
    filters: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class KpiQuery:
    """One number over a range (a trend series' total), against a target."""

    series: TrendSeries
    date_range: DateRange = field(default_factory=lambda: DateRange(range="7d"))
    environment: str | None = None
    filters: tuple[PropertyFilter, ...] = ()
    target: float | None = None
    # Below ``lower`` is "below target", above ``upper`` is "above target"; between is "on target".
    # Without them, the target itself is the line (at least the target is on target).
    lower: float | None = None
    upper: float | None = None
    higher_is_better: bool = True


# --- parsing ---------------------------------------------------------------------------------------

_EVENT_NAME = re.compile(r"^\S.{0,199}$", re.S)


def _object(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise QueryError(path, "Expected a JSON object.")
    return value


def _list(value, path: str, *, max_items: int) -> list:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise QueryError(path, "Expected a list.")
    if len(value) > max_items:
        raise QueryError(path, f"At most {max_items} items.")
    return list(value)


def _text(value, path: str, *, required: bool = True, max_length: int = 200) -> str | None:
    if value is None or value == "":
        if required:
            raise QueryError(path, "Required.")
        return None
    if not isinstance(value, str):
        raise QueryError(path, "Expected a string.")
    if len(value) > max_length:
        raise QueryError(path, f"At most {max_length} characters.")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise QueryError(path, "Must not contain a NUL character.")
    return value


def _choice(value, path: str, choices, default):
    if value is None or value == "":
        return default
    if value not in choices:
        raise QueryError(path, f"One of {', '.join(choices)} (got {value!r}).")
    return value


def _integer(value, path: str, *, default, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise QueryError(path, "Expected an integer.")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float (JSON 1e999)
        raise QueryError(path, "Expected an integer.") from None
    if isinstance(value, float) and value != number:
        raise QueryError(path, "Expected an integer.")
    if not minimum <= number <= maximum:
        raise QueryError(path, f"From {minimum} to {maximum}.")
    return number


def _number(value, path: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise QueryError(path, "Expected a number.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
        raise QueryError(path, "Expected a number.") from None
    if not math.isfinite(number):
        raise QueryError(path, "Expected a finite number.")
    return number


def _boolean(value, path: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "1", "on", 1):
        return True
    if value in ("false", "0", "off", 0):
        return False
    raise QueryError(path, "Expected true or false.")


def _event_name(value, path: str) -> str:
    name = _text(value, path)
    if not _EVENT_NAME.match(name):
        raise QueryError(path, "An event name: 1 to 200 characters, not starting with a space.")
    return name


def parse_filter(data, path: str) -> PropertyFilter:
    data = _object(data, path)
    operator = _choice(data.get("operator"), f"{path}.operator", OPERATORS, "eq")
    source = _choice(data.get("source", data.get("type")), f"{path}.source", PROPERTY_SOURCES, "event")
    prop = _text(data.get("property", data.get("key")), f"{path}.property")
    value = data.get("value")
    if operator in VALUELESS_OPERATORS:
        value = None
    elif operator in ("in", "not_in"):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        values = _list(value, f"{path}.value", max_items=200)
        if not values:
            raise QueryError(f"{path}.value", "At least one value.")
        value = tuple(_scalar(item, f"{path}.value") for item in values)
    elif operator in NUMERIC_OPERATORS:
        value = _number(value, f"{path}.value")
        if value is None:
            raise QueryError(f"{path}.value", "A number to compare with.")
    else:
        value = _scalar(value, f"{path}.value")
        if value is None:
            raise QueryError(f"{path}.value", "A value to compare with.")
    return PropertyFilter(property=prop, operator=operator, value=value, source=source)


def _scalar(value, path: str):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, path) if isinstance(value, float) or abs(value) > 2**53 else value
    if isinstance(value, str):
        if len(value) > 1000:
            raise QueryError(path, "At most 1000 characters.")
        if "\x00" in value:
            raise QueryError(path, "Must not contain a NUL character.")
        return value
    raise QueryError(path, "Expected a string, number or boolean.")


def parse_filters(data, path: str = "filters") -> tuple[PropertyFilter, ...]:
    return tuple(
        parse_filter(item, f"{path}.{index}")
        for index, item in enumerate(_list(data, path, max_items=MAX_FILTERS))
    )


def parse_breakdown(data, path: str = "breakdown") -> Breakdown | None:
    if data is None or data == "" or data == {}:
        return None
    if isinstance(data, str):
        data = {"property": data}
    data = _object(data, path)
    if not data.get("property"):
        return None
    return Breakdown(
        property=_text(data.get("property"), f"{path}.property"),
        source=_choice(data.get("source", data.get("type")), f"{path}.source", PROPERTY_SOURCES, "event"),
        limit=_integer(
            data.get("limit"), f"{path}.limit", default=10, minimum=1, maximum=MAX_BREAKDOWN_LIMIT
        ),
    )


def parse_date_range(data, path: str = "date_range", *, default: str = "7d") -> DateRange:
    if data is None or data == "":
        return DateRange(range=default)
    if isinstance(data, str):
        data = {"range": data}
    data = _object(data, path)
    date_from, date_to = data.get("date_from"), data.get("date_to")
    if date_from or date_to:
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if value and _parse_moment(value) is None:
                raise QueryError(f"{path}.{name}", "A date (2026-11-01) or an ISO 8601 datetime.")
        if not date_from:
            raise QueryError(f"{path}.date_from", "Required with date_to.")
        return DateRange(range=None, date_from=str(date_from), date_to=str(date_to) if date_to else None)
    return DateRange(range=_choice(data.get("range"), f"{path}.range", tuple(RANGES), default))


def _parse_moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    return moment


def parse_series(data, path: str) -> TrendSeries:
    data = _object(data, path)
    math_name = _choice(data.get("math"), f"{path}.math", MATHS, "count")
    prop = _text(data.get("property"), f"{path}.property", required=math_name in PROPERTY_MATHS)
    return TrendSeries(
        event=_event_name(data.get("event"), f"{path}.event"),
        math=math_name,
        property=prop if math_name in PROPERTY_MATHS else None,
        filters=parse_filters(data.get("filters"), f"{path}.filters"),
        label=_text(data.get("label"), f"{path}.label", required=False),
    )


def parse_trend(data) -> TrendQuery:
    data = _object(data, "")
    series = _list(data.get("series"), "series", max_items=MAX_SERIES)
    if not series:
        raise QueryError("series", "At least one event to chart.")
    query = TrendQuery(
        series=tuple(parse_series(item, f"series.{index}") for index, item in enumerate(series)),
        interval=_choice(data.get("interval"), "interval", tuple(INTERVALS), "day"),
        date_range=parse_date_range(data.get("date_range")),
        environment=_text(data.get("environment"), "environment", required=False, max_length=50),
        filters=parse_filters(data.get("filters")),
        breakdown=parse_breakdown(data.get("breakdown")),
        compare=_boolean(data.get("compare"), "compare"),
    )
    return query


def parse_funnel(data) -> FunnelQuery:
    data = _object(data, "")
    raw_steps = _list(data.get("steps"), "steps", max_items=MAX_STEPS)
    if len(raw_steps) < MIN_STEPS:
        raise QueryError("steps", f"A funnel needs {MIN_STEPS} to {MAX_STEPS} steps.")
    steps = []
    for index, item in enumerate(raw_steps):
        path = f"steps.{index}"
        item = {"event": item} if isinstance(item, str) else _object(item, path)
        window = item.get("window_seconds")
        steps.append(
            FunnelStep(
                event=_event_name(item.get("event"), f"{path}.event"),
                filters=parse_filters(item.get("filters"), f"{path}.filters"),
                window_seconds=None
                if index == 0 or window in (None, "")
                else _integer(
                    window, f"{path}.window_seconds", default=None, minimum=1, maximum=MAX_RANGE_DAYS * 86400
                ),
                label=_text(item.get("label"), f"{path}.label", required=False),
            )
        )
    exclusions = []
    for index, item in enumerate(_list(data.get("exclusions"), "exclusions", max_items=MAX_STEPS)):
        path = f"exclusions.{index}"
        item = _object(item, path)
        from_step = _integer(
            item.get("from_step"), f"{path}.from_step", default=0, minimum=0, maximum=len(steps) - 2
        )
        to_step = _integer(
            item.get("to_step"),
            f"{path}.to_step",
            default=from_step + 1,
            minimum=from_step + 1,
            maximum=len(steps) - 1,
        )
        exclusions.append(
            FunnelExclusion(
                event=_event_name(item.get("event"), f"{path}.event"),
                from_step=from_step,
                to_step=to_step,
                filters=parse_filters(item.get("filters"), f"{path}.filters"),
            )
        )
    order = _choice(data.get("order"), "order", FUNNEL_ORDERS, "ordered")
    if order == "any":
        # With steps in any order there is no "previous step" to time or to exclude from.
        if any(step.window_seconds is not None for step in steps):
            raise QueryError("order", "Per-step windows need ordered or strict steps.")
        if exclusions:
            raise QueryError("exclusions", "Exclusion steps need ordered or strict steps.")
    return FunnelQuery(
        steps=tuple(steps),
        window_seconds=_integer(
            data.get("window_seconds"),
            "window_seconds",
            default=14 * 86400,
            minimum=1,
            maximum=MAX_RANGE_DAYS * 86400,
        ),
        order=order,
        exclusions=tuple(exclusions),
        date_range=parse_date_range(data.get("date_range")),
        environment=_text(data.get("environment"), "environment", required=False, max_length=50),
        filters=parse_filters(data.get("filters")),
        breakdown=parse_breakdown(data.get("breakdown")),
    )


def parse_retention(data) -> RetentionQuery:
    data = _object(data, "")
    cohort_event = _text(data.get("cohort_event"), "cohort_event")
    if cohort_event != SIGNUP:
        cohort_event = _event_name(cohort_event, "cohort_event")
    interval = _choice(data.get("interval"), "interval", RETENTION_INTERVALS, "day")
    return RetentionQuery(
        cohort_event=cohort_event,
        return_event=_event_name(data.get("return_event"), "return_event"),
        interval=interval,
        periods=_integer(
            data.get("periods"), "periods", default=7 if interval == "day" else 8, minimum=1, maximum=52
        ),
        date_range=parse_date_range(data.get("date_range"), default="30d"),
        environment=_text(data.get("environment"), "environment", required=False, max_length=50),
        cohort_filters=parse_filters(data.get("cohort_filters"), "cohort_filters"),
        return_filters=parse_filters(data.get("return_filters"), "return_filters"),
        filters=parse_filters(data.get("filters")),
    )


def parse_kpi(data) -> KpiQuery:
    data = _object(data, "")
    target = _number(data.get("target"), "target")
    lower, upper = _number(data.get("lower"), "lower"), _number(data.get("upper"), "upper")
    if lower is not None and upper is not None and lower > upper:
        raise QueryError("lower", "The lower threshold must not be above the upper one.")
    return KpiQuery(
        series=parse_series(data.get("series"), "series"),
        date_range=parse_date_range(data.get("date_range")),
        environment=_text(data.get("environment"), "environment", required=False, max_length=50),
        filters=parse_filters(data.get("filters")),
        target=target,
        lower=lower,
        upper=upper,
        higher_is_better=_boolean(data.get("higher_is_better"), "higher_is_better", default=True),
    )


PARSERS = {"trend": parse_trend, "funnel": parse_funnel, "retention": parse_retention, "kpi": parse_kpi}


def parse(kind: str, data):
    """The definition of a saved insight of ``kind`` (trend, funnel, retention, kpi)."""
    if kind not in PARSERS:
        raise QueryError("kind", f"One of {', '.join(PARSERS)}.")
    return PARSERS[kind](data)


def to_json(definition) -> dict:
    """The canonical JSON of a definition (tuples as lists); ``parse`` reads it back unchanged."""
    return _plain(dataclasses.asdict(definition))


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
