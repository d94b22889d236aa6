"""The language-neutral half of codegen: each event of a normalized snapshot
(``analytics.plan.snapshot``) as a wrapper (function name, properties shapes, doc lines), which
``typescript_module`` and ``python_module`` spell out. Both languages decide the same way:

1. Names: an event name is cut into ASCII words (`Order Completed`, `order_completed` and
   `orderCompleted` are all ``order completed``) and joined as ``orderCompleted`` (TypeScript) or
   ``order_completed`` (Python). A name with no such word becomes ``event``; one starting with a digit
   gets an ``event`` prefix; a reserved word, a builtin or a name the module itself uses gets an
   ``Event`` / ``_event`` suffix; a name already taken gets 2, 3, ... in plan order (events are sorted
   by name, so a wrapper keeps its name while the plan grows, unless a new event sorts before it and
   collides).
2. Events whose names start with ``$`` are the SDKs' own ($pageview, $identify, web vitals): the
   SDKs send them with their own methods, so they get no wrapper; the header lists them.
3. Deprecated events keep their wrapper, marked ``@deprecated`` (TSDoc) or warning with
   ``DeprecationWarning`` (Python), so existing calls still compile while they are removed.
4. Types follow what ingestion validates (``analytics.plan.compiler``), with two exceptions where
   the plan's intent is clearer than the validator's reading of it: an object property without
   nested properties accepts any keys, and an enum on an array property is documented, not typed.
   Constraints no type can carry (pattern, lengths, ranges) go into each property's doc comment.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from analytics.plan.compiler import RESERVED_PREFIX, effective_properties
from analytics.plan.models import PropertyType


@dataclass
class Field:
    key: str
    type: str
    required: bool
    doc: list[str]


@dataclass
class Shape:
    """A properties type: an event's, or a nested object's."""

    name: str
    fields: list[Field]
    doc: list[str]
    open: bool = False  # unplanned properties allowed


@dataclass
class Wrapper:
    event: dict
    function: str
    shapes: list[Shape]  # nested shapes first, the event's own last
    doc: list[str]

    @property
    def shape(self) -> Shape:
        return self.shapes[-1]

    @property
    def any_required(self) -> bool:
        return any(item.required for item in self.shape.fields)


@dataclass
class Dialect:
    """How one language spells names and types."""

    scalars: dict[str, str]
    any_object: str
    reserved: set[str]
    function_name: Callable[[list[str]], str]
    type_name: Callable[[str], str]  # function name -> type name stem
    reserved_suffix: str  # added to a reserved name
    number_suffix: str  # between a taken name and its number
    literal: Callable[[object], str | None]
    enum: Callable[[list[str]], str]
    array: Callable[[str], str]
    taken: set[str] = field(default_factory=set)

    def claim(self, name: str, *, function: bool = False) -> str:
        if function and name in self.reserved:
            name += self.reserved_suffix
        candidate, number = name, 2
        while candidate in self.reserved or candidate in self.taken:
            candidate, number = f"{name}{self.number_suffix}{number}", number + 1
        self.taken.add(candidate)
        return candidate


def words(name: str) -> list[str]:
    """`Order Completed`, `order_completed`, `orderCompleted`, `OrderCompleted` -> [order, completed]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [word.lower() for word in re.findall(r"[A-Za-z0-9]+", spaced)]


def _pascal(parts: list[str]) -> str:
    return "".join(part[:1].upper() + part[1:] for part in parts)


def clean_lines(text: str) -> list[str]:
    """Text as lines with no control characters (a doc comment must not end early or hold a NUL)."""
    return [
        "".join(char for char in line if char == "\t" or unicodedata.category(char) != "Cc").rstrip()
        for line in str(text).splitlines()
    ]


def _number(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


def _property_doc(prop: dict, typed_enum: bool) -> list[str]:
    lines = clean_lines(prop["description"])
    notes = []
    if prop["type"] == PropertyType.DATETIME or prop["item_type"] == PropertyType.DATETIME:
        notes.append("ISO 8601 date-time with an offset, e.g. `2026-01-31T09:30:00Z`.")
    if prop["type"] == PropertyType.INTEGER or prop["item_type"] == PropertyType.INTEGER:
        notes.append("A whole number.")
    if prop["enum"] and not typed_enum:
        notes.append("One of: " + ", ".join(f"`{value}`" for value in prop["enum"]) + ".")
    if prop["pattern"]:
        notes.append(f"Pattern: `{prop['pattern']}`.")
    unit = "item" if prop["type"] == PropertyType.ARRAY else "character"
    for label, length in (("At least", prop["min_length"]), ("At most", prop["max_length"])):
        if length is not None:
            notes.append(f"{label} {length} {unit}{'' if length == 1 else 's'}.")
    if prop["minimum"] is not None:
        notes.append(f"Minimum {_number(prop['minimum'])}.")
    if prop["maximum"] is not None:
        notes.append(f"Maximum {_number(prop['maximum'])}.")
    if prop["pii"]:
        notes.append("Personal data (PII).")
    if notes:
        lines += ["", *clean_lines(" ".join(notes))] if lines else clean_lines(" ".join(notes))
    return lines


def _event_doc(event: dict) -> list[str]:
    lines = [f"`{' '.join(clean_lines(event['name']))}`"]
    if event["description"]:
        lines += ["", *clean_lines(event["description"])]
    if event["trigger"]:
        trigger = clean_lines(re.sub(r"^\s*when\s+", "", event["trigger"], flags=re.IGNORECASE)) or [""]
        lines += ["", f"Fires when: {trigger[0]}", *trigger[1:]]
    facts = [f"Status: {event['status']}."]
    if event["owner"]:
        facts.append(f"Owner: {event['owner']}.")
    if event["tags"]:
        facts.append(f"Tags: {', '.join(event['tags'])}.")
    if event["allow_unplanned_properties"]:
        facts.append("Properties the plan does not name are allowed.")
    return [*lines, "", *clean_lines(" ".join(facts))]


@dataclass
class _Shapes:
    """Builds the shapes of one event: nested ones first (a type is defined before it is used)."""

    dialect: Dialect
    event_name: str
    shapes: list[Shape] = field(default_factory=list)

    def add(self, name: str, properties: list[dict], path: str, doc: list[str], open_=False) -> str:
        stem = name.removesuffix("Properties")
        fields = []
        for prop in properties:
            type_, typed_enum = self.type_of(prop, stem, f"{path}.{prop['name']}" if path else prop["name"])
            fields.append(Field(prop["name"], type_, prop["required"], _property_doc(prop, typed_enum)))
        self.shapes.append(Shape(name, fields, doc, open_))
        return name

    def type_of(self, prop: dict, stem: str, path: str) -> tuple[str, bool]:
        """A property's type expression, and whether its enum is in it (else it is documented)."""
        type_, dialect = prop["type"], self.dialect
        if prop["enum"] and type_ not in (PropertyType.OBJECT, PropertyType.ARRAY):
            literals = [dialect.literal(value) for value in prop["enum"]]
            if all(literal is not None for literal in literals):
                return dialect.enum(literals), True
        nested = stem + (_pascal(words(prop["name"])) or "Value")
        if type_ == PropertyType.OBJECT:
            return self.object(prop, nested, path), False
        if type_ == PropertyType.ARRAY:
            if prop["item_type"] == PropertyType.OBJECT:
                return dialect.array(self.object(prop, nested + "Item", f"{path}[]")), False
            return dialect.array(dialect.scalars[prop["item_type"] or PropertyType.STRING]), False
        return dialect.scalars[type_], False

    def object(self, prop: dict, stem: str, path: str) -> str:
        if not prop["properties"]:
            return self.dialect.any_object
        doc = [f"`{path}` of `{self.event_name}`.", *clean_lines(prop["description"])]
        return self.add(self.dialect.claim(stem), prop["properties"], path, doc)


def wrappers(snapshot: dict, dialect: Dialect) -> tuple[list[Wrapper], list[str]]:
    """One wrapper per event (names claimed in plan order), and the `$` events left out."""
    groups = {group["name"]: group for group in snapshot["property_groups"]}
    events = [event for event in snapshot["events"] if not event["name"].startswith(RESERVED_PREFIX)]
    skipped = [event["name"] for event in snapshot["events"] if event["name"].startswith(RESERVED_PREFIX)]
    functions = []
    for event in events:
        parts = words(event["name"]) or ["event"]
        if parts[0][0].isdigit():
            parts = ["event", *parts]
        functions.append(dialect.claim(dialect.function_name(parts), function=True))
    type_names = [dialect.claim(dialect.type_name(function) + "Properties") for function in functions]
    result = []
    for event, function, type_name in zip(events, functions, type_names, strict=True):
        name = " ".join(clean_lines(event["name"]))
        shapes = _Shapes(dialect, name)
        doc = [f"Properties of `{name}`, sent by `{function}`."]
        if event["allow_unplanned_properties"]:
            doc += ["", "Properties the plan does not name are allowed too."]
        shapes.add(
            type_name, effective_properties(event, groups), "", doc, event["allow_unplanned_properties"]
        )
        result.append(Wrapper(event, function, shapes.shapes, _event_doc(event)))
    return result, skipped


def header_lines(project_name: str, plan_version: int, language: str, skipped: list[str]) -> list[str]:
    name = " ".join(clean_lines(project_name)) or "?"
    lines = [
        f"Generated by Beacon from the tracking plan of project {name!r}, version {plan_version}.",
        "DO NOT EDIT: regenerate with `manage.py plan_codegen <project> --lang "
        f"{language}` or GET /api/v1/plan/codegen/{language}.",
    ]
    if skipped:
        lines.append(
            "Not wrapped (the SDKs send these themselves): "
            + ", ".join(" ".join(clean_lines(name)) for name in skipped)
            + "."
        )
    return lines
