"""The event store: one small interface, two backends (TimescaleDB, plain PostgreSQL).

Everything above this package (ingestion, queries, pages) sees the same relations on both backends:

- ``events``: raw events, time-partitioned (hypertable with 1-day chunks, or daily partitions).
- ``event_counts_hourly`` / ``event_counts_daily``: events per project, environment and event name.
- ``event_actors_hourly`` / ``event_actors_daily``: the same, per distinct_id and session_id, so unique
  users and unique sessions over any range are a ``count(DISTINCT ...)`` over far fewer rows than raw.

and buckets time through :meth:`EventStore.time_bucket`. Use :func:`get_store` to reach it.
"""

from analytics.storage.base import EventRecord, EventStore, PlanStatus
from analytics.storage.registry import get_store

__all__ = ["EventRecord", "EventStore", "PlanStatus", "get_store"]
