"""Reads of the tracking plan for the editor pages."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from analytics.plan import changes as plan_changes
from analytics.plan.models import EventDefinition, PlanVersion, PropertyDefinition
from analytics.plan.snapshot import nested_children


def filtered_events(project, filters: dict) -> QuerySet[EventDefinition]:
    events = EventDefinition.objects.filter(project=project)
    if query := (filters.get("q") or "").strip():
        events = events.filter(
            Q(name__icontains=query) | Q(description__icontains=query) | Q(trigger__icontains=query)
        )
    if status := filters.get("status"):
        events = events.filter(status=status)
    if owner := (filters.get("owner") or "").strip():
        events = events.filter(owner__icontains=owner)
    if tag := (filters.get("tag") or "").strip():
        events = events.filter(tags__contains=[tag])
    if filters.get("seen") == "seen":
        events = events.filter(last_seen_at__isnull=False)
    elif filters.get("seen") == "unseen":
        events = events.filter(last_seen_at__isnull=True)
    return events.order_by("name")


@dataclass
class PropertyRow:
    prop: PropertyDefinition
    depth: int
    path: str
    first: bool
    last: bool

    @property
    def ref(self) -> str:
        return f"prop:{self.prop.id}"

    @property
    def nests(self) -> bool:
        return self.prop.nests


def property_rows(owner) -> list[PropertyRow]:
    """The owner's properties and their nested ones, depth first, as rows of the properties table."""
    top = list(owner.properties.all())
    children = nested_children(top)
    rows: list[PropertyRow] = []

    def walk(props: list[PropertyDefinition], depth: int, prefix: str) -> None:
        for index, prop in enumerate(props):
            path = f"{prefix}.{prop.name}" if prefix else prop.name
            rows.append(PropertyRow(prop, depth, path, index == 0, index == len(props) - 1))
            walk(children.get(prop.id, []), depth + 1, path)

    walk(top, 0, "")
    return rows


@dataclass
class HistoryEntry:
    version: PlanVersion
    changes: list[plan_changes.Change]


def event_history(event: EventDefinition) -> list[HistoryEntry]:
    """The versions that changed this event, newest first, with the changes that concern it."""
    versions = PlanVersion.objects.filter(project_id=event.project_id, events__contains=[event.name])
    entries = []
    for version in versions.select_related("created_by").order_by("-number")[:50]:
        changes = [plan_changes.Change.from_dict(change) for change in version.changes]
        entries.append(HistoryEntry(version, [change for change in changes if change.event == event.name]))
    return entries
