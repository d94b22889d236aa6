"""The tracking plan editor: the plan list, an event's page, property groups, inline properties.

Every view renders the whole page, or only the fragment htmx asked for. Writes go through
``analytics.plan.actions``; a change that would break senders comes back first as a warning banner
with a "Save anyway" form (``confirm=1``) instead of being saved.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.plan import actions
from analytics.plan.forms import EventCreateForm, EventForm, PlanFilterForm, PropertyForm, StatusForm
from analytics.plan.models import EventDefinition, EventStatus, PropertyDefinition, PropertyGroup
from analytics.plan.selectors import event_history, filtered_events, property_rows
from analytics.verification.debug_forms import TestCaseForm
from projects.access import access_project, has_role, role_in
from projects.actions import ActionRefused
from projects.models import Role

EDITOR_ROLE = Role.MEMBER


def can_edit(user, project) -> bool:
    return has_role(role_in(user, project.organization), EDITOR_ROLE)


def _confirmed(request) -> bool:
    return request.POST.get("confirm") == "1"


# --- the plan list ---------------------------------------------------------------------------------


@login_required
@require_GET
def plan_list(request, slug):
    project = access_project(request.user, slug=slug)
    filters = PlanFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    events = list(filtered_events(project, values).prefetch_related("properties"))
    all_events = EventDefinition.objects.filter(project=project)
    context = {
        "project": project,
        "tab": "plan",
        "filters": filters,
        "events": events,
        "total": all_events.count(),
        "owners": sorted({owner for owner in all_events.values_list("owner", flat=True) if owner}),
        "tags": sorted({tag for tags in all_events.values_list("tags", flat=True) for tag in tags or []}),
        "groups": PropertyGroup.objects.filter(project=project),
        "can_edit": can_edit(request.user, project),
        "create_form": EventCreateForm(),
        "statuses": EventStatus.choices,
    }
    if request.htmx and request.htmx.target == "plan-results":
        return render(request, "plan/list.html#results", context)
    return render(request, "plan/list.html", context)


@login_required
@require_POST
def event_create(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    form = EventCreateForm(request.POST)
    error = None
    if form.is_valid():
        try:
            event = actions.do_create_event(
                project=project,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                acting_user=request.user,
            )
        except ActionRefused as refused:
            error = refused.message
        else:
            url = reverse("plan-event", args=[project.slug, event.id])
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
    else:
        error = "An event needs a name."
    context = {"project": project, "create_form": form, "create_error": error, "can_edit": True}
    if request.htmx:
        return render(request, "plan/list.html#create", context, status=400)
    messages.error(request, error)
    return redirect("plan-list", slug=project.slug)


@login_required
@require_POST
def group_create(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    name = request.POST.get("name", "").strip()
    if not name:
        messages.error(request, "A property group needs a name.")
        return redirect("plan-list", slug=project.slug)
    holder = {}

    def apply():
        holder["group"] = PropertyGroup.objects.create(
            project=project, name=name, description=request.POST.get("description", "")
        )

    try:
        actions.change_plan(
            project=project, acting_user=request.user, summary=f"Added property group {name}", apply=apply
        )
    except ActionRefused as refused:
        messages.error(request, refused.message)
        return redirect("plan-list", slug=project.slug)
    return redirect("plan-group", slug=project.slug, group_id=holder["group"].id)


# --- an event --------------------------------------------------------------------------------------


def _event(request, slug, event_id, min_role=Role.VIEWER):
    project = access_project(request.user, slug=slug, min_role=min_role)
    return project, get_object_or_404(EventDefinition, project=project, id=event_id)


def _event_context(request, project, event, **extra) -> dict:
    editable = can_edit(request.user, project)
    return {
        "project": project,
        "tab": "plan",
        "event": event,
        "owner": event,
        "owner_ref": f"event:{event.id}",
        "can_edit": editable,
        "details_form": EventForm(
            project=project,
            initial={
                "description": event.description,
                "trigger": event.trigger,
                "owner": event.owner,
                "tags": ", ".join(event.tags or []),
                "expected_environments": list(event.expected_environments.all()),
                "property_groups": list(event.property_groups.all()),
                "allow_unplanned_properties": event.allow_unplanned_properties,
            },
        ),
        "status_form": StatusForm(initial={"status": event.status}),
        "rows": property_rows(event),
        "add_form": PropertyForm(),
        "history": event_history(event),
        "shared_groups": event.property_groups.prefetch_related("properties"),
        "test_cases": event.test_cases.all(),
        "test_case_form": TestCaseForm(),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def event_page(request, slug, event_id):
    """The event's page; POST saves its details (description, trigger, owner, tags, ...)."""
    if request.method == "GET":
        project, event = _event(request, slug, event_id)
        return render(request, "plan/event.html", _event_context(request, project, event))
    project, event = _event(request, slug, event_id, EDITOR_ROLE)
    form = EventForm(request.POST, project=project)
    extra: dict = {}
    if form.is_valid():
        try:
            change = actions.do_update_event(
                event=event,
                acting_user=request.user,
                values=form.cleaned_data,
                confirm_breaking=_confirmed(request),
            )
        except ActionRefused as refused:
            extra["details_error"] = refused.message
        else:
            if change.held_back:
                extra["details_breaking"] = change.breaking
            else:
                extra["details_saved"] = bool(change.version)
            event.refresh_from_db()
    context = _event_context(request, project, event, **extra)
    if not form.is_valid() or extra.get("details_breaking"):
        context["details_form"] = form
    if request.htmx:
        return render(
            request, "plan/event.html#details", context, status=400 if "details_error" in extra else 200
        )
    return render(request, "plan/event.html", context)


@login_required
@require_POST
def event_status(request, slug, event_id):
    project, event = _event(request, slug, event_id, EDITOR_ROLE)
    form = StatusForm(request.POST)
    extra = {}
    if form.is_valid():
        actions.do_set_event_status(
            event=event,
            status=form.cleaned_data["status"],
            comment=form.cleaned_data["comment"],
            acting_user=request.user,
        )
        event.refresh_from_db()
        extra["status_saved"] = True
    else:
        extra["status_error"] = "Choose a status."
    context = _event_context(request, project, event, **extra)
    if request.htmx:
        return render(request, "plan/event.html#status", context)
    return redirect("plan-event", slug=project.slug, event_id=event.id)


@login_required
@require_POST
def event_delete(request, slug, event_id):
    project, event = _event(request, slug, event_id, EDITOR_ROLE)
    change = actions.do_delete_event(
        event=event, acting_user=request.user, confirm_breaking=_confirmed(request)
    )
    if change.held_back:
        context = _event_context(request, project, event, delete_breaking=change.breaking)
        return render(request, "plan/event.html", context)
    messages.success(request, f"Event {event.name} removed from the plan.")
    return redirect("plan-list", slug=project.slug)


# --- a property group ------------------------------------------------------------------------------


@login_required
@require_GET
def group_page(request, slug, group_id):
    project = access_project(request.user, slug=slug)
    group = get_object_or_404(PropertyGroup, project=project, id=group_id)
    return render(
        request,
        "plan/group.html",
        {
            "project": project,
            "tab": "plan",
            "group": group,
            "owner": group,
            "owner_ref": f"group:{group.id}",
            "rows": property_rows(group),
            "add_form": PropertyForm(),
            "can_edit": can_edit(request.user, project),
            "used_by": group.event_definitions.all(),
        },
    )


# --- properties (inline) ---------------------------------------------------------------------------


def _owner(project, ref: str):
    """`event:12`, `group:3` or `prop:45` (a nested property's parent) of this project; 404 if not."""
    kind, _, ident = (ref or "").partition(":")
    if not ident.isdigit():
        raise Http404("No such owner.")
    if kind == "event":
        return get_object_or_404(EventDefinition, project=project, id=ident)
    if kind == "group":
        return get_object_or_404(PropertyGroup, project=project, id=ident)
    if kind == "prop":
        return _property(project, int(ident))
    raise Http404("No such owner.")


def _property(project, prop_id: int) -> PropertyDefinition:
    prop = get_object_or_404(PropertyDefinition, id=prop_id)
    if actions.owner_of(prop).project_id != project.id:
        raise Http404("No such property.")
    return prop


def _properties_fragment(request, project, top_owner, status=200, **extra):
    project.refresh_from_db(fields=["plan_version"])  # the fragment names the version just saved
    is_event = isinstance(top_owner, EventDefinition)
    context = {
        "project": project,
        "owner": top_owner,
        "owner_ref": f"{'event' if is_event else 'group'}:{top_owner.id}",
        "rows": property_rows(top_owner),
        "add_form": PropertyForm(),
        "can_edit": True,
        **extra,
    }
    if request.htmx:
        return render(request, "plan/_properties.html", context, status=status)
    if extra.get("property_error"):
        messages.error(request, extra["property_error"])
    if is_event:
        return redirect("plan-event", slug=project.slug, event_id=top_owner.id)
    return redirect("plan-group", slug=project.slug, group_id=top_owner.id)


def _top(owner):
    return actions.owner_of(owner) if isinstance(owner, PropertyDefinition) else owner


@login_required
@require_GET
def properties_fragment(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    return _properties_fragment(request, project, _top(_owner(project, request.GET.get("owner"))))


@login_required
@require_POST
def property_add(request, slug):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    owner = _owner(project, request.POST.get("owner"))
    form = PropertyForm(request.POST)
    if not form.is_valid():
        return _properties_fragment(
            request, project, _top(owner), 400, property_error=_first_error(form), add_form=form,
            add_parent=request.POST.get("owner"),
        )  # fmt: skip
    try:
        actions.do_add_property(
            owner=owner, name=form.cleaned_data["name"], values=form.values(), acting_user=request.user
        )
    except ActionRefused as refused:
        return _properties_fragment(
            request, project, _top(owner), 400, property_error=refused.message, add_form=form,
            add_parent=request.POST.get("owner"),
        )  # fmt: skip
    return _properties_fragment(request, project, _top(owner), property_saved=True)


@login_required
@require_http_methods(["GET", "POST"])
def property_edit(request, slug, prop_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    prop = _property(project, prop_id)
    top = actions.owner_of(prop)
    if request.method == "GET":
        form = PropertyForm(initial=PropertyForm.initial_for(prop))
        return _properties_fragment(request, project, top, editing=prop.id, edit_form=form)
    form = PropertyForm(request.POST)
    if not form.is_valid():
        return _properties_fragment(
            request, project, top, 400, editing=prop.id, edit_form=form, property_error=_first_error(form)
        )
    try:
        change = actions.do_update_property(
            prop=prop, values=form.values(), acting_user=request.user, confirm_breaking=_confirmed(request)
        )
    except ActionRefused as refused:
        return _properties_fragment(
            request, project, top, 400, editing=prop.id, edit_form=form, property_error=refused.message
        )
    if change.held_back:
        return _properties_fragment(
            request, project, top, editing=prop.id, edit_form=form, breaking=change.breaking,
            confirm_url=reverse("plan-property-edit", args=[project.slug, prop.id]),
            confirm_fields=_posted(request),
        )  # fmt: skip
    return _properties_fragment(request, project, top, property_saved=True)


@login_required
@require_POST
def property_delete(request, slug, prop_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    prop = _property(project, prop_id)
    top = actions.owner_of(prop)
    change = actions.do_delete_property(
        prop=prop, acting_user=request.user, confirm_breaking=_confirmed(request)
    )
    if change.held_back:
        return _properties_fragment(
            request, project, top, breaking=change.breaking,
            confirm_url=reverse("plan-property-delete", args=[project.slug, prop.id]), confirm_fields=[],
        )  # fmt: skip
    return _properties_fragment(request, project, top, property_saved=True)


@login_required
@require_POST
def property_move(request, slug, prop_id):
    project = access_project(request.user, slug=slug, min_role=EDITOR_ROLE)
    prop = _property(project, prop_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    actions.do_move_property(prop=prop, offset=offset, acting_user=request.user)
    return _properties_fragment(request, project, actions.owner_of(prop))


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
        return f"{label}{errors[0]}"
    return "Check the form."


def _posted(request) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", "confirm")
        for value in request.POST.getlist(name)
    ]
