"""Server-side enrichment and event times: user agent, library, page, app version, IP, clock skew."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from analytics.ingest.timestamps import parse_timestamp
from projects.actions import do_update_project_settings
from tests.analytics.ingest import new_key, post, stored_events

pytestmark = pytest.mark.django_db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
WINDOWS_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22T12:02:43.499Z", datetime(2026, 11, 22, 12, 2, 43, 499000, UTC)),
        ("2026-11-22T13:02:43+01:00", datetime(2026, 11, 22, 12, 2, 43, tzinfo=UTC)),
        ("2026-11-22T12:02:44.519123", datetime(2026, 11, 22, 12, 2, 44, 519123, UTC)),
        (1795348972, datetime(2026, 11, 22, 12, 2, 52, tzinfo=UTC)),
        (1795348972511, datetime(2026, 11, 22, 12, 2, 52, 511000, UTC)),
        (1795348988.265377, datetime(2026, 11, 22, 12, 3, 8, 265377, UTC)),
        ("1795348972511", datetime(2026, 11, 22, 12, 2, 52, 511000, UTC)),
    ],
)
def test_timestamps_are_iso_8601_or_unix_seconds_or_milliseconds(value, expected):
    assert abs(parse_timestamp(value) - expected) < timedelta(microseconds=2)


@pytest.mark.parametrize("value", ["tomorrow", "", [], {}, True, 10**30, "0001-01-01T00:00:00Z"])
def test_a_timestamp_that_is_not_a_date_is_refused(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_sent_at_corrects_a_device_clock_that_is_wrong(client, project, owner):
    key = new_key(project, owner)
    device_now = datetime.now(UTC) - timedelta(hours=3)  # the device clock is 3 hours behind
    batch = {
        "sentAt": iso(device_now),
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "Late",
                "timestamp": iso(device_now - timedelta(seconds=30)),
            }
        ],
    }
    assert post(client, "/v1/batch?sync=true", batch, key=key).status_code == 200
    [stored] = stored_events(project)
    assert timedelta(seconds=29) < stored["received_at"] - stored["time"] < timedelta(seconds=31)
    assert 3 * 3600 - 5 < stored["context"]["clock_skew_seconds"] < 3 * 3600 + 5


def test_an_event_far_in_the_future_is_clamped_to_receive_time_and_flagged(client, project, owner):
    key = new_key(project, owner)
    future = iso(datetime.now(UTC) + timedelta(days=3))
    body = {"environment": "production", "event": "Future", "properties": {}, "timestamp": future}
    assert post(client, "/track?sync=true", body, key=key).status_code == 200
    [stored] = stored_events(project)
    assert stored["time"] == stored["received_at"]
    assert (
        stored["context"]["timestamp_clamped"] is True and stored["context"]["original_timestamp"] == future
    )


def test_an_event_a_little_in_the_future_is_kept_as_sent(client, project, owner):
    key = new_key(project, owner)
    soon = datetime.now(UTC) + timedelta(hours=2)
    body = {"environment": "production", "event": "Soon", "properties": {}, "timestamp": iso(soon)}
    assert post(client, "/track?sync=true", body, key=key).status_code == 200
    [stored] = stored_events(project)
    assert abs(stored["time"] - soon) < timedelta(milliseconds=2)
    assert "timestamp_clamped" not in stored["context"]


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE, {"browser": "Mobile Safari", "os": "iOS", "device_type": "mobile", "is_bot": False}),
        (WINDOWS_CHROME, {"browser": "Chrome", "os": "Windows", "device_type": "desktop", "is_bot": False}),
        (GOOGLEBOT, {"browser": "Googlebot", "device_type": "bot", "is_bot": True}),
    ],
)
def test_the_user_agent_is_parsed_into_browser_os_device_and_bot(
    client, project, owner, user_agent, expected
):
    key = new_key(project, owner)
    body = {
        "environment": "production",
        "event": "Viewed",
        "properties": {"$lib": "beacon-js", "$lib_version": "1.0.0"},
    }
    response = client.post(
        "/track?sync=true",
        data=body,
        content_type="application/json",
        HTTP_X_API_KEY=key,
        HTTP_USER_AGENT=user_agent,
    )
    assert response.status_code == 200
    [stored] = stored_events(project)
    context = stored["context"]
    assert {name: context.get(name) for name in expected} == expected
    assert context["user_agent"] == user_agent
    assert context["library"] == {"name": "beacon-js", "version": "1.0.0"}


def test_segment_context_gives_page_app_version_and_library(client, project, owner):
    key = new_key(project, owner)
    message = {
        "type": "page",
        "userId": "u",
        "name": "Pricing",
        "properties": {"plan": "pro"},
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "page": {
                "url": "https://shop.example/pricing?x=1",
                "path": "/pricing",
                "referrer": "https://google.com/",
                "title": "Pricing",
            },
            "app": {"version": "3.4.1"},
            "userAgent": IPHONE,
            "locale": "fr-FR",
            "ip": "203.0.113.9",
        },
    }
    assert post(client, "/v1/page?sync=true", message, key=key).status_code == 200
    [stored] = stored_events(project)
    context = stored["context"]
    assert stored["event"] == "$pageview" and stored["properties"] == {"plan": "pro", "name": "Pricing"}
    assert context["page"] == {
        "url": "https://shop.example/pricing?x=1",
        "path": "/pricing",
        "referrer": "https://google.com/",
        "title": "Pricing",
    }
    assert context["app_version"] == "3.4.1" and context["locale"] == "fr-FR"
    assert context["library"] == {"name": "analytics.js", "version": "5.2.0"}
    assert context["device_type"] == "mobile"
    assert "ip" not in context  # the project does not keep IPs (the default)


def test_a_native_context_gives_page_library_app_version_screen_and_locale(client, project, owner):
    """What beacon.js sends: the page and the device in `context`, the properties left to the app."""
    key = new_key(project, owner)
    message = {
        "environment": "production",
        "event": "add_to_cart",
        "anonymous_id": "anon-1",
        "properties": {"product_id": "sku-1"},
        "context": {
            "library": {"name": "beacon.js", "version": "1.0.0"},
            "page": {
                "url": "https://shop.example/p/1?ref=x",
                "path": "/p/1",
                "title": "Tent",
                "search": "?ref=x",
            },
            "app": {"version": "2.4.0"},
            "screen": {"width": 390, "height": 844},
            "viewport": {"width": 390, "height": 700},
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "device": {"type": "mobile"},
            "unknown": "dropped",
        },
    }
    assert post(client, "/track?sync=true", [message], key=key).status_code == 200
    [stored] = stored_events(project)
    context = stored["context"]
    assert stored["properties"] == {"product_id": "sku-1"}
    assert context["library"] == {"name": "beacon.js", "version": "1.0.0"}
    assert context["page"] == {
        "url": "https://shop.example/p/1?ref=x",
        "path": "/p/1",
        "title": "Tent",
        "search": "?ref=x",
    }
    assert context["app_version"] == "2.4.0" and context["locale"] == "de-DE"
    assert context["screen"] == {"width": 390, "height": 844} and context["timezone"] == "Europe/Berlin"
    assert context["device"] == {"type": "mobile"} and "unknown" not in context


def test_the_ip_is_kept_only_when_the_project_says_so(
    client, project, owner, django_capture_on_commit_callbacks
):
    key = new_key(project, owner)
    body = {"api_key": key, "event": "Viewed", "distinct_id": "u", "properties": {"$ip": "198.51.100.7"}}
    assert post(client, "/capture/?sync=true", body).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # the change reaches ingestion on commit
        do_update_project_settings(project=project, acting_user=owner, keep_ip=True)
    assert (
        post(
            client, "/capture/?sync=true", body | {"uuid": "second"}, headers={"REMOTE_ADDR": "192.0.2.1"}
        ).status_code
        == 200
    )
    assert (
        post(
            client,
            "/track?sync=true",
            {"environment": "production", "event": "Native", "properties": {}},
            key=key,
            headers={"REMOTE_ADDR": "192.0.2.1"},
        ).status_code
        == 200
    )
    first, second, native = sorted(stored_events(project), key=lambda e: e["received_at"])
    assert "ip" not in first["context"] and "$ip" not in first["properties"]
    assert second["context"]["ip"] == "198.51.100.7"
    assert native["context"]["ip"] == "192.0.2.1"


def test_the_openapi_schema_documents_the_native_endpoints(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/track", "/identify", "/alias", "/page", "/screen"} <= set(schema["paths"])
    assert not any(path.startswith(("/v1/", "/batch", "/e/")) for path in schema["paths"])
    track = schema["paths"]["/track"]["post"]
    assert {"200", "400", "401", "413", "429"} <= set(track["responses"])
    assert track["security"] == [{"ApiKey": []}]
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())  # raises on a warning
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
