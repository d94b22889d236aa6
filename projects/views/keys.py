"""API keys of a project: everyone in the organization sees prefixes; admins create, rotate, revoke."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from projects.access import access_project, has_role, role_in
from projects.actions import ActionRefused, do_create_api_key, do_revoke_api_key, do_rotate_api_key
from projects.forms import ApiKeyCreateForm, RotateKeyForm
from projects.models import ApiKeyKind, Role
from projects.snippets import build_snippets
from projects.views.once import pop_new_keys, remember_new_keys
from projects.views.overview import public_host


def _page(request, project, *, form=None, error=None, status=200):
    keys = project.api_keys.select_related("environment", "created_by", "rotated_to").order_by("-created_at")
    new_keys, environment = pop_new_keys(request, project)
    snippets = []
    if new_keys.get(ApiKeyKind.WRITE):
        snippets = build_snippets(
            host=public_host(request),
            write_key=new_keys[ApiKeyKind.WRITE],
            secret_key=None,
            environment=environment,
        )
    context = {
        "project": project,
        "keys": keys,
        "can_manage": has_role(role_in(request.user, project.organization), Role.ADMIN),
        "form": form or ApiKeyCreateForm(project=project),
        "rotate_form": RotateKeyForm(),
        "new_keys": new_keys,
        "new_keys_environment": environment,
        "snippets": snippets,
        "error": error,
    }
    return render(request, "projects/keys.html", context, status=status)


def _show_once(request, project, key, raw):
    remember_new_keys(request, project, {key.kind: raw}, environment=key.environment.slug)
    return redirect("api-keys", slug=project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request, slug):
    if request.method == "GET":
        return _page(request, access_project(request.user, slug=slug))
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    form = ApiKeyCreateForm(request.POST, project=project)
    if not form.is_valid():
        return _page(request, project, form=form, status=400)
    key, raw = do_create_api_key(
        environment=form.cleaned_data["environment"],
        kind=form.cleaned_data["kind"],
        name=form.cleaned_data["name"],
        acting_user=request.user,
    )
    return _show_once(request, project, key, raw)


@login_required
@require_POST
def api_key_rotate(request, slug, key_id):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    key = get_object_or_404(project.api_keys, id=key_id)
    form = RotateKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, project, error="Choose a grace period of 0 to 7 days.", status=400)
    try:
        new_key, raw = do_rotate_api_key(
            key=key, grace_days=form.cleaned_data["grace_days"], acting_user=request.user
        )
    except ActionRefused as refused:
        return _page(request, project, error=refused.message, status=400)
    return _show_once(request, project, new_key, raw)


@login_required
@require_POST
def api_key_revoke(request, slug, key_id):
    project = access_project(request.user, slug=slug, min_role=Role.ADMIN)
    key = get_object_or_404(project.api_keys, id=key_id)
    do_revoke_api_key(key=key, acting_user=request.user)
    if request.htmx:
        return _page(request, project)
    return redirect("api-keys", slug=project.slug)
