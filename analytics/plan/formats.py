"""The whole tracking plan as a JSON Schema, CSV or YAML file, and back (export and import).

Every ``to_*`` takes a snapshot (``analytics.plan.snapshot``); every ``from_*`` returns a normalized
one, or raises ``SnapshotError`` saying where (event, property, row, line) and what is wrong.
Nothing here touches the database. Views go through the registry::

    FORMATS[name].dump(snapshot) -> text      FORMATS[name].load(text) -> snapshot
    detect_format(filename, text) -> name (a key of FORMATS)

**JSON Schema** (draft 2020-12): one document; every event and every property group is a ``$defs``
entry, built by the compiler's ``object_schema``/``property_schema``::

    {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Beacon tracking plan",
     "x-beacon-format": "beacon-plan/1",
     "$defs": {
       "product_viewed": {"title": "product_viewed", "description": "...",
                          "type": "object", "properties": {<own properties>}, "required": [...],
                          "patternProperties": {"^\\$": {}}, "unevaluatedProperties": false,
                          "allOf": [{"$ref": "#/$defs/group:product"}],
                          "x-beacon-status": "live", "x-beacon-trigger": "...", "x-beacon-owner": "...",
                          "x-beacon-tags": [...], "x-beacon-expected-environments": [...]},
       "group:product": {"title": "product", "x-beacon-kind": "property-group",
                         "type": "object", "properties": {...}, "required": [...]}}}

An event keeps its own properties and references each of its groups with ``allOf``/``$ref``, so the
document validates events like the compiler does (except that an event's own property does not
override a group's property of the same name: both apply). Names come from ``title``, else the
``$defs`` key. ``x-pii`` marks PII; a constraint the compiler does not apply to the type (a pattern
on a number, an enum on an array of objects) travels as ``x-beacon-<field>`` (``x-beacon-min-length``,
``x-beacon-enum``...) so nothing is lost.

A schema written by hand is read as far as it maps to the plan: ``$defs`` (or ``definitions``) hold
one schema per event, or the document itself is one event named by its ``title``; a def marked
``x-beacon-kind: property-group`` or referenced from an event's ``allOf`` is a property group, one
referenced elsewhere is a shared type (inlined); Segment-like schemas with the event's properties
under ``properties.properties`` are unwrapped; ``["string", "null"]`` and ``anyOf [X, null]`` are X;
constraints on an array's ``items`` (enum, pattern, range) become the property's. An event allows
unplanned properties unless ``additionalProperties`` (or ``unevaluatedProperties``) is false, as in
JSON Schema: absent means allowed.

**CSV**: ``CSV_COLUMNS``. One row per event (property columns empty), then one per property, nested
ones as dotted paths (``items.sku``, also for arrays of objects) after their parent; then per property
group one row (``group``, ``group_description``) and one per property. Lists are joined with ``|``;
``enum`` is a JSON list (``["USD", 2]``) so numbers stay numbers (``USD|EUR`` is read as text);
booleans are ``true``/``false`` (yes/no/y/n/1/0 accepted). Event columns may repeat on property rows:
the first non-empty value wins. Property names containing dots cannot be written in CSV.

**YAML**: the snapshot itself, keys equal to their defaults left out (loading accepts both).
"""

import csv
import difflib
import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from urllib.parse import quote, unquote

import yaml

from analytics.plan.compiler import object_schema
from analytics.plan.models import EventStatus, PropertyType
from analytics.plan.snapshot import (
    EVENT_DEFAULTS,
    FORMAT,
    PROPERTY_DEFAULTS,
    SnapshotError,
    check_pattern,
    iter_properties,
    normalize,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
GROUP_KIND = "property-group"
_GROUP_KEY_PREFIX = "group:"
# Event fields JSON Schema has no keyword for.
_EVENT_EXTENSIONS = {
    "status": "x-beacon-status",
    "trigger": "x-beacon-trigger",
    "owner": "x-beacon-owner",
    "tags": "x-beacon-tags",
    "expected_environments": "x-beacon-expected-environments",
}
# Property constraints and the keywords that say them (on the property, or on an array's items);
# `property_schema` writes one only where JSON Schema applies it to the property's type.
_CONSTRAINTS = {
    "enum": ("enum",),
    "pattern": ("pattern",),
    "min_length": ("minLength", "minItems"),
    "max_length": ("maxLength", "maxItems"),
    "minimum": ("minimum",),
    "maximum": ("maximum",),
}
# A `$ref` cycle in a hand-written schema would otherwise nest forever.
_MAX_DEPTH = 32


def _guarded(load: Callable) -> Callable:
    """TRICKY: the JSON and YAML parsers (and normalize) recurse, so a file nested thousands of levels
    deep raises RecursionError: report it like any other bad file."""

    @functools.wraps(load)
    def guarded(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        except RecursionError:
            raise SnapshotError("The file is nested too deeply to be a tracking plan.") from None

    return guarded


def _text(content: str | bytes) -> str:
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(
                "The file is not UTF-8 text: save it as UTF-8 (in Excel: CSV UTF-8)."
            ) from None
    if not isinstance(content, str):
        raise SnapshotError("The file must be text.")
    return content.removeprefix("\ufeff")  # the byte order mark Excel writes


def _check_format(value) -> None:
    if value not in (None, FORMAT):
        raise SnapshotError(f"The file is in the format `{value}`; this Beacon reads `{FORMAT}`.")


# --- JSON Schema: export ---------------------------------------------------------------------------


def to_json_schema(snapshot: dict, *, title: str = "Beacon tracking plan") -> dict:
    """The plan as one JSON Schema document (layout in the module docstring)."""
    snapshot = normalize(snapshot)
    keys = _definition_keys(snapshot)
    definitions = {
        keys["event", event["name"]]: _event_definition(event, keys) for event in snapshot["events"]
    }
    for group in snapshot["property_groups"]:
        definitions[keys["group", group["name"]]] = _group_definition(group)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": title, "x-beacon-format": FORMAT, "$defs": definitions}


def _definition_keys(snapshot: dict) -> dict[tuple[str, str], str]:
    """Events by name, groups as `group:<name>`; a clash (an event named `group:x`) gets a suffix:
    import reads names from `title`, so keys only have to be unique."""
    wanted = [("event", event["name"], event["name"]) for event in snapshot["events"]]
    wanted += [
        ("group", group["name"], _GROUP_KEY_PREFIX + group["name"]) for group in snapshot["property_groups"]
    ]
    keys: dict[tuple[str, str], str] = {}
    for kind, name, key in wanted:
        while key in keys.values():
            key += "_"
        keys[kind, name] = key
    return keys


def _event_definition(event: dict, keys: dict) -> dict:
    schema = _titled(event["name"], event["description"])
    schema.update(_object(event["properties"], allow_unplanned=event["allow_unplanned_properties"]))
    if event["property_groups"]:
        schema["allOf"] = [{"$ref": _ref(keys["group", name])} for name in event["property_groups"]]
        if "additionalProperties" in schema:
            # TRICKY: additionalProperties sees only this schema's own `properties` and would reject
            # the groups'; unevaluatedProperties also counts those evaluated through allOf/$ref.
            schema["unevaluatedProperties"] = schema.pop("additionalProperties")
    schema.update({keyword: event[field] for field, keyword in _EVENT_EXTENSIONS.items()})
    return schema


def _group_definition(group: dict) -> dict:
    schema = {**_titled(group["name"], group["description"]), "x-beacon-kind": GROUP_KIND}
    # Open: the events that use the group decide whether unplanned properties are allowed.
    schema.update(_object(group["properties"], allow_unplanned=True))
    return schema


def _titled(name: str, description: str) -> dict:
    return {"title": name, **({"description": description} if description else {})}


def _object(properties: list[dict], *, allow_unplanned: bool) -> dict:
    schema = object_schema(properties, allow_unplanned=allow_unplanned)
    _keep_unexpressed(properties, schema)
    return schema


def _keep_unexpressed(properties: list[dict], schema: dict) -> None:
    """Add x-beacon-<field> for each constraint `property_schema` left out for the type."""
    for prop in properties:
        node = schema["properties"][prop["name"]]
        for field, keywords in _CONSTRAINTS.items():
            if prop[field] not in (None, "") and not _says_any(node, keywords):
                node[_extension(field)] = prop[field]
        if prop["properties"]:
            _keep_unexpressed(
                prop["properties"], node["items"] if prop["type"] == PropertyType.ARRAY else node
            )


def _says_any(node: dict, keywords: tuple[str, ...]) -> bool:
    items = node.get("items") if isinstance(node.get("items"), dict) else {}
    return any(keyword in node or keyword in items for keyword in keywords)


def _extension(field: str) -> str:
    return "x-beacon-" + field.replace("_", "-")


def _ref(key: str) -> str:
    # A JSON pointer (`~` and `/` escaped) inside a URI fragment (names may hold spaces).
    return "#/$defs/" + quote(key.replace("~", "~0").replace("/", "~1"), safe=":@!$&'()*+,;=")


# --- JSON Schema: import ---------------------------------------------------------------------------


@_guarded
def from_json_schema(data: dict) -> dict:
    """A snapshot from a JSON Schema document: Beacon's export, or one written by hand (what is
    understood: module docstring)."""
    if not isinstance(data, dict):
        raise SnapshotError("A JSON Schema plan must be an object, with one schema per event in `$defs`.")
    _check_format(data.get("x-beacon-format"))
    return normalize(_SchemaReader(data).snapshot())


class _SchemaReader:
    """Reads events and property groups out of one JSON Schema document, following local `$ref`s."""

    def __init__(self, document: dict):
        definitions = document.get("$defs", document.get("definitions", {}))
        if not isinstance(definitions, dict):
            raise SnapshotError("`$defs` must be an object: one schema per event, by name.")
        self.definitions = definitions
        self.from_beacon = "x-beacon-format" in document
        self.roots = {_document_title(document): document} if "properties" in document else definitions
        self.group_keys = self._group_keys()
        self.type_keys = self._referenced_keys() - self.group_keys

    def snapshot(self) -> dict:
        return {
            "events": [
                self._event(key, schema)
                for key, schema in self.roots.items()
                if key not in self.group_keys and key not in self.type_keys
            ],
            "property_groups": [self._group(key) for key in sorted(self.group_keys)],
        }

    def _group_keys(self) -> set[str]:
        keys = {
            key
            for key, schema in self.definitions.items()
            if isinstance(schema, dict) and schema.get("x-beacon-kind") == GROUP_KIND
        }
        for key, schema in self.roots.items():
            all_of = schema.get("allOf") if isinstance(schema, dict) else None
            for part in all_of if isinstance(all_of, list) else []:
                if isinstance(part, dict) and "$ref" in part:
                    keys.add(self._ref_key(part["$ref"], f"`$defs/{key}`"))
        return keys

    def _referenced_keys(self) -> set[str]:
        return {
            self._ref_key(ref, f"`$defs/{key}`")
            for key, schema in {**self.definitions, **self.roots}.items()
            for ref in _refs_in(schema)
        }

    def _ref_key(self, ref, where: str) -> str:
        for prefix in ("#/$defs/", "#/definitions/"):
            if isinstance(ref, str) and ref.startswith(prefix):
                key = unquote(ref.removeprefix(prefix))
                # A `/` left after decoding points deeper than a def: not supported.
                if "/" not in key and (key := key.replace("~1", "/").replace("~0", "~")) in self.definitions:
                    return key
        raise SnapshotError(
            f"{where}: cannot follow `$ref: {ref}`; only references to this file's `$defs` are understood."
        )

    def _name(self, key: str) -> str:
        schema = self.roots.get(key, self.definitions.get(key))
        title = schema.get("title") if isinstance(schema, dict) else None
        return title.strip() if isinstance(title, str) and title.strip() else key

    def _event(self, key: str, schema) -> dict:
        name = self._name(key)
        where = f"event `{name}`"
        schema = self._object_definition(key, schema, where)
        properties, groups = self._members(schema, where, groups_allowed=True)
        event = {
            "name": name,
            "description": schema.get("description") or "",
            "property_groups": groups,
            "allow_unplanned_properties": _allows_unplanned(schema),
            "properties": properties,
        }
        event.update({field: schema[kw] for field, kw in _EVENT_EXTENSIONS.items() if kw in schema})
        return event

    def _group(self, key: str) -> dict:
        name = self._name(key)
        where = f"property group `{name}`"
        schema = self._object_definition(key, self.definitions[key], where)
        properties, _ = self._members(schema, where, groups_allowed=False)
        return {"name": name, "description": schema.get("description") or "", "properties": properties}

    def _object_definition(self, key: str, schema, where: str) -> dict:
        if not isinstance(schema, dict):
            raise SnapshotError(f"`$defs/{key}` must be a schema (a JSON object).")
        schema = self._resolve(schema, where)
        if not self.from_beacon:
            schema = _unwrap_segment(schema)
        declared = schema.get("type", "object")
        if declared != "object" and not (isinstance(declared, list) and "object" in declared):
            raise SnapshotError(f"{where}: its schema has `type: {declared}`, but an event is an object.")
        return schema

    def _members(self, schema: dict, where: str, *, groups_allowed: bool) -> tuple[list[dict], list[str]]:
        """Own properties, plus those of inline `allOf` parts; `allOf` references to groups as names."""
        parts, groups = [schema], []
        all_of = schema.get("allOf", [])
        if not isinstance(all_of, list) or not all(isinstance(part, dict) for part in all_of):
            raise SnapshotError(f"{where}: `allOf` must be a list of schemas.")
        for part in all_of:
            key = self._ref_key(part["$ref"], where) if "$ref" in part else None
            if groups_allowed and key in self.group_keys:
                groups.append(self._name(key))
            else:
                parts.append(self._resolve(part, where))
        return [prop for part in parts for prop in self._properties(part, where, "")], groups

    def _properties(self, schema: dict, owner: str, prefix: str) -> list[dict]:
        properties, required = schema.get("properties", {}), schema.get("required", [])
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise SnapshotError(
                f"{owner}{f', property `{prefix[:-1]}`' if prefix else ''}: `properties` must be an "
                "object and `required` a list of names."
            )
        return [
            self._property(name, sub, name in required, owner, prefix + name)
            for name, sub in properties.items()
        ]

    def _property(self, name: str, schema, required: bool, owner: str, path: str) -> dict:
        here = f"{owner}, property `{path}`"
        if path.count(".") >= _MAX_DEPTH:
            raise SnapshotError(
                f"{here}: nested more than {_MAX_DEPTH} levels (does a `$ref` refer to itself?)."
            )
        if schema is True:  # "anything": the plan's default type, string
            schema = {}
        if not isinstance(schema, dict):
            raise SnapshotError(f"{here}: its schema must be an object.")
        schema = self._resolve(schema, here)
        prop = {
            "name": name,
            "description": schema.get("description") or "",
            "type": _beacon_type(schema, here),
            "required": required,
            "pii": bool(schema.get("x-pii")),
            **{
                field: _first(schema, *keywords, _extension(field))
                for field, keywords in _CONSTRAINTS.items()
            },
            "enum": _enum(schema),  # after: `const` and a null value count too
        }
        if prop["type"] == PropertyType.OBJECT:
            prop["properties"] = self._properties(schema, owner, f"{path}.")
        elif prop["type"] == PropertyType.ARRAY:
            self._read_items(prop, schema, owner, path)
        return prop

    def _read_items(self, prop: dict, schema: dict, owner: str, path: str) -> None:
        here = f"{owner}, property `{path}`"
        items = schema.get("items", {})
        if items is True:
            items = {}
        if not isinstance(items, dict):
            raise SnapshotError(f"{here}: `items` must be one schema; a Beacon array holds one type.")
        items = self._resolve(items, here)
        prop["item_type"] = _beacon_type(items, f"{here} (its items)")
        # Hand-written schemas constrain the values on `items`; Beacon keeps that on the property.
        if prop["enum"] is None:
            prop["enum"] = _enum(items)
        for field in ("pattern", "minimum", "maximum"):
            if prop[field] is None:
                prop[field] = _first(items, field)
        if prop["item_type"] == PropertyType.OBJECT:
            prop["properties"] = self._properties(items, owner, f"{path}.")

    def _resolve(self, schema: dict, where: str) -> dict:
        """The schema with its `$ref` merged in (siblings win) and a nullable `anyOf` reduced."""
        seen = set()
        while "$ref" in schema:
            key = self._ref_key(schema["$ref"], where)
            if key in seen or not isinstance(self.definitions[key], dict):
                raise SnapshotError(f"{where}: `$ref: {schema['$ref']}` does not lead to a schema.")
            seen.add(key)
            schema = {**self.definitions[key], **{k: v for k, v in schema.items() if k != "$ref"}}
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list):
                kept = [branch for branch in branches if branch != {"type": "null"}]
                if len(kept) == 1 and len(branches) > 1 and isinstance(kept[0], dict):
                    rest = {k: v for k, v in schema.items() if k != keyword}
                    return {**self._resolve(kept[0], where), **rest}
        return schema


def _document_title(document: dict) -> str:
    title = document.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SnapshotError("A JSON Schema of a single event needs a `title`: the event's name.")
    return title.strip()


def _refs_in(value):
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for item in value.values():
            yield from _refs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs_in(item)


def _unwrap_segment(schema: dict) -> dict:
    """Segment Protocols writes an event as the whole call: its properties sit under
    `properties.properties`, next to `context` and `traits`."""
    outer = schema.get("properties")
    if not isinstance(outer, dict) or not set(outer) <= {"properties", "context", "traits"}:
        return schema
    inner = outer.get("properties")
    if not isinstance(inner, dict) or not isinstance(inner.get("properties"), dict):
        return schema
    wrapper = ("type", "properties", "required", "additionalProperties", "unevaluatedProperties")
    return {**inner, **{key: value for key, value in schema.items() if key not in wrapper}}


def _beacon_type(schema: dict, where: str) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        types = [type_ for type_ in declared if type_ != "null"]
        if len(types) != 1:
            raise SnapshotError(
                f"{where}: has the types {declared}; a property has one type (and maybe null)."
            )
        declared = types[0]
    if declared is None:
        declared = _implied_type(schema)
    if declared == "string" and schema.get("format") == "date-time":
        return PropertyType.DATETIME.value
    if not isinstance(declared, str) or declared not in PropertyType.values:
        raise SnapshotError(
            f"{where}: unknown type `{declared}` (use string, number, integer, boolean, object or array; "
            "a date-time is a string with `format: date-time`)."
        )
    return declared


def _implied_type(schema: dict) -> str:
    """The type a schema without `type` implies (JSON Schema would accept anything; a plan cannot)."""
    if "properties" in schema:
        return PropertyType.OBJECT.value
    if "items" in schema:
        return PropertyType.ARRAY.value
    values = _enum(schema) or []
    if values and all(isinstance(value, bool) for value in values):
        return PropertyType.BOOLEAN.value
    if values and all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return PropertyType.INTEGER.value
    if values and all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return PropertyType.NUMBER.value
    return PropertyType.STRING.value


def _enum(schema: dict) -> list | None:
    values = [schema["const"]] if "const" in schema else _first(schema, "enum", _extension("enum"))
    if not isinstance(values, list):
        return values  # None, or something normalize() refuses with the property's name
    # null in an enum is JSON Schema's way to say "optional", not a planned value.
    return [value for value in values if value is not None] or None


def _first(schema: dict, *keywords: str):
    return next((schema[keyword] for keyword in keywords if schema.get(keyword) is not None), None)


def _allows_unplanned(schema: dict) -> bool:
    return (
        schema.get("additionalProperties") is not False and schema.get("unevaluatedProperties") is not False
    )


def _dump_json(snapshot: dict) -> str:
    return json.dumps(to_json_schema(snapshot), indent=2, ensure_ascii=False) + "\n"


@_guarded
def _load_json(text: str | bytes) -> dict:
    try:
        data = json.loads(_text(text))
    except json.JSONDecodeError as error:
        raise SnapshotError(
            f"The file is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    if isinstance(data, dict) and "events" in data and "$defs" not in data:
        return _from_plain_data(data)  # a snapshot as the API returns it
    return from_json_schema(data)


# --- CSV -------------------------------------------------------------------------------------------

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


# --- YAML ------------------------------------------------------------------------------------------

_YAML_HEADER = f"# Beacon tracking plan ({FORMAT}). A key left out takes its default value.\n"
# YAML aliases are references: a few lines can stand for billions of values once walked.
_MAX_YAML_VALUES = 1_000_000


class _YamlDumper(yaml.SafeDumper):
    """safe_dump, for people: multi-line text as a `|` block, lists of values on one line
    (`tags: [revenue, core]`)."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _represent_list(dumper: yaml.SafeDumper, items: list) -> yaml.SequenceNode:
    flow = all(not isinstance(item, dict | list) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_YamlDumper.add_representer(str, _represent_text)
_YamlDumper.add_representer(list, _represent_list)


def to_yaml(snapshot: dict) -> str:
    """The plan as YAML: the snapshot, keys equal to their defaults left out."""
    snapshot = normalize(snapshot)
    document: dict = {"format": FORMAT, "events": [_readable_event(event) for event in snapshot["events"]]}
    if snapshot["property_groups"]:
        document["property_groups"] = [_readable_group(group) for group in snapshot["property_groups"]]
    return _YAML_HEADER + yaml.dump(
        document, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _without_defaults(item: dict, defaults: dict, keep: tuple[str, ...]) -> dict:
    return {key: value for key, value in item.items() if key in keep or value != defaults.get(key)}


def _readable_event(event: dict) -> dict:
    readable = _without_defaults(event, EVENT_DEFAULTS, keep=("name", "status"))
    if event["properties"]:
        readable["properties"] = [_readable_property(prop) for prop in event["properties"]]
    return readable


def _readable_group(group: dict) -> dict:
    readable = _without_defaults(group, {"description": "", "properties": []}, keep=("name",))
    if group["properties"]:
        readable["properties"] = [_readable_property(prop) for prop in group["properties"]]
    return readable


def _readable_property(prop: dict) -> dict:
    readable = _without_defaults(prop, PROPERTY_DEFAULTS, keep=("name", "type"))
    for bound in ("minimum", "maximum"):
        if isinstance(readable.get(bound), float) and readable[bound].is_integer():
            readable[bound] = int(readable[bound])  # `0`, not `0.0`: normalize() makes it a float again
    if prop["properties"]:
        readable["properties"] = [_readable_property(child) for child in prop["properties"]]
    return readable


@_guarded
def from_yaml(text: str | bytes) -> dict:
    """A snapshot from YAML (read with yaml.safe_load only)."""
    try:
        data = yaml.safe_load(_text(text))
    except yaml.YAMLError as error:
        raise SnapshotError(f"The YAML cannot be read: {_yaml_problem(error)}") from None
    if data is None:
        raise SnapshotError("The YAML file is empty.")
    if not isinstance(data, dict):
        raise SnapshotError(
            f"The YAML must be a mapping with an `events:` list (and optionally `property_groups:`), "
            f"not {'a list' if isinstance(data, list) else 'a single value'}."
        )
    return _from_plain_data(_json_values(data))


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}." if mark else f"{problem}."


def _json_values(data):
    """The YAML's values as JSON's: dates as ISO text (a PM writing `2026-01-01` means the text),
    anything else JSON has no word for refused."""
    remaining = _MAX_YAML_VALUES

    def convert(value):
        nonlocal remaining
        remaining -= 1
        if remaining < 0:
            raise SnapshotError("The YAML holds more than a million values (aliases count once per use).")
        if isinstance(value, dict):
            return {str(key): convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, date):
            return value.isoformat()
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise SnapshotError(
            f"The YAML holds a {type(value).__name__}, which a plan cannot: write it as text."
        )

    return convert(data)


# --- snapshots written by hand (YAML, or JSON as the API returns it) ------------------------------

_TOP_KEYS = ("format", "events", "property_groups")
_EVENT_KEYS = ("name", *EVENT_DEFAULTS)
_GROUP_KEYS = ("name", "description", "properties")
_PROPERTY_KEYS = ("name", *PROPERTY_DEFAULTS)


def _from_plain_data(data: dict) -> dict:
    """normalize(), after refusing unknown keys: normalize ignores them, so a misspelt `requried`
    would otherwise vanish without a word."""
    _check_format(data.get("format"))
    _known_keys(data, _TOP_KEYS, "The plan")
    for kind, keys, label in (
        ("events", _EVENT_KEYS, "event"),
        ("property_groups", _GROUP_KEYS, "property group"),
    ):
        items = data.get(kind)
        for index, item in enumerate(items if isinstance(items, list) else []):
            where = f"{label} {_label(item, index)}"
            _known_keys(item, keys, where)
            _known_property_keys(item, where)
    return normalize(data)


def _known_property_keys(owner, where: str) -> None:
    properties = owner.get("properties") if isinstance(owner, dict) else None
    for index, prop in enumerate(properties if isinstance(properties, list) else []):
        here = f"{where}, property {_label(prop, index)}"
        _known_keys(prop, _PROPERTY_KEYS, here)
        _known_property_keys(prop, here)


def _known_keys(item, known: tuple[str, ...], where: str) -> None:
    for key in item if isinstance(item, dict) else ():  # normalize() reports a wrong shape
        if key not in known:
            raise SnapshotError(f"{where}: unknown key `{key}`.{_did_you_mean(key, known)}")


def _label(item, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"`{name}`" if isinstance(name, str) and name else f"number {index + 1}"


def _did_you_mean(word: str, known) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" Did you mean `{close[0]}`?" if close else ""


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanFormat:
    name: str
    label: str
    extension: str
    content_type: str
    dump: Callable[[dict], str]
    load: Callable[[str], dict]


FORMATS = {
    "json": PlanFormat("json", "JSON Schema", "json", "application/json", _dump_json, _load_json),
    "csv": PlanFormat("csv", "CSV", "csv", "text/csv; charset=utf-8", to_csv, from_csv),
    "yaml": PlanFormat("yaml", "YAML", "yaml", "application/yaml", to_yaml, from_yaml),
}
_EXTENSIONS = {".json": "json", ".csv": "csv", ".tsv": "csv", ".yaml": "yaml", ".yml": "yaml"}


def detect_format(filename: str | None, text: str | bytes) -> str:
    """The FORMATS key of an uploaded file: from its extension, else from its content."""
    extension = PurePath(filename or "").suffix.lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    content = _text(text).lstrip()
    if content.startswith(("{", "[")):
        return "json"
    if _looks_like_csv_header(content.split("\n", 1)[0]):
        return "csv"
    if _is_yaml_mapping(content):
        return "yaml"
    raise SnapshotError(
        f"Cannot tell the format of `{filename or 'the file'}`: upload a .json (JSON Schema), .csv or .yaml file."
    )


def _looks_like_csv_header(line: str) -> bool:
    columns = {_column_name(cell) for cell in line.split(_delimiter(line))}
    return len(columns) > 1 and bool(columns & {"event", "group", "property"})


def _is_yaml_mapping(content: str) -> bool:
    try:
        return isinstance(yaml.safe_load(content), dict)
    except (yaml.YAMLError, RecursionError):
        return False
