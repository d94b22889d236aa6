"""The files of an import (analytics/ingest/importer.py): reading NDJSON and CSV lines with their byte
offsets, and the checkpoint beside the file that lets an interrupted import resume."""

import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from analytics.ingest.body import parse_json, strip_nul
from analytics.ingest.errors import EventRejected, IngestError
from config import services

HEAD_BYTES = 64 * 1024
STATE_SUFFIX = ".beacon-import.json"
REJECTS_SUFFIX = ".rejected.ndjson"
CHECKPOINT_VERSION = 1


class ImportRefused(Exception):
    """The import cannot start (unknown project or environment, unreadable file, bad header)."""


# CSV columns copied as they are (text) into the native event object.
CSV_TEXT_COLUMNS = (
    "type",
    "event",
    "timestamp",
    "environment",
    "distinct_id",
    "anonymous_id",
    "device_id",
    "session_id",
    "message_id",
    "uuid",
    "new_user_id",
    "name",
)
# CSV columns holding a JSON object, and the prefixes that build one from several columns.
CSV_OBJECT_COLUMNS = ("properties", "traits", "context")


# --- reading lines ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Line:
    number: int  # 1-based line of the file where the record starts
    raw: bytes
    end: int  # byte offset just after it


def _physical_lines(handle, offset: int, line: int) -> Iterator[tuple[int, bytes, int]]:
    handle.seek(offset)
    for raw in handle:
        line += 1
        offset += len(raw)
        yield line, raw, offset


class NdjsonSource:
    name = "ndjson"

    def __init__(self, handle):
        self.handle = handle

    def start(self) -> int:
        return 0

    def lines(self, offset: int, line: int) -> Iterator[Line]:
        for number, raw, end in _physical_lines(self.handle, offset, line):
            yield Line(number, raw, end)

    def message(self, raw: bytes):
        """(event object, its size, its bracket count); raises EventRejected as the API would."""
        try:
            return parse_json(raw)
        except IngestError as error:
            raise EventRejected(error.error_code, error.message) from None


class CsvSource:
    """A header row, then one event per record (a quoted field may span lines)."""

    name = "csv"

    def __init__(self, handle):
        self.handle = handle
        self.columns: list[str] = []
        self.header_end = 0

    def start(self) -> int:
        """Read the header; returns the offset of the first record. Raises ImportRefused."""
        self.handle.seek(0)
        header = self.handle.readline()
        self.header_end = len(header)
        try:
            text = header.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused("The CSV header is not UTF-8 text.") from None
        self.columns = [column.strip() for column in next(csv.reader([text]), [])]
        if "event" not in self.columns and "type" not in self.columns:
            raise ImportRefused(
                "The CSV header has no `event` column (nor `type`): expected columns event, timestamp, "
                "distinct_id, anonymous_id, message_id, and `properties` or `properties.<name>`."
            )
        return self.header_end

    def unknown_columns(self) -> list[str]:
        prefixes = tuple(f"{name}." for name in CSV_OBJECT_COLUMNS)
        return [
            column
            for column in self.columns
            if column not in CSV_TEXT_COLUMNS
            and column not in CSV_OBJECT_COLUMNS
            and not column.startswith(prefixes)
        ]

    def lines(self, offset: int, line: int) -> Iterator[Line]:
        if line == 0:
            offset, line = self.header_end, 1
        pending, first = b"", 0
        for number, raw, end in _physical_lines(self.handle, offset, line):
            if not pending:
                first = number
            pending += raw
            if pending.count(b'"') % 2:  # inside a quoted field: the record goes on
                continue
            yield Line(first, pending, end)
            pending = b""
        if pending:  # an unterminated quote at the end of the file
            yield Line(first, pending, end)

    def message(self, raw: bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventRejected("invalid-utf8", "The line is not valid UTF-8 text.") from None
        try:
            values = next(csv.reader([text.rstrip("\r\n")], strict=True), [])
        except csv.Error as error:
            raise EventRejected("invalid-csv", f"The line is not valid CSV: {error}.") from None
        if len(values) != len(self.columns):
            raise EventRejected(
                "invalid-csv", f"The line has {len(values)} fields; the header has {len(self.columns)}."
            )
        message: dict = {}
        for column, value in zip(self.columns, values, strict=True):
            if value == "":
                continue  # an empty cell is an absent field
            if column in CSV_TEXT_COLUMNS:
                message[column] = value
            elif column in CSV_OBJECT_COLUMNS:
                try:
                    parsed = orjson.loads(value)
                except orjson.JSONDecodeError as error:
                    raise EventRejected(
                        "invalid-json", f"The `{column}` column is not valid JSON: {error}."
                    ) from None
                if isinstance(parsed, dict):  # not an object: map_native says what is wrong
                    message[column] = {**message.get(column, {}), **parsed}
                else:
                    message[column] = parsed
            elif "." in column and (head := column.split(".", 1))[0] in CSV_OBJECT_COLUMNS:
                target = message.setdefault(head[0], {})
                if isinstance(target, dict):
                    target[head[1]] = _cell_value(value)
        if "\x00" in text:
            message = strip_nul(message)  # as the API does: PostgreSQL text cannot hold NUL
        if "properties" not in message and message.get("type", "track") == "track":
            message["properties"] = {}  # a CSV has no way to say "{}" but an empty column
        size = len(orjson.dumps(message))
        return message, size, raw.count(b"{") + raw.count(b"[") + 2


def _cell_value(value: str):
    """A `properties.<name>` cell: JSON when it parses (42, true, [1,2], {"a":1}, "quoted"), else the text."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


# --- checkpoints -----------------------------------------------------------------------------------


@dataclass
class Counts:
    read: int = 0  # records read (lines, or CSV records), blank lines included
    blank: int = 0
    stored: int = 0  # new events written
    duplicates: int = 0  # accepted, but already stored (an earlier run, or an earlier line)
    quarantined: int = 0  # blocked by the plan (block policy)
    rejected: int = 0
    would_store: int = 0  # --dry-run: accepted events that are not blocked


@dataclass
class Checkpoint:
    path: str
    size: int
    head_sha256: str
    project: str
    environment: str
    format: str
    offset: int = 0
    line: int = 0
    rejects_offset: int = 0
    batches: int = 0
    counts: Counts = field(default_factory=Counts)
    version: int = CHECKPOINT_VERSION
    updated_at: str = ""

    def identity(self) -> tuple:
        return (self.path, self.size, self.head_sha256, self.project, self.environment, self.format)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> "Checkpoint":
        values = orjson.loads(data)
        values["counts"] = Counts(**values.get("counts", {}))
        return cls(**values)


def file_fingerprint(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return path.stat().st_size, hashlib.sha256(head).hexdigest()


def state_path(path: Path) -> Path:
    """``<file>.beacon-import.json`` beside the file, or under ``.local/imports/`` if that is read-only."""
    if os.access(path.parent, os.W_OK):
        return path.with_name(path.name + STATE_SUFFIX)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return services.local_dir() / "imports" / f"{path.name}.{digest}{STATE_SUFFIX}"


def rejects_path(path: Path) -> Path:
    if os.access(path.parent, os.W_OK):
        return path.with_name(path.name + REJECTS_SUFFIX)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return services.local_dir() / "imports" / f"{path.name}.{digest}{REJECTS_SUFFIX}"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
