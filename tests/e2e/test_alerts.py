"""The alert pages in a real Chromium: a member adds an email channel, writes a volume rule while
its preview chart redraws, toggles it in the list, then finds an alert in the history,
acknowledges it and comments on it, all without a page error."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from alerts.models import AlertRule, Channel
from tests.alerts.factories import make_fired_event
from tests.analytics.insight_data import ev, refresh_rollups, write
from tests.conftest import make_project
from tests.e2e.test_pages import open_with_htmx

pytestmark = pytest.mark.django_db(transaction=True)


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")


def chart_is_drawn(page) -> bool:
    return page.evaluate(
        """() => {
            const canvas = document.querySelector('[data-alert-chart] canvas');
            if (!canvas || !canvas.width || !canvas.height) return false;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        }"""
    )


def test_a_member_sets_up_a_rule_and_handles_its_alert(page, live_server, log_in, owner, member):
    project = make_project(owner=owner, member=member)
    write([ev(project, hours_ago(hours), "checkout", f"u{hours}") for hours in (2, 3, 3.5, 26, 50)])
    refresh_rollups()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(member)

    # a channel
    open_with_htmx(page, f"/projects/{project.slug}/alerts/channels/")
    expect(page.get_by_text("No channels yet")).to_be_visible()
    page.get_by_role("link", name="Add a channel").click()
    page.locator("input[name='name']").fill("On-call mail")
    expect(page.locator("[data-config-kind='webhook']")).to_be_hidden()
    page.locator("textarea[name='email-addresses']").fill("oncall@example.com")
    page.get_by_role("button", name="Add the channel").click()
    expect(page.locator("table.channels")).to_contain_text("oncall@example.com")
    assert Channel.objects.filter(project=project, kind="email").count() == 1

    # a volume rule, with its preview
    page.get_by_role("link", name="Rules", exact=True).click()
    page.get_by_role("link", name="Create an alert rule").click()
    page.wait_for_function("() => window.htmx !== undefined")
    expect(page.locator("[data-kinds='rate_below rate_above'] >> nth=0")).to_be_hidden()
    page.locator("select[name='kind']").select_option("rate_below")
    expect(page.locator("label.field-denominator_event")).to_be_visible()
    page.locator("select[name='kind']").select_option("volume_below")
    expect(page.locator("label.field-denominator_event")).to_be_hidden()
    page.locator("input[name='name']").fill("Checkout volume low")
    page.locator("input[name='event']").fill("checkout")
    page.locator("input[name='threshold']").fill("1")
    page.get_by_label("On-call mail").check()
    chart = page.locator("#rule-preview [data-alert-chart] canvas")
    expect(chart).to_be_visible(timeout=15_000)
    page.wait_for_function("() => document.querySelector('[data-alert-chart]').alertChart !== undefined")
    assert chart_is_drawn(page)
    expect(page.locator(".u-legend")).to_contain_text("threshold")
    expect(page.locator(".preview-summary")).to_contain_text("Would have fired")
    page.get_by_role("button", name="Create the rule").click()
    expect(page.locator("h2").first).to_contain_text("Checkout volume low")
    rule = AlertRule.objects.get(project=project)
    assert rule.threshold == 1 and [c.name for c in rule.channels.all()] == ["On-call mail"]
    expect(page.locator("#rule-preview [data-alert-chart] canvas")).to_be_visible(timeout=15_000)

    # toggled off in the list, by htmx
    page.get_by_role("link", name="Rules", exact=True).click()
    page.evaluate("window.__noReload = true")
    page.get_by_role("switch", name="Disable Checkout volume low").click()
    expect(page.get_by_role("switch", name="Enable Checkout volume low")).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    rule.refresh_from_db()
    assert rule.enabled is False

    # an alert in the history: acknowledged and commented
    fired = make_fired_event(rule, value=0.0)
    page.get_by_role("link", name="History", exact=True).click()
    row = page.locator("table.alert-events tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Fired")
    row.get_by_role("link").first.click()
    expect(page.locator(".alert-values")).to_contain_text('"comparison": "below"')
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".acknowledged")).to_contain_text(f"Acknowledged by {member.email}")
    page.locator("textarea[name='body']").fill("Payment provider outage, on it.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator(".comment-body")).to_have_text("Payment provider outage, on it.")
    expect(page.locator("textarea[name='body']")).to_have_value("")
    assert page.evaluate("window.__noReload") is True
    fired.refresh_from_db()
    assert fired.acknowledged_by == member and fired.comments.count() == 1
    assert errors == []
