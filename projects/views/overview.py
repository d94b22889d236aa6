from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from analytics.queries.counts import daily_totals, rollup_counts
from projects.access import access_project, has_role, projects_for, role_in
from projects.models import Role
from projects.views.once import pop_new_keys


def public_host(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _week_range() -> tuple[datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=6), today + timedelta(days=1)


@login_required
def home(request):
    start, end = _week_range()
    projects = list(
        projects_for(request.user).select_related("organization").order_by("organization__name", "name")
    )
    for project in projects:
        project.week_events = sum(
            total for _, total in daily_totals(project_id=project.id, start=start, end=end)
        )
    organizations = {project.organization for project in projects}
    memberships = request.user.memberships.select_related("organization")
    can_create = any(has_role(m.role, Role.ADMIN) for m in memberships)
    return render(
        request,
        "projects/home.html",
        {
            "projects": projects,
            "organizations": organizations,
            "memberships": memberships,
            "can_create": can_create,
        },
    )


@login_required
def project_overview(request, slug):
    from projects.snippets import build_snippets

    project = access_project(request.user, slug=slug)
    start, end = _week_range()
    per_event: dict[str, dict[str, int]] = {}
    for row in rollup_counts(project_id=project.id, start=start, end=end, grain="day"):
        totals = per_event.setdefault(row.event, {"events": 0, "peak_users": 0})
        totals["events"] += row.events
        totals["peak_users"] = max(totals["peak_users"], row.users)
    days = daily_totals(project_id=project.id, start=start, end=end)
    peak = max((total for _, total in days), default=0)
    new_keys, environment = pop_new_keys(request, project)
    snippets = []
    if new_keys.get("write"):
        snippets = build_snippets(
            host=public_host(request),
            write_key=new_keys["write"],
            secret_key=new_keys.get("secret"),
            environment=environment,
        )
    context = {
        "project": project,
        "role": role_in(request.user, project.organization),
        "environments": project.environments.all(),
        "events": sorted(per_event.items(), key=lambda item: -item[1]["events"]),
        "days": [(day, total, round(100 * total / peak) if peak else 0) for day, total in days],
        "new_keys": new_keys,
        "new_keys_environment": environment,
        "snippets": snippets,
    }
    template = "projects/overview.html#event-table" if request.htmx else "projects/overview.html"
    return render(request, template, context)
