"""Identity resolution: persons, $set / $set_once, linking anonymous ids, and the merge guard."""

import pytest

from analytics.models import IdentityWarning, Person
from tests.analytics.ingest import new_key, person_of, post, stored_events

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.fixture
def send(client, project, owner):
    key = new_key(project, owner)

    def send(path: str, body):
        response = post(client, f"{path}?sync=true", body, key=key)
        assert response.status_code == 200, response.content
        return response

    return send


def track(distinct_id: str, event: str = "Viewed", at: str = "2026-11-22T10:00:00Z", **extra) -> dict:
    return {
        "environment": "production",
        "event": event,
        "distinct_id": distinct_id,
        "properties": {},
        "timestamp": at,
        **extra,
    }


def identify(user: str, anonymous: str | None = None, at: str = "2026-11-22T10:05:00Z", **traits) -> dict:
    body = {"environment": "production", "distinct_id": user, "traits": traits, "timestamp": at}
    if anonymous:
        body["anonymous_id"] = anonymous
    return body


def test_every_distinct_id_gets_one_person_and_events_carry_it(send, project):
    send("/track", [track("a"), track("a", at="2026-11-22T10:01:00Z"), track("b")])
    events = stored_events(project)
    assert {e["distinct_id"]: e["person_id"] for e in events} == {
        "a": person_of(project, "a").id,
        "b": person_of(project, "b").id,
    }
    assert Person.objects.filter(project=project).count() == 2
    assert not person_of(project, "a").is_identified


def test_identify_after_anonymous_use_makes_one_person(send, project):
    send("/track", [track("anon-1"), track("anon-1", event="Added To Cart")])
    anonymous_person = person_of(project, "anon-1")
    send("/identify", identify("user-1", "anon-1", email="jane@example.com"))
    user = person_of(project, "user-1")
    assert user == person_of(project, "anon-1") == anonymous_person  # the anonymous person is kept
    assert user.is_identified and user.properties == {"email": "jane@example.com"}
    assert Person.objects.filter(project=project).count() == 1


def test_identify_merges_an_anonymous_person_into_a_known_user(send, project):
    send("/identify", identify("user-1", at="2026-11-22T09:00:00Z", plan="pro", name="Jane"))
    send("/track", track("anon-2", at="2026-11-22T09:30:00Z"))
    # an anonymous visitor's properties (PostHog's `$set` event does not identify)
    set_event = {"event": "$set", "distinct_id": "anon-2", "$set": {"name": "J.", "locale": "fr"}}
    send("/capture/", {**set_event, "timestamp": "2026-11-22T09:31:00Z"})
    assert not person_of(project, "anon-2").is_identified
    send(
        "/alias",
        {
            "environment": "production",
            "distinct_id": "anon-2",
            "new_user_id": "user-1",
            "timestamp": "2026-11-22T10:00:00Z",
        },
    )
    user = person_of(project, "user-1")
    assert person_of(project, "anon-2") == user
    # the known user's properties win; the anonymous person's fill the gaps
    assert user.properties == {"plan": "pro", "name": "Jane", "locale": "fr"}
    assert Person.objects.filter(project=project).count() == 1


def test_two_identified_users_are_never_merged_silently(send, project):
    send(
        "/identify",
        [identify("user-1", at="2026-11-22T09:00:00Z"), identify("user-2", at="2026-11-22T09:01:00Z")],
    )
    send(
        "/alias",
        {
            "environment": "production",
            "distinct_id": "user-1",
            "new_user_id": "user-2",
            "timestamp": "2026-11-22T10:00:00Z",
        },
    )
    assert person_of(project, "user-1") != person_of(project, "user-2")
    [warning] = IdentityWarning.objects.filter(project=project)
    assert warning.kind == IdentityWarning.Kind.BOTH_IDENTIFIED
    assert {warning.distinct_id, warning.other_distinct_id} == {"user-1", "user-2"}
    assert "does not merge identified users" in warning.message


def test_set_overwrites_and_set_once_only_fills(client, project, owner):
    key = new_key(project, owner)
    batch = {
        "api_key": key,
        "batch": [
            {
                "event": "$identify",
                "distinct_id": "u",
                "timestamp": "2026-11-22T10:00:00Z",
                "properties": {"$set": {"plan": "free"}, "$set_once": {"first_seen": "monday"}},
            },
            {
                "event": "$identify",
                "distinct_id": "u",
                "timestamp": "2026-11-22T11:00:00Z",
                "properties": {"$set": {"plan": "pro"}, "$set_once": {"first_seen": "tuesday"}},
            },
        ],
    }
    assert post(client, "/batch/?sync=true", batch).status_code == 200
    assert person_of(project, "u").properties == {"plan": "pro", "first_seen": "monday"}


def test_identity_changes_are_applied_in_event_time_order(send, project):
    later, earlier = (
        identify("u", at="2026-11-22T12:00:00Z", plan="pro"),
        identify("u", at="2026-11-22T11:00:00Z", plan="free"),
    )
    send("/identify", [later, earlier])
    assert person_of(project, "u").properties == {"plan": "pro"}


def test_a_retried_identify_does_not_apply_twice(send, project):
    first = {**identify("u", plan="pro"), "uuid": "identify-1"}
    send("/identify", first)
    send("/identify", identify("u", at="2026-11-22T12:00:00Z", plan="enterprise"))
    send("/identify", first)  # a retry of the first, after the second: already stored, ignored
    assert person_of(project, "u").properties == {"plan": "enterprise"}


def test_persons_are_per_project(send, project, owner):
    from tests.conftest import make_project

    other = make_project(owner=owner)
    send("/track", track("shared-id"))
    other_key = new_key(other, owner)
    from django.test import Client

    assert post(Client(), "/track?sync=true", track("shared-id"), key=other_key).status_code == 200
    assert person_of(project, "shared-id") != person_of(other, "shared-id")
