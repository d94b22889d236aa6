"""Helpers for ingestion tests: keys, isolated Redis streams, draining them, reading events back."""

import gzip

import orjson
from django.db import connection

from analytics.ingest import buffer
from analytics.ingest.writer import IngestWriter
from analytics.models import Person, PersonDistinctId
from config.redis import get_redis
from projects.actions import do_create_api_key
from projects.models import ApiKeyKind


def new_key(project, owner, kind=ApiKeyKind.WRITE, environment="production") -> str:
    _, raw = do_create_api_key(
        environment=project.environments.get(slug=environment), kind=kind, acting_user=owner
    )
    return raw


def backlog() -> int:
    client = get_redis()
    return sum(client.xlen(name) for name in buffer.stream_names() if client.exists(name))


def drain(writer: IngestWriter | None = None) -> int:
    """Write everything buffered, in this process (the test's transaction)."""
    writer = writer or IngestWriter(consumer="test", block_ms=10)
    buffer.ensure_groups(writer.client)
    written = 0
    for _ in range(100):
        if not backlog():
            return written
        written += writer.run_once()
    raise AssertionError(f"the writer did not empty the streams: {backlog()} entries left")


def post(
    client,
    path: str,
    body,
    *,
    key: str | None = None,
    gzipped: bool = False,
    headers=None,
    content_type="application/json",
):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    extra = dict(headers or {})
    if key is not None:
        extra["HTTP_X_API_KEY"] = key
    if gzipped:
        data = gzip.compress(data)
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.post(path, data=data, content_type=content_type, **extra)


def stored_events(project) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT time, received_at, environment_id, event, message_id, distinct_id, person_id, anonymous_id,
                   device_id, session_id, properties, context, plan_status
            FROM events WHERE project_id = %s ORDER BY time, event
            """,
            [project.id],
        )
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django reads jsonb as text
        row["properties"], row["context"] = orjson.loads(row["properties"]), orjson.loads(row["context"])
    return rows


def person_of(project, distinct_id: str) -> Person | None:
    link = (
        PersonDistinctId.objects.filter(project=project, distinct_id=distinct_id)
        .select_related("person")
        .first()
    )
    return link.person if link else None


def wait_for(condition, *, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
