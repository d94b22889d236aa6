"""What the writer records about the plan: violation counts and samples, first and last seen; the
violations report and "seen, not in plan" built from them; quarantine replay and retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import QuarantinedEvent
from analytics.plan import actions
from analytics.plan.models import EventDefinition, ViolationCount, ViolationSample
from analytics.plan.observed import SAMPLES_PER_KIND
from analytics.plan.quarantine import drop_expired, replay_quarantine
from analytics.storage.base import PlanStatus
from projects.actions import do_set_plan_policy
from tests.analytics.ingest import drain, new_key, post, stored_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(project, owner, django_capture_on_commit_callbacks):
    """`signed_up` with a required `plan` (free/pro)."""
    with django_capture_on_commit_callbacks(execute=True):
        event = actions.do_create_event(project=project, name="signed_up", acting_user=owner)
        actions.do_add_property(
            owner=event, name="plan", values={"required": True, "enum": ["free", "pro"]}, acting_user=owner
        )
    return event


def signed_up(environment="production", app_version=None, **properties) -> dict:
    event = {"environment": environment, "event": "signed_up", "distinct_id": "u1", "properties": properties}
    if app_version:
        event["context"] = {"app": {"version": app_version}}
    return event


def counts(project) -> dict:
    return {
        (row.event, row.property, row.kind, row.app_version): row.count
        for row in ViolationCount.objects.filter(project=project)
    }


def test_the_writer_counts_violations_per_event_property_kind_and_app_version(
    client, project, owner, streams, planned
):
    key = new_key(project, owner)
    batch = [signed_up(plan="gold", app_version="2.0")] * 2 + [
        signed_up(app_version="2.1"),
        signed_up(plan="pro"),
    ]
    batch = [{**event, "messageId": f"m{index}"} for index, event in enumerate(batch)]
    post(client, "/v1/batch", {"batch": [{**e, "type": "track", "userId": "u1"} for e in batch]}, key=key)
    drain()
    assert counts(project) == {
        ("signed_up", "plan", "enum", "2.0"): 2,
        ("signed_up", "plan", "missing_required", "2.1"): 1,
    }
    sample = ViolationSample.objects.filter(project=project, kind="enum").first()
    assert ViolationSample.objects.filter(project=project, kind="enum").count() == 2
    assert sample.properties["plan"] == "gold"
    assert sample.message.startswith("`plan`: ") and "gold" in sample.message


def test_a_replayed_stream_entry_is_not_counted_twice(client, project, owner, streams, planned):
    key = new_key(project, owner)
    event = {**signed_up(plan="gold"), "message_id": "same"}
    post(client, "/track", event, key=key)
    post(client, "/track", event, key=key)
    drain()
    assert counts(project) == {("signed_up", "plan", "enum", ""): 1}


def test_samples_stop_at_a_few_per_event_property_and_kind(client, project, owner, streams, planned):
    key = new_key(project, owner)
    for index in range(SAMPLES_PER_KIND + 3):
        post(client, "/track", signed_up(plan=f"gold{index}"), key=key)
        drain()
    assert ViolationSample.objects.filter(project=project, kind="enum").count() == SAMPLES_PER_KIND
    assert counts(project)[("signed_up", "plan", "enum", "")] == SAMPLES_PER_KIND + 3


def test_planned_events_get_first_and_last_seen(client, project, owner, streams, planned):
    assert planned.first_seen_at is None
    post(client, "/track", signed_up(plan="pro"), key=new_key(project, owner))
    drain()
    planned.refresh_from_db()
    assert planned.first_seen_at is not None
    assert planned.last_seen_at == planned.first_seen_at


def test_the_report_shows_counts_filters_and_samples(client, member, project, owner, streams, planned):
    post(client, "/track", [signed_up(plan="gold"), signed_up()], key=new_key(project, owner))
    post(client, "/track", signed_up("staging", plan="x"), key=new_key(project, owner, environment="staging"))
    drain()
    client.force_login(member)
    page = client.get(f"/projects/{project.slug}/plan/violations/").content.decode()
    assert "3 violations" in page
    staging = client.get(
        f"/projects/{project.slug}/plan/violations/", {"environment": "staging"}
    ).content.decode()
    assert "1 violation<" in staging
    samples = client.get(
        f"/projects/{project.slug}/plan/violations/samples/",
        {"event": "signed_up", "property": "plan", "kind": "enum"},
    ).content.decode()
    assert "&#x27;gold&#x27;" in samples and "&#x27;x&#x27;" in samples


def test_the_report_is_empty_with_a_hint(client, member, project):
    client.force_login(member)
    assert b"No violations in this period" in client.get(f"/projects/{project.slug}/plan/violations/").content


def test_unplanned_events_and_properties_are_listed_with_inferred_types_and_added_in_one_click(
    client, member, project, owner, streams, planned, store
):
    key = new_key(project, owner)
    post(
        client,
        "/track",
        [
            {
                "environment": "production",
                "event": "video_played",
                "distinct_id": "u1",
                "properties": {"video_id": "v1", "seconds": 12, "hd": True},
            },
            {
                "environment": "production",
                "event": "video_played",
                "distinct_id": "u1",
                "properties": {"video_id": "v2", "seconds": 7.5},
            },
            signed_up(plan="pro", referrer_count=3),
        ],
        key=key,
    )
    drain()
    store.refresh_rollups(full=True)
    client.force_login(member)
    page = client.get(f"/projects/{project.slug}/plan/unplanned/").content.decode()
    assert "video_played" in page
    assert "<code>seconds</code>: number" in page
    assert "<code>hd</code>: boolean" in page
    assert "<code>referrer_count</code></td><td>integer" in page

    response = client.post(f"/projects/{project.slug}/plan/unplanned/event/", {"event": "video_played"})
    video = EventDefinition.objects.get(project=project, name="video_played")
    assert response["Location"] == f"/projects/{project.slug}/plan/events/{video.id}/"
    assert video.status == "draft"
    assert sorted((p.name, p.type, p.required) for p in video.properties.all()) == [
        ("hd", "boolean", False),
        ("seconds", "number", False),
        ("video_id", "string", False),
    ]
    client.post(
        f"/projects/{project.slug}/plan/unplanned/property/",
        {"event": "signed_up", "property": "referrer_count", "type": "integer"},
    )
    assert planned.properties.get(name="referrer_count").type == "integer"
    client.get("/")  # the flash messages name them: show them elsewhere first
    page = client.get(f"/projects/{project.slug}/plan/unplanned/").content.decode()
    assert "video_played" not in page and "referrer_count" not in page
    assert "Every event received is in the plan" in page


# --- quarantine ----------------------------------------------------------------------------------


@pytest.fixture
def blocking(project, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        do_set_plan_policy(
            environment=project.environments.get(slug="production"), policy="block", acting_user=owner
        )


def test_replay_stores_what_now_passes_once_and_keeps_the_rest(
    client, project, owner, member, streams, planned, blocking, django_capture_on_commit_callbacks
):
    key = new_key(project, owner)
    post(client, "/track", [signed_up(plan="team"), signed_up(plan="gold"), signed_up(plan="pro")], key=key)
    drain()
    assert [e["properties"]["plan"] for e in stored_events(project)] == ["pro"]
    assert QuarantinedEvent.objects.filter(project=project).count() == 2
    assert counts(project) == {("signed_up", "plan", "enum", ""): 2}

    # the plan is fixed: `team` becomes a plan
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_update_property(
            prop=planned.properties.get(name="plan"),
            values={"required": True, "enum": ["free", "pro", "team"]},
            acting_user=owner,
        )
    client.force_login(member)
    response = client.post(f"/projects/{project.slug}/plan/quarantine/replay/", follow=True)
    assert "1 now pass and were stored, 1 still fail" in response.content.decode()
    stored = stored_events(project)
    assert sorted(e["properties"]["plan"] for e in stored) == ["pro", "team"]
    team = next(e for e in stored if e["properties"]["plan"] == "team")
    assert team["plan_status"] == PlanStatus.VALID
    assert team["context"]["replayed_from_quarantine"] is True
    assert "plan_violations" not in team["context"]

    again = replay_quarantine(project)
    assert (again.checked, again.stored, again.still_failing) == (1, 0, 1)
    assert len(stored_events(project)) == 2, "nothing is replayed twice"
    gold = QuarantinedEvent.objects.get(project=project, replayed_at__isnull=True)
    assert gold.violations[0]["kind"] == "enum"


def test_a_quarantined_retry_is_kept_once(client, project, owner, streams, planned, blocking):
    key = new_key(project, owner)
    event = {**signed_up(plan="gold"), "message_id": "retry-me"}
    post(client, "/track", event, key=key)
    drain()
    post(client, "/track", event, key=key)
    drain()
    assert QuarantinedEvent.objects.filter(project=project).count() == 1
    assert counts(project) == {("signed_up", "plan", "enum", ""): 1}


def test_quarantine_page_lists_waiting_events(client, viewer, project, owner, streams, planned, blocking):
    post(client, "/track", signed_up(plan="gold"), key=new_key(project, owner))
    drain()
    client.force_login(viewer)
    page = client.get(f"/projects/{project.slug}/plan/quarantine/").content.decode()
    assert "1 waiting" in page and "signed_up" in page
    assert "Replay against" not in page  # viewers cannot replay
    assert client.post(f"/projects/{project.slug}/plan/quarantine/replay/").status_code == 404


def test_retention_drops_old_quarantine_and_violation_records(
    client, project, owner, streams, planned, blocking
):
    post(client, "/track", signed_up(plan="gold"), key=new_key(project, owner))
    drain()
    later = timezone.now() + timedelta(days=project.retention_days + 1)
    assert drop_expired(timezone.now()) == {"quarantined": 0, "violation_counts": 0, "violation_samples": 0}
    assert drop_expired(later) == {"quarantined": 1, "violation_counts": 1, "violation_samples": 1}
