"""Release verification: the per-event report (outcomes, quarantine, app version, window, default
expected events, tolerance), marking verified and going live, and the release pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.ingest.writer import write_events
from analytics.plan import actions
from analytics.plan.models import EventDefinition, EventStatus, PlanVersion, QuarantinedEvent
from analytics.storage.base import EventRecord, PlanStatus
from analytics.verification import releases
from analytics.verification.models import Release
from analytics.verification.releases import Outcome
from projects.actions import ActionRefused
from projects.models import AuditLogEntry
from tests.conftest import make_project

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- helpers (the command's tests use them too) -----------------------------------------------------


def define(project, name, *, status=EventStatus.APPROVED, environments=(), user=None):
    definition = actions.do_create_event(project=project, name=name, acting_user=user, status=status)
    if environments:
        definition.expected_environments.set(project.environments.filter(slug__in=environments))
    return definition


def send(
    project,
    name,
    *,
    count=1,
    status=PlanStatus.VALID,
    environment="production",
    app_version=None,
    time=None,
):
    """Store ``count`` events through the real writer (blocked ones go to quarantine)."""
    now = datetime.now(UTC)
    environment_id = project.environments.get(slug=environment).id
    context = {"library": {"name": "tests"}}
    if app_version:
        context["app_version"] = app_version
    if status != PlanStatus.VALID:
        context["plan_violations"] = [{"kind": "wrong_type", "property": "price", "message": "not a number"}]
    records = [
        EventRecord(
            time=time or now - timedelta(minutes=5),
            received_at=now,
            project_id=project.id,
            environment_id=environment_id,
            event=name,
            message_id=str(uuid.uuid4()),
            distinct_id="u1",
            properties={},
            context=context,
            plan_status=status,
        )
        for _ in range(count)
    ]
    write_events([(record, None) for record in records])


def declare(project, user=None, *, environment="production", started_at=None, **fields):
    return releases.do_declare_release(
        project=project,
        environment=project.environments.get(slug=environment),
        started_at=started_at or timezone.now() - timedelta(hours=1),
        acting_user=user,
        **fields,
    )


def by_name(report):
    return {result.name: result for result in report.results}


# --- the report --------------------------------------------------------------------------------------


def test_it_reports_never_seen_valid_with_violations_and_mostly_invalid(project, owner):
    for name in ("signed_up", "cart_viewed", "order_paid", "coupon_applied"):
        define(project, name)
    send(project, "signed_up", count=3)
    send(project, "cart_viewed", count=3)
    send(project, "cart_viewed", status=PlanStatus.ALLOWED)
    send(project, "order_paid")
    send(project, "order_paid", count=3, status=PlanStatus.INVALID)
    release = declare(project, owner)

    results = by_name(releases.check_release(release))

    assert {name: result.outcome for name, result in results.items()} == {
        "signed_up": Outcome.VALID,
        "cart_viewed": Outcome.VIOLATIONS,
        "order_paid": Outcome.INVALID,
        "coupon_applied": Outcome.MISSING,
    }
    assert (results["cart_viewed"].count, results["cart_viewed"].with_violations) == (4, 1)
    assert results["cart_viewed"].share == 0.25
    assert results["order_paid"].share_percent == 75.0
    assert results["coupon_applied"].count == 0 and results["coupon_applied"].first_seen is None
    assert results["signed_up"].first_seen <= results["signed_up"].last_seen
    # no tolerance: only the clean event passes
    assert [name for name, result in results.items() if result.passed] == ["signed_up"]


def test_it_reports_first_and_last_seen_by_event_time(project, owner):
    define(project, "signed_up")
    release = declare(project, owner, started_at=timezone.now() - timedelta(hours=3))
    earliest = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    latest = earliest + timedelta(minutes=90)
    send(project, "signed_up", time=earliest)
    send(project, "signed_up", time=latest)

    result = by_name(releases.check_release(release))["signed_up"]

    assert (result.first_seen, result.last_seen) == (earliest, latest)


def test_it_counts_quarantined_events_as_violations_but_not_once_replayed(project, owner):
    define(project, "order_paid")
    send(project, "order_paid", count=2)
    send(project, "order_paid", count=2, status=PlanStatus.BLOCKED)
    release = declare(project, owner)
    assert QuarantinedEvent.objects.filter(project=project).count() == 2

    result = by_name(releases.check_release(release))["order_paid"]
    assert (result.count, result.with_violations, result.outcome) == (4, 2, Outcome.VIOLATIONS)

    # a replayed event is in `events` now: counting its quarantine row too would count it twice
    QuarantinedEvent.objects.filter(project=project).update(replayed_at=timezone.now())
    result = by_name(releases.check_release(release))["order_paid"]
    assert (result.count, result.with_violations) == (2, 0)


def test_it_counts_only_events_of_the_release_app_version(project, owner):
    define(project, "order_paid")
    send(project, "order_paid", count=2, app_version="2.4.0")
    send(project, "order_paid", count=5, app_version="2.3.9", status=PlanStatus.INVALID)
    send(project, "order_paid", count=3, app_version="2.3.9", status=PlanStatus.BLOCKED)
    send(project, "order_paid", status=PlanStatus.BLOCKED, app_version="2.4.0")

    versioned = by_name(releases.check_release(declare(project, owner, app_version="2.4.0")))
    any_version = by_name(releases.check_release(declare(project, owner)))

    assert (versioned["order_paid"].count, versioned["order_paid"].with_violations) == (3, 1)
    assert (any_version["order_paid"].count, any_version["order_paid"].with_violations) == (11, 9)


def test_it_counts_only_events_since_the_release_started_in_its_environment(project, owner):
    define(project, "signed_up")
    send(project, "signed_up", time=datetime.now(UTC) - timedelta(hours=5))
    send(project, "signed_up", environment="staging")
    release = declare(project, owner, started_at=timezone.now() - timedelta(hours=2))

    assert by_name(releases.check_release(release))["signed_up"].outcome == Outcome.MISSING

    send(project, "signed_up")
    assert by_name(releases.check_release(release))["signed_up"].count == 1


def test_it_expects_by_default_the_events_planned_for_the_environment_or_everywhere(project, owner):
    define(project, "in_production", environments=["production"])
    define(project, "in_staging_only", environments=["staging"])
    define(project, "in_both", environments=["production", "staging"])
    define(project, "everywhere")
    define(project, "retired", status=EventStatus.DEPRECATED)
    release = declare(project, owner)

    assert release.expected_events == []
    assert releases.expected_event_names(release) == ["everywhere", "in_both", "in_production"]
    assert [result.name for result in releases.check_release(release).results] == [
        "everywhere",
        "in_both",
        "in_production",
    ]


def test_a_release_listing_events_checks_those_and_drops_ones_deprecated_since(project, owner):
    define(project, "signed_up")
    retired = define(project, "old_signup")
    define(project, "order_paid")
    release = declare(project, owner, expected_events=["signed_up", "old_signup"])
    actions.do_set_event_status(event=retired, status=EventStatus.DEPRECATED, comment="", acting_user=owner)

    assert [result.name for result in releases.check_release(release).results] == ["signed_up"]


def test_declaring_refuses_unknown_and_deprecated_events_naming_them(project, owner):
    define(project, "signed_up")
    define(project, "retired", status=EventStatus.DEPRECATED)

    with pytest.raises(ActionRefused) as refused:
        declare(project, owner, expected_events=["signed_up", "nope", "typo_event", "retired"])

    assert "nope, typo_event" in refused.value.message and "retired" in refused.value.message
    assert not Release.objects.exists()


@pytest.mark.parametrize(("tolerance", "passes"), [(0.0, False), (0.2, False), (0.25, True), (0.5, True)])
def test_the_tolerance_decides_how_many_violations_pass(project, owner, tolerance, passes):
    define(project, "cart_viewed")
    send(project, "cart_viewed", count=3)
    send(project, "cart_viewed", status=PlanStatus.ALLOWED)
    release = declare(project, owner, max_invalid_share=tolerance)

    assert by_name(releases.check_release(release))["cart_viewed"].passed is passes


def test_the_summary_names_the_failing_events(project, owner):
    define(project, "signed_up")
    define(project, "order_paid")
    define(project, "coupon_applied")
    send(project, "signed_up")
    send(project, "order_paid", count=2, status=PlanStatus.INVALID)
    report = releases.check_release(declare(project, owner))

    assert (
        report.summary
        == "1 of 3 expected events pass; never seen: coupon_applied; mostly invalid: order_paid."
    )
    assert not report.passed


# --- marking verified, going live ------------------------------------------------------------------


def test_a_check_marks_only_passing_approved_and_implemented_definitions_verified_in_one_version(
    project, owner
):
    statuses = {
        "drafted": EventStatus.DRAFT,
        "reviewed": EventStatus.IN_REVIEW,
        "approved_one": EventStatus.APPROVED,
        "implemented_one": EventStatus.IMPLEMENTED,
        "already_live": EventStatus.LIVE,
        "approved_broken": EventStatus.APPROVED,
        "approved_missing": EventStatus.APPROVED,
    }
    for name, status in statuses.items():
        define(project, name, status=status)
        if name != "approved_missing":
            broken = name == "approved_broken"
            send(
                project, name, app_version="2.4.0", status=PlanStatus.INVALID if broken else PlanStatus.VALID
            )
    release = declare(project, owner, app_version="2.4.0")
    versions_before = PlanVersion.objects.filter(project=project).count()

    check = releases.do_check_release(release=release, acting_user=owner)

    assert check.verified == ["approved_one", "implemented_one"]
    now = dict(EventDefinition.objects.filter(project=project).values_list("name", "status"))
    assert now == {**statuses, "approved_one": "verified", "implemented_one": "verified"}
    assert PlanVersion.objects.filter(project=project).count() == versions_before + 1
    version = PlanVersion.objects.filter(project=project).first()
    assert version.summary == "Release 2.4.0 (production) verified: approved_one, implemented_one"
    assert version.created_by == owner
    assert by_name(check.report)["drafted"].note == "passes; approve it first"
    release.refresh_from_db()
    assert release.last_checked_at is not None
    assert AuditLogEntry.objects.filter(project=project, action="plan.events_verified").count() == 1

    # checking again changes nothing and records no version
    assert releases.do_check_release(release=release, acting_user=owner).verified == []
    assert PlanVersion.objects.filter(project=project).count() == versions_before + 1


def test_go_live_moves_the_chosen_verified_events_of_the_release_in_one_version(project, owner):
    for name in ("signed_up", "order_paid", "cart_viewed"):
        define(project, name, status=EventStatus.VERIFIED)
    define(project, "approved_only")
    define(project, "elsewhere", status=EventStatus.VERIFIED)
    release = declare(
        project, owner, expected_events=["signed_up", "order_paid", "cart_viewed", "approved_only"]
    )
    versions_before = PlanVersion.objects.filter(project=project).count()

    moved = releases.do_confirm_live(
        release=release, events=["signed_up", "order_paid", "approved_only", "elsewhere"], acting_user=owner
    )

    assert moved == ["order_paid", "signed_up"]
    statuses = dict(EventDefinition.objects.filter(project=project).values_list("name", "status"))
    assert statuses == {
        "signed_up": "live",
        "order_paid": "live",
        "cart_viewed": "verified",
        "approved_only": "approved",
        "elsewhere": "verified",
    }
    assert PlanVersion.objects.filter(project=project).count() == versions_before + 1
    with pytest.raises(ActionRefused):
        releases.do_confirm_live(release=release, events=["approved_only"], acting_user=owner)


def test_the_periodic_check_covers_releases_of_the_last_24_hours_only(project, owner):
    define(project, "signed_up")
    define(project, "order_paid")
    send(project, "signed_up")
    send(project, "order_paid", time=datetime.now(UTC) - timedelta(hours=1))
    young = declare(project, owner, expected_events=["signed_up"])
    old = declare(
        project, owner, expected_events=["order_paid"], started_at=timezone.now() - timedelta(hours=30)
    )

    assert releases.check_young_releases() == 1

    assert EventDefinition.objects.get(project=project, name="signed_up").status == "verified"
    assert EventDefinition.objects.get(project=project, name="order_paid").status == "approved"
    young.refresh_from_db()
    old.refresh_from_db()
    assert young.last_checked_at is not None and old.last_checked_at is None


def test_the_task_is_scheduled_every_minute_and_expires():
    from config.schedule import BEAT_SCHEDULE, MINUTE

    entry = BEAT_SCHEDULE["check-young-releases"]
    assert entry["task"] == "analytics.tasks.check_young_releases"
    assert entry["schedule"] == MINUTE and entry["options"] == {"expires": MINUTE}


# --- pages: who may do what --------------------------------------------------------------------------


def url(project, rest=""):
    return f"/projects/{project.slug}/releases/{rest}"


@pytest.fixture
def release(project, owner):
    define(project, "signed_up")
    return declare(project, owner)


@pytest.mark.parametrize(
    ("method", "rest"),
    [("get", ""), ("post", ""), ("get", "{id}/"), ("post", "{id}/check/"), ("post", "{id}/go-live/")],
)
def test_an_outsider_gets_404_on_every_release_view(client, outsider, project, release, method, rest):
    client.force_login(outsider)
    response = getattr(client, method)(
        url(project, rest.format(id=release.id)), {"environment": "production"}
    )
    assert response.status_code == 404
    assert Release.objects.count() == 1


@pytest.mark.parametrize("rest", ["", "{id}/check/", "{id}/go-live/"])
def test_a_viewer_reads_but_cannot_declare_check_or_go_live(client, viewer, project, release, rest):
    client.force_login(viewer)
    assert client.get(url(project)).status_code == 200
    assert client.get(url(project, f"{release.id}/")).status_code == 200
    response = client.post(url(project, rest.format(id=release.id)), {"environment": "production"})
    assert response.status_code == 404
    assert Release.objects.count() == 1
    release.refresh_from_db()
    assert release.last_checked_at is None


def test_a_release_of_another_project_is_404_through_mine(client, owner, project):
    other = make_project(owner=owner)
    theirs = declare(other, owner)
    client.force_login(owner)
    assert client.get(url(project, f"{theirs.id}/")).status_code == 404
    assert client.post(url(project, f"{theirs.id}/check/")).status_code == 404


def test_a_member_declares_a_release_and_lands_on_its_page(client, member, project):
    define(project, "signed_up")
    define(project, "order_paid")
    client.force_login(member)

    response = client.post(
        url(project),
        {
            "environment": "staging",
            "app_version": "2.4.0",
            "name": "Checkout",
            "expected_events": ["order_paid"],
            "started_at": "2030-01-02T03:04",
            "tolerance": "10",
        },
    )

    release = Release.objects.get(project=project)
    assert response.status_code == 302 and response.url == url(project, f"{release.id}/")
    assert (release.environment.slug, release.app_version, release.name) == ("staging", "2.4.0", "Checkout")
    assert release.expected_events == ["order_paid"]
    assert release.started_at == datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    assert release.max_invalid_share == pytest.approx(0.1)
    assert release.created_by == member
    assert AuditLogEntry.objects.filter(project=project, action="release.declared").exists()


def test_declaring_without_events_or_start_means_the_default_events_from_now(client, member, project):
    client.force_login(member)
    response = client.post(url(project), {"environment": "production"})
    release = Release.objects.get(project=project)
    assert response.status_code == 302
    assert release.expected_events == [] and release.max_invalid_share == 0
    assert timezone.now() - release.started_at < timedelta(minutes=1)


def test_the_declare_form_names_unknown_events(client, member, project):
    define(project, "signed_up")
    client.force_login(member)
    response = client.post(
        url(project), {"environment": "production", "expected_events": ["signed_up", "bogus_event"]}
    )
    assert response.status_code == 400
    assert "not in the tracking plan: bogus_event" in response.content.decode()
    assert not Release.objects.exists()


def test_the_declare_form_checks_the_expected_events_of_the_chosen_environment(client, member, project):
    define(project, "in_production", environments=["production"])
    define(project, "in_staging", environments=["staging"])
    client.force_login(member)

    page = client.get(url(project)).content.decode()
    fragment = client.get(
        url(project), {"environment": "staging"}, **HTMX, HTTP_HX_TARGET="expected-events"
    ).content.decode()

    assert 'value="in_production" id="id_expected_events_0" checked' in page.replace("\n", "")
    assert "<html" not in fragment and 'id="expected-events"' in fragment
    assert 'value="in_staging" id="id_expected_events_1" checked' in fragment
    assert 'value="in_production" id="id_expected_events_0">' in fragment


def test_the_release_list_reads_well_empty_and_shows_pass_or_fail(client, member, project):
    client.force_login(member)
    assert "No releases declared yet" in client.get(url(project)).content.decode()

    define(project, "signed_up")
    define(project, "order_paid")
    send(project, "signed_up", app_version="2.4.0")
    declare(project, member, app_version="2.4.0")
    page = client.get(url(project)).content.decode()
    assert "2.4.0" in page and "✗ 1 of 2 pass" in page and "1 never seen" in page


def test_the_release_page_shows_the_report_with_links_to_violations(client, viewer, project, owner):
    define(project, "signed_up")
    define(project, "order_paid")
    send(project, "order_paid", count=3)
    send(project, "order_paid", status=PlanStatus.ALLOWED)
    release = declare(project, owner, name="Spring release")
    client.force_login(viewer)

    page = client.get(url(project, f"{release.id}/")).content.decode()

    assert "never seen" in page and "seen with violations" in page and "25.0%" in page
    assert f"/projects/{project.slug}/plan/violations/?event=order_paid&amp;environment=production" in page
    assert "Check now" not in page  # viewers read only


def test_a_young_release_page_polls_its_report_and_an_old_one_does_not(client, viewer, project, owner):
    define(project, "signed_up")
    young = declare(project, owner)
    old = declare(project, owner, started_at=timezone.now() - timedelta(hours=25))
    client.force_login(viewer)

    young_page = client.get(url(project, f"{young.id}/")).content.decode()
    old_page = client.get(url(project, f"{old.id}/")).content.decode()
    fragment = client.get(
        url(project, f"{young.id}/"), **HTMX, HTTP_HX_TARGET="release-report"
    ).content.decode()

    assert 'hx-trigger="every 10s"' in young_page
    assert "hx-trigger" not in old_page.split('id="release-report"')[1].split(">")[0]
    assert fragment.lstrip().startswith('<section id="release-report"') and "<html" not in fragment
    assert 'hx-trigger="every 10s"' in fragment


def test_a_release_without_expected_events_says_so(client, viewer, project, owner):
    release = declare(project, owner)
    client.force_login(viewer)
    page = client.get(url(project, f"{release.id}/")).content.decode()
    assert "This release expects no events" in page


def test_check_now_marks_verified_and_go_live_takes_them_live(client, member, project):
    define(project, "signed_up")
    send(project, "signed_up")
    release = declare(project, member)
    client.force_login(member)

    response = client.post(url(project, f"{release.id}/check/"), follow=True)
    assert "Marked verified: signed_up." in response.content.decode()
    assert EventDefinition.objects.get(project=project, name="signed_up").status == "verified"
    assert "Confirm live" in response.content.decode()

    response = client.post(url(project, f"{release.id}/go-live/"), {"events": ["signed_up"]}, follow=True)
    assert "Live: signed_up." in response.content.decode()
    assert EventDefinition.objects.get(project=project, name="signed_up").status == "live"


def test_release_views_take_only_their_methods(client, member, project, release):
    client.force_login(member)
    assert client.get(url(project, f"{release.id}/check/")).status_code == 405
    assert client.get(url(project, f"{release.id}/go-live/")).status_code == 405
    assert client.post(url(project, f"{release.id}/")).status_code == 405
