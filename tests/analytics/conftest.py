import uuid

import pytest

from config.redis import get_redis


@pytest.fixture
def streams(settings):
    """Streams of this test only (a unique prefix), deleted afterwards."""
    settings.INGEST_STREAM_PREFIX = f"beacon-test:{uuid.uuid4().hex[:12]}:ingest"
    yield settings.INGEST_STREAM_PREFIX
    client = get_redis()
    keys = list(client.scan_iter(match=f"{settings.INGEST_STREAM_PREFIX}:*"))
    if keys:
        client.delete(*keys)
