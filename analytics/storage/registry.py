from functools import cache

from django.db import connection

from analytics.models import StorageBackend, StorageState
from analytics.storage.base import EventStore


class StoreNotInstalled(RuntimeError):
    pass


def store_for(backend: str) -> EventStore:
    from analytics.storage.postgres import PostgresStore
    from analytics.storage.timescale import TimescaleStore

    return {StorageBackend.TIMESCALEDB: TimescaleStore, StorageBackend.POSTGRES: PostgresStore}[backend]()


@cache
def _cached_store(alias: str) -> EventStore:
    state = StorageState.objects.using(alias).filter(id=1).first()
    if state is None:
        raise StoreNotInstalled("The event store is not installed: run `python manage.py migrate`.")
    return store_for(state.backend)


def get_store() -> EventStore:
    """The installed backend. The choice is fixed at migrate time, so caching it per process is safe."""
    return _cached_store(connection.alias)


def forget_store() -> None:
    _cached_store.cache_clear()
