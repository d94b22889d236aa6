"""Plan versions and diffs, import (with a preview) and export, generated SDK wrappers."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.plan import actions, codegen
from analytics.plan import changes as plan_changes
from analytics.plan.formats import FORMATS, detect_format
from analytics.plan.forms import ImportForm
from analytics.plan.models import PlanVersion
from analytics.plan.snapshot import EMPTY, SnapshotError, export_plan
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project
from projects.actions import ActionRefused


@login_required
@require_GET
def versions(request, slug):
    project = access_project(request.user, slug=slug)
    all_versions = list(
        PlanVersion.objects.filter(project=project).select_related("created_by").defer("snapshot")[:200]
    )
    for version in all_versions:
        version.breaking_count = sum(1 for change in version.changes if change.get("breaking"))
    return render(
        request,
        "plan/versions.html",
        {
            "project": project,
            "tab": "plan",
            "versions": all_versions,
            "can_edit": can_edit(request.user, project),
        },
    )


def _snapshot_of(project, number: int) -> dict:
    if number == 0:
        return EMPTY
    version = PlanVersion.objects.filter(project=project, number=number).only("snapshot").first()
    if version is None:
        raise Http404(f"No version {number}.")
    return version.snapshot


@login_required
@require_GET
def diff(request, slug):
    project = access_project(request.user, slug=slug)
    numbers = list(PlanVersion.objects.filter(project=project).values_list("number", flat=True))
    if not numbers:
        return render(request, "plan/diff.html", {"project": project, "tab": "plan", "numbers": []})
    try:
        newest = int(request.GET.get("to") or max(numbers))
        oldest = int(request.GET.get("from") or max(newest - 1, 0))
    except ValueError:
        raise Http404("Versions are numbers.") from None
    oldest = max(oldest, 0)
    found = plan_changes.diff(_snapshot_of(project, oldest), _snapshot_of(project, newest))
    return render(
        request,
        "plan/diff.html",
        {
            "project": project,
            "tab": "plan",
            "numbers": sorted(numbers, reverse=True),
            "from_number": oldest,
            "to_number": newest,
            "changes": found,
            "breaking": plan_changes.breaking(found),
        },
    )


@login_required
@require_POST
def restore(request, slug, number):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    version = get_object_or_404(PlanVersion, project=project, number=number)
    change = actions.do_restore_version(version=version, acting_user=request.user)
    if change.version:
        messages.success(request, f"Restored v{number} as v{change.version.number}.")
    else:
        messages.info(request, f"The plan is already the same as v{number}.")
    return redirect("plan-versions", slug=project.slug)


# --- import / export -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def import_plan(request, slug):
    project = access_project(request.user, slug=slug)
    context = {
        "project": project,
        "tab": "plan",
        "can_edit": can_edit(request.user, project),
        "formats": FORMATS,
    }
    if request.method == "GET":
        context["form"] = ImportForm()
        return render(request, "plan/import.html", context)
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    if request.POST.get("apply") == "1":
        return _apply_import(request, project)
    form = ImportForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "plan/import.html", context, status=400)
    text = form.cleaned_data["text"]
    name = form.cleaned_data.get("format") or detect_format(form.cleaned_data.get("filename", ""), text)
    try:
        snapshot = FORMATS[name].load(text)
        preview = actions.do_import_plan(
            project=project, snapshot=snapshot, acting_user=request.user, dry_run=True
        )
    except (SnapshotError, ActionRefused) as error:
        context["import_error"] = error.message if isinstance(error, ActionRefused) else str(error)
        return render(request, "plan/import.html", context, status=400)
    context.update(
        preview=preview.changes,
        breaking=preview.breaking,
        warnings=actions.naming_warnings(project, preview.changes),
        snapshot_json=json.dumps(snapshot),
        format_label=FORMATS[name].label,
        comment=form.cleaned_data.get("comment", ""),
        event_count=len(snapshot["events"]),
    )
    return render(request, "plan/import.html", context)


def _apply_import(request, project):
    try:
        snapshot = json.loads(request.POST.get("snapshot", ""))
        change = actions.do_import_plan(
            project=project,
            snapshot=snapshot,
            acting_user=request.user,
            comment=request.POST.get("comment", ""),
        )
    except (ValueError, ActionRefused) as error:
        messages.error(
            request, getattr(error, "message", None) or f"The previewed plan could not be read: {error}"
        )
        return redirect("plan-import", slug=project.slug)
    if change.version:
        messages.success(request, f"Imported as v{change.version.number}: {len(change.changes)} changes.")
    else:
        messages.info(request, "The imported plan is the same as the current one: nothing changed.")
    return redirect("plan-versions", slug=project.slug)


@login_required
@require_GET
def export_plan_view(request, slug, format_name):
    project = access_project(request.user, slug=slug)
    if format_name not in FORMATS:
        raise Http404("Unknown format.")
    fmt = FORMATS[format_name]
    number = request.GET.get("version")
    snapshot = _snapshot_of(project, int(number)) if number and number.isdigit() else export_plan(project.id)
    body = fmt.dump(snapshot)
    suffix = f"-v{number}" if number else ""
    return HttpResponse(
        body,
        content_type=fmt.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{project.slug}-plan{suffix}.{fmt.extension}"'
        },
    )


@login_required
@require_GET
def codegen_view(request, slug, language):
    project = access_project(request.user, slug=slug)
    generators = {
        "typescript": (codegen.typescript, "ts", "application/typescript"),
        "python": (codegen.python, "py", "text/x-python"),
    }
    if language not in generators:
        raise Http404("Unknown language.")
    generate, extension, content_type = generators[language]
    source = generate(export_plan(project.id), project_name=project.name, plan_version=project.plan_version)
    return HttpResponse(
        source,
        content_type=f"{content_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="beacon_plan.{extension}"'},
    )
