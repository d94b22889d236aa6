"""Debug sessions: start one (device id and/or a debug link with its QR code), watch its events
arrive, and check them against the test cases of their definitions. Test cases are edited on the
event definition's page (``test_case_add`` / ``test_case_delete``)."""

import hashlib

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.plan.models import EventDefinition
from analytics.verification import debug
from analytics.verification.debug_forms import DebugSessionForm, TestCaseForm
from analytics.verification.inspection import inspect, plan_for
from analytics.verification.models import DebugSession, EventTestCase
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project
from projects.actions import ActionRefused

ROWS_SHOWN = 100
REFRESH_SECONDS = 2


def _session(project, session_id: int) -> DebugSession:
    return get_object_or_404(
        DebugSession.objects.select_related("environment"), project=project, id=session_id
    )


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request, slug):
    project = access_project(request.user, slug=slug)
    form = DebugSessionForm(request.POST if request.method == "POST" else None, project=project)
    if request.method == "POST":
        project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
        if form.is_valid():
            data = form.cleaned_data
            try:
                session = debug.do_start_session(
                    project=project,
                    environment=data["environment"],
                    device_id=data["device_id"].strip(),
                    label=data["label"].strip(),
                    app_url=data["app_url"],
                    events=[event.name for event in data["events"]],
                    duration=debug.SESSION_DURATIONS[data["duration"]],
                    acting_user=request.user,
                )
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                return redirect("debug-session", project.slug, session.id)
    return render(
        request,
        "verify/debug_sessions.html",
        {
            "project": project,
            "tab": "verify",
            "subtab": "debug",
            "form": form,
            "can_edit": can_edit(request.user, project),
            "sessions": DebugSession.objects.filter(project=project).select_related(
                "environment", "created_by"
            ),
        },
        status=400 if request.method == "POST" else 200,
    )


def _signature(records, total: int) -> str:
    """What the events list shows: a poll that would show the same answers 204 (nothing to swap)."""
    shown = "|".join(record.message_id for record in records[:ROWS_SHOWN])
    return hashlib.md5(f"{total}|{shown}".encode(), usedforsecurity=False).hexdigest()[:16]


@login_required
@require_GET
def session_page(request, slug, session_id):
    """The session's page; htmx polls its report (``fragment=report``) and its events
    (``fragment=events``: re-rendered whole, so events committed out of order still show)."""
    project = access_project(request.user, slug=slug)
    session = _session(project, session_id)
    plan = plan_for(project)
    records = debug.events_of(session)
    fragment = request.GET.get("fragment") if request.htmx else None
    context = {
        "project": project,
        "session": session,
        "can_edit": can_edit(request.user, project),
        "refresh_seconds": REFRESH_SECONDS,
    }
    if fragment == "report":
        context["report"] = debug.check_session(session, records, plan)
        return render(request, "verify/debug_session.html#report", context)
    signature = _signature(records, len(records))
    if fragment == "events" and request.GET.get("known") == signature:
        return HttpResponse(status=204)
    context.update(
        rows=[inspect(plan, record) for record in records[:ROWS_SHOWN]],
        signature=signature,
        total=len(records),
        shown=min(len(records), ROWS_SHOWN),
    )
    if fragment == "events":
        return render(request, "verify/debug_session.html#events", context)
    link = debug.debug_link(session)
    context.update(
        tab="verify",
        subtab="debug",
        link=link,
        qr=segno.make(link, error="m").svg_inline(scale=4, title="Debug link") if link else "",
        report=debug.check_session(session, records, plan),
        parameter=debug.DEBUG_LINK_PARAMETER,
    )
    return render(request, "verify/debug_session.html", context)


@login_required
@require_POST
def session_end(request, slug, session_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    session = _session(project, session_id)
    debug.do_end_session(session=session, acting_user=request.user)
    messages.success(request, "Debug session ended.")
    return redirect("debug-session", project.slug, session.id)


@login_required
@require_POST
def verdict(request, slug, session_id, case_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    session = _session(project, session_id)
    test_case = get_object_or_404(EventTestCase, id=case_id, event__project=project)
    passed = request.POST.get("passed")
    if passed not in ("1", "0"):
        return render(request, "verify/_error.html", {"error": "Choose pass or fail."}, status=400)
    try:
        debug.do_record_verdict(
            session=session,
            test_case=test_case,
            passed=passed == "1",
            note=request.POST.get("note", ""),
            acting_user=request.user,
        )
    except ActionRefused as refused:
        return render(request, "verify/_error.html", {"error": refused.message}, status=400)
    if request.htmx:
        context = {
            "project": project,
            "session": session,
            "can_edit": True,  # an editor: the view requires the role
            "report": debug.check_session(session, debug.events_of(session), plan_for(project)),
        }
        return render(request, "verify/debug_session.html#report", context)
    return redirect("debug-session", project.slug, session.id)


# --- test cases, on the event definition's page ----------------------------------------------------


def _event(project, event_id: int) -> EventDefinition:
    return get_object_or_404(EventDefinition, project=project, id=event_id)


def _test_cases(request, project, event, form=None, status=200):
    context = {
        "project": project,
        "event": event,
        "test_cases": event.test_cases.all(),
        "test_case_form": form or TestCaseForm(),
        "can_edit": True,
    }
    return render(request, "plan/_test_cases.html", context, status=status)


@login_required
@require_POST
def test_case_add(request, slug, event_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    event = _event(project, event_id)
    form = TestCaseForm(request.POST)
    if not form.is_valid():
        return _test_cases(request, project, event, form, status=400)
    debug.do_add_test_case(
        event=event,
        description=form.cleaned_data["description"],
        kind=form.cleaned_data["kind"],
        config=form.cleaned_data["config"],
        acting_user=request.user,
    )
    if request.htmx:
        return _test_cases(request, project, event)
    return redirect(reverse("plan-event", args=[project.slug, event.id]) + "#test-cases")


@login_required
@require_POST
def test_case_delete(request, slug, event_id, case_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    event = _event(project, event_id)
    test_case = get_object_or_404(EventTestCase, event=event, id=case_id)
    debug.do_delete_test_case(test_case=test_case, acting_user=request.user)
    if request.htmx:
        return _test_cases(request, project, event)
    return redirect(reverse("plan-event", args=[project.slug, event.id]) + "#test-cases")
