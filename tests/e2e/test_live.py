"""A developer watches the live inspector in a real Chromium while events arrive with a write key."""

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from analytics.plan.models import EventDefinition, PropertyDefinition, PropertyType
from analytics.plan.runtime import bump_plan_version
from tests.analytics.ingest import new_key
from tests.conftest import make_project
from tests.e2e.test_pages import open_with_htmx

pytestmark = pytest.mark.django_db(transaction=True)


def send(live_server, key: str, body) -> None:
    """What an SDK does: POST to /track (into the Redis buffer; no writer needs to run)."""
    request = urllib.request.Request(
        f"{live_server.url}/track",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def clicked(device_id: str, **properties) -> dict:
    return {
        "environment": "staging",
        "event": "product_clicked",
        "device_id": device_id,
        "properties": properties,
    }


def test_events_appear_within_two_seconds_with_their_marks_and_filter_by_device(
    page, live_server, log_in, owner, member, streams
):
    project = make_project(owner=owner, member=member)
    event = EventDefinition.objects.create(project=project, name="product_clicked")
    PropertyDefinition.objects.create(event=event, name="product_id", required=True)
    PropertyDefinition.objects.create(event=event, name="position", type=PropertyType.INTEGER)
    bump_plan_version(project.id)
    key = new_key(project, owner, environment="staging")
    log_in(member)
    open_with_htmx(page, f"/projects/{project.slug}/live/?environment=staging")
    expect(page.locator(".live-waiting")).to_be_visible()
    page.evaluate("window.__noReload = true")

    send(live_server, key, clicked("phone-a", product_id="p1", position=1))
    send(live_server, key, clicked("phone-b", position="third"))
    sent_at = time.monotonic()
    rows = page.locator("details.live-row")
    expect(rows).to_have_count(2, timeout=2000)
    assert time.monotonic() - sent_at < 2.0
    invalid, valid = rows.nth(0), rows.nth(1)  # newest first
    expect(valid.locator(".mark")).to_have_text("✓")
    expect(invalid.locator(".mark")).to_have_text("✗")
    expect(invalid.locator(".why")).to_contain_text("`product_id` is required.")
    expect(page.locator(".live-waiting")).to_be_hidden()

    invalid.locator("summary").click()  # expands: every field, checked against the current plan
    expect(invalid.locator("tr[data-path='position'] td.mark")).to_have_text("✗")
    expect(invalid.locator("tr[data-path='position']")).to_contain_text("integer")
    expect(invalid.locator("tr[data-path='product_id']")).to_contain_text("(missing)")

    page.get_by_label("Device id").fill("phone-a")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("code.event")).to_have_text("product_clicked")
    expect(rows.first).to_contain_text("phone-a")

    # Paused: nothing new is shown and what was shown stays; resumed: what arrived meanwhile comes in.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#live-status")).to_contain_text("Paused")
    send(live_server, key, clicked("phone-a", product_id="p2", position=2))
    page.wait_for_timeout(1500)
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Resume").click()
    expect(rows).to_have_count(2, timeout=2000)
    expect(rows.first).to_contain_text("phone-a")
    assert page.evaluate("window.__noReload") is True  # no full page load happened


def test_a_burst_is_sampled_and_says_so(page, live_server, log_in, owner, member, streams):
    project = make_project(owner=owner, member=member)
    key = new_key(project, owner, environment="staging")
    log_in(member)
    open_with_htmx(page, f"/projects/{project.slug}/live/?environment=staging")
    for batch in range(4):
        send(live_server, key, [clicked(f"device-{batch}-{n}", n=n) for n in range(100)])
    expect(page.locator("#live-status")).to_contain_text("sampled", timeout=3000)
    expect(page.locator("#live-status")).to_contain_text("400 events arrived")
    expect(page.locator("details.live-row")).to_have_count(50)
