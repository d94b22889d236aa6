"""The whole tracking plan as a JSON Schema, CSV or YAML file, and back (export and import).

Every ``to_*`` takes a snapshot (``analytics.plan.snapshot``); every ``from_*`` returns a normalized
one, or raises ``SnapshotError`` saying where (event, property, row, line) and what is wrong.
Nothing here touches the database. Views go through the registry::

    FORMATS[name].dump(snapshot) -> text      FORMATS[name].load(text) -> snapshot
    detect_format(filename, text) -> name (a key of FORMATS)

Each format is one module, whose docstring gives its layout: ``json_schema`` (JSON Schema),
``csv_format`` (CSV) and ``yaml_format`` (YAML); ``shared`` holds what they share (decoding,
the format check, reading a snapshot written by hand). This module is the registry, and re-exports
each format's ``to_*``/``from_*``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from analytics.plan.formats.csv_format import CSV_COLUMNS, _column_name, _delimiter, from_csv, to_csv
from analytics.plan.formats.json_schema import (
    GROUP_KIND,
    JSON_SCHEMA_DIALECT,
    _dump_json,
    _load_json,
    from_json_schema,
    to_json_schema,
)
from analytics.plan.formats.shared import _text
from analytics.plan.formats.yaml_format import from_yaml, to_yaml
from analytics.plan.snapshot import SnapshotError

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "GROUP_KIND",
    "JSON_SCHEMA_DIALECT",
    "PlanFormat",
    "detect_format",
    "from_csv",
    "from_json_schema",
    "from_yaml",
    "to_csv",
    "to_json_schema",
    "to_yaml",
]


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
