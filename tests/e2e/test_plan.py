"""A PM edits the tracking plan in a real Chromium; a developer's staging event breaks it and both see
the violation: the developer in the ingest reply, the PM in the violations report."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from analytics.plan.models import EventDefinition
from tests.analytics.ingest import new_key
from tests.conftest import make_project
from tests.e2e.test_pages import open_with_htmx

pytestmark = pytest.mark.django_db(transaction=True)


def send(live_server, key: str, event: dict) -> dict:
    """What an SDK does: POST to /track (``sync``: stored, and counted, before the reply)."""
    request = urllib.request.Request(
        f"{live_server.url}/track?sync=true",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def add_property(page, name: str) -> None:
    form = page.locator("form.add-property")
    form.get_by_label("Property name").fill(name)
    form.get_by_role("button", name="Add property").click()
    expect(page.locator(f"#properties tr#property-{_id_of(page, name)}")).to_be_visible()


def _id_of(page, name: str) -> str:
    row = page.locator("#properties tbody tr", has=page.locator(f"code:text-is('{name}')"))
    expect(row).to_have_count(1)
    return row.get_attribute("id").removeprefix("property-")


def test_a_pm_plans_an_event_inline_and_a_staging_event_missing_a_required_property_is_reported(
    page, live_server, log_in, owner, member
):
    project = make_project(owner=owner, member=member)
    staging_key = new_key(project, owner, environment="staging")
    log_in(member)

    open_with_htmx(page, f"/projects/{project.slug}/plan/")
    expect(page.locator("#plan-results")).to_contain_text("The plan is empty")
    create = page.locator("#create-event")
    create.get_by_label("Name").fill("signed_up")
    create.get_by_role("button", name="Add event").click()
    expect(page.locator("h1")).to_contain_text("signed_up")
    event = EventDefinition.objects.get(project=project, name="signed_up")
    expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/plan/events/{event.id}/")

    # From here on nothing reloads the page: the marker survives every htmx swap.
    page.evaluate("window.__noReload = true")
    add_property(page, "plan")
    add_property(page, "referrer")
    rows = page.locator("#properties tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("optional")

    # Marking `plan` required breaks senders that omit it: the banner asks before saving.
    page.get_by_role("button", name="Edit plan").click()
    editing = page.locator("#properties tr.editing")
    editing.get_by_label("Required").check()
    editing.get_by_role("button", name="Save").click()
    banner = page.locator("#properties .banner.warning")
    expect(banner).to_contain_text("property made required")
    assert not event.properties.get(name="plan").required, "not saved before confirmation"
    banner.get_by_role("button", name="Save anyway").click()
    expect(page.locator("#properties [role=status]")).to_contain_text("Saved")
    expect(rows.nth(0)).to_contain_text("required")
    expect(rows.nth(1)).to_contain_text("optional")
    assert page.evaluate("window.__noReload") is True
    assert event.properties.get(name="plan").required

    # A developer sends the event without `plan` with a staging key: the reply says what is wrong.
    reply = send(
        live_server,
        staging_key,
        {
            "environment": "staging",
            "event": "signed_up",
            "distinct_id": "dev-1",
            "properties": {"referrer": "ad"},
        },
    )
    assert reply["accepted"] == 1
    assert reply["violations"] == [
        {
            "index": 0,
            "violations": [
                {"kind": "missing_required", "property": "plan", "message": "`plan` is required."}
            ],
        }
    ]

    # ... and the PM finds it in the violations report.
    page.get_by_role("link", name="Violations").first.click()
    expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/plan/violations/")
    report = page.locator("table.violations tbody tr:not(.samples)")
    expect(report).to_have_count(1)
    expect(report.first.locator("td")).to_contain_text(["signed_up", "plan", "missing required", "staging"])
    report.first.get_by_role("button", name="Samples").click()
    expect(page.locator("tr.samples").first).to_contain_text("'referrer': 'ad'")
