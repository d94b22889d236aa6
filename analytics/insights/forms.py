"""The analysis pages' query forms: GET parameters to insight definitions, and back.

A builder page's URL is its definition, flattened into dotted parameter names that mirror the
definition's JSON, so a ``QueryError``'s field path (``series.0.property``) is the name of the input
at fault and a URL can be shared, bookmarked and read::

    /analysis/trends/?series.0.event=purchase&series.0.math=sum&series.0.property=amount
        &filters.0.property=plan&filters.0.operator=eq&filters.0.value=pro&filters.0.source=event
        &date_range.range=30d&interval=day&environment=production
        &breakdown.property=plan&breakdown.source=event&breakdown.limit=10&compare=1

Custom ranges: ``date_range.range=custom&date_range.date_from=2026-11-01&date_range.date_to=2026-11-07``.
Lists are ``name.<index>.field`` (indexes from 0, contiguous). Values of ``in`` / ``not_in``
filters are comma-separated. Form-only conveniences: funnel windows as a number and a unit
(``window_value`` + ``window_unit``, per step ``steps.N.window_value`` + ``steps.N.window_unit``)
and exclusion steps numbered from 1 as the page shows them. Parameters that are not of this
shape (``utm_source``, ``insight``) are ignored.
"""

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from analytics.insights.definitions import MAX_STEPS, QueryError

MAX_PARAMETERS = 600
MAX_INDEX = 99
WINDOW_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
# Not part of a definition: which saved insight the builder edits.
_NOT_QUERY = frozenset({"insight"})
_KEY = re.compile(r"^[a-z_]{1,40}(\.([0-9]{1,2}|[a-z_]{1,40})){0,5}$")


# --- parameters <-> a tree of values ---------------------------------------------------------------


def unflatten(params) -> dict:
    """Dotted GET parameters (a QueryDict or a dict) as nested dicts and lists of strings."""
    tree: dict = {}
    keys = [key for key in params if key not in _NOT_QUERY and _KEY.match(key)]
    if len(keys) > MAX_PARAMETERS:
        raise QueryError("", f"At most {MAX_PARAMETERS} parameters.")
    for key in keys:
        value = params.get(key)
        parts = key.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise QueryError(key, "Conflicting parameters.")
        if isinstance(node.get(parts[-1]), dict):
            raise QueryError(key, "Conflicting parameters.")
        node[parts[-1]] = value.strip() if isinstance(value, str) else value
    return _with_lists(tree)


def _with_lists(node):
    """Dicts keyed 0, 1, 2... become lists, in index order."""
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        if max(int(key) for key in node) > MAX_INDEX:
            raise QueryError("", f"At most {MAX_INDEX + 1} items in a list.")
        return [_with_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _with_lists(item) for key, item in node.items()}


def flatten(tree, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of :func:`unflatten`: (name, value) pairs; empty values and false are left out."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = ((str(index), item) for index, item in enumerate(tree))
    else:
        if tree is None or tree == "" or tree is False:
            return []
        return [(prefix, "1" if tree is True else _text(tree))]
    pairs = []
    for key, item in items:
        pairs += flatten(item, f"{prefix}.{key}" if prefix else key)
    return pairs


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def query_string(tree: dict) -> str:
    return urlencode(flatten(tree))


# --- a tree of form values -> a definition's JSON (parse_* validates it) -----------------------------


def _date_range(values: dict):
    date_range = values.get("date_range")
    if not isinstance(date_range, dict):
        return date_range  # "date_range=7d" is a named range too; anything else, parse_* refuses
    if date_range.get("range") == "custom" or (not date_range.get("range") and date_range.get("date_from")):
        if not date_range.get("date_from"):
            raise QueryError("date_range.date_from", "Pick the first day of the range.")
        return {"date_from": date_range.get("date_from"), "date_to": date_range.get("date_to") or None}
    return {"range": date_range.get("range")}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _seconds(value, unit, path: str) -> int | None:
    """A window typed as a number and a unit, in seconds (None when left blank)."""
    if value in (None, ""):
        return None
    if unit not in WINDOW_UNITS:
        raise QueryError(path, f"A unit: {', '.join(WINDOW_UNITS)}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QueryError(path, "Expected a number.") from None
    if not math.isfinite(number) or number <= 0:
        raise QueryError(path, "More than zero.")
    seconds = number * WINDOW_UNITS[unit]
    if not math.isfinite(seconds) or seconds > 10**12:  # parse_funnel names the real limit
        raise QueryError(path, "Too long a window.")
    return max(round(seconds), 1)


def trend_definition(values: dict) -> dict:
    return {
        "series": values.get("series"),
        "interval": values.get("interval"),
        "date_range": _date_range(values),
        "environment": values.get("environment") or None,
        "filters": values.get("filters"),
        "breakdown": values.get("breakdown"),
        "compare": values.get("compare"),
    }


def _step(item, index: int):
    if not isinstance(item, dict):
        return item
    return {
        "event": item.get("event"),
        "label": item.get("label"),
        "filters": item.get("filters"),
        "window_seconds": _seconds(
            item.get("window_value"), item.get("window_unit") or "hour", f"steps.{index}.window_seconds"
        ),
    }


def _exclusion(item, index: int, step_count: int):
    """An exclusion as the page numbers steps (from 1) into the definition's (from 0)."""
    if not isinstance(item, dict):
        return item
    path = f"exclusions.{index}"
    try:
        first = int(item.get("from_step") or 1)
    except (TypeError, ValueError):
        raise QueryError(f"{path}.from_step", "A step number.") from None
    try:
        last = int(item.get("to_step") or first + 1)
    except (TypeError, ValueError):
        raise QueryError(f"{path}.to_step", "A step number.") from None
    if not 1 <= first < step_count:
        raise QueryError(f"{path}.from_step", f"A step from 1 to {step_count - 1}.")
    if not first < last <= step_count:
        raise QueryError(f"{path}.to_step", f"A later step, up to {step_count}.")
    return {
        "event": item.get("event"),
        "from_step": first - 1,
        "to_step": last - 1,
        "filters": item.get("filters"),
    }


def funnel_definition(values: dict) -> dict:
    steps = values.get("steps")
    step_count = len(steps) if isinstance(steps, list) else 0
    exclusions = values.get("exclusions")
    if isinstance(exclusions, list) and step_count >= 2:
        exclusions = [_exclusion(item, index, step_count) for index, item in enumerate(exclusions)]
    return {
        "steps": [_step(item, index) for index, item in enumerate(steps)]
        if isinstance(steps, list)
        else steps,
        "window_seconds": _seconds(
            values.get("window_value"), values.get("window_unit") or "day", "window_seconds"
        ),
        "order": values.get("order"),
        "exclusions": exclusions,
        "date_range": _date_range(values),
        "environment": values.get("environment") or None,
        "filters": values.get("filters"),
        "breakdown": values.get("breakdown"),
    }


def retention_definition(values: dict) -> dict:
    return {
        "cohort_event": values.get("cohort_event"),
        "return_event": values.get("return_event"),
        "interval": values.get("interval"),
        "periods": values.get("periods"),
        "date_range": _date_range(values),
        "environment": values.get("environment") or None,
        "cohort_filters": values.get("cohort_filters"),
        "return_filters": values.get("return_filters"),
        "filters": values.get("filters"),
    }


DEFINITIONS = {"trend": trend_definition, "funnel": funnel_definition, "retention": retention_definition}


# --- a definition's JSON (a saved insight) -> a tree of form values -----------------------------------


def _window_values(seconds: int | None) -> tuple[str, str]:
    """Seconds as the largest unit that divides them (blank when None)."""
    if not seconds:
        return "", "hour"
    for unit in ("day", "hour", "minute"):
        if seconds % WINDOW_UNITS[unit] == 0:
            return str(seconds // WINDOW_UNITS[unit]), unit
    return _text(round(seconds / 60, 2)), "minute"


def _filter_values(filters) -> list[dict]:
    return [
        {
            **item,
            "value": ", ".join(_text(v) for v in item["value"])
            if isinstance(item.get("value"), list)
            else item.get("value"),
        }
        for item in filters or []
    ]


def _date_range_values(date_range: dict | None) -> dict:
    date_range = date_range or {}
    if date_range.get("range"):
        return {"range": date_range["range"]}
    return {"range": "custom", "date_from": date_range.get("date_from"), "date_to": date_range.get("date_to")}


def form_values(kind: str, query: dict) -> dict:
    """The form values that give back ``query`` (a definition's canonical JSON)."""
    values = {
        **query,
        "date_range": _date_range_values(query.get("date_range")),
        "filters": _filter_values(query.get("filters")),
    }
    if kind == "trend":
        values["series"] = [
            {**item, "filters": _filter_values(item.get("filters"))} for item in query.get("series", [])
        ]
    elif kind == "funnel":
        values["window_value"], values["window_unit"] = _window_values(query.get("window_seconds"))
        values.pop("window_seconds", None)
        steps = []
        for item in query.get("steps", []):
            window_value, window_unit = _window_values(item.get("window_seconds"))
            step = {key: value for key, value in item.items() if key != "window_seconds"}
            steps.append(
                {
                    **step,
                    "filters": _filter_values(item.get("filters")),
                    "window_value": window_value,
                    "window_unit": window_unit,
                }
            )
        values["steps"] = steps
        values["exclusions"] = [
            {
                **item,
                "from_step": item["from_step"] + 1,
                "to_step": item["to_step"] + 1,
                "filters": _filter_values(item.get("filters")),
            }
            for item in query.get("exclusions", [])
        ]
    elif kind == "retention":
        values["cohort_filters"] = _filter_values(query.get("cohort_filters"))
        values["return_filters"] = _filter_values(query.get("return_filters"))
    return values


# --- the form as the template renders it --------------------------------------------------------------

CHOICES = {
    "maths": [
        ("count", "Total events"),
        ("users", "Unique users"),
        ("sessions", "Unique sessions"),
        ("sum", "Sum of a property"),
        ("avg", "Average of a property"),
        ("min", "Minimum of a property"),
        ("max", "Maximum of a property"),
        ("median", "Median of a property"),
        ("p95", "95th percentile of a property"),
    ],
    "property_maths": ("sum", "avg", "min", "max", "median", "p95"),
    "operators": [
        ("eq", "equals"),
        ("neq", "does not equal"),
        ("contains", "contains"),
        ("not_contains", "does not contain"),
        ("in", "is one of (a, b, c)"),
        ("not_in", "is not one of"),
        ("gt", "> (number)"),
        ("gte", "≥ (number)"),
        ("lt", "< (number)"),
        ("lte", "≤ (number)"),
        ("is_set", "is set"),
        ("is_not_set", "is not set"),
    ],
    "sources": [("event", "event property"), ("context", "context"), ("person", "person property")],
    "ranges": [("24h", "24H"), ("7d", "7D"), ("30d", "30D"), ("90d", "90D")],
    "intervals": [("15min", "15 minutes"), ("hour", "Hour"), ("day", "Day"), ("week", "Week")],
    "retention_intervals": [("day", "Day"), ("week", "Week")],
    "orders": [
        ("ordered", "Ordered (other events may come between steps)"),
        ("strict", "Strict (no other event between steps)"),
        ("any", "Any order"),
    ],
    "units": [("minute", "minutes"), ("hour", "hours"), ("day", "days")],
}
DEFAULT_RANGES = {"trend": "7d", "funnel": "7d", "retention": "30d"}


def input_name(field_path: str) -> str:
    """The input that holds the field a QueryError names."""
    if field_path.endswith("window_seconds"):
        return field_path.removesuffix("seconds") + "value"
    if field_path == "date_range":
        return "date_range.range"
    return field_path


def _errors_under(error: QueryError | None, prefix: str) -> dict[str, str]:
    """The error of a field under ``prefix``, keyed by the rest of its path (dots as ``__``, so a
    template reads ``errors.date_range__date_to``)."""
    if error is None:
        return {}
    name = input_name(error.field)
    if prefix and not name.startswith(prefix):
        return {}
    return {name[len(prefix) :].replace(".", "__"): error.message}


@dataclass
class Row:
    """One item of a repeated group (a series, a step, a filter): its input names start with ``prefix``."""

    prefix: str
    index: int
    values: dict
    errors: dict[str, str]
    filters: list["Row"] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def path(self) -> str:
        return self.prefix.removesuffix(".")


def rows(items, path: str, error: QueryError | None, *, with_filters: bool = False) -> list[Row]:
    result = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        item = _dict(item) if not isinstance(item, str) else {"event": item}
        prefix = f"{path}.{index}."
        result.append(
            Row(
                prefix=prefix,
                index=index,
                values=item,
                errors=_errors_under(error, prefix),
                filters=rows(item.get("filters"), prefix + "filters", error) if with_filters else [],
            )
        )
    return result


@dataclass
class BuilderForm:
    """What a builder page shows in its form: the values as typed, and the error next to its field."""

    kind: str
    values: dict
    error: QueryError | None = None

    @property
    def errors(self) -> dict[str, str]:
        return _errors_under(self.error, "")

    @property
    def error_input(self) -> str:
        return input_name(self.error.field) if self.error else ""

    @property
    def date_range(self) -> dict:
        date_range = _dict(self.values.get("date_range"))
        if not date_range.get("range"):
            custom = bool(date_range.get("date_from"))
            date_range = {**date_range, "range": "custom" if custom else DEFAULT_RANGES.get(self.kind, "7d")}
        return date_range

    @property
    def choices(self) -> dict:
        return CHOICES

    @property
    def breakdown(self) -> dict:
        return _dict(self.values.get("breakdown"))

    @property
    def filters(self) -> list[Row]:
        return rows(self.values.get("filters"), "filters", self.error)

    @property
    def series(self) -> list[Row]:
        return rows(self.values.get("series"), "series", self.error)

    @property
    def steps(self) -> list[Row]:
        return rows(self.values.get("steps"), "steps", self.error, with_filters=True)

    @property
    def exclusions(self) -> list[Row]:
        return rows(self.values.get("exclusions"), "exclusions", self.error)

    @property
    def max_steps(self) -> int:
        return MAX_STEPS


def definition_of(kind: str, values: dict) -> dict:
    """The definition JSON of the form values (parse_* validates it; QueryError here for the
    form-only fields)."""
    return DEFINITIONS[kind](values)
