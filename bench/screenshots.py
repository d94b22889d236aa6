"""Take the README's screenshots from a running Beacon with the demo data.

    .venv/bin/python manage.py seed_demo
    .venv/bin/python manage.py runserver 127.0.0.1:8000 --insecure   # --insecure: serve CSS with DEBUG off
    .venv/bin/python bench/screenshots.py --base-url http://127.0.0.1:8000

Chromium is the system one, launched exactly as the browser tests launch it (tests/e2e/conftest.py;
BEACON_CHROMIUM overrides its path). Writes docs/screenshots/{login,projects,project-overview,api-keys,plan,plan-event,plan-violations,live,
debug-session,release,trends,funnel,retention,dashboard,sql-console,signup}.png. Sends a few events with the write key it creates (for the live pages).
"""

import argparse
import json
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.e2e.conftest import chromium_launch_options, find_chromium  # noqa: E402

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "beacon-demo"
DEMO_PROJECT = "demo-shop"
VIEWPORT = {"width": 1280, "height": 800}


def _click(device: str, **properties) -> dict:
    return {
        "environment": "production",
        "event": "product_click",
        "device_id": device,
        "properties": properties,
    }


LIVE_EVENTS = [
    {
        "environment": "production",
        "event": "page_view",
        "device_id": "iphone-15-ben",
        "properties": {"path": "/"},
    },
    _click("iphone-15-ben", product_id="sku-1042", name="Trail shoe", position=2, list="home"),
    _click("pixel-7-anna", product_id="sku-77", name="Rain jacket", position="3", list="homepage"),
    {"environment": "production", "event": "wishlist_shared", "device_id": "pixel-7-anna", "properties": {}},
]
DEBUG_EVENTS = [
    {"environment": "production", "event": "page_view", "properties": {"path": "/"}},
    _click("", product_id="sku-1042", name="Trail shoe", position=1, list="home"),
    _click("", product_id="sku-77", name="Rain jacket", list="home"),
]


def send(base_url: str, key: str, event: dict, *, sync: bool = False) -> None:
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/track{'?sync=true' if sync else ''}",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def take_screenshots(*, base_url: str, out_dir: Path, username: str, password: str) -> list[Path]:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("Chromium not installed: apt-get install -y chromium (or set BEACON_CHROMIUM)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def shoot(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        path = out_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options(chromium))
        try:
            page = browser.new_page(base_url=base_url.rstrip("/"), viewport=VIEWPORT)
            page.goto("/accounts/login/")
            expect(page.locator("input[name=username]")).to_be_visible()
            shoot(page, "login")

            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base_url.rstrip('/')}/")
            expect(page.get_by_role("link", name="Demo shop")).to_be_visible()
            shoot(page, "projects")

            response = page.goto(f"/projects/{DEMO_PROJECT}/")
            if response is None or not response.ok:
                raise SystemExit(f"/projects/{DEMO_PROJECT}/ answered {response and response.status}")
            page.wait_for_function("() => window.htmx !== undefined")
            expect(page.locator(".bars .bar").first).to_be_visible()
            shoot(page, "project-overview")

            # A new write key on the keys page: shown once, with the SDK snippets.
            page.goto(f"/projects/{DEMO_PROJECT}/keys/")
            page.select_option("select[name=kind]", "write")
            page.fill("input[name=name]", "Screenshot key")
            page.get_by_role("button", name="Create key").click()
            expect(page.locator("#new-key")).to_be_visible()
            shoot(page, "api-keys")
            write_key = page.locator("#raw-key-write").inner_text().strip()

            # The tracking plan: the list, an event with its properties, the violations report.
            page.goto(f"/projects/{DEMO_PROJECT}/plan/")
            expect(page.locator("#plan-results table")).to_be_visible()
            shoot(page, "plan")
            page.get_by_role("link", name="purchase").click()
            expect(page.locator("#properties table")).to_be_visible()
            shoot(page, "plan-event")
            page.goto(f"/projects/{DEMO_PROJECT}/plan/violations/")
            expect(page.locator("table.violations")).to_be_visible()
            shoot(page, "plan-violations")

            # Verification: the live inspector as events arrive, a debug session, a release's report.
            page.goto(f"/projects/{DEMO_PROJECT}/live/?environment=production")
            page.wait_for_function("() => window.htmx !== undefined")
            page.get_by_role("button", name="Clear").click()  # what an earlier run left in the feed
            for event in LIVE_EVENTS:
                send(base_url, write_key, event)
            expect(page.locator("details.live-row")).to_have_count(len(LIVE_EVENTS), timeout=5000)
            invalid_click = page.locator("details.live-row.bad", has_text="product_click")
            invalid_click.locator("summary").click()
            expect(invalid_click.locator("table.fields")).to_be_visible()
            page.get_by_role("button", name="Pause").click()
            shoot(page, "live")

            page.goto(f"/projects/{DEMO_PROJECT}/debug/")
            page.get_by_label("Device id").fill("pixel-7-anna")
            page.get_by_label("App URL").fill("https://shop.example/")
            page.get_by_label("Label").fill("Checkout on Android")
            page.get_by_role("button", name="Start session").click()
            expect(page.locator(".debug-link svg")).to_be_visible()
            for event in DEBUG_EVENTS:
                send(base_url, write_key, {**event, "device_id": "pixel-7-anna"}, sync=True)
            page.reload()
            expect(page.locator("#session-report table.rules")).to_be_visible()
            shoot(page, "debug-session")

            page.goto(f"/projects/{DEMO_PROJECT}/releases/")
            page.get_by_role("link", name="Shop 1.6.0-rc.1").first.click()
            expect(page.locator("table").first).to_be_visible()
            shoot(page, "release")

            base = f"/projects/{DEMO_PROJECT}/analysis"
            page.goto(
                f"{base}/trends/?series.0.event=page_view&series.1.event=purchase&series.1.math=users"
                "&interval=hour&date_range.range=7d&environment=production&compare=1"
            )
            expect(page.locator("[data-chart] canvas")).to_be_visible()
            shoot(page, "trends")
            page.goto(f"{base}/")
            page.get_by_role("link", name="Click to purchase").first.click()
            expect(page.locator(".funnel-count").first).to_be_visible()
            shoot(page, "funnel")
            page.goto(f"{base}/")
            page.get_by_role("link", name="Signups who come back to buy").first.click()
            expect(page.locator("table.retention-table")).to_be_visible()
            shoot(page, "retention")
            page.goto(f"{base}/dashboards/")
            page.get_by_role("link", name="Shop overview").first.click()
            expect(page.locator(".kpi-value").first).to_be_visible()
            expect(page.locator(".tile [data-chart] canvas").first).to_be_visible()
            page.wait_for_load_state("networkidle")
            shoot(page, "dashboard")
            page.goto(f"/projects/{DEMO_PROJECT}/sql/")
            page.get_by_role("button", name="Run").click()
            expect(page.locator("table.console-rows")).to_be_visible()
            shoot(page, "sql-console")

            alerts = f"/projects/{DEMO_PROJECT}/alerts"
            page.goto(f"{alerts}/")
            expect(page.locator("table").first).to_be_visible()
            shoot(page, "alert-rules")
            page.get_by_role("link", name="Cart to purchase below 20 %").first.click()
            expect(page.locator("[data-alert-chart] canvas")).to_be_visible()
            shoot(page, "alert-rule")
            page.goto(f"{alerts}/channels/")
            expect(page.locator("table").first).to_be_visible()
            shoot(page, "alert-channels")
            page.goto(f"{alerts}/history/")
            page.locator("table.alert-events tbody tr a").first.click()
            page.get_by_role("button", name="Acknowledge").click()
            page.get_by_label("Add a comment").fill(
                "Known: the 1.6.0-rc.1 build sends prices as text. Fix in rc.2."
            )
            page.get_by_role("button", name="Comment").click()
            expect(page.locator(".comment").first).to_be_visible()
            shoot(page, "alert-event")

            # The inspector first: its feed is filled only while someone watches.
            page.goto(f"/projects/{DEMO_PROJECT}/live/?environment=production")
            page.wait_for_function("() => window.htmx !== undefined")
            shop = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 800})
            shop.goto("/demo/shop/")
            shop.get_by_role("button", name="Add to cart").first.click()
            shop.get_by_role("link", name="Ultralight tent").click()
            expect(shop.get_by_role("heading", name="Ultralight tent")).to_be_visible()
            shop.evaluate("() => beacon.flush()")
            shop.screenshot(path=str(out_dir / "demo-shop.png"))
            written.append(out_dir / "demo-shop.png")
            expect(page.locator("text=add_to_cart").first).to_be_visible(timeout=15_000)
            shoot(page, "live-shop")

            page.context.clear_cookies()
            page.goto("/signup/")
            expect(page.locator("input[name=email]")).to_be_visible()
            shoot(page, "signup")
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--username", default=DEMO_USERNAME)
    parser.add_argument("--password", default=DEMO_PASSWORD)
    args = parser.parse_args()
    for path in take_screenshots(
        base_url=args.base_url, out_dir=args.out, username=args.username, password=args.password
    ):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
