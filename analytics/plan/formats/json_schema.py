"""The whole tracking plan as one JSON Schema document, and back (the ``json`` format).

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
"""

import json
from urllib.parse import quote, unquote

from analytics.plan.compiler import object_schema
from analytics.plan.formats.shared import _check_format, _from_plain_data, _guarded, _text
from analytics.plan.models import PropertyType
from analytics.plan.snapshot import FORMAT, SnapshotError, normalize

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
