"""Release verification pages: the releases of a project (and the form to declare one), a release's
report (refreshing itself while the release is young), "check now" and the PM's go-live.

Viewers read; members and above write. Every view renders the whole page, or only the fragment
htmx asked for. Writes go through ``analytics.verification.releases``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.verification.forms import ReleaseForm
from analytics.verification.models import Release
from analytics.verification.releases import (
    check_release,
    default_expected_events,
    do_check_release,
    do_confirm_live,
    do_declare_release,
    is_young,
)
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project
from projects.actions import ActionRefused
from projects.models import Environment

RELEASES_PER_PAGE = 20
POLL_SECONDS = 10


def _default_environment(project, slug: str | None = None) -> Environment | None:
    environments = Environment.objects.filter(project=project).order_by("id")
    return (
        environments.filter(slug=slug).first()
        or environments.filter(slug="production").first()
        or environments.first()
    )


def _blank_form(project, environment: Environment | None) -> ReleaseForm:
    """The declare form, its expected events checked as the plan expects them in the environment."""
    initial = {
        "started_at": timezone.now().replace(second=0, microsecond=0),
        "tolerance": 0,
    }
    if environment is not None:
        initial |= {
            "environment": environment,
            "expected_events": default_expected_events(project, environment),
        }
    return ReleaseForm(project=project, initial=initial)


def _list_page(request, project, *, form: ReleaseForm, status: int = 200):
    """TRICKY: each listed release is checked (one indexed query each): a page holds at most
    RELEASES_PER_PAGE of them, the newest first."""
    now = timezone.now()
    page = Paginator(
        Release.objects.filter(project=project).select_related("environment", "created_by"),
        RELEASES_PER_PAGE,
    ).get_page(request.GET.get("page"))
    rows = [
        {"release": release, "report": check_release(release, now), "young": is_young(release, now)}
        for release in page
    ]
    context = {
        "project": project,
        "tab": "verify",
        "rows": rows,
        "page": page,
        "form": form,
        "can_edit": can_edit(request.user, project),
    }
    return render(request, "verify/releases.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def release_list(request, slug):
    if request.method == "POST":
        return _declare(request, slug)
    project = access_project(request.user, slug=slug)
    environment = _default_environment(project, request.GET.get("environment"))
    form = _blank_form(project, environment)
    if request.htmx and request.htmx.target == "expected-events":
        # the environment changed in the declare form: check that environment's expected events
        return render(request, "verify/releases.html#expected-events", {"form": form})
    return _list_page(request, project, form=form)


def _declare(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    form = ReleaseForm(request.POST, project=project)
    if form.is_valid():
        values = form.cleaned_data
        try:
            release = do_declare_release(
                project=project,
                environment=values["environment"],
                app_version=values["app_version"],
                name=values["name"],
                expected_events=values["expected_events"],
                started_at=values["started_at"],
                max_invalid_share=values["tolerance"],
                acting_user=request.user,
            )
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, f"Release declared: {release}.")
            return redirect("release", slug=project.slug, release_id=release.id)
    return _list_page(request, project, form=form, status=400)


def _release(project, release_id: int) -> Release:
    return get_object_or_404(
        Release.objects.select_related("project__organization", "environment", "created_by"),
        id=release_id,
        project=project,
    )


@login_required
@require_GET
def release_page(request, slug, release_id):
    project = access_project(request.user, slug=slug)
    release = _release(project, release_id)
    now = timezone.now()
    context = {
        "project": project,
        "tab": "verify",
        "release": release,
        "report": check_release(release, now),
        "young": is_young(release, now),
        "poll_seconds": POLL_SECONDS,
        "uses_default_events": not release.expected_events,
        "can_edit": can_edit(request.user, project),
    }
    if request.htmx and request.htmx.target == "release-report":
        return render(request, "verify/release.html#report", context)
    return render(request, "verify/release.html", context)


@login_required
@require_POST
def release_check(request, slug, release_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    release = _release(project, release_id)
    check = do_check_release(release=release, acting_user=request.user)
    if check.verified:
        messages.success(request, f"Marked verified: {', '.join(check.verified)}.")
    else:
        messages.info(request, f"Checked. {check.report.summary}")
    return redirect("release", slug=project.slug, release_id=release.id)


@login_required
@require_POST
def release_go_live(request, slug, release_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    release = _release(project, release_id)
    try:
        moved = do_confirm_live(
            release=release, events=request.POST.getlist("events"), acting_user=request.user
        )
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Live: {', '.join(moved)}.")
    return redirect("release", slug=project.slug, release_id=release.id)
