"""The project's alert history, and one alert event: what it saw, the rule as it was, where it was
sent, its acknowledgement and its comments."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from alerts import actions
from alerts.forms import CommentForm, HistoryFilterForm, is_acknowledgeable, label_of
from alerts.views import selectors
from alerts.views.common import alert_event_of, base_context, readable_project, writable_project
from projects.actions import ActionRefused

PAGE_SIZE = 50


@login_required
@require_GET
def history(request, slug):
    project = readable_project(request, slug)
    filters = HistoryFilterForm(request.GET or None, project=project)
    page = Paginator(selectors.alert_history(project, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        selectors.with_event_texts(event)
    query = urlencode([(key, value) for key, value in request.GET.items() if key != "page" and value])
    context = base_context(request, project, "history") | {
        "filters": filters,
        "page": page,
        "query": query,
        "filtered": bool(query),
        "filter_errors": _errors(filters),
    }
    status = 400 if filters.is_bound and not filters.is_valid() else 200
    return render(request, "alerts/history.html", context, status=status)


def _errors(form) -> list[str]:
    if not form.is_bound or form.is_valid():
        return []
    return [f"{label_of(name)}: {' '.join(errors)}" for name, errors in form.errors.items()]


def _event_context(request, project, alert_event, **extra) -> dict:
    selectors.with_event_texts(alert_event)
    return base_context(request, project, "history") | {
        "alert": alert_event,
        "rule": alert_event.rule,
        "values_json": selectors.pretty_json(alert_event.values),
        "snapshot": [(label_of(name), value) for name, value in sorted(alert_event.rule_snapshot.items())],
        "deliveries": selectors.deliveries_of(alert_event),
        "comments": list(alert_event.comments.select_related("author")),
        "can_acknowledge": is_acknowledgeable(alert_event),
        "comment_form": extra.pop("comment_form", None) or CommentForm(),
        **extra,
    }


@login_required
@require_GET
def alert_event_page(request, slug, alert_event_id):
    project = readable_project(request, slug)
    alert_event = alert_event_of(project, alert_event_id)
    return render(request, "alerts/alert_event.html", _event_context(request, project, alert_event))


@login_required
@require_POST
def alert_acknowledge(request, slug, alert_event_id):
    project = writable_project(request, slug)
    alert_event = alert_event_of(project, alert_event_id)
    error = ""
    try:
        actions.do_acknowledge_alert(alert_event=alert_event, acting_user=request.user)
    except ActionRefused as refused:
        error = refused.message
    if request.htmx:
        context = _event_context(request, project, alert_event, ack_error=error)
        return render(
            request, "alerts/alert_event.html#acknowledgement", context, status=400 if error else 200
        )
    return redirect("alert-event", slug=project.slug, alert_event_id=alert_event.id)


@login_required
@require_POST
def alert_comment(request, slug, alert_event_id):
    project = writable_project(request, slug)
    alert_event = alert_event_of(project, alert_event_id)
    form = CommentForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            actions.do_comment_alert(
                alert_event=alert_event, body=form.cleaned_data["body"], acting_user=request.user
            )
        except ActionRefused as refused:
            form.add_error("body", refused.message)
        else:
            form = CommentForm()
    if form.errors:
        status = 400
    if request.htmx:
        context = _event_context(request, project, alert_event, comment_form=form)
        return render(request, "alerts/alert_event.html#comments", context, status=status)
    if status == 400:
        return render(
            request,
            "alerts/alert_event.html",
            _event_context(request, project, alert_event, comment_form=form),
            status=400,
        )
    return redirect("alert-event", slug=project.slug, alert_event_id=alert_event.id)
