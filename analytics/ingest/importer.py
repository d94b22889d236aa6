"""Historical events from a file (NDJSON or CSV) through the ingestion pipeline, resumably.

``manage.py import_events`` drives this. A line goes exactly where a ``POST /track`` body's event
would (``pipeline.build_events``: the size and depth checks, ``map_native``, the environment check,
enrichment, the tracking plan with the environment's policy), then a batch of accepted events is
written the way the ingest writer writes (``writer.write_events``: quarantine for blocked events,
the exactly-once claim by message id, identity, the insert), one transaction per batch, without
Redis and without a running writer.

- Lines without a message id get a deterministic one, so importing a file twice stores nothing twice:
  a line with a ``timestamp`` gets the id the API itself derives from an event's content
  (``enrich.server_message_id``: the same event sent to the API and later imported from an export is
  stored once); a line without one gets an id from its content and its line number (two identical
  lines without a time may be two real events).
- After every committed batch a checkpoint (byte offset, line number, counts) is saved beside the
  file, keyed by the file's path, size and a hash of its first 64 KB. A rerun resumes from it; a
  batch that was interrupted before its checkpoint is simply imported again (exactly-once).
- A bad line never stops the import: it goes to ``<file>.rejected.ndjson`` with its line number and
  the API's reason and message.
"""

import os
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from django.http import HttpRequest
from django.utils import timezone

from analytics.ingest.dialects import NATIVE, Envelope
from analytics.ingest.errors import EventRejected
from analytics.ingest.import_files import (
    CHECKPOINT_VERSION,
    Checkpoint,
    Counts,
    CsvSource,
    ImportRefused,
    Line,
    NdjsonSource,
    file_fingerprint,
    rejects_path,
    state_path,
    write_atomically,
)
from analytics.ingest.pipeline import build_events
from analytics.ingest.writer import write_events
from analytics.storage.base import PlanStatus
from projects.keys import KeyInfo
from projects.models import Environment, Project

FORMATS = ("ndjson", "csv")
KINDS = ("track", "identify", "alias", "page", "screen")
IMPORT_ID_NAMESPACE = uuid.UUID("5d0c6a52-2f4e-4f4b-9a1e-6f1f3b3f8c11")

# build_events reads the User-Agent header and, when the project keeps IPs, the client's address
# from the request: an import has neither (a historical event's IP is only what its line says).
_NO_REQUEST = HttpRequest()


# --- the target ------------------------------------------------------------------------------------


def resolve_target(project_slug: str, environment_slug: str) -> tuple[Project, Environment]:
    project = Project.objects.filter(slug=project_slug).first()
    if project is None:
        raise ImportRefused(f"No project with the slug {project_slug!r}.")
    environment = project.environments.filter(slug=environment_slug).first()
    if environment is None:
        known = ", ".join(project.environments.values_list("slug", flat=True))
        raise ImportRefused(
            f"Project {project_slug!r} has no environment {environment_slug!r} (it has: {known})."
        )
    return project, environment


def key_scope(project_id: int, environment_id: int) -> KeyInfo:
    """What an API key of the environment would carry, read fresh (a plan change mid-import counts)."""
    project = Project.objects.only("keep_ip", "plan_version").get(id=project_id)
    environment = Environment.objects.only("slug", "plan_policy").get(id=environment_id)
    return KeyInfo(
        key_id=0,
        project_id=project_id,
        environment_id=environment_id,
        environment_slug=environment.slug,
        kind="write",
        expires_at=None,
        keep_ip=project.keep_ip,
        plan_version=project.plan_version,
        plan_policy=environment.plan_policy,
    )


# --- the import ------------------------------------------------------------------------------------


@dataclass
class Rejection:
    line: int
    reason: str
    message: str
    raw: bytes

    def as_json(self) -> bytes:
        text = self.raw.decode("utf-8", "replace").rstrip("\r\n")
        return orjson.dumps({"line": self.line, "reason": self.reason, "message": self.message, "raw": text})


def import_message_id(project_id: int, line: int, message: dict) -> str:
    content = orjson.dumps(message, option=orjson.OPT_SORT_KEYS).decode()
    return f"imp-{uuid.uuid5(IMPORT_ID_NAMESPACE, f'{project_id}:{line}:{content}')}"


class Importer:
    """One file into one environment. ``run`` imports batch by batch until the end or ``stop()``."""

    def __init__(
        self,
        path: Path,
        *,
        project: Project,
        environment: Environment,
        fmt: str = "ndjson",
        batch_size: int = 1000,
        dry_run: bool = False,
    ):
        self.path = path.resolve()
        self.project, self.environment = project, environment
        self.fmt = fmt
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.state_file = state_path(self.path)
        self.rejects_file = rejects_path(self.path)
        self.stopping = False
        self.sample_rejections: list[Rejection] = []  # the first few, for --dry-run's report
        self.unknown_columns: list[str] = []  # CSV columns that mean nothing to the import
        try:
            size, head = file_fingerprint(self.path)
        except OSError as error:
            raise ImportRefused(f"Cannot read {path}: {error.strerror or error}.") from None
        self.checkpoint = Checkpoint(
            path=str(self.path),
            size=size,
            head_sha256=head,
            project=project.slug,
            environment=environment.slug,
            format=fmt,
        )
        self.resumed_from: Checkpoint | None = None
        self.ignored_checkpoint: str | None = None

    @property
    def counts(self) -> Counts:
        return self.checkpoint.counts

    def load_checkpoint(self, *, restart: bool) -> None:
        """Resume from the saved checkpoint when it is this file's and this target's."""
        if self.dry_run or not self.state_file.exists():
            return
        if restart:
            self.state_file.unlink()
            return
        try:
            saved = Checkpoint.from_json(self.state_file.read_bytes())
        except (OSError, ValueError, TypeError, KeyError):
            self.ignored_checkpoint = f"{self.state_file} is unreadable: starting from the beginning"
            return
        if saved.version != CHECKPOINT_VERSION or saved.identity() != self.checkpoint.identity():
            self.ignored_checkpoint = (
                f"{self.state_file} is for another file, content, project, environment or format: "
                "starting from the beginning"
            )
            return
        self.checkpoint = saved
        self.resumed_from = Checkpoint.from_json(saved.to_json())

    def stop(self) -> None:
        self.stopping = True

    def run(
        self,
        *,
        on_batch: Callable[["Importer"], None] | None = None,
        limit_batches: int | None = None,
    ) -> bool:
        """Import until the end of the file (True) or until stopped (False: the checkpoint stays)."""
        with self.path.open("rb") as handle:
            source = CsvSource(handle) if self.fmt == "csv" else NdjsonSource(handle)
            first = source.start()
            self.unknown_columns = source.unknown_columns() if isinstance(source, CsvSource) else []
            offset = max(self.checkpoint.offset, first)
            self._open_rejects()
            try:
                batch: list[Line] = []
                batches_this_run = 0
                for line in source.lines(offset, self.checkpoint.line):
                    batch.append(line)
                    if len(batch) >= self.batch_size:
                        self._import_batch(source, batch)
                        batch = []
                        batches_this_run += 1
                        if on_batch:
                            on_batch(self)
                        if self.stopping or (limit_batches is not None and batches_this_run >= limit_batches):
                            return False
                if batch:
                    self._import_batch(source, batch)
                    if on_batch:
                        on_batch(self)
            finally:
                self._close_rejects()
        if not self.dry_run and self.state_file.exists():
            self.state_file.unlink()  # done: a rerun starts over (and stores nothing twice)
        return True

    # --- rejects ---------------------------------------------------------------------------------

    def _open_rejects(self) -> None:
        self._rejects = None
        if self.dry_run:
            return
        if self.resumed_from is None:
            self.rejects_file.unlink(missing_ok=True)
            self.checkpoint.rejects_offset = 0
        elif self.rejects_file.exists():
            # Rejects written after the last checkpoint belong to a batch that is read again.
            with self.rejects_file.open("r+b") as handle:
                if handle.seek(0, os.SEEK_END) > self.checkpoint.rejects_offset:
                    handle.truncate(self.checkpoint.rejects_offset)

    def _write_rejects(self, rejections: list[Rejection]) -> None:
        if self.dry_run:
            room = 10 - len(self.sample_rejections)
            self.sample_rejections.extend(rejections[: max(room, 0)])
            return
        if self._rejects is None:
            self.rejects_file.parent.mkdir(parents=True, exist_ok=True)
            self._rejects = self.rejects_file.open("ab")
        self._rejects.write(b"".join(rejection.as_json() + b"\n" for rejection in rejections))
        self._rejects.flush()
        os.fsync(self._rejects.fileno())
        self.checkpoint.rejects_offset = self._rejects.tell()

    def _close_rejects(self) -> None:
        if self._rejects is not None:
            self._rejects.close()

    # --- one batch -------------------------------------------------------------------------------

    def _prepare(self, message, line: int):
        """(kind, the native event object to validate); raises EventRejected."""
        if not isinstance(message, dict):
            return "track", message  # build_events says "must be a JSON object"
        message = dict(message)
        kind = message.pop("type", None) or "track"
        if kind not in KINDS:
            raise EventRejected("invalid-type", f"`type` must be one of {', '.join(KINDS)}, not {kind!r}.")
        named = message.get("environment")
        if named is None or named == "":
            message["environment"] = self.environment.slug
        elif isinstance(named, str) and named != self.environment.slug:
            raise EventRejected(
                "environment-mismatch",
                f"The line names environment {named!r}, but this import writes to "
                f"{self.environment.slug!r} (--environment). Import it separately into {named!r}.",
            )
        has_id = any(message.get(name) not in (None, "") for name in ("message_id", "uuid"))
        if not has_id and message.get("timestamp") is None:
            # With a timestamp build_record derives the id from the content (the API's rule).
            message["message_id"] = import_message_id(self.project.id, line, message)
        return kind, message

    def _import_batch(self, source, batch: list[Line]) -> None:
        counts = self.counts
        key = key_scope(self.project.id, self.environment.id)
        received_at = timezone.now()
        rejections: list[Rejection] = []
        by_kind: dict[str, list] = defaultdict(list)  # kind -> [(position, line, message, size, brackets)]
        for position, line in enumerate(batch):
            counts.read += 1
            if not line.raw.strip():
                counts.blank += 1
                continue
            try:
                message, size, brackets = source.message(line.raw)
                kind, message = self._prepare(message, line.number)
            except EventRejected as rejection:
                rejections.append(Rejection(line.number, rejection.reason, rejection.message, line.raw))
                continue
            by_kind[kind].append((position, line, message, size, brackets))

        accepted = []  # (position, (record, person update))
        for kind, items in by_kind.items():
            envelope = Envelope(messages=[item[2] for item in items], is_batch=True)
            # The largest event and the deepest nesting of the group: the gates of the API's checks.
            shape = (max(item[3] for item in items), max(item[4] for item in items))
            good, bad, _ = build_events(_NO_REQUEST, NATIVE, kind, envelope, key, shape, received_at)
            refused = {entry["index"]: entry for entry in bad}
            good_events = iter(good)
            for index, (position, line, *_) in enumerate(items):
                if index in refused:
                    entry = refused[index]
                    rejections.append(Rejection(line.number, entry["reason"], entry["message"], line.raw))
                else:
                    accepted.append((position, next(good_events)))
        accepted.sort(key=lambda pair: pair[0])
        events = [event for _, event in accepted]
        blocked = sum(1 for record, _ in events if record.plan_status == PlanStatus.BLOCKED)
        rejections.sort(key=lambda rejection: rejection.line)

        if self.dry_run:
            counts.would_store += len(events) - blocked
        elif events:
            fresh = write_events(events)  # one transaction: quarantine, claim, identity, insert
            counts.stored += len(fresh)
            counts.duplicates += len(events) - blocked - len(fresh)
        counts.quarantined += blocked
        counts.rejected += len(rejections)
        if rejections:
            self._write_rejects(rejections)
        self.checkpoint.offset = batch[-1].end
        self.checkpoint.line = self._last_line(batch[-1])
        self.checkpoint.batches += 1
        if not self.dry_run:
            self.checkpoint.updated_at = timezone.now().isoformat()
            write_atomically(self.state_file, self.checkpoint.to_json())

    @staticmethod
    def _last_line(line: Line) -> int:
        """The file's line number the record ends on (a CSV record may span several)."""
        return line.number + max(line.raw.count(b"\n") - 1, 0)


def describe_checkpoint(checkpoint: Checkpoint) -> str:
    counts = checkpoint.counts
    return (
        f"line {checkpoint.line:,} (byte {checkpoint.offset:,}): {counts.stored:,} stored, "
        f"{counts.rejected:,} rejected so far"
    )
