"""Data-management jobs: delete a person and all their events (GDPR), export events as CSV or Parquet.

The ``do_request_*`` actions create a ``DataJob`` row, write the audit log and queue the Celery task
(on commit); the task calls :func:`run_job`, which claims the row and does the work in batches,
writing its progress on the row as it goes.
"""

import csv
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from analytics.models import DataJob, IdentityWarning, Person, PersonDistinctId, PersonMerge, QuarantinedEvent
from analytics.queries import datajobs as queries
from analytics.storage.base import EVENT_COLUMNS
from projects.audit import record
from projects.models import Environment, Project

logger = logging.getLogger(__name__)

DELETE_BATCH_SIZE = 5_000
EXPORT_FETCH_SIZE = 2_000  # rows per round trip of the server-side cursor
PARQUET_ROW_GROUP = 20_000
PROGRESS_EVERY_ROWS = 10_000
# A job still "running" this long after it started lost its worker: the redelivered task resumes it.
STALE_RUNNING = timedelta(hours=1)
EXPORT_FORMATS = ("csv", "parquet")
EXPORT_COLUMNS = ("time", "event", "distinct_id", "person_id", "session_id", "properties", "context")
_QUARANTINE_DISTINCT_ID = EVENT_COLUMNS.index("distinct_id")  # a quarantined record is a list


def export_dir() -> Path:
    """Where export files are written (BEACON_EXPORT_DIR, default .local/exports)."""
    return Path(settings.EXPORT_DIR)


def export_expiry() -> timedelta:
    return timedelta(days=settings.EXPORT_EXPIRY_DAYS)


# --- requests (the views call these) -------------------------------------------------------------


def find_person(project: Project, identifier: str) -> Person | None:
    """The project's person named by a distinct id or a person id; never another project's."""
    identifier = identifier.strip()
    link = PersonDistinctId.objects.filter(project=project, distinct_id=identifier).select_related("person")
    if (found := link.first()) is not None:
        return found.person
    try:
        person_id = UUID(identifier)
    except ValueError:
        return None
    return Person.objects.filter(project=project, id=person_id).first()


def _queue(job: DataJob) -> None:
    from analytics.tasks import run_data_job

    transaction.on_commit(lambda: run_data_job.delay(job.id))


@transaction.atomic
def do_request_person_deletion(*, project: Project, person: Person, distinct_id: str, acting_user) -> DataJob:
    """TRICKY: the audit log keeps the person's id only: no properties, no distinct ids."""
    if person.project_id != project.id:
        raise ValueError("the person belongs to another project")
    job = DataJob.objects.create(
        project=project,
        kind=DataJob.Kind.DELETE_PERSON,
        params={"person_id": str(person.id), "distinct_id": distinct_id},
        created_by=acting_user,
    )
    record(
        organization=project.organization,
        project=project,
        actor=acting_user,
        action="person.deletion_requested",
        target=job,
        after={"person_id": str(person.id)},
    )
    _queue(job)
    return job


@transaction.atomic
def do_request_export(
    *,
    project: Project,
    environment: Environment,
    start_date: date,
    end_date: date,
    event: str,
    file_format: str,
    acting_user,
) -> DataJob:
    """Events of ``environment`` from ``start_date`` to ``end_date`` (both included, project time zone)."""
    if environment.project_id != project.id or file_format not in EXPORT_FORMATS or end_date < start_date:
        raise ValueError("invalid export request")
    params = {
        "environment_id": environment.id,
        "environment": environment.slug,
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "event": event,
        "format": file_format,
    }
    job = DataJob.objects.create(
        project=project, kind=DataJob.Kind.EXPORT, params=params, created_by=acting_user
    )
    record(
        organization=project.organization,
        project=project,
        actor=acting_user,
        action="events.export_requested",
        target=job,
        after=params,
    )
    _queue(job)
    return job


# --- running (the Celery task calls run_job) -------------------------------------------------------


def claim(job_id: int, now: datetime) -> DataJob | None:
    """Take the job if it waits, or if its worker was lost long ago; conditional UPDATE, no flag."""
    waiting = Q(status=DataJob.Status.PENDING)
    lost = Q(status=DataJob.Status.RUNNING, started_at__lt=now - STALE_RUNNING)
    if not DataJob.objects.filter(waiting | lost, id=job_id).update(
        status=DataJob.Status.RUNNING, started_at=now
    ):
        return None
    return DataJob.objects.select_related("project__organization").get(id=job_id)


def run_job(job_id: int) -> str:
    job = claim(job_id, timezone.now())
    if job is None:
        return "not claimed"
    try:
        if job.kind == DataJob.Kind.DELETE_PERSON:
            delete_person(job)
        else:
            export_events(job)
    except Exception as error:
        logger.exception("data job %s failed", job.id)
        DataJob.objects.filter(id=job.id).update(
            status=DataJob.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    return job.status


def _save_progress(job: DataJob, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    DataJob.objects.filter(id=job.id).update(**fields)


# --- GDPR deletion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonIdentity:
    """Everything that names one person in events: its id, the ids merged into it, its distinct ids."""

    person_ids: list[UUID]
    distinct_ids: list[str]


def person_identity(project_id: int, person_id: UUID) -> PersonIdentity:
    merged = PersonMerge.objects.filter(project_id=project_id, person_id=person_id)
    distinct_ids = PersonDistinctId.objects.filter(project_id=project_id, person_id=person_id)
    return PersonIdentity(
        person_ids=[person_id, *merged.values_list("old_person_id", flat=True)],
        distinct_ids=list(distinct_ids.values_list("distinct_id", flat=True)),
    )


def delete_person(job: DataJob, *, batch_size: int = DELETE_BATCH_SIZE) -> None:
    """Delete a person's events, then the person.

    1. Name the person in every way events can: its id, the ids of persons merged into it
       (PersonMerge) and its distinct ids.
    2. Count those events once (the total); delete them in time windows of ``batch_size`` events,
       each in its own transaction, saving the count deleted after each.
    3. In one transaction: delete what arrived meanwhile, then the person (its distinct ids cascade),
       its merges, the quarantined events and identity warnings carrying its distinct ids.
    The rollups follow as for a deleted project: the DELETEs mark the hours dirty (PostgreSQL) or
    invalidate the continuous aggregates (TimescaleDB), and the next refresh recomputes them.
    A redelivered task resumes: the total is kept and the count goes on from where it was.
    """
    project_id = job.project_id
    person_id = UUID(job.params["person_id"])
    identity = person_identity(project_id, person_id)
    params = {
        "project_id": project_id,
        "person_ids": identity.person_ids,
        "distinct_ids": identity.distinct_ids,
    }
    with connection.cursor() as cursor:
        if job.progress_total is None:
            cursor.execute(queries.COUNT_PERSON_EVENTS, params)
            _save_progress(job, progress_total=cursor.fetchone()[0])
        since = datetime(1970, 1, 1, tzinfo=UTC)
        while True:
            cursor.execute(queries.BATCH_END, {**params, "since": since, "offset": batch_size - 1})
            row = cursor.fetchone()
            if row is None:
                break
            with transaction.atomic():
                cursor.execute(queries.DELETE_WINDOW, {**params, "since": since, "until": row[0]})
                _save_progress(job, progress_done=job.progress_done + cursor.rowcount)
            since = row[0]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(queries.DELETE_REST, params)
        deleted_last = cursor.rowcount
        merges, _ = PersonMerge.objects.filter(project_id=project_id, person_id=person_id).delete()
        quarantined, _ = QuarantinedEvent.objects.filter(
            project_id=project_id, **{f"record__{_QUARANTINE_DISTINCT_ID}__in": identity.distinct_ids}
        ).delete()
        IdentityWarning.objects.filter(project_id=project_id, distinct_id__in=identity.distinct_ids).delete()
        IdentityWarning.objects.filter(
            project_id=project_id, other_distinct_id__in=identity.distinct_ids
        ).delete()
        Person.objects.filter(project_id=project_id, id=person_id).delete()
        done = job.progress_done + deleted_last
        result = {
            "events_deleted": done,
            "distinct_ids_deleted": len(identity.distinct_ids),
            "merged_persons": merges,
            "quarantined_events_deleted": quarantined,
        }
        # The distinct id typed in the form is personal data too: forgotten with the person.
        _save_progress(
            job,
            progress_done=done,
            progress_total=max(done, job.progress_total or 0),
            status=DataJob.Status.DONE,
            finished_at=timezone.now(),
            result=result,
            params={"person_id": str(person_id)},
        )
        record(
            organization=job.project.organization,
            project=job.project,
            actor=None,
            action="person.deleted",
            target=job,
            after={"person_id": str(person_id), **result},
        )


# --- export -------------------------------------------------------------------------------------


def export_bounds(project: Project, start_date: date, end_date: date) -> tuple[datetime, datetime]:
    """[start of start_date, start of the day after end_date) in the project's time zone."""
    zone = ZoneInfo(project.timezone)
    return (
        datetime.combine(start_date, time.min, tzinfo=zone),
        datetime.combine(end_date + timedelta(days=1), time.min, tzinfo=zone),
    )


class _ProgressConnection:
    """TRICKY: the export reads through a server-side cursor, which lives in one long transaction;
    progress written in that transaction would be invisible until the end, so it goes through a
    second, autocommit connection."""

    def __init__(self, job: DataJob):
        self.job = job
        self.conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)

    def save(self, done: int) -> None:
        self.conn.execute(
            queries.SAVE_PROGRESS.format(table=sql.Identifier(DataJob._meta.db_table)),
            [done, self.job.id],
        )

    def close(self) -> None:
        self.conn.close()


def export_events(job: DataJob) -> None:
    """Stream the range's events into a CSV or Parquet file, never holding the range in memory."""
    project = job.project
    options = job.params
    start, end = export_bounds(
        project, date.fromisoformat(options["start_date"]), date.fromisoformat(options["end_date"])
    )
    params = {
        "project_id": project.id,
        "environment_id": options["environment_id"],
        "start": start,
        "end": end,
        "event": options.get("event") or "",
    }
    with connection.cursor() as cursor:
        cursor.execute(queries.COUNT_EXPORT, params)
        _save_progress(job, progress_total=cursor.fetchone()[0])
    file_format = options["format"]
    relative = Path(str(project.id)) / f"{job.id}-{secrets.token_hex(8)}.{file_format}"
    path = export_dir() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _ParquetWriter(path) if file_format == "parquet" else _CsvWriter(path)
    progress = _ProgressConnection(job)
    written = 0
    try:
        connection.ensure_connection()
        with transaction.atomic(), connection.connection.cursor(name=f"beacon_export_{job.id}") as cursor:
            cursor.itersize = EXPORT_FETCH_SIZE
            cursor.execute(queries.SELECT_EXPORT, params)
            for row in cursor:
                writer.write(row)
                written += 1
                if written % PROGRESS_EVERY_ROWS == 0:
                    progress.save(written)
        writer.close()
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    now = timezone.now()
    _save_progress(
        job,
        progress_done=written,
        progress_total=written,
        status=DataJob.Status.DONE,
        finished_at=now,
        file_name=str(relative),
        expires_at=now + export_expiry(),
        result={"rows": written, "bytes": path.stat().st_size},
    )


class _CsvWriter:
    def __init__(self, path: Path):
        self.file = path.open("w", newline="", encoding="utf-8")
        self.csv = csv.writer(self.file)
        self.csv.writerow(EXPORT_COLUMNS)

    def write(self, row) -> None:
        self.csv.writerow([row[0].astimezone(UTC).isoformat(), *row[1:]])

    def close(self) -> None:
        self.file.close()


class _ParquetWriter:
    """Rows gathered into row groups of PARQUET_ROW_GROUP: memory is bounded by one group."""

    def __init__(self, path: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema(
            [("time", pa.timestamp("us", tz="UTC"))] + [(name, pa.string()) for name in EXPORT_COLUMNS[1:]]
        )
        self.writer = pq.ParquetWriter(path, self.schema)
        self.rows: list = []

    def write(self, row) -> None:
        self.rows.append(row)
        if len(self.rows) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            columns = [list(column) for column in zip(*self.rows, strict=True)]
            self.writer.write_table(self.pa.Table.from_arrays(columns, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        if self.writer is not None:
            self._flush()
            self.writer.close()
            self.writer = None


def export_path(job: DataJob, now: datetime) -> Path | None:
    """The file of a finished, unexpired export, if it is still there."""
    if job.kind != DataJob.Kind.EXPORT or job.status != DataJob.Status.DONE or not job.file_name:
        return None
    if job.expires_at is not None and job.expires_at <= now:
        return None
    path = export_dir() / job.file_name
    return path if path.is_file() else None


def delete_expired_exports(now: datetime) -> int:
    """Remove the files of exports past their expiry (for a periodic task); returns files removed."""
    removed = 0
    expired = DataJob.objects.filter(kind=DataJob.Kind.EXPORT, expires_at__lte=now).exclude(file_name="")
    for job in expired:
        (export_dir() / job.file_name).unlink(missing_ok=True)
        DataJob.objects.filter(id=job.id).update(file_name="")
        removed += 1
    return removed
