"""The analysis pages in a real Chromium: a trend chart drawn by uPlot, range buttons and breakdowns
swapped in by htmx, rows added to the form, an error shown next to its input, and funnel bars."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.analytics.insight_data import ev, refresh_rollups, write
from tests.conftest import make_project
from tests.e2e.test_pages import open_with_htmx

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def when(days_ago: int, clock: str) -> str:
    return f"{TODAY - timedelta(days=days_ago):%Y-%m-%d} {clock}"


def shop(owner, member):
    """Purchases 2 and 20 days ago (only the first in the last 7 days), with a funnel before them."""
    project = make_project(owner=owner, member=member)
    records = []
    for days_ago, users in ((2, ["u1", "u2", "u3", "u4"]), (20, ["u5", "u6"])):
        for index, user in enumerate(users):
            plan = "pro" if index % 2 else "free"
            records.append(ev(project, when(days_ago, "09:00"), "view", user, plan=plan))
            if index < 2:
                records.append(ev(project, when(days_ago, "09:05"), "cart", user, plan=plan))
                records.append(
                    ev(project, when(days_ago, "09:20"), "purchase", user, plan=plan, amount=10 * (index + 1))
                )
    write(records)
    refresh_rollups()
    return project


def canvas_is_drawn(page) -> bool:
    return page.evaluate(
        """() => {
            const canvas = document.querySelector('[data-chart] canvas');
            if (!canvas || !canvas.width || !canvas.height) return false;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        }"""
    )


def test_a_member_charts_a_trend_changes_the_range_and_breaks_it_down(
    page, live_server, log_in, owner, member
):
    project = shop(owner, member)
    log_in(member)
    open_with_htmx(page, f"/projects/{project.slug}/analysis/trends/")
    page.locator("input[name='series.0.event']").fill("purchase")
    page.get_by_role("button", name="Run", exact=True).click()
    totals = page.locator(".trend-table tfoot td.total")
    expect(totals).to_have_text(["2"])
    page.evaluate("window.__noReload = true")

    page.locator(".segmented label", has_text="30D").click()
    expect(page).to_have_url(re.compile(r"date_range\.range=30d"))
    expect(page.locator(".trend-table tbody tr")).to_have_count(31)  # 30 days back, and today
    expect(totals).to_have_text(["4"])
    expect(page.locator(".result-source")).to_have_text("from rollups")
    expect(page.locator("[data-chart] canvas")).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-chart]').beaconChart !== undefined")
    assert canvas_is_drawn(page)
    expect(page.locator(".u-legend")).to_contain_text("purchase")

    page.locator("input[name='breakdown.property']").fill("plan")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".trend-table thead th")).to_have_text(["Day", "purchase · free", "purchase · pro"])
    expect(totals).to_have_text(["2", "2"])
    expect(page.locator(".result-source")).to_have_text("from raw events")
    expect(page.locator(".u-legend")).to_contain_text("purchase · pro")
    assert canvas_is_drawn(page)
    assert page.evaluate("window.__noReload") is True, "the page reloaded instead of swapping the result"


def test_rows_added_in_the_form_are_named_and_errors_show_next_to_their_input(
    page, live_server, log_in, owner, member
):
    project = shop(owner, member)
    log_in(member)
    open_with_htmx(
        page, f"/projects/{project.slug}/analysis/trends/?series.0.event=purchase&date_range.range=30d"
    )
    page.get_by_role("button", name="+ Add series").click()
    new_event = page.locator(".series-row").nth(1).locator("input[data-name='event']")
    expect(new_event).to_have_attribute("name", "series.1.event")
    new_event.fill("cart")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".trend-table thead th")).to_have_text(["Day", "purchase", "cart"])

    page.locator(".series-row").nth(0).locator("[data-remove]").click()
    remaining = page.locator(".series-row input[data-name='event']")
    expect(remaining).to_have_attribute("name", "series.0.event")
    expect(remaining).to_have_value("cart")
    remaining.fill("purchase")
    page.locator("select[name='series.0.math']").select_option("sum")  # needs a property: none given
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".query-error")).to_contain_text("series.0.property")
    property_field = page.locator("[data-property-field]").first
    expect(property_field).to_be_visible()
    expect(property_field.locator(".field-error")).to_have_text("Required.")
    expect(property_field.locator("input")).to_have_attribute("aria-invalid", "true")

    property_field.locator("input").fill("amount")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".trend-table tfoot td.total")).to_have_text(["60"])
    expect(property_field.locator(".field-error")).to_be_hidden()


def test_the_funnel_page_draws_a_bar_per_step(page, live_server, log_in, owner, member):
    project = shop(owner, member)
    log_in(member)
    open_with_htmx(page, f"/projects/{project.slug}/analysis/funnels/")
    expect(page.locator(".segmented input[value='30d']")).to_be_checked()  # a funnel looks a month back
    page.locator("input[name='steps.0.event']").fill("view")
    page.locator("input[name='steps.1.event']").fill("cart")
    page.get_by_role("button", name="+ Add step").click()
    page.locator("input[name='steps.2.event']").fill("purchase")
    page.get_by_role("button", name="Run", exact=True).click()
    bars = page.locator(".funnel-bar rect.fill")
    expect(bars).to_have_count(3)
    expect(page.locator(".funnel-count")).to_have_text(["6", "4", "4"])
    assert [bars.nth(index).get_attribute("width") for index in range(3)] == ["100.00", "66.67", "66.67"]
    box = page.locator(".funnel-bar").first.bounding_box()
    assert box and box["width"] > 300
    expect(page.locator(".funnel-summary .conversion")).to_have_text("66.7 %")
    expect(page.locator(".funnel-facts").nth(1)).to_contain_text("5 min")

    page.locator(".segmented label", has_text="7D").click()
    expect(page).to_have_url(re.compile(r"date_range\.range=7d"))
    expect(page.locator(".funnel-count")).to_have_text(["4", "2", "2"])
    expect(page.locator(".funnel-summary .conversion")).to_have_text("50 %")
