"""Every main page under Beacon's Content-Security-Policy, in a real Chromium: no page may trip it.

Each page records `securitypolicyviolation` events (an init script, before any of the page's own) and
console errors naming the Content Security Policy; the test opens the pages one after another and
lists every violation at the end. The behaviours moved out of inline handlers for the CSP
(static/js/page.js, console.js, live.js) are exercised too.
"""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from analytics.demo_shop import ShopConfig, save_config
from analytics.views.insights import builder_url
from config.security import CONTENT_SECURITY_POLICY
from tests.analytics.ingest import new_key
from tests.e2e.test_analysis import shop
from tests.security.objects import build_world

pytestmark = pytest.mark.django_db(transaction=True)

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile}:${event.lineNumber}) ${event.sample}`
  );
});
"""
# Long enough for load-triggered htmx requests and the charts to run after the load event.
SETTLE_MS = 800


class Watcher:
    """The CSP violations and script errors of every page a test opens."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error: {error}"))

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"{self.page.url}: console: {message.text}")

    def open(self, path: str, ready: str | None = None) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status < 400, f"{path}: {response and response.status}"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        if ready:
            try:
                self.page.locator(ready).first.wait_for(state="visible", timeout=10_000)
            except PlaywrightTimeoutError:
                self.problems.append(f"{path}: never showed {ready}")
        self.page.wait_for_timeout(SETTLE_MS)
        self.collect()

    def collect(self) -> None:
        for violation in self.page.evaluate("() => window.__cspViolations || []"):
            self.problems.append(f"{self.page.url}: {violation}")
        self.page.evaluate("() => { window.__cspViolations = []; }")


def test_no_page_trips_the_content_security_policy(page, live_server, log_in, owner, member, streams):
    project = shop(owner, member)
    world = build_world(project, owner)
    ids = world.ids
    save_config(ShopConfig(write_key=new_key(project, owner), environment="production", project=project.slug))
    base = f"/projects/{project.slug}"
    trend = {
        "series": [{"event": "purchase"}],
        "date_range": {"range": "30d"},
        "breakdown": {"property": "plan"},
    }
    funnel = {
        "steps": [{"event": "view"}, {"event": "cart"}, {"event": "purchase"}],
        "date_range": {"range": "30d"},
    }
    retention = {"cohort_event": "view", "return_event": "purchase", "date_range": {"range": "30d"}}
    watcher = Watcher(page)

    log_in(member)
    pages = [
        (f"{base}/", "h1"),
        (f"{base}/keys/", "h1"),
        (f"{base}/plan/", "h1"),
        (f"{base}/plan/events/{ids['event_id']}/", "#event-alerts"),
        (f"{base}/plan/violations/", "h1"),
        (f"{base}/plan/unplanned/", "h1"),
        (f"{base}/plan/versions/", "h1"),
        (f"{base}/live/", "#live-toggle"),
        (f"{base}/debug/", "h1"),
        (f"{base}/debug/{ids['session_id']}/", "#session-report"),
        (f"{base}/releases/", "h1"),
        (f"{base}/releases/{ids['release_id']}/", "h1"),
        (f"{base}/analysis/", "h1"),
        (builder_url(project, "trend", trend), "[data-chart] canvas"),
        (builder_url(project, "funnel", funnel), "h1"),
        (builder_url(project, "retention", retention), "h1"),
        (f"{base}/analysis/insights/{ids['insight_id']}/", "h1"),
        (f"{base}/analysis/dashboards/", "h1"),
        (f"{base}/analysis/dashboards/{ids['dashboard_id']}/", ".tile"),
        (f"{base}/sql/", "#sql-query"),
        (f"{base}/alerts/", "h1"),
        (f"{base}/alerts/rules/{ids['rule_id']}/", "#rule-preview"),
        (f"{base}/alerts/rules/new/", "h1"),
        (f"{base}/alerts/channels/", "h1"),
        (f"{base}/alerts/history/", "h1"),
        (f"{base}/alerts/history/{ids['alert_event_id']}/", "h1"),
        ("/demo/shop/", "h1"),
        ("/api/docs/", ".swagger-ui .info"),
    ]
    for path, ready in pages:
        watcher.open(path, ready)

    # What inline handlers did before the CSP, now from static/js: Ctrl+Enter runs the SQL console...
    watcher.open(f"{base}/sql/", "#sql-query")
    page.fill("#sql-query", "SELECT 41 + 1 AS answer")
    page.press("#sql-query", "Control+Enter")
    expect(page.locator("#console-result")).to_contain_text("42")
    # ...a filter of the violations page submits itself...
    watcher.open(f"{base}/plan/violations/", "h1")
    page.select_option("select[name=days]", "30")
    expect(page).to_have_url(f"{live_server.url}{base}/plan/violations/?days=30&environment=&kind=")
    # ...the live inspector's environment switch reloads the page...
    watcher.open(f"{base}/live/", "#live-toggle")
    page.select_option("#live-filters select[name=environment]", "staging")
    expect(page).to_have_url(f"{live_server.url}{base}/live/?environment=staging")
    # ...and deleting a dashboard asks first (dismissed: it stays).
    watcher.open(f"{base}/analysis/dashboards/", "h1")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").first.click()
    page.wait_for_timeout(300)
    assert questions and questions[0].startswith("Delete the dashboard")
    expect(page).to_have_url(f"{live_server.url}{base}/analysis/dashboards/")
    watcher.collect()

    # Owner-only pages, and the Django admin as staff.
    log_in(owner)
    for path in (
        f"{base}/settings/",
        f"/orgs/{project.organization.slug}/members/",
        f"/orgs/{project.organization.slug}/audit/",
    ):
        watcher.open(path, "h1")
    staff = get_user_model().objects.create_superuser("csp-staff", "staff@example.com", "pw-unused-123")
    log_in(staff)
    for path in ("/admin/", "/admin/projects/project/", f"/admin/projects/project/{project.id}/change/"):
        watcher.open(path, "#content")

    assert not watcher.problems, "Content-Security-Policy violations:\n" + "\n".join(watcher.problems)
