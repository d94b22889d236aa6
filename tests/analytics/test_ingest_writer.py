"""The ingest writer as a real process: durability across crashes, exactly-once, dead consumers."""

import signal

import pytest

from analytics.ingest import buffer
from config.redis import get_redis
from tests.analytics.ingest import backlog, new_key, post, stored_events, wait_for


def _batch(count: int, prefix: str = "m") -> list[dict]:
    return [
        {
            "environment": "production",
            "event": "Signed Up",
            "distinct_id": f"user-{index}",
            "properties": {"index": index},
            "timestamp": "2026-11-22T12:00:00Z",
            "uuid": f"{prefix}-{index}",
        }
        for index in range(count)
    ]


def _pending() -> int:
    client = get_redis()
    return sum(
        client.xpending(name, buffer.GROUP)["pending"]
        for name in buffer.stream_names()
        if client.exists(name)
    )


def test_it_writes_what_the_web_process_buffered(client, project, owner, writer_process):
    key = new_key(project, owner)
    writer_process.start()
    assert post(client, "/track", _batch(50), key=key).status_code == 200
    wait_for(lambda: len(stored_events(project)) == 50, message="50 stored events")
    wait_for(lambda: backlog() == 0, message="an empty stream (acknowledged and deleted)")


@pytest.mark.parametrize("failpoint", ["after-read", "after-commit"])
def test_a_writer_killed_before_acknowledging_loses_and_duplicates_nothing(
    client, project, owner, writer_process, failpoint
):
    key = new_key(project, owner)
    assert post(client, "/track", _batch(30, "first"), key=key).status_code == 200
    assert post(client, "/track", _batch(20, "second"), key=key).status_code == 200

    writer_process.start(BEACON_WRITER_FAILPOINT=failpoint)
    assert writer_process.process.wait(timeout=30) == -signal.SIGKILL
    assert _pending() == 2  # read by the dead writer, never acknowledged
    expected_before_restart = 0 if failpoint == "after-read" else 50
    assert len(stored_events(project)) == expected_before_restart

    writer_process.env.pop("BEACON_WRITER_FAILPOINT", None)
    writer_process.start()  # a new consumer: it claims the dead one's entries once they are idle
    wait_for(
        lambda: backlog() == 0 and _pending() == 0,
        message="the dead writer's entries to be claimed and acknowledged",
    )
    events = stored_events(project)
    assert len(events) == 50
    assert len({event["message_id"] for event in events}) == 50


def test_the_same_batch_sent_three_times_is_stored_once(client, project, owner, writer_process):
    key = new_key(project, owner)
    batch = _batch(40, "retry")
    writer_process.start()
    for _ in range(3):
        assert post(client, "/track", batch, key=key).status_code == 200
    assert post(client, "/track?sync=true", batch, key=key).status_code == 200
    wait_for(lambda: backlog() == 0, message="the writer to catch up")
    assert len(stored_events(project)) == 40


@pytest.mark.django_db
def test_an_entry_the_database_refuses_goes_to_the_dead_letter_stream_and_the_rest_is_written(
    client, project, owner, streams
):
    from datetime import UTC, datetime

    from analytics.storage.base import EventRecord
    from tests.analytics.ingest import drain

    key = new_key(project, owner)
    assert post(client, "/track", _batch(3, "before"), key=key).status_code == 200
    environment = project.environments.get(slug="production")
    now = datetime.now(UTC)
    poisoned = EventRecord(now, now, project.id, environment.id, None, "poison")  # event name NULL: refused
    client_ = get_redis()
    client_.xadd(buffer.stream_for(project.id), {"e": buffer.encode([(poisoned, None)])})
    client_.xadd(buffer.stream_for(project.id), {"e": b"not json"})
    assert post(client, "/track", _batch(2, "after"), key=key).status_code == 200

    drain()
    assert sorted(e["message_id"] for e in stored_events(project)) == [
        "after-0",
        "after-1",
        "before-0",
        "before-1",
        "before-2",
    ]
    dead = client_.xrange(buffer.dead_letter_stream())
    assert sorted(fields[b"why"] for _, fields in dead) == [b"refused by the database", b"undecodable"]
    assert backlog() == 0 and _pending() == 0
