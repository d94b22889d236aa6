"""The real SDKs, as published (PyPI, npm), pointed at a live Beacon: each call is stored as the SDK meant it.

Every test runs one journey through an SDK (an anonymous track, identify with traits, page / screen /
group where the SDK has them, alias of an anonymous id to the user), checks the SDK saw success, writes
the buffered events with ``drain()`` and reads them back: names, properties, ids, message ids,
timestamps, library, and that the anonymous ids and the user ended up as one person holding the traits.
Wire formats and quirks of each SDK: WIRE.md.
"""

import json
import logging
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from altertable import Altertable
from altertable.client import ApiError as AltertableApiError
from posthog import Posthog
from segment.analytics import Client as SegmentClient

from tests.analytics.ingest import drain, new_key, person_of, stored_events

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = Path(__file__).with_name("sdk_node.mjs")

ORDER = {"plan": "pro", "amount": 42.5, "items": ["a", "b"]}
TRAITS = {"email": "jane@example.com", "name": "Jane", "plan": "enterprise"}
GROUP_TRAITS = {"name": "Acme", "employees": 11}
PAGE_URL = "https://example.com/docs/install"
# Events happen on this machine: once skew-corrected, their time is within the run, give or take this.
CLOCK_SLACK = timedelta(seconds=2)


def _rudder_classes():
    """TRICKY: importing rudder-sdk-python runs ``load_dotenv()``, which copies a `.env` found in any
    directory above the installed package (this checkout's own, for one) into ``os.environ``. Undo
    that, so the import cannot change the settings of the tests that run after it."""
    before = set(os.environ)
    try:
        from rudderstack.analytics.client import Client
        from rudderstack.analytics.request import APIError
    finally:
        for name in set(os.environ) - before:
            del os.environ[name]
    return Client, APIError


RudderClient, RudderAPIError = _rudder_classes()


@dataclass
class Beacon:
    url: str
    key: str
    project: object
    environment_id: int
    user: str
    anonymous: str  # linked to the user by identify (PostHog Python: by alias)
    second_anonymous: str  # linked to the user by alias


def _close_sdk_connections() -> None:
    """TRICKY: the Python SDKs keep module-level HTTP sessions, so their keep-alive sockets outlive the
    test; the live server closes a request thread's database connection only when its socket closes,
    and an open one stops pytest-django from dropping the test database at the end of the run."""
    import posthog.request
    import rudderstack.analytics.request
    import segment.analytics.request

    for session in (
        segment.analytics.request._session,
        rudderstack.analytics.request._session,
        posthog.request._session,
        posthog.request._flags_session,
    ):
        session.close()


def _refusal(error) -> tuple:
    """What an SDK's error callback got (type, HTTP status, message), without the exception itself:
    Segment's client stays referenced (atexit) to the end of the run, and with it its callback's list,
    which must not keep a response and its keep-alive socket alive (see ``_close_sdk_connections``)."""
    return type(error), getattr(error, "status", None), str(error)


@pytest.fixture
def beacon(live_server, transactional_db, streams, project, owner):
    run = uuid.uuid4().hex[:10]
    yield Beacon(
        url=live_server.url,
        key=new_key(project, owner),
        project=project,
        environment_id=project.environments.get(slug="production").id,
        user=f"user_{run}",
        anonymous=f"anon-{run}",
        second_anonymous=f"anon-{run}-b",
    )
    _close_sdk_connections()


class Window:
    """When the SDK ran: stored event times must fall inside it."""

    def __enter__(self) -> "Window":
        self.started = datetime.now(UTC)
        return self

    def __exit__(self, *exc_info) -> None:
        self.finished = datetime.now(UTC)

    def holds(self, moment: datetime) -> bool:
        return self.started - CLOCK_SLACK <= moment <= self.finished + CLOCK_SLACK


def _stored_by_name(beacon: Beacon, expected_names: list[str]) -> dict[str, dict]:
    assert drain() > 0
    events = stored_events(beacon.project)
    names = sorted(event["event"] for event in events)
    assert names == sorted(expected_names), f"stored {names}, expected {sorted(expected_names)}"
    return {event["event"]: event for event in events}


def _assert_stored_as_sent(
    event: dict,
    *,
    beacon: Beacon,
    window: Window,
    library: tuple[str, str],
    message_id: str | None,
    sent_timestamp: str | None = None,
) -> None:
    """What every stored event must carry, whatever the SDK."""
    assert event["environment_id"] == beacon.environment_id
    if message_id is None:  # the SDK sends none: Beacon derives one per message
        assert event["message_id"].startswith("bcn-"), event["message_id"]
    else:
        assert event["message_id"] == message_id
    assert window.holds(event["time"]), (event["time"], window.started, window.finished)
    assert window.holds(event["received_at"]), (event["received_at"], window.started, window.finished)
    if sent_timestamp is not None:
        sent = datetime.fromisoformat(sent_timestamp.replace("Z", "+00:00"))
        assert abs(event["time"] - sent) < CLOCK_SLACK, (event["time"], sent_timestamp)
    name, library_version = library
    assert event["context"]["library"] == {"name": name, "version": library_version}


def _assert_one_person(beacon: Beacon, anonymous_ids: list[str]) -> None:
    """The anonymous ids and the user are one person, and the identify traits are on it."""
    person = person_of(beacon.project, beacon.user)
    assert person is not None, f"no person for {beacon.user}"
    for anonymous_id in anonymous_ids:
        linked = person_of(beacon.project, anonymous_id)
        assert linked is not None and linked.id == person.id, f"{anonymous_id} is not linked to {beacon.user}"
    person.refresh_from_db()
    assert TRAITS.items() <= person.properties.items(), person.properties


# --- Segment-shaped SDKs (segment-analytics-python, rudder-sdk-python, @segment/analytics-node) ----------


def _segment_journey(client, beacon: Beacon) -> dict[str, dict]:
    """The Python Segment API (Rudder's is the same); returns each message as queued, by type."""
    calls = [
        client.track(event="Order Completed", properties=ORDER, anonymous_id=beacon.anonymous),
        client.identify(beacon.user, TRAITS, anonymous_id=beacon.anonymous),
        client.page(beacon.user, "Docs", "Install", {"url": PAGE_URL}),
        client.screen(beacon.user, "Onboarding", "Welcome", {"step": 1}),
        client.group(beacon.user, "acme-inc", GROUP_TRAITS),
        client.alias(beacon.second_anonymous, beacon.user),
    ]
    assert all(queued for queued, _ in calls)
    return {message["type"]: message for _, message in calls}


SEGMENT_EVENTS = {
    "track": "Order Completed",
    "identify": "$identify",
    "page": "$pageview",
    "screen": "$screen",
    "group": "$groupidentify",
    "alias": "$create_alias",
}


def _assert_segment_journey(beacon: Beacon, window: Window, sent: dict[str, dict], library) -> None:
    assert sorted(sent) == sorted(SEGMENT_EVENTS)
    stored = _stored_by_name(beacon, list(SEGMENT_EVENTS.values()))
    for message_type, name in SEGMENT_EVENTS.items():
        message = sent[message_type]
        _assert_stored_as_sent(
            stored[name],
            beacon=beacon,
            window=window,
            library=library,
            message_id=message["messageId"],
            sent_timestamp=message["timestamp"],
        )

    track = stored["Order Completed"]
    assert (track["distinct_id"], track["anonymous_id"]) == (beacon.anonymous, beacon.anonymous)
    assert track["properties"] == ORDER

    identify = stored["$identify"]
    assert (identify["distinct_id"], identify["anonymous_id"]) == (beacon.user, beacon.anonymous)
    assert identify["properties"] == {"$set": TRAITS}

    page = stored["$pageview"]
    assert page["distinct_id"] == beacon.user
    assert page["properties"] == {"url": PAGE_URL, "name": "Install", "category": "Docs"}
    assert page["context"]["page"]["url"] == PAGE_URL

    screen = stored["$screen"]
    assert screen["distinct_id"] == beacon.user
    assert screen["properties"]["step"] == 1
    assert screen["properties"]["name"] == "Welcome"

    group = stored["$groupidentify"]
    assert group["distinct_id"] == beacon.user
    assert group["properties"]["$group_key"] == "acme-inc"
    assert group["properties"]["$group_set"] == GROUP_TRAITS

    alias = stored["$create_alias"]
    assert alias["distinct_id"] == beacon.user
    assert alias["properties"]["previous_id"] == beacon.second_anonymous

    _assert_one_person(beacon, [beacon.anonymous, beacon.second_anonymous])


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_the_segment_python_sdk_stores_every_call_type(beacon, gzip):
    failures = []
    client = SegmentClient(
        beacon.key,
        host=beacon.url,
        gzip=gzip,
        max_retries=0,  # a failed upload goes to on_error at once instead of hiding behind a retry
        on_error=lambda error, batch: failures.append(_refusal(error)),
    )
    with Window() as window:
        sent = _segment_journey(client, beacon)
        client.flush()
        client.shutdown()
    assert failures == []
    _assert_segment_journey(beacon, window, sent, ("analytics-python", version("segment-analytics-python")))


def test_the_rudderstack_python_sdk_stores_every_call_type(beacon):
    failures = []
    client = RudderClient(  # gzip is on by default
        beacon.key,
        host=beacon.url,
        max_retries=0,
        on_error=lambda error, batch: failures.append(_refusal(error)),
    )
    assert client.gzip is True
    with Window() as window:
        sent = _segment_journey(client, beacon)
        client.flush()
        client.shutdown()
    assert failures == []
    assert sent["identify"]["context"]["traits"] == TRAITS  # Rudder's place for them, not top-level traits
    _assert_segment_journey(beacon, window, sent, ("analytics-python", version("rudder-sdk-python")))


def _run_node(beacon: Beacon, sdk: str, key: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run tests/analytics/sdk_node.mjs: (the process, its report of requests made and errors seen)."""
    node = shutil.which("node")
    assert node, "node is not on PATH: Beacon's tests need Node 20 (see the Makefile)"
    assert (REPO / "node_modules" / "@segment" / "analytics-node").is_dir(), (
        "node_modules is missing the SDKs: run `make node_modules/.installed` (npm ci)"
    )
    command = [node, str(NODE_SCRIPT), sdk, beacon.url, key, beacon.user]
    command += [beacon.anonymous, beacon.second_anonymous]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout, f"{sdk} printed no report (exit {result.returncode}):\n{result.stderr}"
    return result, json.loads(result.stdout)


def _run_node_sdk(beacon: Beacon, sdk: str) -> list[dict]:
    """The requests the SDK made, as it recorded them; fails with its report unless all succeeded."""
    result, report = _run_node(beacon, sdk, beacon.key)
    assert result.returncode == 0, (
        f"{sdk} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert report["errors"] == []
    assert report["requests"], f"{sdk} sent nothing"
    return report["requests"]


def _node_version(package: str) -> str:
    return json.loads((REPO / "node_modules" / package / "package.json").read_text())["version"]


def test_the_segment_node_sdk_stores_every_call_type(beacon):
    with Window() as window:
        wire = _run_node_sdk(beacon, "segment")
    for request in wire:
        assert request["url"] == f"{beacon.url}/v1/batch"
        assert request["status"] == 200
        assert request["headers"]["authorization"].startswith("Basic ")
    sent = {message["type"]: message for request in wire for message in request["body"]["batch"]}
    library = ("@segment/analytics-node", _node_version("@segment/analytics-node"))
    _assert_segment_journey(beacon, window, sent, library)


# --- PostHog (posthog python, posthog-node) --------------------------------------------------------------


def _assert_posthog_properties(event: dict, sent: dict, library: tuple[str, str]) -> None:
    """PostHog SDKs add their own `$lib`, `$lib_version`, `$is_server`...: what was sent is all kept."""
    assert sent.items() <= event["properties"].items(), event["properties"]
    assert (event["properties"]["$lib"], event["properties"]["$lib_version"]) == library


def _assert_posthog_page_and_group(stored: dict[str, dict], beacon: Beacon, library) -> None:
    page = stored["$pageview"]
    assert page["distinct_id"] == beacon.user
    _assert_posthog_properties(page, {"$current_url": PAGE_URL, "title": "Install"}, library)
    assert page["context"]["page"] == {"url": PAGE_URL, "title": "Install"}

    group = stored["$groupidentify"]
    assert group["distinct_id"] == beacon.user
    group_properties = {"$group_type": "company", "$group_key": "acme-inc", "$group_set": GROUP_TRAITS}
    _assert_posthog_properties(group, group_properties, library)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_the_posthog_python_sdk_stores_every_call_type(beacon, gzip):
    failures = []
    client = Posthog(
        beacon.key,
        host=beacon.url,
        gzip=gzip,
        max_retries=0,
        flush_interval=0.2,
        on_error=lambda error, batch: failures.append(_refusal(error)),
    )
    with Window() as window:
        uuids = {
            "Order Completed": client.capture(
                "Order Completed", distinct_id=beacon.anonymous, properties=ORDER
            ),
            # posthog 7.x has no identify(): person traits go in a `$set` event.
            "$set": client.set(distinct_id=beacon.user, properties=TRAITS),
            # and no page(): a page view is the `$pageview` event.
            "$pageview": client.capture(
                "$pageview",
                distinct_id=beacon.user,
                properties={"$current_url": PAGE_URL, "title": "Install"},
            ),
            "$groupidentify": client.group_identify(
                "company", "acme-inc", GROUP_TRAITS, distinct_id=beacon.user
            ),
            # The anonymous id becomes the event's distinct_id, the user id goes in properties.alias (WIRE.md).
            "$create_alias": client.alias(previous_id=beacon.anonymous, distinct_id=beacon.user),
        }
        client.flush()
        client.shutdown()
    assert failures == []
    assert all(uuids.values()), uuids

    library = ("posthog-python", version("posthog"))
    stored = _stored_by_name(beacon, list(uuids))
    for name, sent_uuid in uuids.items():
        _assert_stored_as_sent(
            stored[name], beacon=beacon, window=window, library=library, message_id=sent_uuid
        )

    track = stored["Order Completed"]
    assert track["distinct_id"] == beacon.anonymous
    _assert_posthog_properties(track, ORDER, library)

    assert stored["$set"]["distinct_id"] == beacon.user
    _assert_posthog_page_and_group(stored, beacon, library)

    alias = stored["$create_alias"]
    assert alias["distinct_id"] == beacon.anonymous
    _assert_posthog_properties(alias, {"distinct_id": beacon.anonymous, "alias": beacon.user}, library)

    _assert_one_person(beacon, [beacon.anonymous])

    # The SDK sends `$set` at the top level of the event (WIRE.md); the stored `$set` event must still
    # say what it set, as `properties.$set`, like every other identify (Segment's, posthog-node's).
    assert stored["$set"]["properties"].get("$set") == TRAITS, stored["$set"]["properties"]


def test_the_posthog_node_sdk_stores_every_call_type(beacon):
    with Window() as window:
        wire = _run_node_sdk(beacon, "posthog")
    for request in wire:
        assert request["url"] == f"{beacon.url}/batch/"
        assert request["status"] == 200
        assert request["headers"]["content-encoding"] == "gzip"  # posthog-node compresses by default
        assert request["body"]["api_key"] == beacon.key
    sent = {message["event"]: message for request in wire for message in request["body"]["batch"]}
    names = ["Order Completed", "$identify", "$pageview", "$groupidentify", "$create_alias"]
    assert sorted(sent) == sorted(names)

    library = ("posthog-node", _node_version("posthog-node"))
    stored = _stored_by_name(beacon, names)
    for name in names:
        _assert_stored_as_sent(
            stored[name],
            beacon=beacon,
            window=window,
            library=library,
            message_id=sent[name]["uuid"],
            sent_timestamp=sent[name]["timestamp"],
        )

    track = stored["Order Completed"]
    assert track["distinct_id"] == beacon.anonymous
    _assert_posthog_properties(track, ORDER, library)

    identify = stored["$identify"]
    assert (identify["distinct_id"], identify["anonymous_id"]) == (beacon.user, beacon.anonymous)
    _assert_posthog_properties(identify, {"$set": TRAITS, "$anon_distinct_id": beacon.anonymous}, library)

    _assert_posthog_page_and_group(stored, beacon, library)

    alias = stored["$create_alias"]
    assert alias["distinct_id"] == beacon.user
    _assert_posthog_properties(alias, {"distinct_id": beacon.user, "alias": beacon.second_anonymous}, library)

    _assert_one_person(beacon, [beacon.anonymous, beacon.second_anonymous])


# --- Altertable (altertable python) ----------------------------------------------------------------------


def test_the_altertable_python_sdk_tracks_identifies_and_aliases(beacon):
    client = Altertable(beacon.key, server_url=beacon.url, environment="production", timeout=10_000)
    with Window() as window, client.session:  # closed after: see _close_sdk_connections
        replies = [
            client.track("Order Completed", beacon.anonymous, {"properties": ORDER}),
            client.identify(beacon.user, {"traits": TRAITS, "anonymous_id": beacon.anonymous}),
            client.alias(beacon.second_anonymous, beacon.user),
        ]
    for reply in replies:
        assert reply["ok"] is True and reply["accepted"] == 1, reply

    # The SDK does not name itself: the library comes from its User-Agent, python-requests/<version>.
    library = ("python-requests", requests.__version__)
    stored = _stored_by_name(beacon, ["Order Completed", "$identify", "$create_alias"])
    for event in stored.values():
        # It sends no message id either: Beacon derives one from each message's content.
        _assert_stored_as_sent(event, beacon=beacon, window=window, library=library, message_id=None)
    assert len({event["message_id"] for event in stored.values()}) == 3

    track = stored["Order Completed"]
    assert track["distinct_id"] == beacon.anonymous
    assert track["properties"] == ORDER

    identify = stored["$identify"]
    assert (identify["distinct_id"], identify["anonymous_id"]) == (beacon.user, beacon.anonymous)

    alias = stored["$create_alias"]
    assert alias["distinct_id"] == beacon.user
    assert alias["properties"] == {"previous_id": beacon.second_anonymous}

    _assert_one_person(beacon, [beacon.anonymous, beacon.second_anonymous])

    # The identify event keeps its traits, as `properties.$set`, the way Segment's identify is stored.
    assert identify["properties"] == {"$set": TRAITS}


# --- refusals: what an unknown key looks like to each SDK ----------------------------------------------


def _unknown_key() -> str:
    return f"bcn_w_{uuid.uuid4().hex}"  # the shape of a write key, but no such key


@pytest.fixture
def sdk_error_logs_off():
    """TRICKY: the SDKs log a refused upload with the exception as an argument, and pytest keeps a test's
    log records to the end of the run. The exception holds the response and so the keep-alive socket,
    which keeps the live server's thread for it and that thread's database connection (opened to look
    the unknown key up) alive: the test database could then not be dropped. The refusals are expected
    here, and checked through each SDK's error callback."""
    loggers = [logging.getLogger(name) for name in ("segment", "rudderstack", "posthog")]
    for logger in loggers:
        logger.disabled = True
    yield
    for logger in loggers:
        logger.disabled = False


def test_an_unknown_key_reaches_every_python_sdk_as_a_401_and_nothing_is_stored(beacon, sdk_error_logs_off):
    key = _unknown_key()
    errors: dict[str, list] = {"segment": [], "rudder": [], "posthog": []}
    for name, client_class in (("segment", SegmentClient), ("rudder", RudderClient)):
        client = client_class(
            key,
            host=beacon.url,
            max_retries=0,
            on_error=lambda error, batch, name=name: errors[name].append(_refusal(error)),
        )
        client.track(event="Order Completed", properties=ORDER, anonymous_id=beacon.anonymous)
        client.flush()
        client.shutdown()
    posthog = Posthog(
        key,
        host=beacon.url,
        max_retries=0,
        flush_interval=0.2,
        on_error=lambda error, batch: errors["posthog"].append(_refusal(error)),
    )
    posthog.capture("Order Completed", distinct_id=beacon.anonymous, properties=ORDER)
    posthog.flush()
    posthog.shutdown()
    altertable = Altertable(key, server_url=beacon.url, environment="production")
    with altertable.session, pytest.raises(AltertableApiError) as refused:
        altertable.track("Order Completed", beacon.anonymous, {"properties": ORDER})

    assert refused.value.status == 401
    assert refused.value.details["error_code"] == "invalid-api-key"
    for name, seen in errors.items():
        assert [status for _, status, _ in seen] == [401], (name, seen)
    # Rudder reads `code` and `message` from an error body; without both it raises KeyError and retries
    # the batch as if the network had failed, even a 4xx (WIRE.md).
    assert errors["rudder"][0][0] is RudderAPIError
    assert drain() == 0
    assert stored_events(beacon.project) == []


@pytest.mark.parametrize("sdk", ["segment", "posthog"])
def test_an_unknown_key_reaches_every_node_sdk_as_a_401_and_nothing_is_stored(beacon, sdk):
    result, report = _run_node(beacon, sdk, _unknown_key())
    assert result.returncode == 1, f"{sdk} did not report the refusal:\n{result.stdout}\n{result.stderr}"
    assert report["errors"], report
    assert {request["status"] for request in report["requests"]} == {401}
    assert drain() == 0
    assert stored_events(beacon.project) == []
