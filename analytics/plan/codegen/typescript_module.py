"""The TypeScript wrappers: an ES module with a properties interface and a function per event,
sending through a ``BeaconClient``; ``_TS_RUNTIME`` is the part every generated module starts with."""

import json
import re

from analytics.plan.codegen.shapes import Dialect, Shape, _number, _pascal, header_lines, wrappers
from analytics.plan.models import EventStatus

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
