"""The tracking plan enforced at ingestion: policies, replies per environment, quarantine, and the
next request seeing a plan edit."""

import pytest

from analytics.models import QuarantinedEvent
from analytics.plan.models import EventDefinition, PropertyDefinition, PropertyType
from analytics.plan.runtime import bump_plan_version
from analytics.storage.base import PlanStatus
from projects.actions import do_set_plan_policy
from tests.analytics.ingest import drain, new_key, post, stored_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(project, django_capture_on_commit_callbacks):
    """`signed_up` with a required `plan` (free/pro) and an optional `referrer`."""
    with django_capture_on_commit_callbacks(execute=True):
        event = EventDefinition.objects.create(project=project, name="signed_up")
        PropertyDefinition.objects.create(event=event, name="plan", required=True, enum=["free", "pro"])
        PropertyDefinition.objects.create(event=event, name="referrer")
        bump_plan_version(project.id)
    return event


def signed_up(environment="production", **properties) -> dict:
    return {"environment": environment, "event": "signed_up", "distinct_id": "u1", "properties": properties}


def set_policy(project, owner, slug, policy, capture):
    with capture(execute=True):
        do_set_plan_policy(environment=project.environments.get(slug=slug), policy=policy, acting_user=owner)


def test_a_project_without_a_plan_checks_nothing(client, project, owner, streams):
    key = new_key(project, owner)
    body = post(client, "/track", signed_up(anything="goes"), key=key).json()
    assert "violations" not in body
    drain()
    [stored] = stored_events(project)
    assert "plan_violations" not in stored["context"]


def test_allow_stores_the_event_and_records_its_violations(client, project, owner, streams, planned):
    key = new_key(project, owner)
    assert post(client, "/track", [signed_up(plan="pro"), signed_up(plan="gold")], key=key).status_code == 200
    drain()
    good, bad = sorted(stored_events(project), key=lambda e: e["properties"]["plan"] != "pro")
    assert "plan_violations" not in good["context"]
    assert bad["context"]["plan_violations"] == [
        {"kind": "enum", "property": "plan", "message": bad["context"]["plan_violations"][0]["message"]}
    ]
    assert plan_statuses(project) == sorted([PlanStatus.VALID, PlanStatus.ALLOWED])


def test_flag_stores_the_event_marked_invalid(
    client, project, owner, streams, planned, django_capture_on_commit_callbacks
):
    set_policy(project, owner, "production", "flag", django_capture_on_commit_callbacks)
    key = new_key(project, owner)
    assert post(client, "/track", signed_up(), key=key).status_code == 200
    drain()
    assert plan_statuses(project) == [PlanStatus.INVALID]


def test_block_keeps_the_event_out_of_events_and_in_quarantine_once(
    client, project, owner, streams, planned, django_capture_on_commit_callbacks
):
    set_policy(project, owner, "production", "block", django_capture_on_commit_callbacks)
    key = new_key(project, owner)
    blocked = {**signed_up(plan="gold"), "uuid": "blocked-1"}
    for _ in range(2):  # a retry
        assert post(client, "/track", [blocked, signed_up(plan="free")], key=key).status_code == 200
    drain()
    assert [e["properties"]["plan"] for e in stored_events(project)] == ["free", "free"]
    [kept] = QuarantinedEvent.objects.filter(project=project)
    assert kept.message_id == "blocked-1" and kept.event == "signed_up"
    assert [v["kind"] for v in kept.violations] == ["enum"]
    assert kept.record[4] == "signed_up" and kept.replayed_at is None


def test_staging_replies_list_violations_and_production_replies_stay_lean(
    client, project, owner, streams, planned
):
    staging = post(
        client,
        "/track",
        [signed_up("staging", plan="pro"), signed_up("staging", extra=1)],
        key=new_key(project, owner, environment="staging"),
    )
    body = staging.json()
    assert staging.status_code == 200 and body["ok"] is True
    [report] = body["violations"]
    assert report["index"] == 1
    assert sorted(v["kind"] for v in report["violations"]) == ["missing_required", "unplanned_property"]
    production = post(client, "/track", signed_up(extra=1), key=new_key(project, owner)).json()
    assert "violations" not in production


def test_the_next_request_after_a_plan_edit_sees_the_new_plan(
    client, project, owner, streams, planned, django_capture_on_commit_callbacks
):
    key = new_key(project, owner, environment="staging")
    first = post(client, "/track", signed_up("staging", plan="pro", coupon="X"), key=key).json()
    assert [v["kind"] for v in first["violations"][0]["violations"]] == ["unplanned_property"]
    with django_capture_on_commit_callbacks(execute=True):
        PropertyDefinition.objects.create(event=planned, name="coupon", type=PropertyType.STRING)
        bump_plan_version(project.id)
    second = post(client, "/track", signed_up("staging", plan="pro", coupon="X"), key=key).json()
    assert "violations" not in second


def plan_statuses(project) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT plan_status FROM events WHERE project_id = %s ORDER BY plan_status", [project.id]
        )
        return [row[0] for row in cursor.fetchall()]


def test_posthog_envelope_properties_are_not_unplanned(client, project, owner, streams, planned):
    """posthog-js repeats `token` and `distinct_id` in every event's properties: not event data."""
    key = new_key(project, owner, environment="staging")
    body = {
        "api_key": key,
        "batch": [
            {
                "event": "signed_up",
                "environment": "staging",
                "properties": {"token": key, "distinct_id": "u1", "plan": "pro", "$lib": "web"},
            }
        ],
    }
    reply = post(client, "/batch/", body).json()
    assert reply["accepted"] == 1
    assert "violations" not in reply
    drain()
    [stored] = stored_events(project)
    assert stored["distinct_id"] == "u1"
    assert "token" not in stored["properties"] and "distinct_id" not in stored["properties"]
