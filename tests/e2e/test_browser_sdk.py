"""beacon.js in a real Chromium: the demo shop against a live Beacon, its events read back from the
database after the ingest writer ran (clicks, history navigation, identify, offline and back,
a hidden page's beacon, a JS error), with their context, and none twice."""

import collections

import pytest
from playwright.sync_api import expect

from analytics.demo_shop import ShopConfig, save_config
from analytics.ingest.dialects import PAGEVIEW
from tests.analytics.ingest import drain, new_key, person_of, stored_events, wait_for
from tests.conftest import make_project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(owner, streams):
    project = make_project(owner=owner)
    save_config(ShopConfig(write_key=new_key(project, owner), environment="production", project=project.slug))
    return project


def events_of(project) -> list[dict]:
    drain()
    return stored_events(project)


def names(events) -> collections.Counter:
    return collections.Counter(event["event"] for event in events)


def flush(page) -> None:
    page.evaluate("() => beacon.flush()")


def test_the_demo_shop_reports_a_visit_through_beacon_js(page, live_server, shop):
    ingest_requests = []
    page.on("request", lambda request: ingest_requests.append(request) if "/track" in request.url else None)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/demo/shop/")
    expect(page.get_by_role("heading", name="Gear for the trail")).to_be_visible()

    # A product card: `data-track` sends product_click; the shop routes with history.pushState.
    page.get_by_role("link", name="Ultralight tent").click()
    expect(page).to_have_url(f"{live_server.url}/demo/shop/products/sku-1003")
    page.get_by_role("button", name="Add to cart").click()
    page.go_back()  # popstate: the list again
    expect(page.get_by_role("heading", name="Gear for the trail")).to_be_visible()
    page.get_by_role("link", name="Cart (1)").click()
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill("Anna@Example.com")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    flush(page)
    events = wait_for(lambda: (found := events_of(shop)) and names(found)["purchase"] == 1 and found)

    # Offline: events wait in the queue (and localStorage); back online they are delivered.
    page.context.set_offline(True)
    page.evaluate("() => beacon.track('offline_click', {n: 1})")
    page.evaluate("() => beacon.flush().catch(() => null)")
    assert page.evaluate("() => JSON.stringify(localStorage).includes('offline_click')")
    assert names(events_of(shop))["offline_click"] == 0
    page.context.set_offline(False)
    wait_for(
        lambda: names(events_of(shop))["offline_click"] == 1, message="the offline event after reconnecting"
    )

    # A JS error is reported as $exception.
    page.evaluate("() => beacon.init && setTimeout(() => { throw new Error('boom from the test') }, 0)")
    page.wait_for_timeout(200)
    flush(page)
    wait_for(lambda: names(events_of(shop))["$exception"] == 1, message="the $exception event")

    # The page is hidden: what is queued leaves with sendBeacon, the key in the query string.
    page.evaluate("() => beacon.track('last_words', {when: 'hidden'})")
    page.evaluate(
        """() => {
            Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    wait_for(lambda: names(events_of(shop))["last_words"] == 1, message="the beaconed event")
    assert any("apiKey=" in request.url for request in ingest_requests)
    page.wait_for_timeout(500)  # anything sent twice would arrive now

    events = events_of(shop)
    counts = names(events)
    assert counts["product_click"] == 1 and counts["add_to_cart"] == 1 and counts["purchase"] == 1
    assert counts["$identify"] == 1 and counts["offline_click"] == 1 and counts["last_words"] == 1
    assert counts[PAGEVIEW] >= 4 and counts["page_view"] >= 4  # list, product, list, cart, checkout
    assert len({event["message_id"] for event in events}) == len(events)

    click = next(event for event in events if event["event"] == "product_click")
    assert click["properties"] == {
        "product_id": "sku-1003",
        "name": "Ultralight tent",
        "position": 3,
        "list": "home",
    }
    cart = next(event for event in events if event["event"] == "add_to_cart")
    assert cart["properties"] == {"product_id": "sku-1003", "price": 349.0, "quantity": 1}
    context = cart["context"]
    assert context["library"]["name"] == "beacon.js" and context["app_version"] == "1.5.0"
    assert context["page"]["path"] == "/demo/shop/products/sku-1003"
    assert context["screen"]["width"] > 0 and context["locale"] and context["device"]["type"] == "desktop"
    assert context["browser"] == "Chrome" or "Chrom" in context.get("user_agent", "")

    # One person: the anonymous visitor before checkout and the shopper after it.
    purchase = next(event for event in events if event["event"] == "purchase")
    assert purchase["distinct_id"] == "anna@example.com"
    assert person_of(shop, cart["distinct_id"]) == person_of(shop, "anna@example.com")
    assert all(event["session_id"] == cart["session_id"] for event in events)
    exception = next(event for event in events if event["event"] == "$exception")
    assert "boom from the test" in exception["properties"]["message"]
    assert not [error for error in errors if "boom from the test" not in error]
    # The shop turned web vitals on: reported once, when the page was hidden, with the beacon.
    [vitals] = [event for event in events if event["event"] == "$web_vitals"]
    assert vitals["properties"]["ttfb"] >= 0 and vitals["properties"]["fcp"] > 0
