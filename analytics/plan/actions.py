"""Every write to a tracking plan: atomic, keyword-only, and recorded as a new plan version.

``change_plan`` is the one way a plan changes. It locks the project, applies the edit, diffs the
plan before and after, and either holds the edit back (breaking changes the PM has not confirmed
yet: rolled back, the changes returned for the warning banner) or records a ``PlanVersion`` with
who, when, what and the diff, and bumps the version ingestion compiles against.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Max

from analytics.plan import changes as plan_changes
from analytics.plan.models import (
    EventDefinition,
    EventStatus,
    PlanVersion,
    PropertyDefinition,
    PropertyGroup,
)
from analytics.plan.naming import naming_problem
from analytics.plan.runtime import bump_plan_version
from analytics.plan.snapshot import (
    PROPERTY_FIELDS,
    SnapshotError,
    check_pattern,
    create_properties,
    export_plan,
    normalize,
    replace_plan,
)
from projects.actions import ActionRefused
from projects.models import Project


@dataclass
class PlanChange:
    version: PlanVersion | None  # None: nothing changed, or held back
    changes: list[plan_changes.Change] = field(default_factory=list)
    held_back: bool = False  # breaking changes waiting for confirmation

    @property
    def breaking(self) -> list[plan_changes.Change]:
        return plan_changes.breaking(self.changes)


def change_plan(
    *,
    project: Project,
    acting_user,
    summary: str,
    apply: Callable[[], None],
    comment: str = "",
    confirm_breaking: bool = True,
    dry_run: bool = False,
) -> PlanChange:
    with transaction.atomic():
        Project.objects.select_for_update().filter(id=project.id).first()
        before = export_plan(project.id)
        try:
            with transaction.atomic():
                apply()
        except SnapshotError as error:
            raise ActionRefused(str(error)) from None
        except IntegrityError:
            raise ActionRefused("That name is already taken in this plan.") from None
        after = export_plan(project.id)
        found = plan_changes.diff(before, after)
        if dry_run:
            transaction.set_rollback(True)
            return PlanChange(None, found, held_back=True)
        if plan_changes.breaking(found) and not confirm_breaking:
            transaction.set_rollback(True)
            return PlanChange(None, found, held_back=True)
        if not found and not comment:
            return PlanChange(None, [])
        return PlanChange(record_version(project, acting_user, summary, comment, after, found), found)


def record_version(project, acting_user, summary, comment="", snapshot=None, found=None) -> PlanVersion:
    """A new version of the plan as it is now (inside the caller's transaction). Ingestion sees it
    from the next request on."""
    snapshot = snapshot if snapshot is not None else export_plan(project.id)
    if found is None:
        previous = PlanVersion.objects.filter(project_id=project.id).order_by("-number").first()
        found = plan_changes.diff(previous.snapshot if previous else None, snapshot)
    bump_plan_version(project.id)
    number = Project.objects.values_list("plan_version", flat=True).get(id=project.id)
    highest = PlanVersion.objects.filter(project_id=project.id).aggregate(Max("number"))["number__max"] or 0
    return PlanVersion.objects.create(
        project_id=project.id,
        number=max(number, highest + 1),
        created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        summary=summary[:500],
        comment=comment,
        snapshot=snapshot,
        changes=[change.as_dict() for change in found],
        events=sorted({change.event for change in found if change.event}),
    )


# --- events ----------------------------------------------------------------------------------------


def check_event_name(project: Project, name: str) -> str:
    name = name.strip()
    if not name:
        raise ActionRefused("An event needs a name.")
    if problem := naming_problem(
        name, project.naming_convention, kind="event", object_action=project.require_object_action
    ):
        raise ActionRefused(problem)
    if EventDefinition.objects.filter(project=project, name=name).exists():
        raise ActionRefused(f"The plan already has an event named `{name}`.")
    return name


def do_create_event(
    *,
    project: Project,
    name: str,
    acting_user,
    properties: list[dict] | None = None,
    summary: str = "",
    **fields,
) -> EventDefinition:
    """A new event (``properties``: snapshot-shaped definitions to create with it, e.g. inferred)."""
    name = check_event_name(project, name)
    if properties:
        properties = normalize({"events": [{"name": name, "properties": properties}]})["events"][0][
            "properties"
        ]
    created = {}

    def apply():
        created["event"] = EventDefinition.objects.create(project=project, name=name, **fields)
        create_properties(properties or [], event=created["event"])

    change_plan(
        project=project, acting_user=acting_user, summary=summary or f"Added event {name}", apply=apply
    )
    return created["event"]


EVENT_EDITABLE = ["description", "trigger", "owner", "tags", "allow_unplanned_properties"]


def do_update_event(
    *, event: EventDefinition, acting_user, values: dict, confirm_breaking: bool = True
) -> PlanChange:
    def apply():
        for name, value in values.items():
            if name in EVENT_EDITABLE:
                setattr(event, name, value)
        event.save()
        if "expected_environments" in values:
            event.expected_environments.set(values["expected_environments"])
        if "property_groups" in values:
            event.property_groups.set(values["property_groups"])

    return change_plan(
        project=event.project,
        acting_user=acting_user,
        summary=f"Edited event {event.name}",
        apply=apply,
        confirm_breaking=confirm_breaking,
    )


def do_set_event_status(*, event: EventDefinition, status: str, comment: str, acting_user) -> PlanChange:
    if status not in EventStatus.values:
        raise ActionRefused(f"Unknown status `{status}`.")
    before = EventStatus(event.status).label

    def apply():
        event.status = status
        event.save(update_fields=["status", "updated_at"])

    return change_plan(
        project=event.project,
        acting_user=acting_user,
        summary=f"{event.name}: {before} → {EventStatus(status).label}",
        comment=comment.strip(),
        apply=apply,
    )


def do_delete_event(*, event: EventDefinition, acting_user, confirm_breaking: bool = True) -> PlanChange:
    return change_plan(
        project=event.project,
        acting_user=acting_user,
        summary=f"Removed event {event.name}",
        apply=EventDefinition.objects.filter(id=event.id).delete,
        confirm_breaking=confirm_breaking,
    )


# --- properties ------------------------------------------------------------------------------------


def owner_of(prop: PropertyDefinition) -> EventDefinition | PropertyGroup:
    while prop.parent_id:
        prop = prop.parent
    return prop.event if prop.event_id else prop.group


def path_of(prop: PropertyDefinition) -> str:
    names = [prop.name]
    while prop.parent_id:
        prop = prop.parent
        names.append(prop.name)
    return ".".join(reversed(names))


def clean_property_values(project: Project, values: dict, *, new_name: str | None) -> dict:
    """Check a property's settings (the naming convention only for a new name); ActionRefused says why."""
    if new_name is not None:
        if not new_name.strip():
            raise ActionRefused("A property needs a name.")
        if problem := naming_problem(new_name.strip(), project.naming_convention, kind="property"):
            raise ActionRefused(problem)
    try:
        data = normalize({"events": [{"name": "x", "properties": [{"name": new_name or "x", **values}]}]})[
            "events"
        ][0]["properties"][0]
    except SnapshotError as error:
        raise ActionRefused(str(error).replace("event `x`, ", "")) from None
    if data["pattern"]:
        check_pattern(data["pattern"], "The property")
    for low, high in (("min_length", "max_length"), ("minimum", "maximum")):
        if data[low] is not None and data[high] is not None and data[low] > data[high]:
            raise ActionRefused(f"{low.replace('_', ' ')} is larger than {high.replace('_', ' ')}.")
    return {name: data[name] for name in PROPERTY_FIELDS if name != "name"}


def do_add_property(*, owner, name: str, values: dict, acting_user) -> PlanChange:
    """Add a property to an event, a property group or (``owner`` a property) an object/array."""
    project = _project_of_owner(owner)
    data = clean_property_values(project, values, new_name=name)
    name = name.strip()
    if isinstance(owner, PropertyDefinition):
        if not owner.nests:
            raise ActionRefused("Only objects and arrays of objects have nested properties.")
        siblings, where = owner.children, {"parent": owner}
    else:
        siblings, where = (
            owner.properties,
            {"event" if isinstance(owner, EventDefinition) else "group": owner},
        )
    if siblings.filter(name=name).exists():
        raise ActionRefused(f"`{name}` is already a property here.")
    position = (siblings.aggregate(Max("position"))["position__max"] or 0) + 1

    def apply():
        PropertyDefinition.objects.create(**where, name=name, position=position, **data)

    label = path_of(owner) + "." + name if isinstance(owner, PropertyDefinition) else f"{owner.name}.{name}"
    return change_plan(
        project=project, acting_user=acting_user, summary=f"Added property {label}", apply=apply
    )


def do_update_property(
    *, prop: PropertyDefinition, values: dict, acting_user, confirm_breaking: bool = True
) -> PlanChange:
    owner = owner_of(prop)
    project = _project_of_owner(owner)
    data = clean_property_values(project, values, new_name=None)

    def apply():
        for name, value in data.items():
            setattr(prop, name, value)
        prop.save()
        if not prop.nests:
            prop.children.all().delete()  # nested properties only make sense for objects

    return change_plan(
        project=project,
        acting_user=acting_user,
        summary=f"Edited property {owner.name}.{path_of(prop)}",
        apply=apply,
        confirm_breaking=confirm_breaking,
    )


def do_delete_property(*, prop: PropertyDefinition, acting_user, confirm_breaking: bool = True) -> PlanChange:
    owner = owner_of(prop)
    return change_plan(
        project=_project_of_owner(owner),
        acting_user=acting_user,
        summary=f"Removed property {owner.name}.{path_of(prop)}",
        apply=PropertyDefinition.objects.filter(id=prop.id).delete,
        confirm_breaking=confirm_breaking,
    )


def do_move_property(*, prop: PropertyDefinition, offset: int, acting_user) -> PlanChange:
    """Move a property up (-1) or down (+1) among its siblings."""
    owner = owner_of(prop)
    siblings = list(_siblings(prop))
    index = next(i for i, sibling in enumerate(siblings) if sibling.id == prop.id)
    target = min(max(index + offset, 0), len(siblings) - 1)
    siblings.insert(target, siblings.pop(index))

    def apply():
        for position, sibling in enumerate(siblings):
            if sibling.position != position:
                PropertyDefinition.objects.filter(id=sibling.id).update(position=position)

    return change_plan(
        project=_project_of_owner(owner),
        acting_user=acting_user,
        summary=f"Reordered the properties of {owner.name}",
        apply=apply,
    )


def _siblings(prop: PropertyDefinition):
    if prop.parent_id:
        return prop.parent.children.all()
    if prop.event_id:
        return prop.event.properties.all()
    return prop.group.properties.all()


def _project_of_owner(owner) -> Project:
    if isinstance(owner, PropertyDefinition):
        owner = owner_of(owner)
    return owner.project


# --- the whole plan --------------------------------------------------------------------------------


def do_import_plan(
    *,
    project: Project,
    snapshot: dict,
    acting_user,
    comment: str = "",
    summary: str = "Imported the plan",
    dry_run: bool = False,
) -> PlanChange:
    """Replace the plan with ``snapshot``, as one new version (``dry_run``: only say what would change)."""
    return change_plan(
        project=project,
        acting_user=acting_user,
        summary=summary,
        comment=comment,
        apply=lambda: replace_plan(project, snapshot),
        dry_run=dry_run,
    )


def naming_warnings(project: Project, changes: list[plan_changes.Change]) -> list[str]:
    """Names an import would add that break the project's naming convention."""
    warnings = []
    for change in changes:
        if change.what != "added" or change.path.startswith("group "):
            continue
        *_, name = change.path.split(".")
        kind = "property" if "." in change.path else "event"
        problem = naming_problem(
            name, project.naming_convention, kind=kind, object_action=project.require_object_action
        )
        if problem:
            warnings.append(f"`{change.path}`: {problem}")
    return warnings


def do_restore_version(*, version: PlanVersion, acting_user) -> PlanChange:
    return do_import_plan(
        project=version.project,
        snapshot=version.snapshot,
        acting_user=acting_user,
        summary=f"Restored v{version.number}",
    )
