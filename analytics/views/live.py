"""The live inspector: an environment's events as they arrive, each checked against the current plan.

The page polls (htmx, every second) for what arrived after its cursor; filters reset the list.
At hundreds of events per second one poll shows the newest ``ROWS_PER_POLL`` and says how many it
left out, and the browser keeps at most ``MAX_ROWS`` rows (static/js/live.js).
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from analytics.verification import live
from analytics.verification.inspection import inspect, plan_for, violations_of
from projects.access import access_project
from projects.models import Environment

ROWS_PER_POLL = 50
MAX_ROWS = 500
POLL_SECONDS = 1


def _environment(project, slug: str | None) -> Environment:
    environments = Environment.objects.filter(project=project)
    if slug:
        return get_object_or_404(environments, slug=slug)
    environment = environments.first()
    if environment is None:
        raise Http404("This project has no environment.")
    return environment


def _filters(request, plan) -> live.Filters:
    return live.Filters(
        event=request.GET.get("event", "").strip()[:200],
        distinct_id=request.GET.get("distinct_id", "").strip()[:400],
        device_id=request.GET.get("device_id", "").strip()[:400],
        session_id=request.GET.get("session_id", "").strip()[:400],
        invalid_only=request.GET.get("invalid") == "1",
        is_invalid=lambda record: bool(violations_of(plan, record)),
    )


def _rows(page: live.Page, plan) -> list[dict]:
    rows = []
    for item in page.events:
        violations = violations_of(plan, item.record)
        rows.append(
            {"item": item, "record": item.record, "violations": violations, "has_plan": plan is not None}
        )
    return rows


@login_required
@require_GET
def inspector(request, slug):
    project = access_project(request.user, slug=slug)
    environment = _environment(project, request.GET.get("environment"))
    plan = plan_for(project)
    filters = _filters(request, plan)
    page = live.read(project.id, environment.id, cursor="", matches=filters, limit=ROWS_PER_POLL)
    return render(
        request,
        "verify/live.html",
        {
            "project": project,
            "tab": "verify",
            "subtab": "live",
            "environment": environment,
            "environments": Environment.objects.filter(project=project),
            "filters": filters,
            "page": page,
            "rows": _rows(page, plan),
            "has_plan": plan is not None,
            "max_rows": MAX_ROWS,
            "poll_seconds": POLL_SECONDS,
        },
    )


@login_required
@require_GET
def poll(request, slug):
    """What arrived after the cursor (``reset``: the feed's latest, for new filters)."""
    project = access_project(request.user, slug=slug)
    environment = _environment(project, request.GET.get("environment"))
    plan = plan_for(project)
    filters = _filters(request, plan)
    reset = request.GET.get("reset") == "1"
    cursor = "" if reset else request.GET.get("cursor", "")
    page = live.read(project.id, environment.id, cursor=cursor, matches=filters, limit=ROWS_PER_POLL)
    context = {
        "project": project,
        "environment": environment,
        "filters": filters,
        "page": page,
        "rows": _rows(page, plan),
        "reset": reset,
        "has_plan": plan is not None,
    }
    response = render(request, "verify/live.html#poll", context)
    generation = request.GET.get("gen", "")
    if generation.isascii() and generation.isdigit():
        response["X-Live-Generation"] = generation  # static/js/live.js drops answers to older filters
    return response


@login_required
@require_GET
def event_detail(request, slug, entry_id, index):
    project = access_project(request.user, slug=slug)
    environment = _environment(project, request.GET.get("environment"))
    record = live.find(project.id, environment.id, entry_id, index)
    context = {"project": project, "environment": environment, "gone": record is None}
    if record is not None:
        context["inspection"] = inspect(plan_for(project), record)
    return render(request, "verify/_inspection.html", context)
