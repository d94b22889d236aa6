"""Debug sessions: which events belong to one, the test cases checked against them, and the pages."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from analytics.models import QuarantinedEvent
from analytics.plan.models import EventDefinition, PropertyDefinition, PropertyType
from analytics.plan.runtime import bump_plan_version
from analytics.verification import debug
from analytics.verification.inspection import plan_for
from analytics.verification.models import DebugSession, EventTestCase, RuleKind, TestVerdict
from projects.actions import do_set_plan_policy
from tests.analytics.ingest import new_key, post

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.fixture
def planned(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("page_viewed", "product_viewed", "product_clicked"):
            event = EventDefinition.objects.create(project=project, name=name)
            if name != "page_viewed":
                PropertyDefinition.objects.create(event=event, name="product_id", required=True)
            else:
                PropertyDefinition.objects.create(event=event, name="page_load_id", required=True)
            if name == "product_clicked":
                PropertyDefinition.objects.create(event=event, name="position", type=PropertyType.INTEGER)
        bump_plan_version(project.id)
    project.refresh_from_db()
    return {event.name: event for event in EventDefinition.objects.filter(project=project)}


@pytest.fixture
def session(project, owner):
    return debug.do_start_session(
        project=project,
        environment=project.environments.get(slug="staging"),
        device_id="my-phone",
        label="checkout flow",
        app_url="https://shop.example/cart?x=1",
        events=[],
        duration=timedelta(hours=1),
        acting_user=owner,
    )


@pytest.fixture
def send(client, project, owner, streams):
    key = new_key(project, owner, environment="staging")

    def send(event: str, device_id: str | None = "my-phone", **properties):
        body = {"environment": "staging", "event": event, "properties": properties}
        if device_id:
            body["device_id"] = device_id
        response = post(client, "/track?sync=true", body, key=key)
        assert response.status_code == 200, response.content

    return send


def case(definition, kind, description="rule", **config) -> EventTestCase:
    return EventTestCase.objects.create(event=definition, kind=kind, description=description, config=config)


def report_of(session, project):
    session.refresh_from_db()
    return debug.check_session(session, debug.events_of(session), plan_for(project))


def result_of(report, test_case):
    [result] = [r for r in report.results if r.test_case.id == test_case.id]
    return result.outcome, result.detail


def test_a_session_holds_its_device_and_its_tagged_events_only(
    project, owner, session, send, planned, django_capture_on_commit_callbacks
):
    send("page_viewed", page_load_id="l1")
    send("page_viewed", device_id="someone-else", page_load_id="l2")
    send("page_viewed", device_id="laptop", page_load_id="l3", **{"$debug_session": session.code})
    with django_capture_on_commit_callbacks(execute=True):
        do_set_plan_policy(environment=session.environment, policy="block", acting_user=owner)
    send("product_clicked", product_id="p1", position="bad")  # blocked: in quarantine, still the session's
    assert QuarantinedEvent.objects.filter(project=project).count() == 1
    events = debug.events_of(session)
    assert sorted(record.properties.get("page_load_id", "q") for record in events) == ["l1", "l3", "q"]
    assert events[0].event == "product_clicked"  # newest first


def test_events_before_the_session_or_of_another_environment_are_not_its_own(
    project, owner, session, send, client
):
    send("page_viewed", page_load_id="during")
    post(
        client,
        "/track?sync=true",
        {"environment": "production", "event": "page_viewed", "device_id": "my-phone", "properties": {}},
        key=new_key(project, owner),
    )
    DebugSession.objects.filter(id=session.id).update(started_at=timezone.now() + timedelta(seconds=1))
    session.refresh_from_db()
    assert debug.events_of(session) == []


def test_fires_counts_occurrences_against_its_bounds(project, session, send, planned):
    at_least_once = case(planned["product_clicked"], RuleKind.FIRES, min=1, max=None)
    exactly_once = case(planned["product_clicked"], RuleKind.FIRES, min=1, max=1)
    send("product_clicked", product_id="p1", position=1)
    send("product_clicked", product_id="p2", position=2)
    report = report_of(session, project)
    assert result_of(report, at_least_once) == ("pass", "Fired 2 times.")
    assert result_of(report, exactly_once) == ("fail", "Fired 2 times; expected 1.")


def test_once_per_names_the_values_that_fired_twice(project, session, send, planned):
    rule = case(planned["page_viewed"], RuleKind.ONCE_PER, field="properties.page_load_id")
    send("page_viewed", page_load_id="l1")
    send("page_viewed", page_load_id="l2")
    assert result_of(report_of(session, project), rule) == (
        "pass",
        "Once for each of 2 values of properties.page_load_id.",
    )
    send("page_viewed", page_load_id="l2")
    outcome, detail = result_of(report_of(session, project), rule)
    assert outcome == "fail" and detail == "Fired more than once for properties.page_load_id = l2 (2×)."


def test_carries_counts_the_occurrences_lacking_each_property(project, session, send, planned):
    rule = case(planned["product_clicked"], RuleKind.CARRIES, properties=["product_id", "position"])
    send("product_clicked", product_id="p1", position=1)
    send("product_clicked", product_id="p2")
    assert result_of(report_of(session, project), rule) == ("fail", "1 of 2 lack position.")


def test_valid_reports_the_plan_violations(project, session, send, planned):
    rule = case(planned["product_clicked"], RuleKind.VALID)
    send("product_clicked", product_id="p1", position=1)
    assert result_of(report_of(session, project), rule)[0] == "pass"
    send("product_clicked", position="third")
    outcome, detail = result_of(report_of(session, project), rule)
    assert (
        outcome == "fail"
        and detail.startswith("1 of 2 break the plan:")
        and "`product_id` is required." in detail
    )


def test_preceded_by_matches_the_earlier_event_on_a_property(project, session, send, planned):
    rule = case(planned["product_clicked"], RuleKind.PRECEDED_BY, event="product_viewed", match="product_id")
    send("product_viewed", product_id="p1")
    send("product_clicked", product_id="p1", position=1)
    assert result_of(report_of(session, project), rule) == (
        "pass",
        "Each followed a product_viewed with the same product_id.",
    )
    send("product_clicked", product_id="p2", position=2)
    outcome, detail = result_of(report_of(session, project), rule)
    assert (
        outcome == "fail"
        and "1 of 2 had no product_viewed with the same product_id" in detail
        and "p2" in detail
    )


def test_a_manual_rule_waits_for_a_verdict(project, owner, session, send, planned):
    rule = case(planned["product_viewed"], RuleKind.MANUAL, description="fires when the item is visible")
    send("product_viewed", product_id="p1")
    assert result_of(report_of(session, project), rule)[0] == "needs_review"
    debug.do_record_verdict(
        session=session, test_case=rule, passed=False, note="fired off screen", acting_user=owner
    )
    outcome, detail = result_of(report_of(session, project), rule)
    assert outcome == "fail" and "fired off screen" in detail
    with pytest.raises(debug.ActionRefused):
        debug.do_record_verdict(
            session=session,
            test_case=case(planned["product_viewed"], RuleKind.VALID),
            passed=True,
            note="",
            acting_user=owner,
        )


def test_rules_of_events_the_session_did_not_send_are_not_exercised_unless_listed(
    project, session, send, planned
):
    rule = case(planned["product_clicked"], RuleKind.FIRES, min=1)
    send("page_viewed", page_load_id="l1")
    report = report_of(session, project)
    assert result_of(report, rule)[0] == "not_exercised" and report.passed
    session.events = ["product_clicked"]
    session.save()
    report = report_of(session, project)
    assert result_of(report, rule) == ("fail", "Fired 0 times; expected 1 or more.") and not report.passed


def test_the_debug_link_carries_the_code():
    session = DebugSession(code="abc", app_url="https://shop.example/cart?x=1#top")
    assert debug.debug_link(session) == "https://shop.example/cart?x=1&beacon_debug=abc#top"
    assert debug.debug_link(DebugSession(code="abc")) == ""
    hash_route = DebugSession(code="abc", app_url="https://app.example/#/cart?x=1")
    assert debug.debug_link(hash_route) == "https://app.example/?beacon_debug=abc#/cart?x=1"


def test_once_per_an_object_field_counts_by_its_value(project, session, send, planned):
    rule = case(planned["page_viewed"], RuleKind.ONCE_PER, field="properties.page")
    send("page_viewed", page_load_id="l1", page={"path": "/", "n": 1})
    send("page_viewed", page_load_id="l2", page={"n": 1, "path": "/"})
    outcome, detail = result_of(report_of(session, project), rule)
    assert outcome == "fail" and '{"n":1,"path":"/"} (2×)' in detail


# --- pages -----------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_member_starts_a_session_and_sees_its_link_qr_code_and_report(project, member, planned):
    response = _client(member).post(
        f"/projects/{project.slug}/debug/",
        {
            "environment": project.environments.get(slug="staging").id,
            "app_url": "https://shop.example/",
            "duration": "1h",
        },
    )
    session = DebugSession.objects.get(project=project)
    assert response.status_code == 302 and response.url == f"/projects/{project.slug}/debug/{session.id}/"
    assert session.ends_at - session.started_at == pytest.approx(timedelta(hours=1), abs=timedelta(seconds=5))
    page = _client(member).get(response.url).content.decode()
    assert f"https://shop.example/?beacon_debug={session.code}" in page and "<svg" in page
    assert "No event definition has test cases yet" in page
    assert "debug_session.start" in project.organization.audit_log.values_list("action", flat=True)


def test_starting_a_session_needs_a_device_id_or_an_app_url(project, member):
    response = _client(member).post(
        f"/projects/{project.slug}/debug/", {"environment": project.environments.first().id, "duration": "1h"}
    )
    assert response.status_code == 400 and "Enter your device id" in response.content.decode()


def test_viewers_read_sessions_but_do_not_start_or_judge_them_and_outsiders_see_nothing(
    project, viewer, outsider, session, planned
):
    rule = case(planned["product_viewed"], RuleKind.MANUAL)
    assert _client(viewer).get(f"/projects/{project.slug}/debug/{session.id}/").status_code == 200
    staging = project.environments.get(slug="staging").id
    assert (
        _client(viewer)
        .post(f"/projects/{project.slug}/debug/", {"environment": staging, "device_id": "d"})
        .status_code
        == 404
    )
    assert (
        _client(viewer)
        .post(f"/projects/{project.slug}/debug/{session.id}/verdicts/{rule.id}/", {"passed": "1"})
        .status_code
        == 404
    )
    for path in ("debug/", f"debug/{session.id}/"):
        assert _client(outsider).get(f"/projects/{project.slug}/{path}").status_code == 404
    assert _client(outsider).post(f"/projects/{project.slug}/debug/{session.id}/end/").status_code == 404
    assert TestVerdict.objects.count() == 0


def test_test_cases_are_added_and_deleted_on_the_event_page(project, member, planned):
    event = planned["page_viewed"]
    base = f"/projects/{project.slug}/plan/events/{event.id}/tests/"
    bad = _client(member).post(
        base, {"description": "once per load", "kind": "once_per", "field": "page"}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 400 and "Name the field like properties.product_id" in bad.content.decode()
    added = _client(member).post(
        base,
        {"description": "fires once per page load", "kind": "once_per", "field": "properties.page_load_id"},
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200 and "fires once per page load" in added.content.decode()
    rule = EventTestCase.objects.get(event=event)
    assert rule.config == {"field": "properties.page_load_id"}
    page = _client(member).get(f"/projects/{project.slug}/plan/events/{event.id}/").content.decode()
    assert "fires once per page load" in page
    deleted = _client(member).post(f"{base}{rule.id}/delete/", HTTP_HX_REQUEST="true")
    assert deleted.status_code == 200 and not EventTestCase.objects.filter(event=event).exists()


def test_the_events_poll_answers_204_until_the_list_changes(project, member, session, send, planned):
    url = f"/projects/{project.slug}/debug/{session.id}/"
    page = _client(member).get(url).content.decode()
    known = re.search(r"fragment=events&(?:amp;)?known=([0-9a-f]+)", page).group(1)
    polled = _client(member).get(url, {"fragment": "events", "known": known}, HTTP_HX_REQUEST="true")
    assert polled.status_code == 204
    send("page_viewed", page_load_id="l1")
    changed = _client(member).get(url, {"fragment": "events", "known": known}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200 and 'data-event="page_viewed"' in changed.content.decode()
    assert "1 in this session" in changed.content.decode()


def test_a_verdict_and_the_end_of_a_session(project, member, session, send, planned):
    rule = case(planned["product_viewed"], RuleKind.MANUAL, description="fires when visible")
    send("product_viewed", product_id="p1")
    response = _client(member).post(
        f"/projects/{project.slug}/debug/{session.id}/verdicts/{rule.id}/",
        {"passed": "1", "note": "checked on iOS"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "checked on iOS" in response.content.decode()
    assert TestVerdict.objects.get(session=session, test_case=rule).passed
    assert project.organization.audit_log.filter(action="debug_session.verdict").count() == 1
    _client(member).post(f"/projects/{project.slug}/debug/{session.id}/end/")
    session.refresh_from_db()
    assert not session.is_active
