"""Property definitions inferred from what was actually sent (for "seen, not in plan")."""

import re

from analytics.plan.snapshot import PROPERTY_DEFAULTS

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def type_of(value) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "datetime" if _ISO_DATETIME.fullmatch(value) else "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return None  # null says nothing


def merge_types(types: set[str]) -> str:
    """One type for the values seen: integers and numbers make a number; a mix of others, a string."""
    types.discard(None)
    if not types:
        return "string"
    if types <= {"integer", "number"}:
        return "number" if "number" in types else "integer"
    if types == {"datetime", "string"}:
        return "string"
    return types.pop() if len(types) == 1 else "string"


def infer_properties(samples: list[dict], *, depth: int = 0) -> list[dict]:
    """Draft property definitions (snapshot-shaped) for the keys of ``samples``, in first-seen order.
    SDK properties (``$...``) are left out; nothing is marked required (a PM decides that)."""
    seen: dict[str, list] = {}
    for sample in samples:
        for key, value in (sample or {}).items():
            if not key.startswith("$"):
                seen.setdefault(key, []).append(value)
    return [_infer(name, values, depth) for name, values in seen.items()]


def _infer(name: str, values: list, depth: int) -> dict:
    prop = {**PROPERTY_DEFAULTS, "name": name, "properties": []}
    prop["type"] = merge_types({type_of(value) for value in values})
    if prop["type"] == "object" and depth < 3:
        prop["properties"] = infer_properties([v for v in values if isinstance(v, dict)], depth=depth + 1)
    elif prop["type"] == "array":
        items = [item for value in values if isinstance(value, list) for item in value]
        prop["item_type"] = merge_types({type_of(item) for item in items})
        if prop["item_type"] == "object" and depth < 3:
            prop["properties"] = infer_properties([i for i in items if isinstance(i, dict)], depth=depth + 1)
    return prop


def value_at(properties: dict, path: str):
    """The value at a dotted path (array indexes as numbers), or None."""
    value = properties
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
