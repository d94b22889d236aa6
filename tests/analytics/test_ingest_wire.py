"""Replay the requests real SDKs sent (../shared/wire-examples, captured from the SDKs) byte for byte,
with only the API key swapped for a real one, and check what Beacon stored."""

import base64
import gzip
import re
from pathlib import Path

import orjson
import pytest

from tests.analytics.ingest import drain, new_key, person_of, stored_events

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "wire-examples"
# Not replayed: mixpanel_buffered_track.http (its body was cut short when captured: the file ends in
# "..."), and posthog_python_v1mode.http (an opt-in protocol whose reply format is undocumented).
# example file -> (placeholder key in it, environment of the key, event names expected, in order of time)
SUPPORTED = {
    "altertable_track.http": ("pk_test_abc123", "staging", ["Order Completed"]),
    "altertable_identify.http": ("pk_test_abc123", "staging", ["$identify"]),
    "altertable_alias.http": ("pk_test_abc123", "staging", ["$create_alias"]),
    "segment_python_batch.http": (
        "SEG_WRITE_KEY",
        "production",
        ["Order Completed", "$identify", "$pageview", "$screen", "$groupidentify", "$create_alias"],
    ),
    "segment_python_batch_gzip.http": (
        "SEG_WRITE_KEY",
        "production",
        ["Order Completed", "$identify", "$pageview", "$screen", "$groupidentify", "$create_alias"],
    ),
    "segment_node_batch.http": (
        "SEG_WRITE_KEY",
        "production",
        ["Order Completed", "$identify", "$pageview", "$screen", "$groupidentify", "$create_alias"],
    ),
    "rudder_python_batch.http": (
        "RUDDER_WRITE_KEY",
        "production",
        ["Order Completed", "$identify", "$pageview", "$screen", "$groupidentify", "$create_alias"],
    ),
    "posthog_python_batch.http": (
        "phc_PROJECT_KEY",
        "production",
        ["Order Completed", "$set", "$pageview", "$groupidentify", "$create_alias"],
    ),
    "amplitude_httpapi.http": (
        "AMP_API_KEY",
        "production",
        ["Order Completed", "$identify", "$identify", "$groupidentify"],
    ),
    "mixpanel_track.http": ("MP_PROJECT_TOKEN", "production", ["Order Completed"]),
    "mixpanel_alias.http": ("MP_PROJECT_TOKEN", "production", ["$create_alias"]),
    "mixpanel_engage.http": ("MP_PROJECT_TOKEN", "production", ["$set"]),
    "mixpanel_groups.http": ("MP_PROJECT_TOKEN", "production", ["$groupidentify"]),
    "posthog_node_batch.http": (
        "phc_PROJECT_KEY",
        "production",
        ["Order Completed", "$identify", "$pageview", "$groupidentify", "$create_alias"],
    ),
}


def parse_example(path: Path) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, headers, body as the SDK put it on the wire)."""
    text = path.read_text()
    head, _, rest = text.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _ = request_line.split(" ")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    lines = rest.splitlines()
    while lines and lines[0].startswith("# "):  # "(body shown after gzip-decoding ...)"
        lines.pop(0)
    body_lines = []
    for line in lines:
        if line.startswith("# "):  # "form fields decoded:", "-> response ..."
            break
        body_lines.append(line)
    body = "\n".join(body_lines).strip().encode()
    if headers.get("content-encoding") == "gzip":
        body = gzip.compress(body)
    return method, target, headers, body


def replay(client, path: Path, placeholder: str, raw_key: str):
    method, target, headers, body = parse_example(path)
    body = body if headers.get("content-encoding") != "gzip" else gzip.decompress(body)
    body = body.replace(placeholder.encode(), raw_key.encode())
    if headers.get("content-encoding") == "gzip":
        body = gzip.compress(body)
    meta = {}
    for name, value in headers.items():
        if name in ("host", "content-length", "content-type"):
            continue
        if name == "authorization" and value.startswith("Basic "):
            value = "Basic " + base64.b64encode(f"{raw_key}:".encode()).decode()
        elif placeholder in value:
            value = value.replace(placeholder, raw_key)
        meta["HTTP_" + re.sub(r"[^A-Z0-9]", "_", name.upper())] = value
    assert method == "POST"
    return client.generic("POST", target, data=body, content_type=headers["content-type"], **meta)


@pytest.mark.parametrize("example", sorted(SUPPORTED))
def test_it_accepts_the_request_each_sdk_really_sends(client, project, owner, streams, example):
    placeholder, environment, expected_events = SUPPORTED[example]
    raw_key = new_key(project, owner, environment=environment)
    response = replay(client, EXAMPLES / example, placeholder, raw_key)
    assert response.status_code == 200, response.content
    body = orjson.loads(response.content)
    assert body["ok"] is True and body["status"] == 1 and body["code"] == 200
    assert body["accepted"] == len(expected_events)
    drain()
    stored = stored_events(project)
    assert sorted(event["event"] for event in stored) == sorted(expected_events)
    assert all(event["environment_id"] == project.environments.get(slug=environment).id for event in stored)


def test_a_replayed_segment_batch_links_the_anonymous_id_and_keeps_the_traits(
    client, project, owner, streams
):
    raw_key = new_key(project, owner)
    replay(client, EXAMPLES / "segment_python_batch.http", "SEG_WRITE_KEY", raw_key)
    drain()
    events = {event["event"]: event for event in stored_events(project)}
    track = events["Order Completed"]
    assert track["distinct_id"] == "user_123" and track["anonymous_id"] == "anon-1"
    assert track["properties"] == {"plan": "pro", "amount": 42.5}
    assert track["message_id"] == "009f1a54-d915-4e20-97a1-d845e0e3899d"
    assert track["context"]["library"] == {"name": "analytics-python", "version": "2.4.0"}
    # sentAt is 0.5 s after the event: the event is stored 0.5 s before it was received.
    skew = (track["received_at"] - track["time"]).total_seconds()
    assert 0.4 < skew < 0.6
    assert events["$pageview"]["properties"]["name"] == "Install"
    assert events["$groupidentify"]["properties"]["$group_key"] == "acme-inc"
    user = person_of(project, "user_123")
    assert user is not None and user == person_of(project, "anon-1")
    assert user.properties == {"email": "jane@example.com", "name": "Jane"}
    assert user.is_identified


def test_rudder_traits_in_the_context_reach_the_person(client, project, owner, streams):
    raw_key = new_key(project, owner)
    response = replay(client, EXAMPLES / "rudder_python_batch.http", "RUDDER_WRITE_KEY", raw_key)
    assert response.status_code == 200
    drain()
    assert person_of(project, "user_123").properties == {"email": "jane@example.com", "name": "Jane"}


def test_posthog_set_identify_and_alias_reach_the_person(client, project, owner, streams):
    raw_key = new_key(project, owner)
    replay(client, EXAMPLES / "posthog_python_batch.http", "phc_PROJECT_KEY", raw_key)
    replay(client, EXAMPLES / "posthog_node_batch.http", "phc_PROJECT_KEY", raw_key)
    drain()
    user = person_of(project, "user_123")
    assert user.properties["email"] == "jane@example.com"
    assert person_of(project, "anon-1") == user
    library = {e["context"]["library"]["name"] for e in stored_events(project)}
    assert library == {"posthog-python", "posthog-node"}


def test_altertable_identify_links_the_anonymous_id(client, project, owner, streams):
    raw_key = new_key(project, owner, environment="staging")
    replay(client, EXAMPLES / "altertable_track.http", "pk_test_abc123", raw_key)
    replay(client, EXAMPLES / "altertable_identify.http", "pk_test_abc123", raw_key)
    drain()
    [track, identify] = sorted(stored_events(project), key=lambda e: e["time"])
    assert track["device_id"] == "device-550e" and track["anonymous_id"] == "anonymous-7c9e"
    assert track["context"]["library"] == {"name": "python-requests", "version": "2.34.2"}
    assert identify["event"] == "$identify"
    assert person_of(project, "anonymous-7c9e") == person_of(project, "user_123")


def test_amplitude_events_and_user_properties_land_with_their_ids(client, project, owner, streams):
    raw_key = new_key(project, owner)
    assert replay(client, EXAMPLES / "amplitude_httpapi.http", "AMP_API_KEY", raw_key).status_code == 200
    drain()
    events = stored_events(project)
    track = next(e for e in events if e["event"] == "Order Completed")
    assert track["message_id"] == "68aa91d6-51a6-426d-8a06-995ef98a724f"
    assert track["distinct_id"] == "user_123" and track["device_id"] == "device-550e"
    assert track["context"]["library"] == {"name": "amplitude-python", "version": "1.3.0"}
    assert track["time"].isoformat() == "2026-11-22T12:02:52.511000+00:00"
    assert person_of(project, "user_123").properties == {
        "email": "jane@example.com",
        "name": "Jane",
        "company": "acme-inc",
    }


def test_amplitude_batch_api_shares_the_batch_path_with_posthog(client, project, owner, streams):
    raw_key = new_key(project, owner)
    body = {
        "api_key": raw_key,
        "events": [{"event_type": "Viewed", "user_id": "user_9", "time": 1795348972511}],
    }
    response = client.post("/batch", data=orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200 and response.json()["code"] == 200
    drain()
    [stored] = stored_events(project)
    assert stored["event"] == "Viewed" and stored["distinct_id"] == "user_9"


def test_mixpanel_profiles_and_aliases_reach_the_person(client, project, owner, streams):
    raw_key = new_key(project, owner)
    for example in ("mixpanel_track.http", "mixpanel_engage.http", "mixpanel_alias.http"):
        response = replay(client, EXAMPLES / example, "MP_PROJECT_TOKEN", raw_key)
        assert response.status_code == 200 and response.json()["status"] == 1
    drain()
    track = next(e for e in stored_events(project) if e["event"] == "Order Completed")
    assert track["properties"] == {"plan": "pro", "amount": 42.5}  # token, time and ids are not properties
    assert track["message_id"] == "f597486103c14dab99a1a4f5c15c8d88"
    assert track["context"]["library"] == {"name": "mixpanel-python", "version": "5.4.1"}
    user = person_of(project, "user_123")
    assert user.properties == {"$email": "jane@example.com", "$name": "Jane"}
    assert person_of(project, "anon-1") == user


def test_a_segment_batch_context_applies_to_every_message(client, project, owner, streams):
    raw_key = new_key(project, owner)
    body = {
        "writeKey": raw_key,
        "context": {"app": {"version": "2.0.0"}, "locale": "de-DE"},
        "batch": [
            {"type": "track", "userId": "u", "event": "A", "context": {"locale": "fr-FR"}},
            {"type": "track", "userId": "u", "event": "B"},
        ],
    }
    assert (
        client.post("/v1/batch", data=orjson.dumps(body), content_type="application/json").status_code == 200
    )
    drain()
    contexts = {e["event"]: e["context"] for e in stored_events(project)}
    assert contexts["A"]["locale"] == "fr-FR" and contexts["B"]["locale"] == "de-DE"
    assert contexts["A"]["app_version"] == contexts["B"]["app_version"] == "2.0.0"
