"""How the data measures up to the plan: the violations report, "seen, not in plan", quarantine."""

from collections import Counter
from dataclasses import asdict
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from analytics.plan import actions
from analytics.plan.compiler import VIOLATION_KINDS
from analytics.plan.inference import infer_properties, type_of, value_at
from analytics.plan.models import EventDefinition, PropertyDefinition, QuarantinedEvent, ViolationSample
from analytics.plan.quarantine import replay_quarantine
from analytics.queries.violations import recent_properties, seen_events, violation_rows, violations_per_hour
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project
from projects.actions import ActionRefused
from projects.models import Environment

PERIODS = {"1": 1, "7": 7, "30": 30}


@login_required
@require_GET
def violations(request, slug):
    project = access_project(request.user, slug=slug)
    days = PERIODS.get(request.GET.get("days", "7"), 7)
    environments = {env.id: env for env in Environment.objects.filter(project=project)}
    environment = next(
        (env for env in environments.values() if env.slug == request.GET.get("environment")), None
    )
    event = request.GET.get("event") or None
    kind = request.GET.get("kind") if request.GET.get("kind") in VIOLATION_KINDS else None
    start = timezone.now() - timedelta(days=days)
    scope = {
        "project_id": project.id,
        "start": start,
        "environment_id": environment.id if environment else None,
        "event": event,
        "kind": kind,
    }
    rows = [
        {**asdict(row), "environment_slug": getattr(environments.get(row.environment_id), "slug", "?")}
        for row in violation_rows(**scope)
    ]
    by_kind = Counter()
    for row in rows:
        by_kind[row["kind"]] += row["count"]
    return render(
        request,
        "plan/violations.html",
        {
            "project": project,
            "tab": "plan",
            "rows": rows,
            "by_kind": [(kind_, by_kind[kind_]) for kind_ in VIOLATION_KINDS],
            "total": sum(by_kind.values()),
            "chart": _chart(violations_per_hour(**scope), start, days),
            "days": days,
            "environments": environments.values(),
            "environment": environment,
            "event": event,
            "kind": kind,
            "kinds": VIOLATION_KINDS,
        },
    )


def _chart(hours, start, days: int) -> list[tuple]:
    """Bars of violations per hour (one day) or per day, with the empty ones: [(label, count, %)]."""
    by_bucket: Counter = Counter()
    for hour_count in hours:
        bucket = hour_count.hour if days == 1 else hour_count.hour.date()
        by_bucket[bucket] += hour_count.count
    if days == 1:
        first = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        buckets = [first + timedelta(hours=offset) for offset in range(24)]
        labels = [bucket.strftime("%H:00") for bucket in buckets]
    else:
        first = (start + timedelta(days=1)).date()
        buckets = [first + timedelta(days=offset) for offset in range(days)]
        labels = [bucket.strftime("%d %b") for bucket in buckets]
    peak = max(by_bucket.values(), default=0) or 1
    return [
        (label, by_bucket[bucket], round(100 * by_bucket[bucket] / peak))
        for label, bucket in zip(labels, buckets, strict=True)
    ]


@login_required
@require_GET
def violation_samples(request, slug):
    project = access_project(request.user, slug=slug)
    samples = ViolationSample.objects.filter(
        project=project,
        event=request.GET.get("event", ""),
        property=request.GET.get("property", ""),
        kind=request.GET.get("kind", ""),
    ).order_by("-seen_at")[:5]
    return render(request, "plan/violations.html#samples", {"project": project, "samples": samples})


# --- seen, not in plan -----------------------------------------------------------------------------

UNPLANNED_DAYS = 30


@login_required
@require_GET
def unplanned(request, slug):
    project = access_project(request.user, slug=slug)
    start = timezone.now() - timedelta(days=UNPLANNED_DAYS)
    planned = set(EventDefinition.objects.filter(project=project).values_list("name", flat=True))
    events = []
    for seen in seen_events(project_id=project.id, start=start):
        if seen.event in planned or seen.event.startswith("$"):
            continue
        inferred = infer_properties(
            recent_properties(project_id=project.id, event=seen.event, start=start, limit=20)
        )
        events.append({"seen": seen, "properties": inferred})
    return render(
        request,
        "plan/unplanned.html",
        {
            "project": project,
            "tab": "plan",
            "events": events,
            "properties": _unplanned_properties(project, start, planned),
            "days": UNPLANNED_DAYS,
            "can_edit": can_edit(request.user, project),
        },
    )


def _unplanned_properties(project, start, planned: set[str]) -> list[dict]:
    """Top-level properties sent with planned events but not in their definition, with a type."""
    found: dict[tuple[str, str], dict] = {}
    for row in violation_rows(project_id=project.id, start=start, kind="unplanned_property"):
        if row.event not in planned or "." in row.property or not row.property:
            continue
        entry = found.setdefault(
            (row.event, row.property), {"event": row.event, "property": row.property, "count": 0}
        )
        entry["count"] += row.count
    existing = set(
        PropertyDefinition.objects.filter(event__project=project).values_list("event__name", "name")
    )
    samples = ViolationSample.objects.filter(project=project, kind="unplanned_property")
    types: dict[tuple[str, str], set] = {}
    for sample in samples:
        types.setdefault((sample.event, sample.property), set()).add(
            type_of(value_at(sample.properties, sample.property))
        )
    result = []
    for key, entry in sorted(found.items(), key=lambda item: -item[1]["count"]):
        if key in existing:
            continue
        seen_types = types.get(key, set()) - {None}
        entry["type"] = seen_types.pop() if len(seen_types) == 1 else "string"
        result.append(entry)
    return result


@login_required
@require_POST
def unplanned_add_event(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    name = request.POST.get("event", "")
    start = timezone.now() - timedelta(days=UNPLANNED_DAYS)
    inferred = infer_properties(recent_properties(project_id=project.id, event=name, start=start, limit=20))
    try:
        event = actions.do_create_event(
            project=project,
            name=name,
            acting_user=request.user,
            properties=inferred,
            summary=f"Added {name} from the data",
        )
    except ActionRefused as refused:
        messages.error(request, f"Could not add {name}: {refused.message}")
        return redirect("plan-unplanned", slug=project.slug)
    messages.success(request, f"Added {name} as a draft with {len(inferred)} inferred properties.")
    return redirect("plan-event", slug=project.slug, event_id=event.id)


@login_required
@require_POST
def unplanned_add_property(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    event = EventDefinition.objects.filter(project=project, name=request.POST.get("event", "")).first()
    name = request.POST.get("property", "")
    if event is None:
        messages.error(request, "That event is not in the plan.")
        return redirect("plan-unplanned", slug=project.slug)
    try:
        actions.do_add_property(
            owner=event,
            name=name,
            values={"type": request.POST.get("type", "string")},
            acting_user=request.user,
        )
    except ActionRefused as refused:
        messages.error(request, f"Could not add {name}: {refused.message}")
    else:
        messages.success(request, f"Added {name} to {event.name}.")
    return redirect("plan-unplanned", slug=project.slug)


# --- quarantine ------------------------------------------------------------------------------------


@login_required
@require_GET
def quarantine(request, slug):
    project = access_project(request.user, slug=slug)
    waiting = QuarantinedEvent.objects.filter(project=project, replayed_at__isnull=True)
    if event := request.GET.get("event"):
        waiting = waiting.filter(event=event)
    return render(
        request,
        "plan/quarantine.html",
        {
            "project": project,
            "tab": "plan",
            "events": waiting.select_related("environment").order_by("-received_at")[:100],
            "waiting": waiting.count(),
            "replayed": QuarantinedEvent.objects.filter(project=project, replayed_at__isnull=False).count(),
            "blocking": Environment.objects.filter(project=project, plan_policy="block"),
            "event": event,
            "can_edit": can_edit(request.user, project),
        },
    )


@login_required
@require_POST
def quarantine_replay(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    result = replay_quarantine(project)
    text = (
        f"Replayed {result.checked} quarantined events against plan v{project.plan_version}: "
        f"{result.stored} now pass and were stored, {result.still_failing} still fail."
    )
    if result.remaining:
        text += f" {result.remaining} more are waiting: replay again."
    messages.success(request, text)
    return redirect("plan-quarantine", slug=project.slug)
