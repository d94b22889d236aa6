"""The pages as a user sees them, in a real Chromium: login, the projects list, the project overview."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from analytics.storage import get_store
from tests.analytics.events import event
from tests.conftest import make_project

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-unused-123"  # tests.conftest.make_user gives every user this password
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
THREE_DAYS_AGO = TODAY - timedelta(days=3) + timedelta(hours=12)
YESTERDAY = TODAY - timedelta(days=1) + timedelta(hours=12)


def insert_events(project, *times_and_names: tuple[datetime, str]) -> None:
    store = get_store()
    store.insert_events([event(project, time=time, name=name) for time, name in times_and_names])
    store.refresh_rollups()


def bar_title(day: datetime, total: int) -> str:
    """The overview's bar tooltip, `{{ day|date:'D j M' }}: {{ total }} events`."""
    return f"{day:%a} {day.day} {day:%b}: {total} events"


def open_with_htmx(page, path: str) -> None:
    """Open a page and wait for htmx; if it never loads, say what went wrong in the browser."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url} {request.failure}"))
    page.on("response", lambda response: response.ok or problems.append(f"{response.status} {response.url}"))
    page.goto(path)
    try:
        page.wait_for_function("() => window.htmx !== undefined", timeout=10_000)
    except PlaywrightTimeoutError:
        pytest.fail(f"htmx never loaded on {path}: {problems or 'no browser error reported'}")


def events_section(page):
    return page.locator("section[hx-get]")


def test_it_logs_in_and_shows_only_the_users_projects_and_their_events(page, live_server, owner, outsider):
    project = make_project(owner=owner)
    others = make_project(owner=outsider)
    insert_events(
        project,
        *[(THREE_DAYS_AGO + timedelta(minutes=minute), "page_view") for minute in range(3)],
        (THREE_DAYS_AGO, "signup_completed"),
        *[(YESTERDAY + timedelta(minutes=minute), "page_view") for minute in range(2)],
    )

    page.goto("/accounts/login/")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("nav")).to_contain_text(owner.email)
    projects = page.locator("table.table tbody tr")
    expect(projects).to_have_count(1)
    expect(projects.first).to_contain_text(project.name)
    expect(projects.first.locator("td.num")).to_have_text("6")
    expect(page.locator("main")).not_to_contain_text(others.name)

    page.get_by_role("link", name=project.name).click()

    expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/")
    expect(page.locator("h1")).to_contain_text(project.name)
    bars = page.locator(".bars .bar")
    expect(bars).to_have_count(2)
    expect(bars.nth(0)).to_have_attribute("title", bar_title(THREE_DAYS_AGO, 4))
    expect(bars.nth(1)).to_have_attribute("title", bar_title(YESTERDAY, 2))
    expect(bars.nth(0).locator(".fill")).to_have_attribute("style", "height: 100%")
    expect(bars.nth(1).locator(".fill")).to_have_attribute("style", "height: 50%")
    rows = events_section(page).locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(["page_view", "5", "1"])
    expect(rows.nth(1).locator("td")).to_have_text(["signup_completed", "1", "1"])


def test_it_rejects_a_wrong_password_on_the_login_page(page, owner):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.locator(".error")).to_contain_text("didn't match")
    expect(page.locator("nav")).not_to_contain_text(owner.email)


def test_it_refreshes_the_events_table_in_place_with_htmx(page, log_in, owner):
    project = make_project(owner=owner)
    insert_events(project, (YESTERDAY, "page_view"))
    log_in(owner)
    open_with_htmx(page, f"/projects/{project.slug}/")

    hx_headers = json.loads(page.locator("body").get_attribute("hx-headers"))
    csrf_token = hx_headers["X-CSRFToken"]
    assert len(csrf_token) == 64 and csrf_token.isalnum()
    section = events_section(page)
    expect(section).to_have_attribute("hx-get", f"/projects/{project.slug}/")
    expect(section).to_have_attribute("hx-trigger", "every 30s")
    expect(section).not_to_contain_text("checkout_started")

    insert_events(project, (YESTERDAY + timedelta(minutes=5), "checkout_started"))
    page.evaluate("() => { window.__marker = 1 }")
    with page.expect_request(lambda request: "hx-request" in request.headers) as refresh:
        page.evaluate(
            """() => htmx.ajax('GET', location.pathname,
                               {target: document.querySelector('section[hx-get]'), swap: 'innerHTML'})"""
        )

    expect(section.locator("tbody tr")).to_have_count(2)
    expect(section).to_contain_text("checkout_started")
    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded instead of swapped"
    assert refresh.value.headers["x-csrftoken"] == csrf_token
    # The server answered with the fragment, not the whole page nested inside the section.
    expect(section.locator("h2")).to_have_count(1)
    expect(section.locator("nav, h1")).to_have_count(0)


def test_it_polls_the_events_table_every_30_seconds(page, log_in, owner):
    project = make_project(owner=owner)
    insert_events(project, (YESTERDAY, "page_view"))
    log_in(owner)
    page.clock.install()
    open_with_htmx(page, f"/projects/{project.slug}/")
    page.evaluate("() => { window.__marker = 1 }")

    insert_events(project, (YESTERDAY + timedelta(minutes=5), "checkout_started"))
    page.clock.run_for(25_000)
    expect(events_section(page)).not_to_contain_text("checkout_started")
    page.clock.run_for(6_000)

    expect(events_section(page)).to_contain_text("checkout_started")
    assert page.evaluate("() => window.__marker") == 1


def test_it_shows_a_404_to_an_outsider_opening_another_orgs_project(page, log_in, owner, outsider):
    project = make_project(owner=owner)
    make_project(owner=outsider)
    log_in(outsider)

    response = page.goto(f"/projects/{project.slug}/")

    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text(project.name)
    expect(page.locator("body")).not_to_contain_text(project.organization.name)


def test_it_shows_a_project_to_a_member_of_its_organization(page, log_in, owner, member):
    project = make_project(owner=owner, member=member)
    log_in(member)

    response = page.goto(f"/projects/{project.slug}/")

    assert response.status == 200
    expect(page.locator("h1")).to_contain_text(project.name)


def test_it_sends_an_anonymous_visitor_to_the_login_page(page, live_server):
    response = page.goto("/")

    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    assert response.status == 200
    assert response.request.redirected_from.url == f"{live_server.url}/"
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_be_visible()
