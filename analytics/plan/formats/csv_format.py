"""The whole tracking plan as a CSV file, and back (the ``csv`` format).

**CSV**: ``CSV_COLUMNS``. One row per event (property columns empty), then one per property, nested
ones as dotted paths (``items.sku``, also for arrays of objects) after their parent; then per property
group one row (``group``, ``group_description``) and one per property. Lists are joined with ``|``;
``enum`` is a JSON list (``["USD", 2]``) so numbers stay numbers (``USD|EUR`` is read as text);
booleans are ``true``/``false`` (yes/no/y/n/1/0 accepted). Event columns may repeat on property rows:
the first non-empty value wins. Property names containing dots cannot be written in CSV.
"""

import csv
import io
import json

from analytics.plan.formats.shared import _did_you_mean, _guarded, _text
from analytics.plan.models import EventStatus, PropertyType
from analytics.plan.snapshot import SnapshotError, check_pattern, iter_properties, normalize

CSV_COLUMNS = (
    "event",
    "event_description",
    "trigger",
    "owner",
    "tags",
    "status",
    "expected_environments",
    "property_groups",
    "allow_unplanned_properties",
    "group",
    "group_description",
    "property",
    "description",
    "type",
    "item_type",
    "required",
    "enum",
    "pattern",
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "pii",
)
# Column -> event field; `description` is the row's property's, so the event's has its own column.
_CSV_EVENT_COLUMNS = {
    "event_description": "description",
    "trigger": "trigger",
    "owner": "owner",
    "tags": "tags",
    "status": "status",
    "expected_environments": "expected_environments",
    "property_groups": "property_groups",
    "allow_unplanned_properties": "allow_unplanned_properties",
}
_CSV_PROPERTY_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("description") :]
_CSV_LIST_COLUMNS = ("tags", "expected_environments", "property_groups")
# Free text keeps its spaces and line breaks; the other cells are trimmed.
_VERBATIM_COLUMNS = ("event_description", "trigger", "owner", "group_description", "description", "pattern")
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0", "")


def to_csv(snapshot: dict) -> str:
    """The plan as CSV (rows and columns: module docstring)."""
    snapshot = normalize(snapshot)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for event in snapshot["events"]:
        writer.writerow(
            {"event": event["name"], **{c: _cell(event[f]) for c, f in _CSV_EVENT_COLUMNS.items()}}
        )
        writer.writerows(_property_rows("event", event))
    for group in snapshot["property_groups"]:
        writer.writerow({"group": group["name"], "group_description": group["description"]})
        writer.writerows(_property_rows("group", group))
    return buffer.getvalue()


def _property_rows(owner_column: str, owner: dict):
    for path, prop in iter_properties(owner["properties"]):
        cells = {column: _cell(prop[column]) for column in _CSV_PROPERTY_COLUMNS if column != "enum"}
        # JSON, so that 1 and "1" stay apart.
        cells["enum"] = "" if prop["enum"] is None else json.dumps(prop["enum"], ensure_ascii=False)
        yield {owner_column: owner["name"], "property": path, **cells}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 10, not 10.0: normalize() makes it a float again
    if isinstance(value, list):
        return "|".join(value)
    return str(value)


@_guarded
def from_csv(text: str | bytes) -> dict:
    """A snapshot from CSV; a bad cell raises SnapshotError naming its row (the header is row 1)."""
    plan = _CsvPlan()
    for number, row in _csv_rows(_text(text)):
        plan.add(number, row)
    return normalize(plan.snapshot())


def _csv_rows(text: str) -> list[tuple[int, dict]]:
    """(row number, {column: cell}) for every row that is not blank."""
    if not text.strip():
        raise SnapshotError("The CSV file is empty.")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text.split("\n", 1)[0]))
    rows, number = [], 0
    try:
        columns = _csv_header(next(reader))
        number = 1
        for cells in reader:
            number += 1
            if any(cell.strip() for cell in cells[len(columns) :]):
                raise SnapshotError(f"Row {number} has more cells than the header has columns.")
            # Short rows are fine: spreadsheets drop trailing empty cells. Windows ones write line
            # breaks inside a cell as CRLF.
            cells = zip(columns, (cell.replace("\r\n", "\n") for cell in cells), strict=False)
            row = {column: _csv_cell(column, cell) for column, cell in cells}
            row.pop("", None)
            if any(row.values()):
                rows.append((number, row))
    except csv.Error as error:
        raise SnapshotError(f"Row {number + 1}: the CSV cannot be read ({error}).") from None
    return rows


def _csv_cell(column: str, cell: str) -> str:
    return cell if column in _VERBATIM_COLUMNS and cell.strip() else cell.strip()


def _delimiter(header: str) -> str:
    """Spreadsheets in some locales save with `;`; tabs come from pasting."""
    return max(",;\t", key=header.count)


def _column_name(cell: str) -> str:
    return cell.strip().lower().replace(" ", "_").replace("-", "_")


def _csv_header(cells: list[str]) -> list[str]:
    columns = [_column_name(cell) for cell in cells]
    for column in columns:
        if column and column not in CSV_COLUMNS:
            raise SnapshotError(
                f"Row 1 (the header): unknown column `{column}`.{_did_you_mean(column, CSV_COLUMNS)}"
            )
        if column and columns.count(column) > 1:
            raise SnapshotError(f"Row 1 (the header): the column `{column}` appears twice.")
    if "event" not in columns and "group" not in columns:
        raise SnapshotError("Row 1 (the header) needs an `event` column (and `group` for property groups).")
    return columns


class _CsvPlan:
    """A snapshot built row by row, remembering the row each property came from."""

    def __init__(self):
        self.events: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.rows: dict[tuple[str, str, str], tuple[dict, int]] = {}  # (kind, owner, path) -> property, row

    def snapshot(self) -> dict:
        return {"events": list(self.events.values()), "property_groups": list(self.groups.values())}

    def add(self, number: int, row: dict) -> None:
        event, group = row.get("event", ""), row.get("group", "")
        if event and group:
            raise SnapshotError(f"Row {number}: fill in `event` or `group`, not both.")
        if not event and not group:
            raise SnapshotError(
                f"Row {number}: `event` is empty (or `group`, for a property group's property)."
            )
        owner = self._event(event, row, number) if event else self._group(group, row, number)
        if row.get("property"):
            self._add_property("event" if event else "group", owner, row, number)
        elif filled := [column for column in _CSV_PROPERTY_COLUMNS if row.get(column)]:
            hint = (
                " (an event's own description goes in `event_description`)"
                if filled[0] == "description"
                else ""
            )
            raise SnapshotError(f"Row {number}: `{filled[0]}` is filled in but `property` is empty{hint}.")

    def _event(self, name: str, row: dict, number: int) -> dict:
        if row.get("group_description"):
            raise SnapshotError(f"Row {number}: `group_description` is for property group rows.")
        event = self.events.setdefault(name, {"name": name, "properties": []})
        for column, field in _CSV_EVENT_COLUMNS.items():
            if row.get(column) and field not in event:  # the first non-empty value wins
                event[field] = _event_cell(column, row[column], number)
        return event

    def _group(self, name: str, row: dict, number: int) -> dict:
        if misplaced := [column for column in _CSV_EVENT_COLUMNS if row.get(column)]:
            raise SnapshotError(
                f"Row {number}: `{misplaced[0]}` is for events, and this row is a property group's."
            )
        group = self.groups.setdefault(name, {"name": name, "properties": []})
        if row.get("group_description") and "description" not in group:
            group["description"] = row["group_description"]
        return group

    def _add_property(self, kind: str, owner: dict, row: dict, number: int) -> None:
        path = row["property"]
        parts = path.split(".")
        if not all(parts):
            raise SnapshotError(
                f"Row {number}: `{path}` is not a property path (names joined by dots: items.sku)."
            )
        if earlier := self.rows.get((kind, owner["name"], path)):
            raise SnapshotError(
                f"Row {number}: `{path}` of {kind} `{owner['name']}` is already in row {earlier[1]}."
            )
        siblings = owner["properties"]
        if len(parts) > 1:
            siblings = self._children(kind, owner["name"], ".".join(parts[:-1]), number)
        prop = {"name": parts[-1], **_property_from_row(row, number)}
        siblings.append(prop)
        self.rows[kind, owner["name"], path] = (prop, number)

    def _children(self, kind: str, owner: str, parent_path: str, number: int) -> list[dict]:
        if (kind, owner, parent_path) not in self.rows:
            raise SnapshotError(
                f"Row {number}: the property is nested in `{parent_path}`, which no row above defines."
            )
        parent, parent_row = self.rows[kind, owner, parent_path]
        if not _nests(parent):
            raise SnapshotError(
                f"Row {number}: the property is nested in `{parent_path}` (row {parent_row}), "
                "which is neither an object nor an array of objects."
            )
        return parent["properties"]


def _nests(prop: dict) -> bool:
    if prop["type"] == PropertyType.ARRAY:
        return prop["item_type"] == PropertyType.OBJECT
    return prop["type"] == PropertyType.OBJECT


def _event_cell(column: str, value: str, number: int):
    if column in _CSV_LIST_COLUMNS:
        return _split(value)
    if column == "allow_unplanned_properties":
        return _boolean(value, column, number)
    if column == "status":
        status = value.lower().replace(" ", "_")  # the label ("In review") works too
        if status not in EventStatus.values:
            raise SnapshotError(
                f"Row {number}: unknown status `{value}` (one of {', '.join(EventStatus.values)})."
            )
        return status
    return value


def _property_from_row(row: dict, number: int) -> dict:
    if pattern := row.get("pattern", ""):
        check_pattern(pattern, f"Row {number}")
    return {
        "description": row.get("description", ""),
        "type": _choice(row, "type", number) or PropertyType.STRING.value,
        "item_type": _choice(row, "item_type", number),
        "required": _boolean(row.get("required", ""), "required", number),
        "enum": _enum_cell(row.get("enum", ""), number),
        "pattern": pattern,
        "min_length": _number_cell(row, "min_length", number, whole=True),
        "max_length": _number_cell(row, "max_length", number, whole=True),
        "minimum": _number_cell(row, "minimum", number),
        "maximum": _number_cell(row, "maximum", number),
        "pii": _boolean(row.get("pii", ""), "pii", number),
        "properties": [],
    }


def _choice(row: dict, column: str, number: int) -> str:
    value = row.get(column, "").lower()
    if value and value not in PropertyType.values:
        raise SnapshotError(
            f"Row {number}: unknown {column.replace('_', ' ')} `{row[column]}` "
            f"(one of {', '.join(PropertyType.values)})."
        )
    return value


def _boolean(value: str, column: str, number: int) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SnapshotError(f"Row {number}: `{column}` must be true or false, not `{value}`.")


def _number_cell(row: dict, column: str, number: int, *, whole: bool = False) -> float | int | None:
    value = row.get(column, "")
    if not value:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise SnapshotError(f"Row {number}: `{column}` must be a number, not `{value}`.") from None
    if whole and not (parsed >= 0 and parsed.is_integer()):
        raise SnapshotError(f"Row {number}: `{column}` must be a whole number, 0 or more, not `{value}`.")
    return int(parsed) if whole else parsed


def _enum_cell(value: str, number: int) -> list | None:
    if not value:
        return None
    if not value.startswith("["):
        return _split(value)
    try:
        values = json.loads(value)
    except json.JSONDecodeError as error:
        raise SnapshotError(
            f'Row {number}: `enum` is not a JSON list ({error.msg}); write ["USD", "EUR", 3] or USD|EUR.'
        ) from None
    if not isinstance(values, list) or any(isinstance(item, dict | list) for item in values):
        raise SnapshotError(f"Row {number}: `enum` must list plain values (text, numbers, true/false).")
    return values


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]
