"""Choose and install the event-store backend. Called once, by the migration that creates it."""

import logging

from django.conf import settings

from analytics.models import StorageBackend

logger = logging.getLogger(__name__)


def timescaledb_available(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    return cursor.fetchone() is not None


def choose_backend(cursor) -> str:
    forced = settings.STORAGE_BACKEND
    if forced == StorageBackend.POSTGRES:
        return StorageBackend.POSTGRES
    available = timescaledb_available(cursor)
    if forced == StorageBackend.TIMESCALEDB and not available:
        raise RuntimeError(
            "BEACON_STORAGE_BACKEND=timescaledb, but this PostgreSQL server does not offer the timescaledb "
            "extension. Install TimescaleDB or use BEACON_STORAGE_BACKEND=auto."
        )
    return StorageBackend.TIMESCALEDB if available else StorageBackend.POSTGRES


def install_event_store(apps, schema_editor) -> None:
    from analytics.storage.registry import forget_store, store_for

    StorageState = apps.get_model("analytics", "StorageState")
    with schema_editor.connection.cursor() as cursor:
        backend = choose_backend(cursor)
        store_for(backend).install(cursor)
    StorageState.objects.using(schema_editor.connection.alias).create(id=1, backend=backend)
    forget_store()
    logger.info("event store installed on %s", backend)
