"""The ingest writer: Redis stream entries -> the event store, exactly once.

Loop (one process, ``manage.py ingest_writer``; run as many as needed):

1. On start, and after a failed write, re-read this consumer's own pending entries (id ``0``).
2. Every ``INGEST_CLAIM_IDLE_SECONDS``, take over entries another consumer read but never
   acknowledged for that long (it died): ``XAUTOCLAIM``.
3. Read new entries (``>``) from every shard, up to ``INGEST_WRITER_BATCH``, blocking up to a second.
4. Write them in one transaction: dedup claim, identity, COPY (``write_events``).
5. Only after the commit: ``XACK`` and ``XDEL`` them.

A crash anywhere before 5 leaves the entries pending: they are written again by this consumer on
restart or by another one after the idle time, and the dedup claim turns the second write into a
no-op. An entry the database refuses (bad data, not an outage) is moved to the dead-letter stream
after it failed alone, so one poisoned entry cannot stop the rest.
"""

import logging
import os
import signal
import socket
import time

import psycopg
import redis
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

from analytics.identity import resolve_persons
from analytics.ingest import buffer
from analytics.ingest.incoming import PersonUpdate
from analytics.models import QuarantinedEvent
from analytics.plan.observed import observe
from analytics.storage import get_store
from analytics.storage.base import EventRecord, PlanStatus, unique_by_message_id
from config.redis import get_redis

logger = logging.getLogger(__name__)


def write_events(events: list[tuple[EventRecord, PersonUpdate | None]]) -> list[EventRecord]:
    """Store events exactly once and resolve their persons, in one transaction. Returns the new ones.

    Events the plan blocked go to quarantine instead (once per message id), without touching persons.
    """
    records = [record for record, _ in events if record.plan_status != PlanStatus.BLOCKED]
    blocked = [record for record, _ in events if record.plan_status == PlanStatus.BLOCKED]
    updates = {(r.project_id, r.message_id): update for r, update in events if update is not None}
    with transaction.atomic():
        quarantined = quarantine(blocked) if blocked else []
        fresh = get_store().insert_new(records, prepare=lambda fresh: resolve_persons(fresh, updates))
        observe(fresh + quarantined)
        return fresh


def quarantine(records: list[EventRecord]) -> list[EventRecord]:
    """Keep blocked events (once per message id). Returns those quarantined for the first time."""
    already = set(
        QuarantinedEvent.objects.filter(
            project_id__in={record.project_id for record in records},
            message_id__in=[record.message_id for record in records],
        ).values_list("project_id", "message_id")
    )
    records = [
        record
        for record in unique_by_message_id(records)
        if (record.project_id, record.message_id) not in already
    ]
    QuarantinedEvent.objects.bulk_create(
        (
            QuarantinedEvent(
                project_id=record.project_id,
                environment_id=record.environment_id,
                message_id=record.message_id,
                event=record.event,
                time=record.time,
                received_at=record.received_at,
                record=buffer.to_row(record),
                violations=(record.context or {}).get("plan_violations", []),
                app_version=str((record.context or {}).get("app_version") or "")[:100],
            )
            for record in records
        ),
        ignore_conflicts=True,  # a concurrent writer quarantined the same event first
    )
    return records


def _failpoint(name: str) -> None:
    """Crash here on purpose (tests of what a SIGKILL at this point loses: nothing)."""
    if os.environ.get("BEACON_WRITER_FAILPOINT") == name:
        logger.warning("failpoint %s: killing the writer", name)
        os.kill(os.getpid(), signal.SIGKILL)


class IngestWriter:
    def __init__(
        self, *, consumer: str | None = None, batch_entries: int | None = None, block_ms: int = 1000
    ):
        self.client = get_redis()
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch_entries = batch_entries or settings.INGEST_WRITER_BATCH
        self.block_ms = block_ms
        self.claim_idle_ms = settings.INGEST_CLAIM_IDLE_SECONDS * 1000
        self.streams = buffer.stream_names()
        self.read_own_pending = True
        self.next_claim_at = 0.0
        self.stopping = False
        self.written = 0

    # --- reading ---------------------------------------------------------------------------------

    def _read(self) -> list[tuple[str, bytes, bytes]]:
        """Entries to write: [(stream, entry id, payload)]."""
        if self.read_own_pending:
            entries = self._xreadgroup("0", block=None)
            if entries:
                return entries
            self.read_own_pending = False
        if time.monotonic() >= self.next_claim_at:
            self.next_claim_at = time.monotonic() + max(self.claim_idle_ms / 1000 / 2, 0.2)
            claimed = self._claim_stale()
            if claimed:
                return claimed
        return self._xreadgroup(">", block=self.block_ms)

    def _xreadgroup(self, start: str, block: int | None) -> list[tuple[str, bytes, bytes]]:
        reply = self.client.xreadgroup(
            buffer.GROUP,
            self.consumer,
            {stream: start for stream in self.streams},
            count=self.batch_entries,
            block=block,
        )
        entries = []
        for stream, messages in reply or []:
            name = stream.decode() if isinstance(stream, bytes) else stream
            for entry_id, fields in messages:
                if fields:  # an entry deleted while pending comes back with no fields
                    entries.append((name, entry_id, fields[buffer.FIELD]))
                else:
                    self.client.xack(name, buffer.GROUP, entry_id)
        return entries

    def _claim_stale(self) -> list[tuple[str, bytes, bytes]]:
        entries = []
        for stream in self.streams:
            reply = self.client.xautoclaim(
                stream,
                buffer.GROUP,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id="0-0",
                count=self.batch_entries,
            )
            for entry_id, fields in reply[1]:  # Redis 7 adds a third element: ids deleted meanwhile
                if fields:
                    entries.append((stream, entry_id, fields[buffer.FIELD]))
        if entries:
            logger.warning("claimed %d entries left pending by a dead writer", len(entries))
        return entries

    # --- writing ---------------------------------------------------------------------------------

    def _acknowledge(self, entries) -> None:
        pipe = self.client.pipeline(transaction=False)
        for stream, entry_id, _ in entries:
            pipe.xack(stream, buffer.GROUP, entry_id)
            pipe.xdel(stream, entry_id)
        pipe.execute()

    def process(self, entries) -> int:
        events, readable = [], []
        for entry in entries:
            try:
                events.extend(buffer.decode(entry[2]))
                readable.append(entry)
            except (ValueError, TypeError, IndexError):
                self._dead_letter(entry, "undecodable")
        entries = readable
        if not entries:
            return 0
        try:
            written = len(write_events(events))
        except (OperationalError, InterfaceError, psycopg.OperationalError):
            raise  # the database is away: keep the entries pending, retry later
        except (DatabaseError, psycopg.Error):  # the data, not the server (the raw COPY raises psycopg's own)
            if len(entries) == 1:
                self._dead_letter(entries[0], "refused by the database")
                return 0
            logger.exception("a batch of %d entries failed; writing them one by one", len(entries))
            return sum(self.process([entry]) for entry in entries)
        _failpoint("after-commit")
        self._acknowledge(entries)
        return written

    def _dead_letter(self, entry, why: str) -> None:
        stream, entry_id, payload = entry
        logger.exception("entry %s of %s %s: moved to the dead-letter stream", entry_id, stream, why)
        self.client.xadd(
            buffer.dead_letter_stream(), {"e": payload, "stream": stream, "id": entry_id, "why": why}
        )
        self._acknowledge([entry])

    def run_once(self) -> int:
        entries = self._read()
        if not entries:
            return 0
        _failpoint("after-read")
        try:
            written = self.process(entries)
        except (OperationalError, InterfaceError, psycopg.OperationalError):
            logger.exception("database unavailable; %d entries stay pending", len(entries))
            connection.close()
            self.read_own_pending = True
            time.sleep(1)
            return 0
        self.written += written
        return written

    def run(self) -> None:
        buffer.ensure_groups(self.client)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        logger.info("ingest writer %s reading %s", self.consumer, ", ".join(self.streams))
        while not self.stopping:
            close_old_connections()  # between batches: drop a connection the server closed
            try:
                self.run_once()
            except redis.RedisError:
                logger.exception("Redis unavailable; retrying")
                self.read_own_pending = True
                time.sleep(1)

    def _stop(self, signum, frame) -> None:
        self.stopping = True
