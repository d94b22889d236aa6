"""The whole tracking plan of a project as plain data, and back.

A *snapshot* is what a plan version stores, what diffs compare, what the import/export formats
convert to and from, and what codegen reads. Its shape (every key always present once normalized)::

    {
      "format": "beacon-plan/1",
      "events": [                       # sorted by name
        {"name", "description", "trigger", "owner", "tags": [str], "status",
         "expected_environments": [slug], "property_groups": [group name],
         "allow_unplanned_properties": bool, "properties": [PROPERTY]}
      ],
      "property_groups": [{"name", "description", "properties": [PROPERTY]}],   # sorted by name
    }
    PROPERTY = {"name", "description", "type", "item_type", "required", "enum": [..] | None,
                "pattern", "min_length", "max_length", "minimum", "maximum", "pii",
                "properties": [PROPERTY]}   # nested: of an object, or of the objects in an array

Properties keep their order (the editor's ``position``).
"""

from copy import deepcopy

from django.db import transaction

from analytics.plan.models import (
    EventDefinition,
    EventStatus,
    PropertyDefinition,
    PropertyGroup,
    PropertyType,
    nests,
)
from projects.models import Environment, Project

FORMAT = "beacon-plan/1"

EVENT_DEFAULTS = {
    "description": "",
    "trigger": "",
    "owner": "",
    "tags": [],
    "status": EventStatus.DRAFT.value,
    "expected_environments": [],
    "property_groups": [],
    "allow_unplanned_properties": False,
    "properties": [],
}
PROPERTY_DEFAULTS = {
    "description": "",
    "type": PropertyType.STRING.value,
    "item_type": "",
    "required": False,
    "enum": None,
    "pattern": "",
    "min_length": None,
    "max_length": None,
    "minimum": None,
    "maximum": None,
    "pii": False,
    "properties": [],
}
PROPERTY_FIELDS = ["name", *(field for field in PROPERTY_DEFAULTS if field != "properties")]
EVENT_FIELDS = [field for field in EVENT_DEFAULTS if field != "properties"]

EMPTY = {"format": FORMAT, "events": [], "property_groups": []}


class SnapshotError(ValueError):
    """A snapshot that cannot be applied: the message says where and why."""


# --- reading ---------------------------------------------------------------------------------------


def export_plan(project_id: int) -> dict:
    """The project's plan as a normalized snapshot."""
    events = list(
        EventDefinition.objects.filter(project_id=project_id).prefetch_related(
            "expected_environments", "property_groups"
        )
    )
    groups = list(PropertyGroup.objects.filter(project_id=project_id))
    top = list(
        PropertyDefinition.objects.filter(event__project_id=project_id)
        | PropertyDefinition.objects.filter(group__project_id=project_id)
    )
    children = nested_children(top)

    def props(owned: list[PropertyDefinition]) -> list[dict]:
        ordered = sorted(owned, key=lambda prop: (prop.position, prop.id))
        return [
            {
                **{field: _plain(getattr(prop, field)) for field in PROPERTY_FIELDS},
                "properties": props(children.get(prop.id, [])),
            }
            for prop in ordered
        ]

    by_event: dict[int, list] = {}
    by_group: dict[int, list] = {}
    for prop in top:
        (
            by_event.setdefault(prop.event_id, [])
            if prop.event_id
            else by_group.setdefault(prop.group_id, [])
        ).append(prop)
    return {
        "format": FORMAT,
        "events": [
            {
                "name": event.name,
                "description": event.description,
                "trigger": event.trigger,
                "owner": event.owner,
                "tags": list(event.tags or []),
                "status": event.status,
                "expected_environments": sorted(env.slug for env in event.expected_environments.all()),
                "property_groups": sorted(group.name for group in event.property_groups.all()),
                "allow_unplanned_properties": event.allow_unplanned_properties,
                "properties": props(by_event.get(event.id, [])),
            }
            for event in sorted(events, key=lambda event: event.name)
        ],
        "property_groups": [
            {
                "name": group.name,
                "description": group.description,
                "properties": props(by_group.get(group.id, [])),
            }
            for group in sorted(groups, key=lambda group: group.name)
        ],
    }


def nested_children(top: list[PropertyDefinition]) -> dict[int, list[PropertyDefinition]]:
    """The nested properties below ``top``, by parent id (one query per level of nesting)."""
    children: dict[int, list[PropertyDefinition]] = {}
    parent_ids = [prop.id for prop in top]
    while parent_ids:
        level = list(PropertyDefinition.objects.filter(parent_id__in=parent_ids))
        for prop in level:
            children.setdefault(prop.parent_id, []).append(prop)
        parent_ids = [prop.id for prop in level]
    return children


def _plain(value):
    return value.value if hasattr(value, "value") else value


# --- normalizing (what an import hands over) -------------------------------------------------------


def normalize(data: dict) -> dict:
    """A snapshot with every key present and every value of the right kind; SnapshotError if not."""
    if not isinstance(data, dict):
        raise SnapshotError("The plan must be an object with `events` (and optionally `property_groups`).")
    events = data.get("events", [])
    groups = data.get("property_groups", [])
    if not isinstance(events, list) or not isinstance(groups, list):
        raise SnapshotError("`events` and `property_groups` must be lists.")
    normalized_events = [_normalize_event(event, f"events[{index}]") for index, event in enumerate(events)]
    normalized_groups = [
        {
            "name": _name(group, f"property_groups[{index}]"),
            "description": str(group.get("description") or ""),
            "properties": _normalize_properties(group.get("properties", []), f"property_groups[{index}]"),
        }
        for index, group in enumerate(groups)
    ]
    _no_duplicates([event["name"] for event in normalized_events], "event")
    _no_duplicates([group["name"] for group in normalized_groups], "property group")
    known_groups = {group["name"] for group in normalized_groups}
    for event in normalized_events:
        for group in event["property_groups"]:
            if group not in known_groups:
                raise SnapshotError(f"Event `{event['name']}` uses the unknown property group `{group}`.")
    return {
        "format": FORMAT,
        "events": sorted(normalized_events, key=lambda event: event["name"]),
        "property_groups": sorted(normalized_groups, key=lambda group: group["name"]),
    }


def _name(item, where: str) -> str:
    if not isinstance(item, dict):
        raise SnapshotError(f"{where} must be an object.")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SnapshotError(f"{where} needs a `name`.")
    if len(name) > 200:
        raise SnapshotError(f"{where}: the name is longer than 200 characters.")
    return name.strip()


def _no_duplicates(names: list[str], what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise SnapshotError(f"The {what} `{name}` appears twice.")
        seen.add(name)


def _normalize_event(event, where: str) -> dict:
    name = _name(event, where)
    where = f"event `{name}`"
    status = event.get("status") or EventStatus.DRAFT.value
    if status not in EventStatus.values:
        raise SnapshotError(f"{where}: unknown status `{status}` (one of {', '.join(EventStatus.values)}).")
    normalized = {
        "name": name,
        "description": str(event.get("description") or ""),
        "trigger": str(event.get("trigger") or ""),
        "owner": str(event.get("owner") or ""),
        "tags": _strings(event.get("tags"), f"{where}: tags"),
        "status": status,
        "expected_environments": sorted(
            _strings(event.get("expected_environments"), f"{where}: environments")
        ),
        "property_groups": sorted(_strings(event.get("property_groups"), f"{where}: property groups")),
        "allow_unplanned_properties": _bool(
            event.get("allow_unplanned_properties"), where, "allow_unplanned_properties"
        ),
        "properties": _normalize_properties(event.get("properties", []), where),
    }
    return normalized


def _strings(value, where: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SnapshotError(f"{where} must be a list of strings.")
    return value


def _normalize_properties(properties, where: str) -> list[dict]:
    if not isinstance(properties, list):
        raise SnapshotError(f"{where}: `properties` must be a list.")
    normalized = [
        _normalize_property(prop, f"{where}, property {index + 1}") for index, prop in enumerate(properties)
    ]
    _no_duplicates([prop["name"] for prop in normalized], f"property of {where}:")
    return normalized


def _normalize_property(prop, where: str) -> dict:
    name = _name(prop, where)
    if "." in name:
        raise SnapshotError(
            f"{where}: `{name}`: a property name cannot contain `.` (it separates nested properties)."
        )
    where = f"{where.rsplit(', property', 1)[0]}, property `{name}`"
    type_ = prop.get("type") or PropertyType.STRING.value
    item_type = prop.get("item_type") or ""
    for value, label in ((type_, "type"), (item_type, "item type")):
        if value and value not in PropertyType.values:
            raise SnapshotError(
                f"{where}: unknown {label} `{value}` (one of {', '.join(PropertyType.values)})."
            )
    if type_ == PropertyType.ARRAY and not item_type:
        item_type = PropertyType.STRING.value
    if type_ != PropertyType.ARRAY:
        item_type = ""
    enum = prop.get("enum")
    if enum in ("", []):
        enum = None
    if enum is not None and not isinstance(enum, list):
        raise SnapshotError(f"{where}: `enum` must be a list of values.")
    normalized = {
        "name": name,
        "description": str(prop.get("description") or ""),
        "type": type_,
        "item_type": item_type,
        "required": _bool(prop.get("required"), where, "required"),
        "enum": enum,
        "pattern": str(prop.get("pattern") or ""),
        "min_length": _number(prop.get("min_length"), where, "min_length", integer=True),
        "max_length": _number(prop.get("max_length"), where, "max_length", integer=True),
        "minimum": _number(prop.get("minimum"), where, "minimum"),
        "maximum": _number(prop.get("maximum"), where, "maximum"),
        "pii": _bool(prop.get("pii"), where, "pii"),
        "properties": _normalize_properties(prop.get("properties", []), where),
    }
    if normalized["properties"] and not nests(type_, item_type):
        raise SnapshotError(f"{where}: only objects and arrays of objects have nested properties.")
    if normalized["pattern"]:
        check_pattern(normalized["pattern"], where)
    return normalized


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def _bool(value, where: str, field: str) -> bool:
    """A boolean, also from the text CSV and YAML carry ("false" is False, not a non-empty string)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SnapshotError(f"{where}: `{field}` must be true or false, not {value!r}.")


def _number(value, where: str, field: str, *, integer: bool = False):
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SnapshotError(f"{where}: `{field}` must be a number.") from None
    if integer:
        if number < 0 or number != int(number):
            raise SnapshotError(f"{where}: `{field}` must be a whole number, 0 or more.")
        return int(number)
    return number


def check_pattern(pattern: str, where: str) -> None:
    """The validator compiles patterns as ECMA 262 regular expressions: refuse one it cannot."""
    import jsonschema_rs

    try:
        jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    except (ValueError, jsonschema_rs.ValidationError) as error:
        raise SnapshotError(f"{where}: the pattern is not a valid regular expression ({error}).") from None


# --- writing ---------------------------------------------------------------------------------------


@transaction.atomic
def replace_plan(project: Project, snapshot: dict) -> None:
    """Make the project's plan exactly ``snapshot`` (normalized). Events are matched by name, so
    their first/last seen survive; properties are rewritten. The caller records the version."""
    snapshot = normalize(deepcopy(snapshot))
    environments = {env.slug: env for env in Environment.objects.filter(project=project)}
    for event in snapshot["events"]:
        for slug in event["expected_environments"]:
            if slug not in environments:
                raise SnapshotError(f"Event `{event['name']}` expects the unknown environment `{slug}`.")

    groups = {}
    PropertyGroup.objects.filter(project=project).exclude(
        name__in=[group["name"] for group in snapshot["property_groups"]]
    ).delete()
    for data in snapshot["property_groups"]:
        group, _ = PropertyGroup.objects.update_or_create(
            project=project, name=data["name"], defaults={"description": data["description"]}
        )
        group.properties.all().delete()
        create_properties(data["properties"], group=group)
        groups[group.name] = group

    EventDefinition.objects.filter(project=project).exclude(
        name__in=[event["name"] for event in snapshot["events"]]
    ).delete()
    for data in snapshot["events"]:
        event, _ = EventDefinition.objects.update_or_create(
            project=project,
            name=data["name"],
            defaults={field: data[field] for field in EVENT_FIELDS if field not in _M2M},
        )
        event.expected_environments.set([environments[slug] for slug in data["expected_environments"]])
        event.property_groups.set([groups[name] for name in data["property_groups"]])
        event.properties.all().delete()
        create_properties(data["properties"], event=event)


_M2M = ("expected_environments", "property_groups")


def create_properties(properties: list[dict], **owner) -> None:
    """Create normalized snapshot properties (and their nested ones) under ``owner``."""
    for position, data in enumerate(properties):
        prop = PropertyDefinition.objects.create(
            **owner, position=position, **{field: data[field] for field in PROPERTY_FIELDS}
        )
        create_properties(data["properties"], parent=prop)


def iter_properties(properties: list[dict], prefix: str = ""):
    """(dotted path, property) for every property, nested ones included, depth first."""
    for prop in properties:
        path = f"{prefix}.{prop['name']}" if prefix else prop["name"]
        yield path, prop
        yield from iter_properties(prop["properties"], path)


def defaults_filled(kind: str, data: dict) -> dict:
    """``data`` with the defaults of an event or property filled in (for building snapshots by hand)."""
    defaults = EVENT_DEFAULTS if kind == "event" else PROPERTY_DEFAULTS
    return {**deepcopy(defaults), **data}
