"""The SQL console page: read-only SQL over the project's own events and persons.

The isolation is the database's (analytics/queries/console.py); this page only asks. Every member
of the organization may query, viewers included: nothing here writes. A run renders the whole page,
or only the result fragment when htmx asked.
"""

import csv

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from analytics.queries.console import (
    VIEWS,
    ConsoleQueryError,
    ConsoleResult,
    ConsoleUnavailable,
    ensure_console,
    project_has_events,
    run_query,
)
from projects.access import access_project

DEFAULT_QUERY = (
    "SELECT event, count(*) FROM events WHERE time > now() - interval '7 days' "
    "GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
)


def _context(project, query: str) -> dict:
    return {
        "project": project,
        "tab": "analysis",
        "query": query,
        "views": VIEWS,
        "max_rows": settings.CONSOLE_MAX_ROWS,
        "timeout_seconds": settings.CONSOLE_STATEMENT_TIMEOUT_MS / 1000,
        "result": None,
        "error": None,
        "unavailable": None,
    }


def _run(context: dict, project, query: str) -> ConsoleResult | None:
    """Run the query into the context (result, or error, or unavailable)."""
    try:
        result = run_query(project.id, query)
    except ConsoleUnavailable as unavailable:
        context["unavailable"] = unavailable.message
    except ConsoleQueryError as failure:
        context["error"] = failure.message
    else:
        context["result"] = result
        context["header"] = list(zip(result.columns, result.numeric, strict=True))
        context["table"] = [list(zip(row, result.numeric, strict=True)) for row in result.rows]
        return result
    return None


def _page(request, context: dict):
    status = 400 if context["error"] else 200
    if request.htmx:
        return render(request, "analysis/console.html#result", context, status=status)
    if not context["unavailable"] and context["result"] is None:
        context["has_events"] = project_has_events(context["project"].id)
    return render(request, "analysis/console.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def console_page(request, slug):
    project = access_project(request.user, slug=slug)
    if request.method == "GET":
        context = _context(project, DEFAULT_QUERY)
        try:
            ensure_console(project.id)  # at first use; says early what an operator must grant
        except ConsoleUnavailable as unavailable:
            context["unavailable"] = unavailable.message
        return _page(request, context)
    query = request.POST.get("query", "")
    context = _context(project, query)
    _run(context, project, query)
    return _page(request, context)


class _Echo:
    """csv.writer's file: hands each formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_POST
def console_csv(request, slug):
    """The same query as CSV, with the same row limit. Runs before the response starts, so an error is
    shown on the console page instead of ending a download half-way."""
    project = access_project(request.user, slug=slug)
    query = request.POST.get("query", "")
    context = _context(project, query)
    result = _run(context, project, query)
    if result is None:
        return _page(request, context)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in [result.columns, *result.rows])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-sql-{stamp}.csv"'
    response["X-Beacon-Rows"] = str(result.row_count)
    response["X-Beacon-Truncated"] = "true" if result.truncated else "false"
    return response
