"""One event, field by field, against the current tracking plan: what the inspector and debug
sessions show when a row is expanded."""

from dataclasses import dataclass, field

import orjson

from analytics.plan.compiler import RESERVED_PREFIX, CompiledPlan, Violation, schema_at
from analytics.plan.runtime import compiled_plan
from analytics.storage.base import EventRecord, PlanStatus

# A field's mark: as planned, against the plan, set by the SDK (not checked), or no plan to say.
OK, BAD, SDK, UNCHECKED = "ok", "bad", "sdk", "unchecked"
_VALUE_CHARS = 200

INGESTED = {
    PlanStatus.UNCHECKED: "not checked (no plan yet)",
    PlanStatus.VALID: "valid",
    PlanStatus.INVALID: "stored, flagged invalid",
    PlanStatus.ALLOWED: "stored, violations recorded",
    PlanStatus.BLOCKED: "blocked: kept in quarantine",
}


@dataclass
class FieldCheck:
    path: str
    depth: int
    value: str  # JSON, shortened
    mark: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class Inspection:
    record: EventRecord
    has_plan: bool
    planned: bool
    violations: list[Violation]
    envelope: list[tuple[str, str]]
    properties: list[FieldCheck]
    context: list[tuple[str, str]]

    @property
    def valid(self) -> bool:
        return not self.violations

    @property
    def event_violations(self) -> list[Violation]:
        return [v for v in self.violations if not v.property]

    @property
    def ingested(self) -> str:
        return INGESTED.get(PlanStatus(self.record.plan_status), "")


def plan_for(project) -> CompiledPlan | None:
    """The project's current compiled plan (cached per process and version), or None without a plan."""
    return compiled_plan(project.id, project.plan_version) if project.plan_version else None


def violations_of(plan: CompiledPlan | None, record: EventRecord) -> list[Violation]:
    return plan.check(record.event, record.properties or {}) if plan is not None else []


def _show(value) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _generic(path: str) -> str:
    """items.0.price -> items.*.price (PII violations name array items with `*`)."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def inspect(plan: CompiledPlan | None, record: EventRecord) -> Inspection:
    violations = violations_of(plan, record)
    compiled = plan.events.get(record.event) if plan is not None else None
    by_path: dict[str, list[str]] = {}
    for violation in violations:
        if violation.property:
            by_path.setdefault(violation.property, []).append(violation.message)
    fields: list[FieldCheck] = []
    _walk(
        record.properties or {}, [], compiled.schema if compiled else None, plan is not None, by_path, fields
    )
    shown = {check.path for check in fields}
    for path, reasons in by_path.items():  # missing required properties, and the like
        if path not in shown and not any(_generic(seen) == path for seen in shown):
            fields.append(FieldCheck(path, path.count("."), "(missing)", BAD, reasons))
    context = {key: value for key, value in (record.context or {}).items() if key != "plan_violations"}
    return Inspection(
        record=record,
        has_plan=plan is not None,
        planned=compiled is not None,
        violations=violations,
        envelope=[
            (name, str(value))
            for name, value in (
                ("event", record.event),
                ("message_id", record.message_id),
                ("time", record.time.isoformat()),
                ("received_at", record.received_at.isoformat()),
                ("distinct_id", record.distinct_id),
                ("anonymous_id", record.anonymous_id),
                ("device_id", record.device_id),
                ("session_id", record.session_id),
            )
            if value
        ],
        properties=fields,
        context=[(key, _show(value)) for key, value in sorted(context.items())],
    )


def _walk(value, parts: list, schema: dict | None, has_plan: bool, by_path: dict, out: list) -> None:
    """Depth first: each key of an object, each object of an array, with its mark and reasons."""
    parent = schema_at(schema, parts) if schema is not None else None
    closed = parent is not None and parent.get("additionalProperties") is False
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        path_parts = [*parts, key]
        path = ".".join(str(part) for part in path_parts)
        reasons = by_path.get(path) or by_path.get(_generic(path)) or []
        sdk = str(path_parts[0]).startswith(RESERVED_PREFIX)
        planned = schema_at(schema, path_parts) if schema is not None else None
        if reasons:
            mark = BAD
        elif not has_plan or schema is None:
            mark = SDK if sdk else UNCHECKED
        elif sdk:
            mark = OK if planned else SDK
        elif closed and isinstance(key, str) and planned is None:
            mark, reasons = BAD, [f"`{path}` is not in the plan."]
        else:
            mark, reasons = OK, [_planned_as(planned)]
        nested = bool(item) and (
            isinstance(item, dict) or (isinstance(item, list) and any(isinstance(x, dict) for x in item))
        )
        out.append(FieldCheck(path, len(parts), "" if nested else _show(item), mark, reasons))
        if nested:
            _walk(item, path_parts, schema, has_plan, by_path, out)


def _planned_as(schema: dict | None) -> str:
    if schema is None:
        return "inside a free-form object"
    kind = schema.get("type", "any")
    if schema.get("format") == "date-time":
        kind = "datetime"
    return f"{kind}, as planned"
