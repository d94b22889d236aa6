"""Data management: GDPR deletion of a person and event exports, with their pages and permissions."""

import csv
import io
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.urls import reverse

from analytics import datajobs, tasks
from analytics.models import DataJob, Person, PersonDistinctId, PersonMerge, QuarantinedEvent
from analytics.storage.base import EventRecord
from config.celery import app
from projects.models import AuditLogEntry
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.EXPORT_DIR = str(tmp_path / "exports")


def _person(project, *distinct_ids) -> Person:
    person = Person.objects.create(id=uuid.uuid4(), project=project)
    for distinct_id in distinct_ids:
        PersonDistinctId.objects.create(project=project, distinct_id=distinct_id, person=person)
    return person


def _stored(project, **where) -> list[tuple]:
    conditions = " ".join(f"AND {column} = %s" for column in where)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT distinct_id, person_id FROM events WHERE project_id = %s {conditions} ORDER BY time",
            [project.id, *where.values()],
        )
        return cursor.fetchall()


@pytest.fixture
def people(project, store):
    """Alice (two distinct ids, and a merged person whose events carry only its person id), Bob,
    and a second project whose user shares Alice's distinct id."""
    alice = _person(project, "alice", "alice-phone")
    merged_away = uuid.uuid4()
    PersonMerge.objects.create(project=project, old_person_id=merged_away, person_id=alice.id)
    bob = _person(project, "bob")
    other_project = make_project()
    _person(other_project, "alice")
    records = [event(project, time=DAY + timedelta(minutes=m), distinct_id="alice") for m in range(7)]
    records += [
        event(project, time=DAY + timedelta(days=1, minutes=m), distinct_id="alice-phone") for m in range(3)
    ]
    records += [
        event(project, time=DAY + timedelta(hours=2), distinct_id="old-anon")._replace(person_id=merged_away),
        event(project, time=DAY + timedelta(hours=3), distinct_id="bob")._replace(person_id=bob.id),
    ]
    records += [event(project, time=DAY + timedelta(minutes=m), distinct_id="bob") for m in range(4)]
    records += [event(other_project, time=DAY, distinct_id="alice") for _ in range(2)]
    store.insert_events(records)
    QuarantinedEvent.objects.create(
        project=project,
        environment=project.environments.get(slug="production"),
        message_id="q1",
        event="signed_up",
        time=DAY,
        received_at=DAY,
        record=_quarantine_record(project, "alice-phone"),
    )
    return {"alice": alice, "bob": bob, "other_project": other_project}


def _quarantine_record(project, distinct_id) -> list:
    from analytics.ingest.buffer import to_row

    return to_row(event(project, time=DAY, distinct_id=distinct_id))


def _request_deletion(project, person, user) -> DataJob:
    return datajobs.do_request_person_deletion(
        project=project, person=person, distinct_id="alice", acting_user=user
    )


@pytest.mark.storage  # also run on TimescaleDB
def test_it_deletes_every_event_of_the_person_and_keeps_the_others(project, owner, people):
    job = _request_deletion(project, people["alice"], owner)
    datajobs.delete_person(job, batch_size=3)  # several batches

    job.refresh_from_db()
    assert _stored(project) == [("bob", None)] * 4 + [("bob", people["bob"].id)]
    assert len(_stored(people["other_project"], distinct_id="alice")) == 2
    assert (job.status, job.progress_done, job.progress_total, job.percent) == ("done", 11, 11, 100)
    assert job.result["events_deleted"] == 11 and job.result["quarantined_events_deleted"] == 1
    assert job.params == {"person_id": str(people["alice"].id)}  # the typed distinct id is forgotten
    assert not Person.objects.filter(id=people["alice"].id).exists()
    assert not PersonDistinctId.objects.filter(project=project, distinct_id__startswith="alice").exists()
    assert not PersonMerge.objects.filter(project=project).exists()
    assert not QuarantinedEvent.objects.filter(project=project).exists()
    assert PersonDistinctId.objects.filter(project=people["other_project"], distinct_id="alice").exists()


@pytest.mark.storage  # also run on TimescaleDB
def test_it_records_the_request_and_the_completion_without_properties(project, owner, people):
    people["alice"].properties = {"email": "alice@example.com"}
    people["alice"].save()
    job = _request_deletion(project, people["alice"], owner)
    datajobs.delete_person(job)
    entries = AuditLogEntry.objects.filter(project=project, target_type="datajob").order_by("id")
    assert [(e.action, e.actor_label) for e in entries] == [
        ("person.deletion_requested", owner.email),
        ("person.deleted", "system"),
    ]
    assert entries[1].after["events_deleted"] == 11
    assert "alice@example.com" not in json.dumps([e.after for e in entries])


def test_it_refuses_a_person_of_another_project(project, owner, people):
    stranger = Person.objects.get(project=people["other_project"])
    assert datajobs.find_person(project, "alice") == people["alice"]
    assert datajobs.find_person(people["other_project"], str(people["alice"].id)) is None
    with pytest.raises(ValueError):
        _request_deletion(project, stranger, owner)


@pytest.mark.postgres_only
def test_the_rollups_forget_the_deleted_person(project, owner, people, store):
    store.refresh_rollups()
    datajobs.delete_person(_request_deletion(project, people["alice"], owner))
    store.refresh_rollups()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT distinct_id FROM event_actors_hourly WHERE project_id = %s", [project.id]
        )
        assert cursor.fetchall() == [("bob",)]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_deletion_from_the_queue(owner, store, monkeypatch):
    """The task is queued on commit, sent through Redis and run by a Celery worker thread."""
    project = make_project(owner=owner)
    person = _person(project, "carol")
    store.insert_events(
        [event(project, time=DAY + timedelta(minutes=m), distinct_id="carol") for m in range(5)]
    )
    store.insert_events([event(project, time=DAY, distinct_id="dave")])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    task = tasks.run_data_job
    monkeypatch.setattr(task, "delay", lambda job_id: task.apply_async((job_id,), queue=queue))
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=10):
        job = datajobs.do_request_person_deletion(
            project=project, person=person, distinct_id="carol", acting_user=owner
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if not job.is_active:
                break
            time.sleep(0.2)
    assert (job.status, job.progress_done, job.percent) == ("done", 5, 100)
    assert _stored(project) == [("dave", None)]


# --- export -------------------------------------------------------------------------------------


def _export(
    project, user, *, file_format="csv", event_name="", start=date(2026, 3, 10), end=date(2026, 3, 10)
):
    job = datajobs.do_request_export(
        project=project,
        environment=project.environments.get(slug="production"),
        start_date=start,
        end_date=end,
        event=event_name,
        file_format=file_format,
        acting_user=user,
    )
    datajobs.export_events(job)
    job.refresh_from_db()
    return job


@pytest.fixture
def export_events(project, store):
    """Five events on 10 March (UTC), one the day after, one in staging, one in another project."""
    records = [
        event(
            project,
            time=DAY + timedelta(hours=h),
            name="signed_up" if h == 3 else "page_view",
            distinct_id=f"user-{h}",
            session_id=f"s-{h}",
            properties={"path": f"/p/{h}", "n": h},
        )._replace(person_id=uuid.UUID(int=h + 1))
        for h in range(5)
    ]
    outside = [
        event(project, time=DAY + timedelta(days=1, hours=1)),
        event(project, time=DAY, environment=project.environments.get(slug="staging")),
        event(make_project(), time=DAY),
    ]
    store.insert_events(records + outside)
    return records


def _expected(record: EventRecord) -> dict:
    return {
        "time": record.time.isoformat(),
        "event": record.event,
        "distinct_id": record.distinct_id,
        "person_id": str(record.person_id),
        "session_id": record.session_id,
        "properties": record.properties,
        "context": record.context,
    }


def _decoded(row: dict) -> dict:
    return {**row, "properties": json.loads(row["properties"]), "context": json.loads(row["context"])}


def test_the_csv_export_holds_the_events_of_the_range(project, member, export_events):
    job = _export(project, member)
    assert (job.status, job.progress_done, job.progress_total, job.percent) == ("done", 5, 5, 100)
    path = datajobs.export_path(job, datetime.now(UTC))
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(datajobs.EXPORT_COLUMNS)
    assert [_decoded(row) for row in rows] == [_expected(record) for record in export_events]


def test_the_export_filters_by_event_name_in_the_project_time_zone(project, member, export_events):
    project.timezone = "Asia/Tokyo"  # 10 March there is 9 March 15:00 to 10 March 15:00 UTC
    project.save()
    job = _export(project, member, event_name="signed_up", start=date(2026, 3, 10), end=date(2026, 3, 10))
    assert job.progress_done == 1
    job = _export(project, member, start=date(2026, 3, 11), end=date(2026, 3, 11))
    assert job.progress_done == 1  # only 11 March 01:00 UTC is after 10 March 15:00 UTC


def test_the_parquet_export_reads_back_with_pyarrow(project, member, export_events):
    import pyarrow.parquet as pq

    job = _export(project, member, file_format="parquet")
    table = pq.read_table(datajobs.export_path(job, datetime.now(UTC)))
    rows = table.to_pylist()
    assert table.column_names == list(datajobs.EXPORT_COLUMNS)
    assert [_decoded({**row, "time": row["time"].astimezone(UTC).isoformat()}) for row in rows] == [
        _expected(record) for record in export_events
    ]


def test_expired_exports_are_no_longer_served_and_get_removed(project, member, export_events):
    job = _export(project, member)
    path = datajobs.export_path(job, datetime.now(UTC))
    later = job.expires_at + timedelta(seconds=1)
    assert datajobs.export_path(job, later) is None
    assert datajobs.delete_expired_exports(later) == 1
    assert not path.exists()


# --- pages ------------------------------------------------------------------------------------


def _url(name, project, **kwargs) -> str:
    return reverse(name, kwargs={"slug": project.slug, **kwargs})


def test_an_owner_requests_a_deletion_and_follows_it(
    client, project, owner, people, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    assert client.get(_url("data", project)).status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            _url("data-delete-person", project), {"identifier": "alice-phone", "confirm": "on"}
        )
    assert len(callbacks) == 1  # the task is queued on commit
    job = DataJob.objects.get(project=project)
    assert response.status_code == 302 and response.url == _url("data-job", project, job_id=job.id)
    assert job.params["person_id"] == str(people["alice"].id)
    datajobs.run_job(job.id)
    page = client.get(response.url, headers={"HX-Request": "true"})
    assert (
        page.status_code == 200 and b"Deleted 11 events" in page.content and b"hx-trigger" not in page.content
    )


def test_a_distinct_id_of_another_project_cannot_be_named(client, project, owner, people):
    client.force_login(owner)
    other = Person.objects.get(project=people["other_project"])
    response = client.post(
        _url("data-delete-person", project), {"identifier": str(other.id), "confirm": "on"}
    )
    assert response.status_code == 400 and not DataJob.objects.exists()


def test_a_member_can_export_but_not_delete(client, project, member, people):
    client.force_login(member)
    page = client.get(_url("data", project))
    assert page.status_code == 200 and b"delete-person" not in page.content
    response = client.post(_url("data-delete-person", project), {"identifier": "alice", "confirm": "on"})
    assert response.status_code == 404 and not DataJob.objects.exists()
    admin_job = _request_deletion(project, people["alice"], None)
    assert client.get(_url("data-job", project, job_id=admin_job.id)).status_code == 404
    response = client.post(
        _url("data-export", project),
        {
            "environment": "production",
            "start_date": "2026-03-10",
            "end_date": "2026-03-10",
            "file_format": "csv",
        },
    )
    assert response.status_code == 302
    page = client.get(response.url)
    assert b'hx-trigger="every 2s"' in page.content  # polls while the job waits for a worker


def test_the_download_serves_the_file_to_members(client, project, member, export_events):
    job = _export(project, member)
    client.force_login(member)
    page = client.get(_url("data-job", project, job_id=job.id))
    assert _url("data-job-download", project, job_id=job.id).encode() in page.content
    response = client.get(_url("data-job-download", project, job_id=job.id))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(response.streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == 5


def test_outsiders_and_viewers_get_404_everywhere(client, project, member, outsider, viewer, export_events):
    job = _export(project, member)
    deletion = datajobs.do_request_person_deletion(
        project=project, person=_person(project, "eve"), distinct_id="eve", acting_user=None
    )
    for user in (outsider, viewer):
        client.force_login(user)
        for name, kwargs in (
            ("data", {}),
            ("data-job", {"job_id": job.id}),
            ("data-job", {"job_id": deletion.id}),
            ("data-job-download", {"job_id": job.id}),
        ):
            assert client.get(_url(name, project, **kwargs)).status_code == 404, (user, name)
        assert (
            client.post(
                _url("data-delete-person", project), {"identifier": "eve", "confirm": "on"}
            ).status_code
            == 404
        )
        assert client.post(_url("data-export", project), {}).status_code == 404
    assert Person.objects.filter(project=project).exists()


def test_another_projects_export_is_404(client, project, member, export_events):
    other = make_project(member=member)
    job = _export(other, member)
    client.force_login(member)
    assert client.get(_url("data-job-download", project, job_id=job.id)).status_code == 404
    assert client.get(_url("data-job", project, job_id=job.id)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_exports_progress_is_visible_while_it_streams(member, store, monkeypatch):
    """The rows come through a server-side cursor in one long transaction; progress is committed
    beside it, so the job page sees it move."""
    project = make_project(member=member)
    store.insert_events([event(project, time=DAY + timedelta(minutes=m)) for m in range(6)])
    monkeypatch.setattr(tasks.run_data_job, "delay", lambda job_id: None)  # run below, in this thread
    monkeypatch.setattr(datajobs, "PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(datajobs, "EXPORT_FETCH_SIZE", 2)
    seen = []
    original_write = datajobs._CsvWriter.write

    def write_and_look(writer, row):
        original_write(writer, row)
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            seen.append(other.execute("SELECT progress_done FROM analytics_datajob").fetchone()[0])

    monkeypatch.setattr(datajobs._CsvWriter, "write", write_and_look)
    job = _export(project, member)
    assert seen == [0, 0, 2, 2, 4, 4]
    assert (job.progress_done, job.percent) == (6, 100)
