"""The analysis pages (DESIGN.md section 7): the trends, funnels and retention builders, saved
insights and the analysis home.

A builder's URL is its definition (``analytics.insights.forms`` documents the parameters), so a
query can be shared. The form submits with GET; htmx swaps only the result fragment and pushes the
URL. A definition that cannot run answers 400 with the error next to its field, never a 500.
Viewers look; members and above save, rename and delete (``can_edit``).
"""

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics.insights import forms
from analytics.insights.actions import do_delete_insight, do_save_insight, do_update_insight
from analytics.insights.definitions import SIGNUP, QueryError, parse, to_json
from analytics.insights.funnels import run_funnel
from analytics.insights.models import Insight, InsightKind
from analytics.insights.retention import run_retention
from analytics.insights.trends import run_trend
from analytics.queries import catalog
from analytics.views.dashboards import tile_content
from analytics.views.plan import can_edit
from projects.access import access_project
from projects.actions import ActionRefused
from projects.models import Environment

RESULT_TARGET = "analysis-result"
KIND_HEADINGS = {
    InsightKind.TREND: "Trends",
    InsightKind.FUNNEL: "Funnels",
    InsightKind.RETENTION: "Retention tables",
    InsightKind.KPI: "KPI cards",
}


@dataclass(frozen=True)
class Builder:
    kind: str
    url_name: str
    template: str
    run: object  # (project, definition) -> result


BUILDERS = {
    InsightKind.TREND: Builder("trend", "analysis-trends", "analysis/trends.html", run_trend),
    InsightKind.FUNNEL: Builder("funnel", "analysis-funnels", "analysis/funnels.html", run_funnel),
    InsightKind.RETENTION: Builder(
        "retention", "analysis-retention", "analysis/retention.html", run_retention
    ),
}


def builder_url(project, kind: str, query: dict | None = None, *, insight: Insight | None = None) -> str:
    """A builder page, prefilled with ``query`` (a definition's canonical JSON) when given."""
    url = reverse(BUILDERS[kind].url_name, args=[project.slug])
    pairs = forms.flatten(forms.form_values(kind, query)) if query else []
    if insight is not None:
        pairs.append(("insight", str(insight.id)))
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _editable_project(request, slug):
    """The project, for a member or above: 404 for outsiders, 403 for viewers."""
    project = access_project(request.user, slug=slug)
    if not can_edit(request.user, project):
        raise PermissionDenied("Viewers cannot change saved insights.")
    return project


def _insight(project, insight_id: int) -> Insight:
    return get_object_or_404(Insight.objects.select_related("project"), id=insight_id, project=project)


# --- the builders -------------------------------------------------------------------------------------


def _default_values(kind: str, event_names: list[str]) -> dict:
    top = event_names[0] if event_names else ""
    if kind == InsightKind.TREND:
        return {"series": [{"event": top, "math": "count"}], "interval": "day", "date_range": {"range": "7d"}}
    if kind == InsightKind.FUNNEL:
        return {
            "steps": [{"event": name} for name in (event_names[:2] or ["", ""])],
            "window_value": "14",
            "window_unit": "day",
            "order": "ordered",
            "date_range": {"range": "30d"},
        }
    return {
        "cohort_event": SIGNUP,
        "return_event": top,
        "interval": "day",
        "periods": "7",
        "date_range": {"range": "30d"},
    }


def _is_submitted(request) -> bool:
    return any(key != "insight" for key in request.GET)


def _read(kind: str, params) -> tuple[dict, object, QueryError | None]:
    """Form values, the parsed definition (None on error) and the error."""
    try:
        values = forms.unflatten(params)
    except QueryError as error:
        return {}, None, error
    try:
        return values, parse(kind, forms.definition_of(kind, values)), None
    except QueryError as error:
        return values, None, error


def _question(request, kind: str, event_names: list[str]) -> tuple[dict, object, QueryError | None]:
    """What the page asks: the submitted form, or on a first visit a default question that runs
    only when it can answer something (a funnel waits for its steps)."""
    if _is_submitted(request):
        return _read(kind, request.GET)
    values = _default_values(kind, event_names)
    if not event_names or kind == InsightKind.FUNNEL:
        return values, None, None
    try:
        return values, parse(kind, forms.definition_of(kind, values)), None
    except QueryError:  # an odd event name in the data: show the form, run nothing
        return values, None, None


def _answer(project, kind: str, definition) -> tuple[object, QueryError | None]:
    if definition is None:
        return None, None
    try:
        return BUILDERS[kind].run(project, definition), None
    except QueryError as error:  # an environment that does not exist, a range too long...
        return None, error


def _builder_context(request, project, kind: str, *, fragment: bool) -> dict:
    """Everything a builder page shows; a result fragment skips the pickers' suggestions."""
    event_names = [] if fragment and _is_submitted(request) else catalog.event_names(project.id)
    has_events = True if fragment else bool(event_names) or catalog.has_events(project.id)
    values, definition, error = _question(request, kind, event_names)
    result, run_error = _answer(project, kind, definition)
    error = error or run_error
    return {
        "project": project,
        "tab": "analysis",
        "subtab": kind,
        "form": forms.BuilderForm(kind=kind, values=values, error=error),
        "error": error,
        "result": result,
        "query_json": json.dumps(to_json(definition)) if definition is not None and error is None else "",
        "kind": kind,
        "event_names": event_names,
        "property_names": catalog.recent_property_names(project.id) if has_events and not fragment else [],
        "has_events": has_events,
        "environments": Environment.objects.filter(project=project).order_by("id"),
        "can_edit": can_edit(request.user, project),
        "editing": _editing(request, project, kind),
    }


def _editing(request, project, kind: str) -> Insight | None:
    """The saved insight the builder edits (``?insight=<id>``), if it is this project's and kind."""
    insight_id = request.GET.get("insight", "")
    if not insight_id.isdigit():
        return None
    return Insight.objects.filter(id=int(insight_id), project=project, kind=kind).first()


def _builder_page(request, slug, kind: str):
    project = access_project(request.user, slug=slug)
    fragment = bool(request.htmx and request.htmx.target == RESULT_TARGET)
    context = _builder_context(request, project, kind, fragment=fragment)
    status = 400 if context["error"] else 200
    if fragment:
        return render(request, f"{BUILDERS[kind].template}#result", context, status=status)
    return render(request, BUILDERS[kind].template, context, status=status)


@login_required
@require_GET
def trends(request, slug):
    return _builder_page(request, slug, InsightKind.TREND)


@login_required
@require_GET
def funnels(request, slug):
    return _builder_page(request, slug, InsightKind.FUNNEL)


@login_required
@require_GET
def retention(request, slug):
    return _builder_page(request, slug, InsightKind.RETENTION)


# --- saved insights -----------------------------------------------------------------------------------


@login_required
@require_GET
def home(request, slug):
    project = access_project(request.user, slug=slug)
    insights = Insight.objects.filter(project=project).select_related("created_by")
    groups = [
        {"kind": kind, "label": label, "insights": [i for i in insights if i.kind == kind]}
        for kind, label in KIND_HEADINGS.items()
    ]
    context = {
        "project": project,
        "tab": "analysis",
        "subtab": "home",
        "groups": groups,
        "total": len(insights),
        "can_edit": can_edit(request.user, project),
    }
    return render(request, "analysis/home.html", context)


def _json_query(request) -> dict | None:
    try:
        query = json.loads(request.POST.get("query") or "")
    except ValueError:
        return None
    return query if isinstance(query, dict) else None


@login_required
@require_POST
def insight_save(request, slug):
    project = _editable_project(request, slug)
    kind = request.POST.get("kind", "")
    query = _json_query(request)
    if kind not in BUILDERS or query is None:
        return HttpResponseBadRequest("A kind (trend, funnel, retention) and a JSON query are required.")
    try:
        insight = do_save_insight(
            project=project,
            kind=kind,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", "").strip(),
            query=query,
            acting_user=request.user,
        )
    except QueryError as error:
        messages.error(request, f"Not saved: {error}")
        return redirect(builder_url(project, kind))
    except ActionRefused as refused:
        messages.error(request, refused.message)
        return redirect(builder_url(project, kind, to_json(parse(kind, query))))
    messages.success(request, f"Saved “{insight.name}”.")
    return redirect("analysis-insight", slug=project.slug, insight_id=insight.id)


@login_required
@require_POST
def insight_update(request, slug, insight_id):
    """Rename an insight, or (with ``query``) save the builder's changes into it."""
    project = _editable_project(request, slug)
    insight = _insight(project, insight_id)
    query = _json_query(request) if request.POST.get("query") else insight.query
    if query is None:
        return HttpResponseBadRequest("The query is not a JSON object.")
    description = request.POST.get("description")
    try:
        do_update_insight(
            insight=insight,
            name=request.POST.get("name", insight.name),
            query=query,
            description=description.strip() if description is not None else None,
            acting_user=request.user,
        )
    except (QueryError, ActionRefused) as error:
        messages.error(request, getattr(error, "message", str(error)))
    else:
        messages.success(request, f"Saved “{insight.name}”.")
    return redirect("analysis-insight", slug=project.slug, insight_id=insight.id)


@login_required
@require_POST
def insight_delete(request, slug, insight_id):
    project = _editable_project(request, slug)
    insight = _insight(project, insight_id)
    name = insight.name
    do_delete_insight(insight=insight, acting_user=request.user)
    messages.success(request, f"Deleted “{name}”.")
    return redirect("analysis-home", slug=project.slug)


@login_required
@require_GET
def insight_page(request, slug, insight_id):
    project = access_project(request.user, slug=slug)
    insight = _insight(project, insight_id)
    context = {
        **tile_content(project, insight),  # what a dashboard tile of it shows: the same result
        "project": project,
        "tab": "analysis",
        "subtab": "home",
        "insight": insight,
        "edit_url": builder_url(project, insight.kind, insight.query, insight=insight)
        if insight.kind in BUILDERS
        else "",
        "can_edit": can_edit(request.user, project),
    }
    return render(request, "analysis/insight.html", context)
