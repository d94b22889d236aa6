"""The embedded servers `make run` and `make test` start (they are running during the test run)."""

import subprocess
import sys

import psycopg
import redis

from config import services


def run_services(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "config.services", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=services.REPO_DIR,
        timeout=120,
    )


def test_starting_twice_reuses_the_running_servers():
    if "DATABASE_URL" in __import__("os").environ:
        import pytest

        pytest.skip("DATABASE_URL is set: this run uses an external server, so nothing embedded runs")
    result = run_services("start")
    assert result.returncode == 0, result.stderr
    assert "postgres: already running" in result.stdout
    assert "redis: already running" in result.stdout


def test_the_embedded_redis_keeps_an_append_only_file():
    client = redis.Redis.from_url(services.redis_url())
    assert client.config_get("appendonly") == {"appendonly": "yes"}


def test_the_embedded_postgres_answers_on_the_url_settings_use():
    with psycopg.connect(services.database_url().rsplit("/", 1)[0] + "/postgres") as conn:
        assert conn.execute("SHOW server_version_num").fetchone()[0] >= "150000"


def test_given_urls_start_nothing():
    result = run_services(
        "start", env={"DATABASE_URL": "postgresql://db.invalid/x", "REDIS_URL": "redis://cache.invalid/0"}
    )
    assert result.returncode == 0, result.stderr
    assert "DATABASE_URL is set, using it and starting nothing" in result.stdout
    assert "REDIS_URL is set, using it and starting nothing" in result.stdout
