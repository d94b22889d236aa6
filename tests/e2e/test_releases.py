"""A member declares a release in a real Chromium; the report refreshes itself when the expected
event arrives, and "Check now" then marks the definition verified."""

import pytest
from playwright.sync_api import expect

from analytics.plan import actions
from analytics.plan.models import EventDefinition, EventStatus
from analytics.verification.models import Release
from tests.analytics.ingest import new_key
from tests.conftest import make_project
from tests.e2e.test_pages import open_with_htmx
from tests.e2e.test_plan import send

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_release_page_turns_green_by_itself_when_the_expected_event_arrives(
    page, live_server, log_in, owner, member
):
    project = make_project(owner=owner, member=member)
    for name, environment in (("signed_up", "production"), ("debug_ping", "staging")):
        definition = actions.do_create_event(
            project=project, name=name, acting_user=owner, status=EventStatus.APPROVED
        )
        definition.expected_environments.set(project.environments.filter(slug=environment))
    key = new_key(project, owner)
    log_in(member)

    open_with_htmx(page, f"/projects/{project.slug}/releases/")
    expect(page.locator("main")).to_contain_text("No releases declared yet")
    form = page.locator("#declare-release")
    expect(form.get_by_label("signed_up")).to_be_checked()
    expect(form.get_by_label("debug_ping")).not_to_be_checked()
    # another environment: its expected events are checked instead (htmx swaps the fieldset)
    form.get_by_label("Environment").select_option("staging")
    expect(form.get_by_label("debug_ping")).to_be_checked()
    expect(form.get_by_label("signed_up")).not_to_be_checked()
    form.get_by_label("Environment").select_option("production")
    expect(form.get_by_label("signed_up")).to_be_checked()
    form.get_by_label("Name").fill("Signup flow")
    form.get_by_role("button", name="Declare release").click()

    release = Release.objects.get(project=project)
    expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/releases/{release.id}/")
    report = page.locator("#release-report")
    expect(report).to_contain_text("never seen")
    expect(report).to_contain_text("0 of 1 expected event passes")

    page.evaluate("window.__noReload = true")
    reply = send(
        live_server,
        key,
        {"environment": "production", "event": "signed_up", "distinct_id": "dev-1", "properties": {}},
    )
    assert reply["accepted"] == 1
    expect(report).to_contain_text("seen valid", timeout=15_000)
    expect(report).to_contain_text("1 of 1 expected event passes")
    assert page.evaluate("window.__noReload") is True

    page.get_by_role("button", name="Check now").click()
    expect(page.locator(".messages")).to_contain_text("Marked verified: signed_up.")
    assert EventDefinition.objects.get(project=project, name="signed_up").status == EventStatus.VERIFIED
    page.get_by_role("button", name="Confirm live").click()
    expect(page.locator(".messages")).to_contain_text("Live: signed_up.")
    assert EventDefinition.objects.get(project=project, name="signed_up").status == EventStatus.LIVE
