"""`manage.py import_events`: NDJSON and CSV through the ingestion pipeline, exactly once, resumable."""

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.ingest import importer
from analytics.models import QuarantinedEvent
from analytics.plan.models import EventDefinition, PropertyDefinition
from analytics.plan.runtime import bump_plan_version
from analytics.storage.base import PlanStatus
from projects.actions import do_set_plan_policy
from tests.analytics.ingest import person_of, stored_events

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def run(project, path, *args, environment="production") -> tuple[int, str]:
    """(exit code, stdout) of the command, in the test's transaction."""
    out = StringIO()
    try:
        call_command(
            "import_events",
            "--project",
            project.slug,
            "--environment",
            environment,
            str(path),
            "--quiet",
            *args,
            stdout=out,
            stderr=StringIO(),
        )
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def ndjson(path: Path, events: list) -> Path:
    path.write_bytes(b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events))
    return path


def track(n: int, **extra) -> dict:
    return {
        "event": "Page Viewed",
        "distinct_id": f"user_{n % 7}",
        "timestamp": f"2026-03-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
        "properties": {"n": n},
        **extra,
    }


def rejects_of(path: Path) -> list[dict]:
    rejects = path.with_name(path.name + ".rejected.ndjson")
    return [orjson.loads(line) for line in rejects.read_bytes().splitlines()] if rejects.exists() else []


def state_of(path: Path) -> Path:
    return path.with_name(path.name + ".beacon-import.json")


@pytest.fixture
def planned(project, django_capture_on_commit_callbacks):
    """`signed_up` with a required `plan` (free/pro)."""
    with django_capture_on_commit_callbacks(execute=True):
        event = EventDefinition.objects.create(project=project, name="signed_up")
        PropertyDefinition.objects.create(event=event, name="plan", required=True, enum=["free", "pro"])
        bump_plan_version(project.id)
    return event


def set_policy(project, owner, policy, capture, slug="production"):
    with capture(execute=True):
        do_set_plan_policy(environment=project.environments.get(slug=slug), policy=policy, acting_user=owner)


# --- what is stored --------------------------------------------------------------------------------


def test_ndjson_stores_times_properties_identity_and_plan_status(project, planned, tmp_path):
    path = ndjson(
        tmp_path / "events.ndjson",
        [
            {  # anonymous, environment omitted: --environment applies
                "event": "signed_up",
                "anonymous_id": "anon-1",
                "timestamp": "2025-01-02T03:04:05.678Z",
                "properties": {"plan": "pro", "$lib": "legacy-sdk"},
                "message_id": "m-1",
            },
            {  # identify after anonymous use links the ids (unix seconds timestamp)
                "type": "identify",
                "environment": "production",
                "distinct_id": "user_42",
                "anonymous_id": "anon-1",
                "traits": {"email": "a@example.com"},
                "timestamp": 1735787100,
                "message_id": "m-2",
            },
            {  # breaks the plan: allowed (the default policy) and marked
                "event": "signed_up",
                "distinct_id": "user_42",
                "timestamp": 1735787200000,  # milliseconds
                "properties": {"plan": "gold", "nested": {"a": [1, 2]}},
            },
        ],
    )
    code, out = run(project, path)
    assert code == 0, out
    assert "3 stored" in out and "0 rejected" in out
    anonymous, identify, invalid = stored_events(project)
    assert anonymous["time"].isoformat() == "2025-01-02T03:04:05.678000+00:00"
    assert anonymous["properties"] == {"plan": "pro", "$lib": "legacy-sdk"}
    assert anonymous["context"]["library"] == {"name": "legacy-sdk", "version": None}  # the same enrichment
    assert anonymous["message_id"] == "m-1" and anonymous["plan_status"] == PlanStatus.VALID
    assert identify["event"] == "$identify" and identify["time"].isoformat() == "2025-01-02T03:05:00+00:00"
    assert invalid["properties"] == {"plan": "gold", "nested": {"a": [1, 2]}}
    assert invalid["plan_status"] == PlanStatus.ALLOWED
    assert [v["kind"] for v in invalid["context"]["plan_violations"]] == ["enum", "unplanned_property"]
    assert invalid["message_id"].startswith("bcn-")  # the API's content-derived id
    person = person_of(project, "user_42")
    assert person_of(project, "anon-1") == person and person.properties["email"] == "a@example.com"
    assert not state_of(path).exists()  # finished: no checkpoint left behind
    assert rejects_of(path) == []


def test_csv_with_property_columns_and_a_properties_json_column(project, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "\ufeffevent,timestamp,distinct_id,anonymous_id,message_id,properties.amount,properties.plan,"
        "properties.tags,properties.note,properties\n"
        'Order Completed,2025-06-01T12:00:00Z,u1,,c-1,42.5,pro,"[""a"",""b""]","two\nlines",\n'
        'Order Completed,2025-06-02T12:00:00+02:00,u2,anon-2,c-2,true,"""quoted""",,,"{""coupon"": ""X1""}"\n'
        "App Opened,1748779200,u1,,,,,,,\n",
        encoding="utf-8",
    )
    code, out = run(project, path)  # the format comes from the file name
    assert code == 0, out
    opened, first, second = stored_events(project)  # by time, then name
    assert first["time"].isoformat() == "2025-06-01T12:00:00+00:00"
    assert first["properties"] == {"amount": 42.5, "plan": "pro", "tags": ["a", "b"], "note": "two\nlines"}
    assert second["time"].isoformat() == "2025-06-02T10:00:00+00:00"
    assert second["properties"] == {"coupon": "X1", "amount": True, "plan": "quoted"}
    assert second["anonymous_id"] == "anon-2" and second["message_id"] == "c-2"
    assert opened["event"] == "App Opened" and opened["properties"] == {}
    assert opened["time"].isoformat() == "2025-06-01T12:00:00+00:00"


def test_a_rerun_stores_nothing_new(project, tmp_path):
    events = [track(n) for n in range(30)]
    events += [{"event": "No Time", "distinct_id": "u", "properties": {}}] * 2  # no id, no time: two events
    path = ndjson(tmp_path / "events.ndjson", events)
    assert run(project, path, "--batch-size", "7")[0] == 0
    assert len(stored_events(project)) == 32
    code, out = run(project, path, "--batch-size", "5")
    assert code == 0, out
    assert "0 stored" in out and "32 already stored" in out
    assert len(stored_events(project)) == 32
    # a checkpoint ignored on purpose changes nothing either
    assert run(project, path, "--restart")[0] == 0
    assert len(stored_events(project)) == 32


# --- bad lines -------------------------------------------------------------------------------------


def test_bad_lines_are_rejected_with_their_line_number_and_the_apis_message(project, tmp_path):
    path = ndjson(
        tmp_path / "events.ndjson",
        [
            track(1),
            b'{"event": "broken", ',
            {"distinct_id": "u", "properties": {}},
            b"",
            track(2, timestamp="yesterday"),
            track(3, properties="not an object"),
            track(4, environment="staging"),
            b"[1, 2]",
            track(5, type="group"),
            track(6),
        ],
    )
    code, out = run(project, path)
    assert code == 1
    assert f"7 lines were rejected: see {path}.rejected.ndjson" in out
    assert "1 blank lines skipped" in out
    assert sorted(e["properties"]["n"] for e in stored_events(project)) == [1, 6]
    rejects = rejects_of(path)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "invalid-json"),
        (3, "missing-event"),
        (5, "invalid-timestamp"),
        (6, "invalid-field"),
        (7, "environment-mismatch"),
        (8, "not-an-object"),
        (9, "invalid-type"),
    ]
    by_line = {r["line"]: r for r in rejects}
    assert by_line[3]["message"] == "`event` is required: the name of the event."
    assert by_line[5]["message"].startswith("Bad timestamp: 'yesterday' is not an ISO 8601 date-time")
    assert by_line[6]["message"] == "`properties` must be a JSON object, not str."
    assert by_line[8]["message"] == "Each event must be a JSON object, not list."
    assert "'staging'" in by_line[7]["message"] and "--environment" in by_line[7]["message"]
    assert by_line[2]["raw"] == '{"event": "broken", '


def test_an_event_over_the_size_limit_is_rejected_as_the_api_does(project, tmp_path):
    path = ndjson(tmp_path / "big.ndjson", [track(1, properties={"blob": "x" * 600_000}), track(2)])
    assert run(project, path)[0] == 1
    [reject] = rejects_of(path)
    assert (reject["line"], reject["reason"]) == (1, "event-too-large")
    assert len(stored_events(project)) == 1


def test_a_line_of_another_environment_is_rejected_and_one_of_its_own_kept(project, tmp_path):
    path = ndjson(
        tmp_path / "staging.ndjson", [track(1, environment="staging"), track(2, environment="production")]
    )
    code, _ = run(project, path, environment="staging")
    assert code == 1
    [stored] = stored_events(project)
    assert stored["environment_id"] == project.environments.get(slug="staging").id
    assert rejects_of(path)[0]["line"] == 2


def test_csv_rows_with_bad_fields_are_rejected(project, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "event,timestamp,distinct_id,properties\n"
        "ok,2025-01-01T00:00:00Z,u1,\n"
        'bad json,2025-01-01T00:00:00Z,u1,"{not json"\n'
        "too,many,fields,here,!\n"
        ",2025-01-01T00:00:00Z,u1,\n"
    )
    assert run(project, path, "--format", "csv")[0] == 1
    assert [(r["line"], r["reason"]) for r in rejects_of(path)] == [
        (3, "invalid-json"),
        (4, "invalid-csv"),
        (5, "missing-event"),
    ]
    assert len(stored_events(project)) == 1


# --- the tracking plan -----------------------------------------------------------------------------


def test_block_policy_quarantines(project, owner, planned, tmp_path, django_capture_on_commit_callbacks):
    set_policy(project, owner, "block", django_capture_on_commit_callbacks)
    good = {"event": "signed_up", "distinct_id": "u1", "properties": {"plan": "free"}, "message_id": "ok-1"}
    blocked = {**good, "properties": {"plan": "gold"}, "message_id": "blocked-1"}
    path = ndjson(tmp_path / "events.ndjson", [good, blocked])
    for _ in range(2):  # a rerun quarantines nothing twice
        code, out = run(project, path)
        assert code == 0, out
        assert "1 quarantined by the tracking plan" in out
    assert [e["message_id"] for e in stored_events(project)] == ["ok-1"]
    [kept] = QuarantinedEvent.objects.filter(project=project)
    assert kept.message_id == "blocked-1" and [v["kind"] for v in kept.violations] == ["enum"]


def test_dry_run_writes_nothing(project, tmp_path):
    path = ndjson(tmp_path / "events.ndjson", [track(1), {"properties": {}}])
    code, out = run(project, path, "--dry-run")
    assert code == 1
    assert "1 would be stored" in out and "line 2: missing-event" in out
    assert stored_events(project) == []
    assert not state_of(path).exists() and rejects_of(path) == []


# --- interruption and resume -----------------------------------------------------------------------


def test_an_interrupted_import_resumes_from_its_checkpoint(project, tmp_path):
    path = ndjson(tmp_path / "events.ndjson", [track(n) for n in range(25)])
    code, out = run(project, path, "--batch-size", "10", "--limit-batches", "1")
    assert code == 130
    assert "Resume with: manage.py import_events" in out
    assert len(stored_events(project)) == 10
    checkpoint = orjson.loads(state_of(path).read_bytes())
    assert checkpoint["line"] == 10 and checkpoint["counts"]["stored"] == 10
    assert checkpoint["offset"] == len(b"".join(path.read_bytes().splitlines(keepends=True)[:10]))
    assert checkpoint["size"] == path.stat().st_size and len(checkpoint["head_sha256"]) == 64

    code, out = run(project, path, "--batch-size", "10")
    assert code == 0, out
    assert "Resuming" in out and "line 10" in out
    assert "25 lines read" in out and "25 stored" in out  # counts carry over from the first run
    assert sorted(e["properties"]["n"] for e in stored_events(project)) == list(range(25))
    assert not state_of(path).exists()


def test_a_batch_committed_before_its_checkpoint_is_reimported_harmlessly(project, tmp_path, monkeypatch):
    """Killed after the commit of batch 2 but before its checkpoint: batch 2 is read again."""
    events = [track(n) for n in range(30)]
    events[14] = {"event": "", "properties": {}}  # a reject in batch 2
    path = ndjson(tmp_path / "events.ndjson", events)
    saves = []
    real_save = importer.write_atomically

    def crash_on_second_save(target, data):
        saves.append(target)
        if len(saves) == 2:
            raise KeyboardInterrupt
        real_save(target, data)

    monkeypatch.setattr(importer, "write_atomically", crash_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        run(project, path, "--batch-size", "10")
    monkeypatch.setattr(importer, "write_atomically", real_save)
    assert len(stored_events(project)) == 19  # batch 2 is in, the checkpoint still says line 10
    assert len(rejects_of(path)) == 1

    code, out = run(project, path, "--batch-size", "10")
    assert code == 1, out
    assert "9 already stored" in out
    assert sorted(e["properties"]["n"] for e in stored_events(project)) == [n for n in range(30) if n != 14]
    assert [r["line"] for r in rejects_of(path)] == [15]  # written once, not once per attempt


def test_a_checkpoint_of_another_file_content_is_ignored(project, tmp_path):
    path = ndjson(tmp_path / "events.ndjson", [track(n) for n in range(20)])
    assert run(project, path, "--batch-size", "10", "--limit-batches", "1")[0] == 130
    ndjson(path, [track(n) for n in range(100, 120)])  # same size, other content
    code, out = run(project, path, "--batch-size", "10")
    assert code == 0
    assert "Checkpoint ignored" in out and "20 stored" in out


# --- arguments and exit codes ----------------------------------------------------------------------


def test_bad_arguments_exit_2(project, tmp_path):
    path = ndjson(tmp_path / "events.ndjson", [track(1)])
    assert run(project, tmp_path / "missing.ndjson")[0] == 2
    code, message = run(project, path, environment="nowhere")
    assert code == 2 and "no environment 'nowhere'" in message
    header_only = tmp_path / "no-event.csv"
    header_only.write_text("name,when\nx,y\n")
    code, message = run(project, header_only)
    assert code == 2 and "no `event` column" in message
    project.slug = "no-such-project"  # in memory only
    assert run(project, path)[0] == 2
    with pytest.raises(CommandError):
        call_command("import_events", "--project", "x", "--environment", "y", str(path), "--batch-size", "0")


@pytest.mark.postgres_only  # a second process on the database: the TimescaleDB test server has one session
@pytest.mark.django_db(transaction=True)
def test_the_process_stops_cleanly_on_ctrl_c_and_resumes(owner, tmp_path):
    from tests.analytics.conftest import _test_database_url
    from tests.conftest import make_project

    project = make_project(owner=owner)
    path = ndjson(tmp_path / "events.ndjson", [track(n) for n in range(20_000)])
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    command = [
        sys.executable,
        "manage.py",
        "import_events",
        "--project",
        project.slug,
        "--environment",
        "production",
        str(path),
        "--batch-size",
        "500",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not state_of(path).exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Resume with: manage.py import_events" in out
    stopped_at = orjson.loads(state_of(path).read_bytes())["line"]
    assert 0 < stopped_at < 20_000 and stopped_at % 500 == 0
    assert len(stored_events(project)) == stopped_at

    resumed = subprocess.run(
        command + ["--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"line {stopped_at:,}" in resumed.stdout and "20,000 stored" in resumed.stdout
    assert len({e["message_id"] for e in stored_events(project)}) == len(stored_events(project)) == 20_000

    path.write_text('{"event": "x"}\n')  # properties missing: rejected
    partial = subprocess.run(
        command + ["--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert partial.returncode == 1, partial.stderr
    assert "1 rejected" in partial.stdout
