"""What the plan learns from the events the writer stores: violation counts and samples, and when
each planned event was first and last seen. Runs in the writer's transaction, once per batch, on the
events that batch actually stored or quarantined (a replayed stream entry is not counted twice)."""

from collections import Counter
from datetime import timedelta

from django.db.models import Count, Q, Value
from django.db.models.functions import Coalesce

from analytics.plan.models import EventDefinition, ViolationSample
from analytics.queries.violations import add_counts
from analytics.storage.base import EventRecord

SAMPLES_PER_KIND = 3
# last_seen_at is "within a minute": one UPDATE per event name per minute, not per batch.
SEEN_RESOLUTION = timedelta(minutes=1)


def observe(records: list[EventRecord]) -> None:
    if not records:
        return
    record_violations(records)
    mark_seen(records)


def _violations(record: EventRecord) -> list[dict]:
    return (record.context or {}).get("plan_violations") or []


def record_violations(records: list[EventRecord]) -> None:
    counts: Counter = Counter()
    samples: dict[tuple, list[tuple[EventRecord, dict]]] = {}
    for record in records:
        app_version = str((record.context or {}).get("app_version") or "")[:100]
        hour = record.received_at.replace(minute=0, second=0, microsecond=0)
        for violation in _violations(record):
            prop = violation.get("property", "")[:400]
            counts[
                (
                    record.project_id,
                    record.environment_id,
                    hour,
                    record.event,
                    prop,
                    violation["kind"],
                    app_version,
                )
            ] += 1
            kept = samples.setdefault((record.project_id, record.event, prop, violation["kind"]), [])
            if len(kept) < SAMPLES_PER_KIND:
                kept.append((record, violation))
    if not counts:
        return
    add_counts(counts)
    _add_samples(samples)


def _add_samples(samples: dict[tuple, list[tuple[EventRecord, dict]]]) -> None:
    """Keep the first few samples of each (event, property, kind): they show what was sent."""
    project_ids = {key[0] for key in samples}
    events = {key[1] for key in samples}
    existing = {
        (row["project_id"], row["event"], row["property"], row["kind"]): row["samples"]
        for row in ViolationSample.objects.filter(project_id__in=project_ids, event__in=events)
        .values("project_id", "event", "property", "kind")
        .annotate(samples=Count("id"))
    }
    ViolationSample.objects.bulk_create(
        ViolationSample(
            project_id=record.project_id,
            environment_id=record.environment_id,
            event=record.event,
            property=key[2],
            kind=key[3],
            message=violation.get("message", ""),
            app_version=str((record.context or {}).get("app_version") or "")[:100],
            properties=record.properties or {},
            seen_at=record.received_at,
        )
        for key, kept in samples.items()
        for record, violation in kept[: max(SAMPLES_PER_KIND - existing.get(key, 0), 0)]
    )


def mark_seen(records: list[EventRecord]) -> None:
    """One UPDATE per project per batch: the batch's latest receive time stands for all its events
    (a batch spans about a second, within SEEN_RESOLUTION)."""
    by_project: dict[int, tuple[set[str], object]] = {}
    for record in records:
        names, latest = by_project.get(record.project_id, (set(), record.received_at))
        names.add(record.event)
        by_project[record.project_id] = (names, max(latest, record.received_at))
    for project_id, (names, seen_at) in by_project.items():
        EventDefinition.objects.filter(project_id=project_id, name__in=names).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=seen_at - SEEN_RESOLUTION)
        ).update(last_seen_at=seen_at, first_seen_at=Coalesce("first_seen_at", Value(seen_at)))
