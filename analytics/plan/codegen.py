"""Typed SDK wrappers generated from a tracking plan (DESIGN.md section 5): a TypeScript module and a
Python module with, per event, a properties type and a function that sends the event.

Both read a normalized snapshot (``analytics.plan.snapshot``) and decide the same way:

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

import builtins
import json
import keyword
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from analytics.plan.compiler import RESERVED_PREFIX, effective_properties
from analytics.plan.models import EventStatus, PropertyType
from analytics.plan.snapshot import export_plan

LANGUAGES = ("typescript", "python")


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


# --- shared ----------------------------------------------------------------------------------------


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


# --- TypeScript ------------------------------------------------------------------------------------

_TS_RESERVED = {
    *"break case catch class const continue debugger default delete do else enum export extends false "
    "finally for function if import in instanceof new null return super switch this throw true try "
    "typeof var void while with implements interface let package private protected public static yield "
    "await async of as any unknown never object string number boolean symbol bigint type declare "
    "arguments eval undefined globalThis require module exports console".split(),
    "BeaconClient",
    "setClient",
    "PLAN",
    "Record",
    "Error",
}
_TS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _ts_literal(value) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    return None


def _ts_dialect() -> Dialect:
    return Dialect(
        scalars={"string": "string", "number": "number", "integer": "number", "boolean": "boolean",
                 "datetime": "string"},
        any_object="Record<string, unknown>",
        reserved=set(_TS_RESERVED),
        function_name=lambda parts: parts[0] + _pascal(parts[1:]),
        type_name=lambda function: function[:1].upper() + function[1:],
        reserved_suffix="Event",
        number_suffix="",
        literal=_ts_literal,
        enum=" | ".join,
        array=lambda item: f"({item})[]" if " " in item else f"{item}[]",
    )  # fmt: skip


def _ts_doc(lines: list[str], indent: str = "") -> list[str]:
    lines = [line.replace("*/", "*\\/") for line in lines]
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in lines), f"{indent} */"]


def _ts_key(key: str) -> str:
    return key if _TS_IDENTIFIER.fullmatch(key) else json.dumps(key)


def _ts_shape(shape: Shape, deprecated: bool) -> list[str]:
    doc = [
        *shape.doc,
        *(["", "@deprecated The tracking plan marks this event deprecated."] if deprecated else []),
    ]
    lines = [*(_ts_doc(doc) if doc else []), f"export interface {shape.name} {{"]
    if not shape.fields and not shape.open:
        return [*lines[:-1], lines[-1][:-1] + "{}", ""]
    for item in shape.fields:
        if item.doc:
            lines += _ts_doc(item.doc, "  ")
        lines.append(f"  {_ts_key(item.key)}{'' if item.required else '?'}: {item.type};")
    if shape.open:
        lines.append("  [property: string]: unknown;")
    return [*lines, "}", ""]


_TS_RUNTIME = """\
/** Anything that sends events: the Beacon browser SDK (`window.beacon`), or a client of your own. */
export interface BeaconClient {
  track(event: string, properties?: Record<string, unknown>): unknown;
}

/** The plan these wrappers were generated from. */
export const PLAN = { project: %(project)s, version: %(version)s } as const;

let _configuredClient: BeaconClient | undefined;

/** Send through `client` from now on (`undefined`: back to `globalThis.beacon`, the browser SDK). */
export function setClient(client: BeaconClient | undefined): void {
  _configuredClient = client;
}

function _send(event: string, properties: object | undefined, client: BeaconClient | undefined): unknown {
  const target = client ?? _configuredClient ?? (globalThis as { beacon?: BeaconClient }).beacon;
  if (target == null || typeof target.track !== "function") {
    throw new Error(
      `Beacon: no client to send "${event}" with. Load the Beacon browser SDK (it sets window.beacon), ` +
        "call setClient(client), or pass a client as the last argument.",
    );
  }
  return target.track(event, { ...properties } as Record<string, unknown>);
}
"""


def typescript(snapshot: dict, *, project_name: str, plan_version: int) -> str:
    """An ES module: a properties interface and a function per event, sending through a
    ``BeaconClient`` (the argument, ``setClient``'s, or ``globalThis.beacon``)."""
    items, skipped = wrappers(snapshot, _ts_dialect())
    lines = [f"// {line}" for line in header_lines(project_name, plan_version, "typescript", skipped)]
    lines += ["/* eslint-disable */", ""]
    lines += (_TS_RUNTIME % {"project": json.dumps(project_name), "version": int(plan_version)}).splitlines()
    for item in items:
        deprecated = item.event["status"] == EventStatus.DEPRECATED
        lines.append("")
        for shape in item.shapes:
            lines += _ts_shape(shape, deprecated and shape is item.shape)
        doc = [*item.doc]
        if deprecated:
            doc += ["", "@deprecated The tracking plan marks this event deprecated."]
        optional = "" if item.any_required else "?"
        lines += _ts_doc(doc)
        lines += [
            f"export function {item.function}(properties{optional}: {item.shape.name}, client?: BeaconClient)"
            ": unknown {",
            f"  return _send({json.dumps(item.event['name'])}, properties, client);",
            "}",
        ]
    return "\n".join(lines) + "\n"


# --- Python ----------------------------------------------------------------------------------------

_PY_MODULE_NAMES = {
    "sys", "warnings", "datetime", "Any", "Callable", "Literal", "Mapping", "NotRequired", "Protocol",
    "Required", "TypedDict", "Tracker", "FunctionTracker", "PLAN_PROJECT", "PLAN_VERSION",
}  # fmt: skip
_PY_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _py_literal(value) -> str | None:
    if value is None or isinstance(value, bool | str | int):
        return repr(value)
    if isinstance(value, float) and value.is_integer():  # Literal takes no floats
        return str(int(value))
    return None


def _py_dialect() -> Dialect:
    return Dialect(
        scalars={"string": "str", "number": "int | float", "integer": "int", "boolean": "bool",
                 "datetime": "str | datetime"},
        any_object="dict[str, Any]",
        reserved={*keyword.kwlist, *keyword.softkwlist, *dir(builtins), *_PY_MODULE_NAMES},
        function_name="_".join,
        type_name=lambda function: _pascal(function.split("_")),
        reserved_suffix="_event",
        number_suffix="_",
        literal=_py_literal,
        enum=lambda literals: f"Literal[{', '.join(literals)}]",
        array=lambda item: f"list[{item}]",
    )  # fmt: skip


def _py_docstring(lines: list[str], indent: str) -> list[str]:
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    body = text.split("\n")
    if len(body) == 1:
        return [f'{indent}"""{body[0]}"""']
    return [f'{indent}"""{body[0]}', *(f"{indent}{line}".rstrip() for line in body[1:]), f'{indent}"""']


def _py_comment(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in lines]


def _py_shape(shape: Shape) -> list[str]:
    annotations = [f"{'Required' if item.required else 'NotRequired'}[{item.type}]" for item in shape.fields]
    used = {token for annotation in annotations for token in re.findall(r"[A-Za-z_]\w*", annotation)}
    as_class = all(
        _PY_PLAIN_KEY.fullmatch(item.key) and not keyword.iskeyword(item.key) and item.key not in used
        for item in shape.fields
    )
    doc = shape.doc
    if shape.open:  # TRICKY: a TypedDict takes no other keys; the wrapper takes them as `extra`.
        doc = [*doc[:-1], doc[-1] + " Pass them in the wrapper's `extra`."]
    if as_class:
        lines = [f"class {shape.name}(TypedDict):", *_py_docstring(doc, "    ")]
        for item, annotation in zip(shape.fields, annotations, strict=True):
            lines += [
                "",
                f"    {item.key}: {annotation}",
                *(_py_docstring(item.doc, "    ") if item.doc else []),
            ]
        return [*lines, "", ""]
    lines = [*_py_comment(doc, ""), f"{shape.name} = TypedDict(", f"    {shape.name!r},", "    {"]
    for item, annotation in zip(shape.fields, annotations, strict=True):
        lines += [*_py_comment(item.doc, "        "), f"        {item.key!r}: {annotation},"]
    return [*lines, "    },", ")", "", ""]


_PY_RUNTIME = '''\
import sys
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required, TypedDict
else:  # Python 3.10: pip install typing_extensions
    from typing_extensions import NotRequired, Required, TypedDict

PLAN_PROJECT = %(project)r
PLAN_VERSION = %(version)d


class Tracker(Protocol):
    """Anything with ``track(event, properties)``: Beacon's own client, or a ``FunctionTracker``."""

    def track(self, event: str, properties: dict[str, Any], /) -> object: ...


class FunctionTracker:
    """A Tracker that calls ``function(event, properties)``: adapts clients that want a user id.

    Segment and RudderStack take the user id first::

        client = FunctionTracker(functools.partial(segment.analytics.track, "user-42"))

    PostHog takes it as a keyword::

        client = FunctionTracker(
            lambda event, properties: posthog.capture(event, distinct_id="user-42", properties=properties)
        )

    Do not pass those modules themselves as the client: their ``track(user_id, event, ...)`` would
    take the event name for the user id.
    """

    def __init__(self, function: Callable[[str, dict[str, Any]], object]) -> None:
        self.function = function

    def track(self, event: str, properties: dict[str, Any], /) -> object:
        return self.function(event, properties)


def _jsonable(value: object) -> Any:
    """Datetimes as ISO 8601 strings (a naive one is taken as local time), everywhere in ``value``."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat()
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _payload(properties: Mapping[str, object] | None, extra: Mapping[str, object] | None = None) -> dict[str, Any]:
    merged = {**(properties or {}), **(extra or {})}
    return {key: _jsonable(value) for key, value in merged.items()}
'''

_PY_USAGE = """\
Typed tracking functions: one per event of the plan, each taking a client and the event's
properties as a TypedDict, so that mypy or pyright reject a missing required property, an unknown
one or a value outside an enum::

    order_completed(client, {"order_id": "o-1", "currency": "EUR"})

``client`` is anything with ``track(event, properties)`` (see ``Tracker``; ``FunctionTracker``
adapts the Segment, RudderStack and PostHog clients, which want a user id). Datetime values may be
``datetime`` objects: they are sent as ISO 8601 strings. Needs Python 3.11+ (3.10 with
typing_extensions).
"""


def python(snapshot: dict, *, project_name: str, plan_version: int) -> str:
    """A Python module: a properties TypedDict and a function per event, sending through a
    ``Tracker`` passed as the first argument."""
    items, skipped = wrappers(snapshot, _py_dialect())
    lines = _py_comment(header_lines(project_name, plan_version, "python", skipped), "")
    lines += [*_py_docstring(_PY_USAGE.splitlines(), ""), ""]
    lines += (_PY_RUNTIME % {"project": project_name, "version": int(plan_version)}).splitlines()
    lines += ["", ""]
    for item in items:
        for shape in item.shapes:
            lines += _py_shape(shape)
        lines += _py_function(item)
    return "\n".join(lines).rstrip() + "\n"


def _py_function(item: Wrapper) -> list[str]:
    params = ["client: Tracker", f"properties: {item.shape.name}"]
    if not item.any_required:
        params[1] += " | None = None"
    doc = [*item.doc]
    deprecated = item.event["status"] == EventStatus.DEPRECATED
    if deprecated:
        doc += ["", "Deprecated: the tracking plan marks this event deprecated."]
    if item.shape.open:
        params.append("extra: Mapping[str, object] | None = None")
        doc += ["", "``extra``: properties the plan does not name (this event allows them)."]
    signature = f"def {item.function}({', '.join(params)}) -> object:"
    if len(signature) > 100:
        signature = "\n".join(
            [f"def {item.function}(", *(f"    {param}," for param in params), ") -> object:"]
        )
    lines = [signature, *_py_docstring(doc, "    ")]
    name = item.event["name"]
    if deprecated:
        message = f"{name!r} is deprecated in the tracking plan."
        lines.append(f"    warnings.warn({message!r}, DeprecationWarning, stacklevel=2)")
    extra = ", extra" if item.shape.open else ""
    return [*lines, f"    return client.track({name!r}, _payload(properties{extra}))", "", ""]


# --- for a project ---------------------------------------------------------------------------------

GENERATORS = {"typescript": typescript, "python": python}
CONTENT_TYPES = {
    "typescript": "application/typescript; charset=utf-8",
    "python": "text/x-python; charset=utf-8",
}


def generate(project, language: str) -> str:
    """The wrappers of the project's current plan (``Project.plan_version``) in ``language``."""
    return GENERATORS[language](
        export_plan(project.id), project_name=project.name, plan_version=project.plan_version
    )


def filename(project, language: str) -> str:
    """``beacon-<slug>.ts`` / ``beacon_<slug>.py`` (an importable module name: slugs may hold `-`)."""
    if language == "typescript":
        return f"beacon-{project.slug}.ts"
    return f"beacon_{project.slug.replace('-', '_')}.py"
