"""Quarantined events: replayed once the plan is fixed, and dropped after the project's retention.

Replay takes the project's unreplayed events in id order, a chunk at a time, each chunk in one
transaction: lock the rows (``SKIP LOCKED``: a concurrent replay takes other rows), check each
event against the current plan, store those that pass (through the same exactly-once insert as
the writer) and mark them replayed. An event is replayed at most once: the mark is committed with
the insert, locked rows are skipped, and the store's message-id claim would refuse a second copy.
Events that still fail keep their place, with their violations brought up to date.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from analytics.identity import resolve_persons
from analytics.ingest import buffer
from analytics.plan.models import QuarantinedEvent, ViolationCount, ViolationSample
from analytics.plan.observed import mark_seen
from analytics.plan.runtime import compiled_plan
from analytics.storage import get_store
from analytics.storage.base import PlanStatus
from projects.models import Project

CHUNK = 500


@dataclass
class ReplayResult:
    checked: int = 0
    stored: int = 0
    still_failing: int = 0
    remaining: int = 0  # left for another run (``limit`` reached)


def replay_quarantine(project: Project, *, limit: int = 5000) -> ReplayResult:
    project = Project.objects.get(id=project.id)
    plan = compiled_plan(project.id, project.plan_version)
    result = ReplayResult()
    last_id = 0
    while result.checked < limit:
        with transaction.atomic():
            rows = list(
                QuarantinedEvent.objects.select_for_update(skip_locked=True)
                .filter(project=project, replayed_at__isnull=True, id__gt=last_id)
                .order_by("id")[: min(CHUNK, limit - result.checked)]
            )
            if not rows:
                break
            last_id = rows[-1].id
            _replay_chunk(rows, plan, result)
    result.remaining = QuarantinedEvent.objects.filter(
        project=project, replayed_at__isnull=True, id__gt=last_id
    ).count()
    return result


def _replay_chunk(rows: list[QuarantinedEvent], plan, result: ReplayResult) -> None:
    passing, replayed_ids = [], []
    for row in rows:
        record, _ = buffer.from_row(row.record)
        violations = plan.check(record.event, record.properties or {})
        result.checked += 1
        if violations:
            result.still_failing += 1
            row.violations = [violation.as_dict() for violation in violations]
            row.save(update_fields=["violations"])
            continue
        context = {key: value for key, value in (record.context or {}).items() if key != "plan_violations"}
        context["replayed_from_quarantine"] = True
        passing.append(record._replace(plan_status=PlanStatus.VALID, context=context))
        replayed_ids.append(row.id)
    if passing:
        fresh = get_store().insert_new(passing, prepare=lambda fresh: resolve_persons(fresh, {}))
        mark_seen(fresh)
        result.stored += len(fresh)
        QuarantinedEvent.objects.filter(id__in=replayed_ids).update(replayed_at=timezone.now())


def drop_expired(now=None) -> dict:
    """Quarantined events, violation counts and samples older than their project's retention."""
    now = now or timezone.now()
    deleted = {"quarantined": 0, "violation_counts": 0, "violation_samples": 0}
    for project_id, days in Project.objects.values_list("id", "retention_days"):
        cutoff = now - timedelta(days=days)
        deleted["quarantined"] += QuarantinedEvent.objects.filter(
            project_id=project_id, received_at__lt=cutoff
        ).delete()[0]
        deleted["violation_counts"] += ViolationCount.objects.filter(
            project_id=project_id, hour__lt=cutoff
        ).delete()[0]
        deleted["violation_samples"] += ViolationSample.objects.filter(
            project_id=project_id, seen_at__lt=cutoff
        ).delete()[0]
    return deleted
