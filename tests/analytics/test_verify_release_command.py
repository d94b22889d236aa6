"""`manage.py verify_release`, the CI gate: its table, its window and filters, and its exit codes
(0 passed, 1 an expected event missing or mostly invalid, 2 bad arguments)."""

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.management.commands.verify_release import parse_since
from analytics.plan.models import EventDefinition, EventStatus, PlanVersion
from analytics.storage.base import PlanStatus
from tests.analytics.test_releases import declare, define, send

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


def run(project, *args, environment="production") -> tuple[int, str]:
    """(exit code, standard output) of the command, as CI sees them."""
    out = io.StringIO()
    base = ["--project", project.slug] + (["--environment", environment] if environment else [])
    try:
        call_command("verify_release", *base, *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


@pytest.fixture
def planned(project, owner):
    define(project, "signed_up", environments=["production"])
    define(project, "order_paid")
    return project


def test_it_exits_0_and_prints_the_table_when_every_expected_event_passes(planned):
    send(planned, "signed_up", count=2)
    send(planned, "order_paid", count=3)
    send(planned, "order_paid", status=PlanStatus.ALLOWED)

    code, out = run(planned)

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{planned.slug} / production / any app version, since ")
    assert lines[1].split() == [
        "event",
        "result",
        "events",
        "violations",
        "share",
        "first",
        "seen",
        "last",
        "seen",
        "note",
    ]
    assert lines[2].split()[:8] == ["✓", "order_paid", "seen", "with", "violations", "4", "1", "25%"]
    assert lines[3].split()[:6] == ["✓", "signed_up", "seen", "valid", "2", "0"]
    assert lines[-1] == "✓ 2 of 2 expected events pass."


def test_it_exits_1_when_an_expected_event_was_never_seen(planned):
    send(planned, "order_paid")

    code, out = run(planned)

    assert code == 1
    assert any(line.split()[:4] == ["✗", "signed_up", "never", "seen"] for line in out.splitlines())
    assert "✗ 1 of 2 expected events pass; never seen: signed_up." in out
    assert "Release verification failed: 1 of 2 expected events do not pass." in out


def test_it_exits_1_when_an_event_is_mostly_invalid_and_0_at_half(planned):
    send(planned, "signed_up")
    send(planned, "order_paid", count=1)
    send(planned, "order_paid", count=1, status=PlanStatus.BLOCKED)  # quarantined counts as violations
    assert run(planned)[0] == 0  # 50%: not more than half

    send(planned, "order_paid", status=PlanStatus.INVALID)
    code, out = run(planned)
    assert code == 1 and "mostly invalid: order_paid" in out


def test_max_invalid_share_sets_the_gate(planned):
    send(planned, "signed_up")
    send(planned, "order_paid", count=9)
    send(planned, "order_paid", status=PlanStatus.ALLOWED)

    assert run(planned)[0] == 0
    assert run(planned, "--max-invalid-share", "0.1")[0] == 0
    code, out = run(planned, "--max-invalid-share", "0")
    assert code == 1 and "seen with violations: order_paid" in out


def test_since_limits_the_window(planned):
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    send(planned, "signed_up", time=two_hours_ago)
    send(planned, "order_paid", time=two_hours_ago)

    assert run(planned, "--since", "1h")[0] == 1
    assert run(planned, "--since", "3h")[0] == 0
    assert run(planned)[0] == 0  # 24h by default
    since = (two_hours_ago - timedelta(minutes=1)).isoformat()
    assert run(planned, "--since", since)[0] == 0
    assert run(planned, "--since", (two_hours_ago + timedelta(minutes=1)).isoformat())[0] == 1


def test_app_version_and_events_narrow_the_check(planned):
    send(planned, "signed_up", app_version="2.4.0")
    send(planned, "order_paid", app_version="2.3.0")

    assert run(planned, "--app-version", "2.4.0")[0] == 1
    code, out = run(planned, "--app-version", "2.4.0", "--events", "signed_up")
    assert code == 0 and "order_paid" not in out
    assert run(planned, "--app-version", "2.3.0", "--events", "order_paid, signed_up")[0] == 1


def test_default_events_are_those_expected_in_the_environment(planned):
    define(planned, "retired", status=EventStatus.DEPRECATED)
    send(planned, "order_paid", environment="staging")

    code, out = run(planned, environment="staging")

    assert code == 0  # signed_up is expected in production only
    assert "signed_up" not in out and "retired" not in out


def test_no_expected_events_passes_and_says_so(project):
    code, out = run(project)
    assert code == 0
    assert out.splitlines()[-1] == "✓ No expected events: nothing to verify."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--project", "no-such-project", "--environment", "production"],
            "No project with the slug 'no-such-project'",
        ),
        (["--environment", "qa"], "No environment 'qa'"),
        (
            ["--environment", "production", "--events", "signed_up,nope,typo"],
            "not in the tracking plan: nope, typo",
        ),
        (["--environment", "production", "--since", "yesterday"], "--since 'yesterday'"),
        (["--environment", "production", "--since", "5y"], "--since '5y'"),
        (["--environment", "production", "--max-invalid-share", "2"], "between 0 and 1"),
        ([], "--environment is required"),
        (["--release", "999999"], "No release 999999"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(planned, args, message):
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("verify_release", "--project", planned.slug, *args, stdout=out)
    assert error.value.returncode == 2
    assert message in str(error.value)


def test_mark_verified_promotes_passing_definitions_in_one_version(planned):
    define(planned, "drafted", status=EventStatus.DRAFT)
    for name in ("signed_up", "order_paid", "drafted"):
        send(planned, name)
    versions_before = PlanVersion.objects.filter(project=planned).count()

    assert run(planned)[0] == 0
    assert PlanVersion.objects.filter(project=planned).count() == versions_before  # off by default

    code, out = run(planned, "--mark-verified")
    assert code == 0 and "Marked verified: order_paid, signed_up." in out
    statuses = dict(EventDefinition.objects.filter(project=planned).values_list("name", "status"))
    assert statuses == {"signed_up": "verified", "order_paid": "verified", "drafted": "draft"}
    assert PlanVersion.objects.filter(project=planned).count() == versions_before + 1


def test_it_checks_a_declared_release(planned, owner):
    send(planned, "signed_up")
    release = declare(planned, owner, expected_events=["signed_up"])
    failing = declare(planned, owner, expected_events=["order_paid"])

    assert run(planned, "--release", str(release.id), environment=None)[0] == 0
    code, out = run(planned, "--release", str(failing.id), environment=None)
    assert code == 1 and "never seen: order_paid" in out
    assert run(planned, "--release", str(release.id))[0] == 2  # scope comes from the release


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_since_accepts_durations(text, expected):
    now = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
    assert parse_since(text, now) == now - expected


def test_since_accepts_iso_datetimes_naive_ones_in_utc():
    now = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
    assert parse_since("2030-05-06T10:30:00", now) == datetime(2030, 5, 6, 10, 30, tzinfo=UTC)
    assert parse_since("2030-05-06T10:30:00+02:00", now) == datetime(2030, 5, 6, 8, 30, tzinfo=UTC)


@pytest.mark.postgres_only  # a second process on the database: the TimescaleDB test server has one session
@pytest.mark.django_db(transaction=True)
def test_the_process_exit_codes_are_what_ci_sees(owner):
    from tests.analytics.conftest import _test_database_url
    from tests.conftest import make_project

    project = make_project(owner=owner)
    define(project, "signed_up")
    env = {**os.environ, "DATABASE_URL": _test_database_url()}

    def exit_code(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "verify_release", "--project", project.slug, *args],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = exit_code("--environment", "production")
    assert missing.returncode == 1, missing.stderr
    assert "never seen: signed_up" in missing.stdout
    assert exit_code("--environment", "nowhere").returncode == 2
    send(project, "signed_up")
    assert exit_code("--environment", "production").returncode == 0
