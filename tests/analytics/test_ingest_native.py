"""The native endpoints (Altertable-compatible): bodies, replies, keys, environments and sync writes."""

import pytest

from tests.analytics.ingest import backlog, drain, new_key, person_of, post, stored_events

pytestmark = pytest.mark.django_db

TRACK = {
    "timestamp": "2026-11-22T12:02:43.499Z",
    "event": "Order Completed",
    "environment": "production",
    "distinct_id": "user_123",
    "properties": {"plan": "pro", "amount": 42.5},
}


def test_it_accepts_one_event_and_writes_it_after_the_buffer(client, project, owner, streams):
    key = new_key(project, owner)
    response = post(client, "/track", TRACK, key=key)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "error_code": None, "status": 1, "code": 200, "accepted": 1}
    assert backlog() == 1
    assert stored_events(project) == []
    assert drain() == 1
    [stored] = stored_events(project)
    assert stored["event"] == "Order Completed"
    assert stored["properties"] == {"plan": "pro", "amount": 42.5}
    assert stored["time"].isoformat() == "2026-11-22T12:02:43.499000+00:00"
    assert stored["person_id"] == person_of(project, "user_123").id
