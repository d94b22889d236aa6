"""Dashboards and KPI cards (DESIGN.md section 7): the project's dashboards (and the form to create
one), a dashboard's tiles, each tile's content, the tile controls, and the KPI card form.

A dashboard page renders only the grid: every tile loads its content with its own htmx request
(and reloads every ``refresh_seconds``), so a slow tile never holds the page up. Viewers read;
members and above write. Writes go through ``analytics.insights.actions``; every view reaches the
project through ``access_project`` (an outsider gets 404).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.insights import actions
from analytics.insights.definitions import RANGES, QueryError
from analytics.insights.forms import CHOICES
from analytics.insights.models import Dashboard, DashboardTile, Insight, InsightKind
from analytics.insights.saved import result_of
from analytics.queries import catalog
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project
from projects.actions import ActionRefused
from projects.models import Environment

REFRESH_CHOICES = [
    (0, "Never"),
    (60, "Every minute"),
    (300, "Every 5 minutes"),
    (900, "Every 15 minutes"),
    (3600, "Every hour"),
]
WIDTH_CHOICES = [(3, "¼"), (4, "⅓"), (6, "½"), (8, "⅔"), (12, "Full")]
RANGE_LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
SPARK_WIDTH, SPARK_HEIGHT = 120, 32


# --- forms -------------------------------------------------------------------------------------------


class DashboardForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    refresh_seconds = forms.TypedChoiceField(choices=REFRESH_CHOICES, coerce=int, initial=300)


class AddTileForm(forms.Form):
    insight = forms.ModelChoiceField(queryset=Insight.objects.none(), empty_label=None)
    width = forms.TypedChoiceField(choices=WIDTH_CHOICES, coerce=int, initial=6)

    def __init__(self, *args, dashboard: Dashboard, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the project's insights, and not those already on the dashboard.
        self.fields["insight"].queryset = Insight.objects.filter(project_id=dashboard.project_id).exclude(
            tiles__dashboard=dashboard
        )


class KpiForm(forms.Form):
    """The KPI card's own fields; the definition itself is checked by ``parse_kpi`` (QueryError)."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=2000, required=False)
    dashboard = forms.ModelChoiceField(
        queryset=Dashboard.objects.none(), required=False, empty_label="(none)"
    )
    width = forms.TypedChoiceField(choices=WIDTH_CHOICES, coerce=int, initial=3)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dashboard"].queryset = Dashboard.objects.filter(project=project)


def kpi_definition(data) -> dict:
    """The KPI definition JSON of the form's fields (``parse_kpi`` validates it)."""
    math_name = data.get("math") or "count"
    return {
        "series": {
            "event": data.get("event", "").strip(),
            "math": math_name,
            "property": (data.get("property") or "").strip() or None,
            "label": (data.get("label") or "").strip() or None,
        },
        "date_range": {"range": data.get("range") or "7d"},
        "environment": data.get("environment") or None,
        "target": data.get("target", "").strip(),
        "lower": data.get("lower", "").strip(),
        "upper": data.get("upper", "").strip(),
        "higher_is_better": data.get("higher_is_better") != "false",
    }


# --- helpers -----------------------------------------------------------------------------------------


def _dashboard(project, dashboard_id: int) -> Dashboard:
    return get_object_or_404(Dashboard, id=dashboard_id, project=project)


def _tile(dashboard: Dashboard, tile_id: int) -> DashboardTile:
    return get_object_or_404(DashboardTile.objects.select_related("insight"), id=tile_id, dashboard=dashboard)


def _dashboard_context(
    request, project, dashboard: Dashboard, *, add_form: AddTileForm | None = None
) -> dict:
    tiles = list(dashboard.tiles.select_related("insight").order_by("position", "id"))
    editable = can_edit(request.user, project)
    return {
        "project": project,
        "tab": "analysis",
        "dashboard": dashboard,
        "tiles": tiles,
        "can_edit": editable,
        "add_form": add_form or (AddTileForm(dashboard=dashboard) if editable else None),
        "width_choices": WIDTH_CHOICES,
        "refresh_label": dict(REFRESH_CHOICES).get(
            dashboard.refresh_seconds, f"Every {dashboard.refresh_seconds} s"
        ),
    }


def _after_tile_change(request, project, dashboard: Dashboard):
    """htmx re-renders the grid in place; a plain form post goes back to the page."""
    if request.htmx:
        return render(
            request, "analysis/dashboard.html#tiles", _dashboard_context(request, project, dashboard)
        )
    return redirect("dashboard", slug=project.slug, dashboard_id=dashboard.id)


def sparkline_points(
    values: list[float | None], *, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT
) -> str:
    """An SVG polyline's points for the values (days without a value are skipped)."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = []
    for index, value in enumerate(values):
        if value is None:
            continue
        y = height - 2 - (value - low) / span * (height - 4) if high != low else height / 2
        points.append(f"{index * step:.1f},{y:.1f}")
    return " ".join(points)


# --- the list, a dashboard, and its writes ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def dashboards(request, slug):
    if request.method == "POST":
        project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
        form = DashboardForm(request.POST)
        if form.is_valid():
            try:
                dashboard = actions.do_create_dashboard(
                    project=project, acting_user=request.user, **form.cleaned_data
                )
            except ActionRefused as refused:
                form.add_error("name", refused.message)
            else:
                messages.success(request, f"Dashboard created: {dashboard.name}.")
                return redirect("dashboard", slug=project.slug, dashboard_id=dashboard.id)
        status = 400
    else:
        project = access_project(request.user, slug=slug)
        form, status = DashboardForm(), 200
    context = {
        "project": project,
        "tab": "analysis",
        "dashboards": Dashboard.objects.filter(project=project).prefetch_related("tiles__insight"),
        "form": form,
        "can_edit": can_edit(request.user, project),
    }
    return render(request, "analysis/dashboards.html", context, status=status)


@login_required
@require_GET
def dashboard_page(request, slug, dashboard_id):
    project = access_project(request.user, slug=slug)
    dashboard = _dashboard(project, dashboard_id)
    return render(request, "analysis/dashboard.html", _dashboard_context(request, project, dashboard))


@login_required
@require_POST
def dashboard_delete(request, slug, dashboard_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    dashboard = _dashboard(project, dashboard_id)
    actions.do_delete_dashboard(dashboard=dashboard, acting_user=request.user)
    messages.success(request, f"Dashboard deleted: {dashboard.name}.")
    return redirect("dashboards", slug=project.slug)


@login_required
@require_POST
def dashboard_add_tile(request, slug, dashboard_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    dashboard = _dashboard(project, dashboard_id)
    form = AddTileForm(request.POST, dashboard=dashboard)
    if not form.is_valid():
        context = _dashboard_context(request, project, dashboard, add_form=form)
        return render(request, "analysis/dashboard.html", context, status=400)
    try:
        actions.do_add_tile(
            dashboard=dashboard,
            insight=form.cleaned_data["insight"],
            width=form.cleaned_data["width"],
            acting_user=request.user,
        )
    except ActionRefused as refused:
        messages.error(request, refused.message)
    return redirect("dashboard", slug=project.slug, dashboard_id=dashboard.id)


@login_required
@require_POST
def dashboard_tile_remove(request, slug, dashboard_id, tile_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    dashboard = _dashboard(project, dashboard_id)
    actions.do_remove_tile(tile=_tile(dashboard, tile_id), acting_user=request.user)
    return _after_tile_change(request, project, dashboard)


@login_required
@require_POST
def dashboard_tile_move(request, slug, dashboard_id, tile_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    dashboard = _dashboard(project, dashboard_id)
    tile = _tile(dashboard, tile_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        messages.error(request, "Move a tile up or down.")
    else:
        actions.do_move_tile(tile=tile, offset=offset, acting_user=request.user)
    return _after_tile_change(request, project, dashboard)


# --- a tile's content --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def dashboard_tile(request, slug, dashboard_id, tile_id):
    """GET: the tile's content (loaded by htmx). POST (members): its width."""
    if request.method == "POST":
        project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
        dashboard = _dashboard(project, dashboard_id)
        return _set_width(request, project, dashboard, _tile(dashboard, tile_id))
    project = access_project(request.user, slug=slug)
    dashboard = _dashboard(project, dashboard_id)
    tile = _tile(dashboard, tile_id)
    context = {"project": project, "dashboard": dashboard, "tile": tile, "insight": tile.insight}
    context |= tile_content(project, tile.insight)
    return render(request, "analysis/_tile.html", context)


def _set_width(request, project, dashboard: Dashboard, tile: DashboardTile):
    try:
        width = int(request.POST.get("width", ""))
    except ValueError:
        width = 0
    if width not in dict(WIDTH_CHOICES):
        if request.htmx:
            return render(
                request,
                "analysis/dashboard.html#tiles",
                _dashboard_context(request, project, dashboard),
                status=400,
            )
        messages.error(request, "A tile is 3, 4, 6, 8 or 12 columns wide.")
    else:
        # Presentation only, and not audited, as moving a tile (do_move_tile) is not.
        DashboardTile.objects.filter(id=tile.id).update(width=width)
    return _after_tile_change(request, project, dashboard)


def tile_content(project, insight: Insight) -> dict:
    """What a tile shows, by the insight's kind: its result, or the error that stops it."""
    try:
        result = result_of(project, insight)
    except QueryError as error:
        return {"error": str(error)}
    if insight.kind == InsightKind.KPI:
        return {
            "kpi": result,
            "change_percent": abs(result.change) * 100 if result.change is not None else None,
            "spark_points": sparkline_points(result.sparkline),
            "spark_width": SPARK_WIDTH,
            "spark_height": SPARK_HEIGHT,
        }
    return {"result": result, "funnel": result} if insight.kind == InsightKind.FUNNEL else {"result": result}


# --- KPI cards ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def kpi_create(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    error = None
    if request.method == "POST":
        form = KpiForm(request.POST, project=project)
        values = request.POST
        if form.is_valid():
            try:
                with transaction.atomic():
                    insight = actions.do_save_insight(
                        project=project,
                        kind=InsightKind.KPI,
                        name=form.cleaned_data["name"],
                        description=form.cleaned_data["description"],
                        query=kpi_definition(request.POST),
                        acting_user=request.user,
                    )
                    dashboard = form.cleaned_data["dashboard"]
                    if dashboard is not None:
                        actions.do_add_tile(
                            dashboard=dashboard,
                            insight=insight,
                            width=form.cleaned_data["width"],
                            acting_user=request.user,
                        )
            except QueryError as query_error:
                error = query_error
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, f"KPI card saved: {insight.name}.")
                if dashboard is not None:
                    return redirect("dashboard", slug=project.slug, dashboard_id=dashboard.id)
                return redirect("dashboards", slug=project.slug)
        status = 400
    else:
        initial = (
            {"dashboard": request.GET.get("dashboard")} if request.GET.get("dashboard", "").isdigit() else {}
        )
        form = KpiForm(project=project, initial=initial)
        values, status = {"range": "7d", "math": "count", "higher_is_better": "true"}, 200
    context = {
        "project": project,
        "tab": "analysis",
        "form": form,
        "values": values,
        "error": error,
        "error_field": error.field if error else "",
        "maths": CHOICES["maths"],
        "ranges": [(name, RANGE_LABELS.get(name, name)) for name in RANGES],
        "environments": Environment.objects.filter(project=project).order_by("id"),
        "event_names": catalog.event_names(project.id),
        "width_choices": WIDTH_CHOICES,
    }
    return render(request, "analysis/kpi_form.html", context, status=status)
