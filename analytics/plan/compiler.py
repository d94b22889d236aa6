"""Compile a project's tracking plan to JSON Schema, and check events against it.

A plan compiles once per version (``CompiledPlan``); each event definition becomes a JSON Schema
(draft 2020-12) validated by jsonschema-rs (Rust, compiled validators). The hot path is
``CompiledPlan.check``: one ``is_valid`` call for a conforming event, plus a PII scan of its string
values; only a failing event pays for collecting and classifying its errors.
"""

import re
from dataclasses import dataclass, field
from typing import NamedTuple

import jsonschema_rs

from analytics.plan.models import PropertyType
from analytics.plan.snapshot import export_plan

# Events whose names start with `$` are the SDKs' and Beacon's own ($identify, $pageview, ...):
# they are checked only if the plan defines them; properties starting with `$` are the SDKs'
# ($lib, $current_url, ...) and are never "unplanned".
RESERVED_PREFIX = "$"

VIOLATION_KINDS = (
    "unplanned_event",
    "unplanned_property",
    "missing_required",
    "wrong_type",
    "enum",
    "pattern",
    "length",
    "range",
    "nested_structure",
    "pii",
)

_JSON_TYPES = {
    PropertyType.STRING: "string",
    PropertyType.NUMBER: "number",
    PropertyType.INTEGER: "integer",
    PropertyType.BOOLEAN: "boolean",
    PropertyType.OBJECT: "object",
    PropertyType.ARRAY: "array",
}


class Violation(NamedTuple):
    kind: str
    property: str  # dotted path ("" for the event itself), array indexes as numbers: items.0.price
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "property": self.property, "message": self.message}


# --- compiling -------------------------------------------------------------------------------------


def _scalar_schema(type_: str) -> dict:
    if type_ == PropertyType.DATETIME:
        return {"type": "string", "format": "date-time"}
    return {"type": _JSON_TYPES[type_]}


def property_schema(prop: dict) -> dict:
    """The JSON Schema of one property of a snapshot (and, recursively, of its nested properties)."""
    schema: dict = {}
    if prop["description"]:
        schema["description"] = prop["description"]
    if prop["type"] == PropertyType.OBJECT:
        # An object whose keys the plan does not name is free-form; one with named keys is closed.
        schema.update(object_schema(prop["properties"], allow_unplanned=not prop["properties"]))
    elif prop["type"] == PropertyType.ARRAY:
        schema["type"] = "array"
        item_type = prop["item_type"] or PropertyType.STRING
        if item_type == PropertyType.OBJECT:
            schema["items"] = object_schema(prop["properties"], allow_unplanned=not prop["properties"])
        else:
            schema["items"] = _scalar_schema(item_type)
            if prop["enum"]:  # the allowed values of an array are those of its items
                schema["items"]["enum"] = list(prop["enum"])
        if prop["min_length"] is not None:
            schema["minItems"] = prop["min_length"]
        if prop["max_length"] is not None:
            schema["maxItems"] = prop["max_length"]
    else:
        schema.update(_scalar_schema(prop["type"]))
        if prop["type"] in (PropertyType.STRING, PropertyType.DATETIME):
            if prop["min_length"] is not None:
                schema["minLength"] = prop["min_length"]
            if prop["max_length"] is not None:
                schema["maxLength"] = prop["max_length"]
            if prop["pattern"]:
                schema["pattern"] = prop["pattern"]
        if prop["type"] in (PropertyType.NUMBER, PropertyType.INTEGER):
            if prop["minimum"] is not None:
                schema["minimum"] = _exact(prop["minimum"])
            if prop["maximum"] is not None:
                schema["maximum"] = _exact(prop["maximum"])
    if prop["enum"] and prop["type"] != PropertyType.ARRAY:
        schema["enum"] = list(prop["enum"])
    if prop["pii"]:
        schema["x-pii"] = True
    return schema


def _exact(bound: float):
    """Whole bounds as integers: jsonschema-rs compares integers to integers much faster."""
    return int(bound) if float(bound).is_integer() else bound


def object_schema(properties: list[dict], *, allow_unplanned: bool) -> dict:
    schema: dict = {
        "type": "object",
        "properties": {prop["name"]: property_schema(prop) for prop in properties},
    }
    required = [prop["name"] for prop in properties if prop["required"]]
    if required:
        schema["required"] = required
    if not allow_unplanned:
        schema["patternProperties"] = {"^\\$": {}}
        schema["additionalProperties"] = False
    return schema


def effective_properties(event: dict, groups: dict[str, dict]) -> list[dict]:
    """An event's own properties, then those of its property groups it does not define itself."""
    own = list(event["properties"])
    names = {prop["name"] for prop in own}
    for group_name in event["property_groups"]:
        for prop in groups[group_name]["properties"]:
            if prop["name"] not in names:
                own.append(prop)
                names.add(prop["name"])
    return own


def event_schema(event: dict, groups: dict[str, dict]) -> dict:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event["name"],
        **object_schema(
            effective_properties(event, groups), allow_unplanned=event["allow_unplanned_properties"]
        ),
    }
    if event["description"]:
        schema["description"] = event["description"]
    return schema


def snapshot_schemas(snapshot: dict) -> dict[str, dict]:
    """Every event of a (normalized) snapshot as JSON Schema, by event name (deprecated ones too: an
    event still sent after deprecation is checked against what it was)."""
    groups = {group["name"]: group for group in snapshot["property_groups"]}
    return {event["name"]: event_schema(event, groups) for event in snapshot["events"]}


def plan_schemas(project_id: int) -> dict[str, dict]:
    return snapshot_schemas(export_plan(project_id))


# --- checking --------------------------------------------------------------------------------------


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Digits with the separators people write phone and card numbers with (not dots: IPs, decimals).
_NINE_DIGITS = re.compile(r"[0-9](?:[ ()-]*[0-9]){8}")
_DIGIT_RUN = re.compile(r"\+?\(?\d[\d ()-]{7,}\d")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def pii_in(value: str) -> str | None:
    """'email', 'card number' or 'phone number' if the text seems to hold one.

    Heuristics, tuned against ids: a card number is 13-19 digits starting 3-6 that pass the Luhn
    check; a phone number is 9-15 digits written like one (a leading +, or grouped with spaces,
    dashes or parentheses). A bare run of digits (an order id, a unix time) is neither.
    """
    if "@" in value and _EMAIL.search(value):
        return "email"
    if not _NINE_DIGITS.search(value):  # starts with a class: the engine skips ahead fast
        return None
    for match in _DIGIT_RUN.finditer(value):
        text = match.group()
        digits = re.sub(r"\D", "", text)
        if 13 <= len(digits) <= 19 and digits[0] in "3456" and _luhn(digits):
            return "card number"
        written_like_a_phone = text.startswith(("+", "(")) or sum(text.count(sep) for sep in " -") >= 2
        if 9 <= len(digits) <= 15 and written_like_a_phone:
            return "phone number"
    return None


# The PII pre-filter: no string anywhere in the properties holds an `@domain.tld` or 9 digits written
# as one number, the minimum of an email, a phone or a card number. One call into jsonschema-rs
# (Rust regexes, no Python per value) clears almost every event; the few it does not clear get the
# exact scan below (``pii_in``'s heuristics, and declared PII properties left out).
_CANDIDATE = r"@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|[0-9](?:[ ()-]*[0-9]){8}"
_VALUE = {
    "anyOf": [{"not": {"type": "string"}}, {"not": {"pattern": _CANDIDATE}}],
    "additionalProperties": {"$ref": "#/$defs/value"},
    "items": {"$ref": "#/$defs/value"},
}


def pii_filter(declared: set[str]):
    """The pre-filter of one event: every value is checked but those of properties declared PII."""
    tree: dict = {}
    for path in declared:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
        node[""] = True  # declared here: skip the whole value

    def level(node: dict) -> dict:
        schema = dict(_VALUE)
        named = {name: True if "" in child else level(child) for name, child in node.items() if name != "*"}
        if named:
            schema["properties"] = named
        if "*" in node:
            schema["items"] = True if "" in node["*"] else level(node["*"])
        return schema

    return jsonschema_rs.validator_for({"$defs": {"value": _VALUE}, **level(tree)})


_NO_DECLARED_PII = pii_filter(set())


def _pii_violations(value, path: str, declared: set[str], found: list[Violation]) -> None:
    if isinstance(value, str):
        if path not in declared and (kind := pii_in(value)):
            found.append(
                Violation(
                    "pii", path, f"`{path}` looks like it holds a {kind}; mark it PII or stop sending it."
                )
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _pii_violations(item, f"{path}.{key}" if path else key, declared, found)
    elif isinstance(value, list):
        for item in value:
            _pii_violations(item, f"{path}.*" if path else "*", declared, found)


def _declared_pii(schema: dict, prefix: str = "") -> set[str]:
    """Dotted paths of properties marked PII (array items as `*`)."""
    paths = set()
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if prop.get("x-pii"):
            paths.add(path)
            if prop.get("type") == "array":
                paths.add(f"{path}.*")
        paths |= _declared_pii(prop, path)
        if isinstance(prop.get("items"), dict):
            if prop.get("x-pii"):
                paths.add(f"{path}.*")
            paths |= _declared_pii(prop["items"], f"{path}.*")
    return paths


def _path(parts) -> str:
    return ".".join(str(part) for part in parts)


def classify(error, schema_for_path) -> Violation:
    """One jsonschema-rs error as one of Beacon's violation kinds."""
    kind = error.kind
    name = kind.name
    where = _path(error.instance_path)
    if name == "required":
        missing = _path([*error.instance_path, kind.property])
        return Violation("missing_required", missing, f"`{missing}` is required.")
    if name == "additionalProperties":
        unexpected = ", ".join(f"`{_path([*error.instance_path, p])}`" for p in kind.unexpected)
        first = _path([*error.instance_path, kind.unexpected[0]]) if kind.unexpected else where
        return Violation("unplanned_property", first, f"{unexpected} not in the plan.")
    if name in ("type", "format"):
        expected = (schema_for_path(error.instance_path) or {}).get("type")
        if expected in ("object", "array"):
            return Violation("nested_structure", where, f"`{where}` must be an {expected}: {error.message}.")
        return Violation("wrong_type", where, f"`{where}`: {error.message}.")
    if name == "enum":
        return Violation("enum", where, f"`{where}`: {error.message}.")
    if name == "pattern":
        return Violation("pattern", where, f"`{where}`: {error.message}.")
    if name in ("minLength", "maxLength", "minItems", "maxItems"):
        return Violation("length", where, f"`{where}`: {error.message}.")
    if name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return Violation("range", where, f"`{where}`: {error.message}.")
    return Violation("nested_structure", where, f"`{where}`: {error.message}.")


def schema_at(schema: dict, path) -> dict | None:
    for part in path:
        if isinstance(part, int):
            schema = schema.get("items") if isinstance(schema.get("items"), dict) else None
        else:
            schema = schema.get("properties", {}).get(part)
        if schema is None:
            return None
    return schema


@dataclass
class CompiledEvent:
    schema: dict
    validator: object
    declared_pii: set[str] = field(default_factory=set)
    pii_filter: object = _NO_DECLARED_PII


def _compile_event(schema: dict) -> CompiledEvent:
    declared = _declared_pii(schema)
    return CompiledEvent(
        schema,
        jsonschema_rs.validator_for(schema, validate_formats=True),
        declared,
        pii_filter(declared) if declared else _NO_DECLARED_PII,
    )


@dataclass
class CompiledPlan:
    version: int
    events: dict[str, CompiledEvent]

    @classmethod
    def from_schemas(cls, version: int, schemas: dict[str, dict]) -> "CompiledPlan":
        return cls(
            version=version,
            events={name: _compile_event(schema) for name, schema in schemas.items()},
        )

    @property
    def is_empty(self) -> bool:
        return not self.events

    def check(self, event: str, properties: dict) -> list[Violation]:
        """What is wrong with one event ([] if nothing is)."""
        found: list[Violation] = []
        compiled = self.events.get(event)
        if compiled is None:
            if not event.startswith(RESERVED_PREFIX):
                found.append(Violation("unplanned_event", "", f"`{event}` is not in the tracking plan."))
            declared: set[str] = set()
            candidates = _NO_DECLARED_PII
        else:
            candidates = compiled.pii_filter
            declared = compiled.declared_pii
            if not compiled.validator.is_valid(properties):
                for error in compiled.validator.iter_errors(properties):
                    found.append(classify(error, lambda path, s=compiled.schema: schema_at(s, path)))
        if not candidates.is_valid(properties):
            _pii_violations(properties, "", declared, found)
        return found
