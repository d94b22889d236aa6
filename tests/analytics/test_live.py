"""The live inspector: its Redis feed (on only while watched), sampling, filters, the field-by-field
check against the current plan, and its pages."""

import re

import pytest
from django.test import Client

from analytics.ingest import buffer
from analytics.plan.models import EventDefinition, PropertyDefinition, PropertyType
from analytics.plan.runtime import bump_plan_version
from analytics.verification import live
from analytics.verification.inspection import BAD, OK, SDK, inspect, plan_for
from config.redis import get_redis
from tests.analytics.ingest import new_key, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(project):
    return project.environments.get(slug="production")


@pytest.fixture
def planned(project, django_capture_on_commit_callbacks):
    """`product_clicked` with a required integer `position`, a required string `product_id`, and an
    `item` object whose `price` is a number."""
    with django_capture_on_commit_callbacks(execute=True):
        event = EventDefinition.objects.create(project=project, name="product_clicked")
        PropertyDefinition.objects.create(event=event, name="product_id", required=True)
        PropertyDefinition.objects.create(
            event=event, name="position", type=PropertyType.INTEGER, required=True
        )
        item = PropertyDefinition.objects.create(event=event, name="item", type=PropertyType.OBJECT)
        PropertyDefinition.objects.create(parent=item, name="price", type=PropertyType.NUMBER)
        bump_plan_version(project.id)
    project.refresh_from_db()
    return event


def click(**properties) -> dict:
    return {
        "environment": "production",
        "event": "product_clicked",
        "distinct_id": "u1",
        "device_id": properties.pop("device_id", "phone-1"),
        "properties": properties,
    }


def everything(record) -> bool:
    return True


def read(project, environment, cursor="", matches=everything, limit=50) -> live.Page:
    return live.read(project.id, environment.id, cursor=cursor, matches=matches, limit=limit)


def test_it_feeds_nothing_while_nobody_watches(client, project, owner, production, streams):
    key = new_key(project, owner)
    assert post(client, "/track", click(product_id="p1", position=1), key=key).status_code == 200
    watch_key, stream, counter = buffer.feed_keys(project.id, production.id)
    assert not get_redis().exists(stream, counter)
    assert read(project, production).events == []  # reading starts watching...
    assert get_redis().ttl(watch_key) > 0
    post(client, "/track", click(product_id="p2", position=2), key=key)
    [shown] = read(project, production).events  # ...so the next request is fed
    assert shown.record.properties["product_id"] == "p2"


def test_a_poll_shows_only_what_arrived_after_its_cursor_newest_first(
    client, project, owner, production, streams
):
    key = new_key(project, owner)
    first = read(project, production)
    post(client, "/track", [click(product_id="a", position=1), click(product_id="b", position=2)], key=key)
    post(client, "/track", click(product_id="c", position=3), key=key)
    page = read(project, production, cursor=first.cursor)
    assert [item.record.properties["product_id"] for item in page.events] == ["c", "b", "a"]
    assert page.arrived == 3 and not page.sampled
    post(client, "/track", click(product_id="d", position=4), key=key)
    later = read(project, production, cursor=page.cursor)
    assert [item.record.properties["product_id"] for item in later.events] == ["d"]
    assert read(project, production, cursor=later.cursor).events == []


def test_sync_requests_are_fed_too(client, project, owner, production, streams):
    key = new_key(project, owner)
    start = read(project, production)
    assert post(client, "/track?sync=true", click(product_id="s", position=1), key=key).status_code == 200
    [shown] = read(project, production, cursor=start.cursor).events
    assert shown.record.properties["product_id"] == "s"


def test_at_high_volume_a_poll_shows_a_sample_and_says_how_many_arrived(
    client, project, owner, production, streams
):
    key = new_key(project, owner)
    start = read(project, production)
    for batch in range(3):
        post(client, "/track", [click(product_id=f"{batch}-{n}", position=n) for n in range(100)], key=key)
    page = read(project, production, cursor=start.cursor, limit=50)
    assert len(page.events) == 50 and page.arrived == 300 and page.matched == 300 and page.sampled
    assert page.events[0].record.properties["product_id"] == "2-99"  # the newest


def test_a_request_too_large_for_the_feed_is_counted_not_shown(
    client, project, owner, production, streams, settings
):
    settings.LIVE_MAX_ENTRY_BYTES = 2048
    key = new_key(project, owner)
    start = read(project, production)
    post(client, "/track", [click(product_id="x" * 100, position=n) for n in range(40)], key=key)
    post(client, "/track", click(product_id="small", position=1), key=key)
    page = read(project, production, cursor=start.cursor)
    assert [item.record.properties["product_id"] for item in page.events] == ["small"]
    assert page.too_large == 40 and page.arrived == 41 and page.sampled


def test_beyond_its_requests_per_second_the_feed_counts_and_does_not_copy(
    client, project, owner, production, streams, settings
):
    settings.LIVE_MAX_ENTRIES_PER_SECOND = 2
    key = new_key(project, owner)
    start = read(project, production)
    for n in range(5):  # within a second or two: at least one request is counted, not copied
        post(client, "/track", click(product_id=f"p{n}", position=n), key=key)
    page = read(project, production, cursor=start.cursor)
    assert page.arrived == 5 and page.sampled
    assert 2 <= len(page.events) <= 4 and page.fed == len(page.events)


def test_filters_match_part_of_the_event_name_and_exact_ids(client, project, owner, production, streams):
    key = new_key(project, owner)
    start = read(project, production)
    post(
        client,
        "/track",
        [
            click(product_id="mine", position=1, device_id="my-phone"),
            click(product_id="theirs", position=1, device_id="my-phone-2"),
            {"environment": "production", "event": "signed_up", "device_id": "my-phone", "properties": {}},
        ],
        key=key,
    )
    mine = read(project, production, cursor=start.cursor, matches=live.Filters(device_id="my-phone"))
    assert [item.record.event for item in mine.events] == ["signed_up", "product_clicked"]
    clicks = read(
        project, production, cursor=start.cursor, matches=live.Filters(event="CLICK", device_id="my-phone")
    )
    assert [item.record.properties["product_id"] for item in clicks.events] == ["mine"]
    assert clicks.matched == 1


def test_the_feed_is_capped_and_find_says_when_an_event_left_it(
    client, project, owner, production, streams, settings
):
    settings.LIVE_MAX_ENTRIES = 10
    key = new_key(project, owner)
    read(project, production)
    post(client, "/track", click(product_id="first", position=1), key=key)
    [first] = read(project, production).events
    assert (
        live.find(project.id, production.id, first.entry_id, first.index).properties["product_id"] == "first"
    )
    for n in range(300):
        post(client, "/track", click(product_id=f"p{n}", position=n), key=key)
    assert (
        get_redis().xlen(buffer.feed_keys(project.id, production.id)[1]) < 150
    )  # MAXLEN ~ trims in whole nodes
    assert live.find(project.id, production.id, first.entry_id, first.index) is None
    assert live.find(project.id, production.id, "not-an-id", 0) is None
    assert live.find(project.id, production.id, "99999999999999999999-0", 0) is None


def test_environments_have_separate_feeds(client, project, owner, production, streams):
    staging = project.environments.get(slug="staging")
    read(project, production)
    read(project, staging)
    post(
        client,
        "/track",
        {**click(product_id="s", position=1), "environment": "staging"},
        key=new_key(project, owner, environment="staging"),
    )
    assert read(project, production).events == []
    assert [item.record.properties["product_id"] for item in read(project, staging).events] == ["s"]


def test_a_cursor_from_elsewhere_is_treated_as_no_cursor():
    assert live.Cursor.parse("garbage") == live.Cursor()
    assert live.Cursor.parse("1-0/x") == live.Cursor()
    assert live.Cursor.parse("1-1/²") == live.Cursor() and live.Cursor.parse("١-١/0") == live.Cursor()
    assert str(live.Cursor.parse("1700000000000-3/42")) == "1700000000000-3/42"


# --- field by field against the plan ---------------------------------------------------------------


def _record(project, production, **properties):
    from datetime import UTC, datetime

    from analytics.storage.base import EventRecord

    now = datetime.now(UTC)
    return EventRecord(
        now, now, project.id, production.id, "product_clicked", "m1", properties=properties, context={}
    )


def test_each_field_is_marked_against_the_current_plan(project, production, planned):
    record = _record(
        project,
        production,
        product_id="p1",
        position="3",
        item={"price": 9.5, "colour": "red"},
        coupon="X",
        note="mail me at ann@example.com",
        **{"$lib": "web"},
    )
    inspection = inspect(plan_for(project), record)
    marks = {field.path: (field.mark, " ".join(field.reasons)) for field in inspection.properties}
    assert marks["product_id"] == (OK, "string, as planned")
    assert marks["position"][0] == BAD and "integer" in marks["position"][1]
    assert marks["item"][0] == OK and marks["item.price"] == (OK, "number, as planned")
    assert marks["item.colour"][0] == BAD and "not in the plan" in marks["item.colour"][1]
    assert (
        marks["coupon"][0] == BAD and "not in the plan" in marks["coupon"][1]
    )  # not only the first unplanned
    assert marks["note"][0] == BAD and "email" in marks["note"][1]
    assert marks["$lib"][0] == SDK
    assert not inspection.valid and inspection.planned


def test_a_missing_required_property_gets_its_own_row(project, production, planned):
    inspection = inspect(plan_for(project), _record(project, production, product_id="p1"))
    [missing] = [field for field in inspection.properties if field.path == "position"]
    assert missing.mark == BAD and missing.value == "(missing)" and "required" in missing.reasons[0]


def test_an_unplanned_event_says_so_and_without_a_plan_nothing_is_checked(project, production, planned):
    record = _record(project, production, anything=1)._replace(event="mystery")
    inspection = inspect(plan_for(project), record)
    assert [v.kind for v in inspection.event_violations] == ["unplanned_event"] and not inspection.planned
    unplanned = inspect(None, record)
    assert unplanned.valid and not unplanned.has_plan


# --- the pages -------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_inspector_page_shows_events_with_their_marks_and_polls_for_more(
    client, project, owner, viewer, production, planned, streams
):
    page = _client(viewer).get(f"/projects/{project.slug}/live/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'hx-trigger="every 1s' in html and "Waiting for events?" in html
    cursor = re.search(r'id="live-cursor" value="([^"]*)"', html).group(1)
    key = new_key(project, owner)
    post(client, "/track", [click(product_id="ok", position=1), click(product_id="bad")], key=key)
    polled = _client(viewer).get(
        f"/projects/{project.slug}/live/poll/", {"environment": "production", "cursor": cursor}
    )
    body = polled.content.decode()
    assert body.count('class="live-row good"') == 1 and body.count('class="live-row bad"') == 1
    assert "`position` is required." in body
    assert 'hx-swap-oob="true"' in body and "2 events arrived" in body
    only_invalid = _client(viewer).get(
        f"/projects/{project.slug}/live/poll/",
        {"environment": "production", "cursor": cursor, "invalid": "1"},
    )
    assert only_invalid.content.decode().count('class="live-row') == 1


def test_expanding_a_row_shows_every_field_with_its_reason(
    client, project, owner, viewer, production, planned, streams
):
    read(project, production)
    post(client, "/track", click(product_id="p1", position="first"), key=new_key(project, owner))
    [item] = read(project, production).events
    detail = _client(viewer).get(
        f"/projects/{project.slug}/live/events/{item.entry_id}/{item.index}/", {"environment": "production"}
    )
    html = detail.content.decode()
    assert detail.status_code == 200
    assert re.search(r'data-path="product_id">\s*<td class="mark ok">✓', html)
    assert re.search(r'data-path="position">\s*<td class="mark bad">✗', html)
    assert "At ingestion: stored, violations recorded" in html
    gone = _client(viewer).get(f"/projects/{project.slug}/live/events/1-0/0/", {"environment": "production"})
    assert "left the live feed" in gone.content.decode()


def test_outsiders_and_unknown_environments_get_404(project, outsider, viewer, streams):
    for path in ("live/", "live/poll/", "live/events/1-0/0/"):
        assert _client(outsider).get(f"/projects/{project.slug}/{path}").status_code == 404
    assert _client(viewer).get(f"/projects/{project.slug}/live/", {"environment": "nope"}).status_code == 404
    assert Client().get(f"/projects/{project.slug}/live/").status_code == 302  # to the login page
