"""The Python wrappers: a module with a properties TypedDict and a function per event, sending
through a ``Tracker`` passed as the first argument; ``_PY_RUNTIME`` is the part every generated module
starts with."""

import builtins
import keyword
import re

from analytics.plan.codegen.shapes import Dialect, Shape, Wrapper, _pascal, header_lines, wrappers
from analytics.plan.models import EventStatus

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
