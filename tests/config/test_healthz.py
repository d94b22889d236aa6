import pytest
import redis

from config import redis as beacon_redis


@pytest.mark.django_db
def test_it_reports_the_storage_backend_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["storage_backend"] in {"postgres", "timescaledb"}
    assert body["database"] == "ok"
    assert body["redis"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_down(client, monkeypatch):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(beacon_redis, "get_redis", lambda: unreachable)
    monkeypatch.setattr("config.views.get_redis", lambda: unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error: ")
    assert response.json()["database"] == "ok"


def test_it_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_it_reports_the_ingest_backlog(client, settings):
    settings.INGEST_STREAM_PREFIX = "beacon-test:healthz:ingest"
    client_ = beacon_redis.get_redis()
    client_.delete(
        *[f"{settings.INGEST_STREAM_PREFIX}:{shard}" for shard in range(settings.INGEST_STREAM_SHARDS)]
    )
    client_.xadd(f"{settings.INGEST_STREAM_PREFIX}:0", {"e": b"[]"})
    try:
        assert client.get("/healthz").json()["ingest_backlog"] == 1
    finally:
        client_.delete(f"{settings.INGEST_STREAM_PREFIX}:0")
