"""The whole tracking plan as a YAML file, and back (the ``yaml`` format).

**YAML**: the snapshot itself, keys equal to their defaults left out (loading accepts both).
"""

from datetime import date

import yaml

from analytics.plan.formats.shared import _from_plain_data, _guarded, _text
from analytics.plan.snapshot import EVENT_DEFAULTS, FORMAT, PROPERTY_DEFAULTS, SnapshotError, normalize

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
