"""Bad input: every kind gets a 4xx a developer can act on, never a 500, and the good events beside
a bad one are stored."""

import base64
import gzip

import orjson
import pytest

from projects.actions import do_revoke_api_key
from projects.models import ApiKey
from tests.analytics.ingest import drain, new_key, post, stored_events

pytestmark = pytest.mark.django_db


def good(index: int = 0) -> dict:
    return {"environment": "production", "event": "Good", "distinct_id": "u1", "properties": {"i": index}}


def _error(response, status: int, error_code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == status and body["status"] == 0
    assert body["message"]
    if error_code:
        assert body["error_code"] == error_code
    return body


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "error_code", "fragment"),
    [
        (b'{"event": "x", ', "application/json", None, "invalid-json", "not valid JSON"),
        (b"<p>event</p>", "text/html", None, "unsupported-content-type", "application/json"),
        (b"event=x", "application/x-www-form-urlencoded", None, "missing-data", "data=<JSON>"),
        (b"data=%25%25", "application/x-www-form-urlencoded", None, "invalid-data", "base64"),
        (b'{"event": "caf\xe9"}', "application/json", None, "invalid-utf8", "UTF-8"),
        (b"this is not gzip", "application/json", "gzip", "invalid-gzip", "gzip"),
        (gzip.compress(b'{"a": 1}')[:-6], "application/json", "gzip", "invalid-gzip", "cut off"),
        (b"", "application/json", None, "empty-body", "empty"),
        (b"42", "application/json", None, "invalid-body", "object or an array"),
        (b'{"a": 1}', "application/json", "br", "unsupported-content-encoding", "gzip"),
    ],
)
def test_a_body_that_cannot_be_read_gets_a_4xx_that_says_why(
    client, project, owner, streams, body, content_type, encoding, error_code, fragment
):
    key = new_key(project, owner)
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = client.post("/track", data=body, content_type=content_type, HTTP_X_API_KEY=key, **extra)
    payload = _error(response, 415 if error_code.startswith("unsupported") else 400, error_code)
    assert fragment in payload["message"]


@pytest.mark.parametrize(
    ("bad", "reason", "fragment"),
    [
        ("not an object", "not-an-object", "JSON object"),
        ({"environment": "production", "properties": {}}, "missing-event", "`event` is required"),
        ({"environment": "production", "event": "x"}, "missing-properties", "`properties` is required"),
        ({"event": "x", "properties": {}}, "missing-environment", "`environment` is required"),
        ({**good(), "properties": {"blob": "x" * (2 * 1024 * 1024)}}, "event-too-large", "500 KB"),
        ("deep", None, None),
        ({**good(), "timestamp": "next tuesday"}, "invalid-timestamp", "next tuesday"),
        ({**good(), "timestamp": True}, "invalid-timestamp", "boolean"),
        ({**good(), "environment": "staging"}, "environment-mismatch", "'production'"),
        ({**good(), "properties": ["a", "list"]}, "invalid-field", "JSON object"),
        ({**good(), "distinct_id": {"id": 1}}, "invalid-field", "`distinct_id` must be a string"),
        ({**good(), "event": "x" * 201}, "invalid-event", "200 characters"),
    ],
)
def test_a_bad_event_is_rejected_by_index_and_the_good_ones_are_kept(
    client, project, owner, streams, bad, reason, fragment
):
    if reason is None:  # a nested structure deeper than the limit
        nested: dict = {"leaf": 1}
        for _ in range(40):
            nested = {"child": nested}
        bad, reason, fragment = {**good(), "properties": nested}, "too-deeply-nested", "32 levels"
    key = new_key(project, owner)
    response = post(client, "/track", [good(0), bad, good(2)], key=key)
    body = _error(response, 400, "events-rejected")
    assert body["accepted"] == 2
    [rejection] = body["rejected"]
    assert rejection["index"] == 1 and rejection["reason"] == reason
    assert fragment in rejection["message"]
    assert "event 1" in body["message"] and "the other 2 were stored" in body["message"]
    drain()
    assert sorted(event["properties"]["i"] for event in stored_events(project)) == [0, 2]


def test_a_single_oversized_event_gets_413(client, project, owner, streams):
    key = new_key(project, owner)
    response = post(client, "/track", {**good(), "properties": {"blob": "x" * (600 * 1024)}}, key=key)
    _error(response, 413, "event-too-large")


def test_a_body_over_20_mb_gets_413_even_gzipped(client, project, owner, streams):
    key = new_key(project, owner)
    bomb = gzip.compress(b"[" + b" " * (21 * 1024 * 1024) + b"]")
    response = client.post(
        "/track", data=bomb, content_type="application/json", HTTP_X_API_KEY=key, HTTP_CONTENT_ENCODING="gzip"
    )
    _error(response, 413, "payload-too-large")


def test_nul_characters_are_dropped_rather_than_the_event(client, project, owner, streams):
    key = new_key(project, owner)
    body = b'{"environment": "production", "event": "a\\u0000b", "properties": {"k\\u0000": "v\\u0000"}}'
    response = client.post("/track?sync=true", data=body, content_type="application/json", HTTP_X_API_KEY=key)
    assert response.status_code == 200
    [stored] = stored_events(project)
    assert stored["event"] == "ab" and stored["properties"] == {"k": "v"}


@pytest.mark.parametrize("how", ["none", "unknown", "malformed", "revoked"])
def test_a_missing_unknown_or_revoked_key_gets_401(client, project, owner, streams, how):
    key = new_key(project, owner)
    if how == "revoked":
        do_revoke_api_key(key=ApiKey.objects.get(prefix=key[:14]), acting_user=owner)
    sent = {"none": None, "unknown": "bcn_w_" + "A" * 32, "malformed": "nope", "revoked": key}[how]
    body = _error(post(client, "/track", good(), key=sent), 401)
    assert body["error_code"] == ("missing-api-key" if how == "none" else "invalid-api-key")


@pytest.mark.parametrize("where", ["x-api-key", "bearer", "basic", "query", "segment-body", "posthog-body"])
def test_the_key_is_accepted_wherever_each_dialect_sends_it(client, project, owner, streams, where):
    key = new_key(project, owner)
    headers, path, body = {}, "/track", good()
    if where == "x-api-key":
        headers["HTTP_X_API_KEY"] = key
    elif where == "bearer":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    elif where == "basic":
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    elif where == "query":
        path = f"/track?apiKey={key}"
    elif where == "segment-body":
        path, body = "/v1/track", {"writeKey": key, "userId": "u1", "event": "Good", "properties": {}}
    else:
        path, body = "/capture/", {"api_key": key, "distinct_id": "u1", "event": "Good", "properties": {}}
    response = post(client, path, body, headers=headers)
    assert response.status_code == 200, response.content


def test_the_per_key_rate_limit_answers_429_with_retry_after(client, project, owner, streams, settings):
    settings.INGEST_RATE_LIMIT_PER_KEY = 5
    key = new_key(project, owner)
    statuses = [post(client, "/track", [good(), good()], key=key) for _ in range(4)]
    limited = [response for response in statuses if response.status_code == 429]
    assert limited, [response.status_code for response in statuses]
    assert limited[0]["Retry-After"] == "1"
    assert "5 events in one second" in limited[0].json()["message"]
    other_key = new_key(project, owner)  # the limit is per key
    assert post(client, "/track", good(), key=other_key).status_code == 200


def test_a_full_backlog_answers_503_with_retry_after(client, project, owner, streams, settings):
    settings.INGEST_MAX_BACKLOG = 1
    key = new_key(project, owner)
    assert post(client, "/track", good(), key=key).status_code == 200
    response = post(client, "/track", good(), key=key)
    body = _error(response, 503, "backlog-full")
    assert response["Retry-After"] == "5" and "nothing was stored" in body["message"]
    # A browser SDK on another origin may read it (beacon.js backs off as told).
    assert response["Access-Control-Expose-Headers"] == "Retry-After"


def test_no_route_redirects_a_post_and_preflight_allows_browsers(client, project, owner, streams):
    key = new_key(project, owner)
    for path in ("/track", "/track/", "/v1/batch", "/batch", "/batch/", "/e/", "/i/v0/e/"):
        body = {"batch": []} if "batch" in path else good()
        response = post(client, path, body, key=key)
        assert response.status_code == 200, (path, response.status_code)
        assert response["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/track", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert "X-API-Key" in preflight["Access-Control-Allow-Headers"]


def test_sync_answers_after_the_events_are_committed(client, project, owner, streams):
    key = new_key(project, owner)
    response = post(client, "/track?sync=true", [good(1), good(2)], key=key)
    assert response.status_code == 200
    assert len(stored_events(project)) == 2


def test_a_message_id_dedups_retries_and_events_without_one_get_a_server_id(client, project, owner, streams):
    key = new_key(project, owner)
    with_id = {**good(), "uuid": "retry-me"}
    timed = {**good(), "timestamp": "2026-11-22T10:00:00Z"}
    untimed = {**good(), "event": "Click"}
    for _ in range(3):
        assert post(client, "/track", [with_id, timed, untimed], key=key).status_code == 200
    drain()
    events = stored_events(project)
    # the id given is kept; a timed event without one gets an id from its content (a retry is the
    # same event); an untimed one gets a fresh id each time (three clicks are three events).
    assert [e["message_id"] for e in events if e["message_id"] == "retry-me"] == ["retry-me"]
    assert len([e for e in events if e["event"] == "Good" and e["message_id"] != "retry-me"]) == 1
    assert len([e for e in events if e["event"] == "Click"]) == 3
    assert all(e["message_id"].startswith("bcn-") for e in events if e["message_id"] != "retry-me")


def test_errors_carry_code_and_message_for_rudderstack(client, project, owner, streams):
    """RudderStack retries a 400 whose JSON lacks `code` or `message`: check every error has both."""
    response = client.post("/v1/batch", data=b"{", content_type="application/json")
    body = orjson.loads(response.content)
    assert response.status_code == 400 and {"code", "message"} <= set(body)


def test_when_redis_is_unreachable_ingestion_answers_503_and_stores_nothing(
    client, project, owner, streams, monkeypatch
):
    import redis

    key = new_key(project, owner)
    post(client, "/track", good(), key=key)  # the key is now cached
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr("analytics.ingest.buffer.get_redis", lambda: unreachable)
    response = post(client, "/track", good(1), key=key)
    body = _error(response, 503, "unavailable")
    assert response["Retry-After"] == "5" and "nothing was stored" in body["message"]


def test_a_key_revoked_while_a_web_process_remembers_it_is_refused_at_the_next_request(
    client, project, owner, streams, django_capture_on_commit_callbacks
):
    key = new_key(project, owner)
    assert post(client, "/track", good(1), key=key).status_code == 200  # this process now remembers the key
    with django_capture_on_commit_callbacks(execute=True):
        do_revoke_api_key(key=ApiKey.objects.get(prefix=key[:14]), acting_user=owner)
    _error(post(client, "/track", good(2), key=key), 401, "invalid-api-key")
    drain()
    assert [event["properties"]["i"] for event in stored_events(project)] == [1]


def test_a_project_setting_change_reaches_the_buffered_path_at_once(
    client, project, owner, streams, django_capture_on_commit_callbacks
):
    from projects.actions import do_update_project_settings

    key = new_key(project, owner)
    headers = {"REMOTE_ADDR": "192.0.2.44"}
    assert post(client, "/track", good(1), key=key, headers=headers).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        do_update_project_settings(project=project, acting_user=owner, keep_ip=True)
    assert post(client, "/track", good(2), key=key, headers=headers).status_code == 200
    drain()
    ips = {event["properties"]["i"]: event["context"].get("ip") for event in stored_events(project)}
    assert ips == {1: None, 2: "192.0.2.44"}
