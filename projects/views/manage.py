"""Creating, configuring and deleting projects and their environments (admins and owners)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from projects.access import access_project, has_role, role_in
from projects.actions import (
    ActionRefused,
    do_add_environment,
    do_create_project,
    do_delete_project,
    do_rename_environment,
    do_set_plan_policy,
    do_update_project_settings,
)
from projects.forms import DeleteProjectForm, EnvironmentForm, ProjectCreateForm, ProjectSettingsForm
from projects.models import PlanPolicy, Role
from projects.views.once import remember_new_keys


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request):
    memberships = request.user.memberships.select_related("organization").filter(
        role__in=[Role.OWNER, Role.ADMIN]
    )
    if not memberships:
        raise Http404("You are not an admin of any organization.")
    form = ProjectCreateForm(request.POST or None)
    form.fields["organization"] = forms.ChoiceField(
        choices=[(m.organization.slug, m.organization.name) for m in memberships]
    )
    if request.method == "POST" and form.is_valid():
        organization = next(
            m.organization for m in memberships if m.organization.slug == form.cleaned_data["organization"]
        )
        project, new_keys = do_create_project(
            organization=organization,
            name=form.cleaned_data["name"],
            acting_user=request.user,
            timezone_name=form.cleaned_data["timezone"],
        )
        remember_new_keys(request, project, new_keys)
        messages.success(request, f"Project {project.name} created with production, staging and development.")
        return redirect("project-overview", slug=project.slug)
    return render(request, "projects/project_create.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request, slug):
    project = access_project(request.user, slug=slug)
    can_edit = has_role(role_in(request.user, project.organization), Role.ADMIN)
    form = ProjectSettingsForm(request.POST or None, instance=project)
    if request.method == "POST":
        if not can_edit:
            raise Http404("No such project.")
        if form.is_valid():
            do_update_project_settings(project=project, acting_user=request.user, **form.cleaned_data)
            messages.success(request, "Settings saved.")
            return redirect("project-settings", slug=project.slug)
    return render(
        request,
        "projects/settings.html",
        {
            "project": project,
            "form": form,
            "can_edit": can_edit,
            "environment_form": EnvironmentForm(),
            "delete_form": DeleteProjectForm(project=project),
            "environments": project.environments.all(),
            "policies": PlanPolicy.choices,
        },
    )


@login_required
@require_POST
def environment_add(request, slug):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    form = EnvironmentForm(request.POST)
    error = None
    if form.is_valid():
        try:
            do_add_environment(project=project, name=form.cleaned_data["name"], acting_user=request.user)
        except ActionRefused as refused:
            error = refused.message
    else:
        error = "An environment needs a name."
    return _environments_fragment(request, project, error)


@login_required
@require_POST
def environment_rename(request, slug, environment_slug):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    environment = get_object_or_404(project.environments, slug=environment_slug)
    form = EnvironmentForm(request.POST)
    error = None
    if form.is_valid():
        do_rename_environment(
            environment=environment, name=form.cleaned_data["name"], acting_user=request.user
        )
    else:
        error = "An environment needs a name."
    return _environments_fragment(request, project, error)


@login_required
@require_POST
def environment_policy(request, slug, environment_slug):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    environment = get_object_or_404(project.environments, slug=environment_slug)
    error = None
    try:
        do_set_plan_policy(
            environment=environment, policy=request.POST.get("plan_policy", ""), acting_user=request.user
        )
    except ActionRefused as refused:
        error = refused.message
    return _environments_fragment(request, project, error)


def _environments_fragment(request, project, error):
    context = {
        "project": project,
        "environments": project.environments.all(),
        "can_edit": True,
        "environment_form": EnvironmentForm(),
        "environment_error": error,
        "policies": PlanPolicy.choices,
    }
    if request.htmx:
        return render(request, "projects/settings.html#environments", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    return redirect("project-settings", slug=project.slug)


@login_required
@require_POST
def project_delete(request, slug):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    form = DeleteProjectForm(request.POST, project=project)
    if not form.is_valid():
        messages.error(request, form.errors["confirm_slug"][0])
        return redirect("project-settings", slug=project.slug)
    name = project.name
    do_delete_project(project=project, acting_user=request.user)
    messages.success(request, f"Project {name} deleted. Its events are being removed in the background.")
    return redirect("home")
