"""Property filters and breakdowns as SQL: one composable and its bound parameters each.

Events are aliased ``e``, the person mapping ``pdi`` and persons ``p`` in every insight query; a
filter or breakdown on a person property makes the query join them (:func:`needs_person`).
"""

from collections.abc import Iterable

from psycopg import sql
from psycopg.types.json import Jsonb

from analytics.insights.definitions import Breakdown, PropertyFilter
from analytics.models import Person, PersonDistinctId, PersonMerge

PERSON_TABLE = sql.Identifier(Person._meta.db_table)
DISTINCT_ID_TABLE = sql.Identifier(PersonDistinctId._meta.db_table)

# The current person of an event's distinct id (identity merges move distinct ids between persons).
PERSON_JOIN = sql.SQL(
    "LEFT JOIN {pdi_table} pdi ON pdi.project_id = e.project_id AND pdi.distinct_id = e.distinct_id"
).format(pdi_table=DISTINCT_ID_TABLE)
PERSON_PROPERTIES_JOIN = sql.SQL("LEFT JOIN {person_table} p ON p.id = pdi.person_id").format(
    person_table=PERSON_TABLE
)

# The same person from the event's own person id (set at ingestion), moved through later merges: a
# join on a small uuid table instead of one on every event's distinct id (funnels, retention).
ACTOR = sql.SQL("coalesce(pm.person_id, e.person_id)")
MERGE_JOIN = sql.SQL(
    "LEFT JOIN {merge_table} pm ON pm.project_id = e.project_id AND pm.old_person_id = e.person_id"
).format(merge_table=sql.Identifier(PersonMerge._meta.db_table))
ACTOR_PROPERTIES_JOIN = sql.SQL("LEFT JOIN {person_table} p ON p.id = {actor}").format(
    person_table=PERSON_TABLE, actor=ACTOR
)

_COLUMNS = {
    "event": sql.SQL("e.properties"),
    "context": sql.SQL("e.context"),
    "person": sql.SQL("p.properties"),
}


class Fragment:
    """SQL text and the parameters it binds, in order."""

    __slots__ = ("params", "sql")

    def __init__(self, text: sql.Composable, params: Iterable = ()):
        self.sql = text
        self.params = list(params)

    def __repr__(self) -> str:
        return f"Fragment({self.sql!r}, {self.params!r})"


def needs_person(filters: Iterable[PropertyFilter], breakdown: Breakdown | None = None) -> bool:
    return any(f.source == "person" for f in filters) or (
        breakdown is not None and breakdown.source == "person"
    )


def _text_form(value) -> str:
    """How ->> prints a JSON scalar: lower-case booleans, integers without a decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _like_pattern(value) -> str:
    escaped = _text_form(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def number_of(column: sql.Composable, key: str) -> Fragment:
    """A JSON property as float8 when it is a JSON number, else NULL (strings never break a query)."""
    return Fragment(
        sql.SQL("(CASE WHEN jsonb_typeof({c} -> %s) = 'number' THEN ({c} ->> %s)::float8 END)").format(
            c=column
        ),
        [key, key],
    )


def property_condition(flt: PropertyFilter) -> Fragment:
    column = _COLUMNS[flt.source]
    key = flt.property
    value = flt.value
    op = flt.operator
    if op in ("eq", "neq"):
        # JSON equality matches 5 and 5.0 and typed values; the text form matches "5" typed in a form.
        matched = sql.SQL("({c} -> %s = %s OR {c} ->> %s = %s)").format(c=column)
        params = [key, Jsonb(value), key, _text_form(value)]
    elif op in ("in", "not_in"):
        matched = sql.SQL("({c} ->> %s = ANY(%s))").format(c=column)
        params = [key, [_text_form(item) for item in value]]
    elif op in ("contains", "not_contains"):
        matched = sql.SQL("({c} ->> %s ILIKE %s)").format(c=column)
        params = [key, _like_pattern(value)]
    elif op in ("gt", "gte", "lt", "lte"):
        number = number_of(column, key)
        comparison = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return Fragment(
            sql.SQL("({} {} %s)").format(number.sql, sql.SQL(comparison)), [*number.params, value]
        )
    elif op in ("is_set", "is_not_set"):
        matched = sql.SQL("(coalesce(jsonb_typeof({c} -> %s), 'null') <> 'null')").format(c=column)
        params = [key]
    else:  # pragma: no cover - definitions validate operators
        raise ValueError(op)
    if op in ("neq", "not_in", "not_contains", "is_not_set"):
        # "is not" keeps the events that do not have the property at all, as PostHog and Mixpanel do.
        return Fragment(sql.SQL("(NOT coalesce({}, false))").format(matched), params)
    return Fragment(matched, params)


def all_of(filters: Iterable[PropertyFilter]) -> Fragment:
    """Every filter's condition joined with AND (``TRUE`` for none)."""
    parts = [property_condition(flt) for flt in filters]
    if not parts:
        return Fragment(sql.SQL("TRUE"))
    return Fragment(
        sql.SQL(" AND ").join(part.sql for part in parts), [param for part in parts for param in part.params]
    )


def breakdown_value(breakdown: Breakdown) -> Fragment:
    return Fragment(sql.SQL("({} ->> %s)").format(_COLUMNS[breakdown.source]), [breakdown.property])
