"""What changed between two plan snapshots, and which changes break the events already being sent.

A change is *breaking* when an event that passed the old plan can fail the new one:

- an event or a property removed;
- a type narrowed (anything to anything else, except integer to number, which only widens);
- an enum value removed, or an enum added where any value was allowed;
- a property made required, or a new required property;
- a constraint tightened (a pattern added or changed, a smaller max, a larger min);
- unplanned properties no longer allowed.

Paths name what changed: ``checkout_completed``, ``checkout_completed.items.price``, and
``group product.price`` for a property of a shared group.
"""

from typing import NamedTuple

from analytics.plan.snapshot import EMPTY, EVENT_FIELDS, PROPERTY_FIELDS, normalize


class Change(NamedTuple):
    path: str
    what: str  # "added", "removed" or the changed field
    before: object = None
    after: object = None
    breaking: str = ""  # why it breaks senders ("" if it does not)

    @property
    def event(self) -> str | None:
        """The event this change is about (None for a property group)."""
        return None if self.path.startswith("group ") else self.path.split(".", 1)[0]

    def as_dict(self) -> dict:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict) -> "Change":
        return cls(**data)


def diff(old: dict | None, new: dict | None) -> list[Change]:
    old = normalize(old or EMPTY)
    new = normalize(new or EMPTY)
    changes: list[Change] = []
    _diff_named(
        {event["name"]: event for event in old["events"]},
        {event["name"]: event for event in new["events"]},
        "",
        _diff_event,
        changes,
        kind="event",
    )
    _diff_named(
        {group["name"]: group for group in old["property_groups"]},
        {group["name"]: group for group in new["property_groups"]},
        "group ",
        _diff_group,
        changes,
        kind="property group",
    )
    return changes


def breaking(changes: list[Change]) -> list[Change]:
    return [change for change in changes if change.breaking]


def _diff_named(old: dict, new: dict, prefix: str, diff_one, changes: list[Change], *, kind: str) -> None:
    for name in sorted(old.keys() | new.keys()):
        path = f"{prefix}{name}"
        if name not in new:
            changes.append(Change(path, "removed", breaking=f"{kind} removed: senders of it now fail"))
        elif name not in old:
            changes.append(Change(path, "added"))
            # a new group changes nothing by itself; a new event's required properties break nobody
        else:
            diff_one(path, old[name], new[name], changes)


def _diff_event(path: str, old: dict, new: dict, changes: list[Change]) -> None:
    for field in EVENT_FIELDS:
        if old[field] != new[field]:
            reason = ""
            if field == "allow_unplanned_properties" and not new[field]:
                reason = "unplanned properties are no longer allowed"
            elif field == "property_groups" and set(old[field]) - set(new[field]):
                reason = "a property group was removed from the event"
            changes.append(Change(path, field, old[field], new[field], reason))
    _diff_properties(path, old["properties"], new["properties"], changes)


def _diff_group(path: str, old: dict, new: dict, changes: list[Change]) -> None:
    if old["description"] != new["description"]:
        changes.append(Change(path, "description", old["description"], new["description"]))
    _diff_properties(path, old["properties"], new["properties"], changes)


def _diff_properties(prefix: str, old: list[dict], new: list[dict], changes: list[Change]) -> None:
    old_by_name = {prop["name"]: prop for prop in old}
    new_by_name = {prop["name"]: prop for prop in new}
    for name in [prop["name"] for prop in old] + [p["name"] for p in new if p["name"] not in old_by_name]:
        path = f"{prefix}.{name}"
        if name not in new_by_name:
            changes.append(Change(path, "removed", breaking="property removed"))
        elif name not in old_by_name:
            prop = new_by_name[name]
            changes.append(
                Change(
                    path,
                    "added",
                    after=prop["type"],
                    breaking="new required property" if prop["required"] else "",
                )
            )
        else:
            _diff_property(path, old_by_name[name], new_by_name[name], changes)
    if [p["name"] for p in old if p["name"] in new_by_name] != [
        p["name"] for p in new if p["name"] in old_by_name
    ]:
        changes.append(Change(prefix, "property order", [p["name"] for p in old], [p["name"] for p in new]))


def _diff_property(path: str, old: dict, new: dict, changes: list[Change]) -> None:
    for field in PROPERTY_FIELDS:
        before, after = old[field], new[field]
        if before != after:
            changes.append(Change(path, field, before, after, _why_breaking(field, before, after)))
    _diff_properties(path, old["properties"], new["properties"], changes)


def _why_breaking(field: str, before, after) -> str:
    if field in ("type", "item_type"):
        if before == "integer" and after == "number":
            return ""
        return f"type narrowed ({before or 'any'} → {after or 'any'})" if before and after else ""
    if field == "required":
        return "property made required" if after else ""
    if field == "enum":
        if after is None:
            return ""
        if before is None:
            return "enum added: other values now fail"
        removed = [value for value in before if value not in after]
        return f"enum value removed: {', '.join(map(str, removed))}" if removed else ""
    if field == "pattern":
        return "pattern added or changed" if after else ""
    if field in ("max_length", "maximum"):
        return "maximum lowered" if after is not None and (before is None or after < before) else ""
    if field in ("min_length", "minimum"):
        return "minimum raised" if after is not None and (before is None or after > before) else ""
    return ""


def describe(change: Change) -> str:
    """One line for people: "checkout_completed.price: type integer → string"."""
    if change.what in ("added", "removed"):
        return f"{change.path} {change.what}"
    return f"{change.path}: {change.what.replace('_', ' ')} {_show(change.before)} → {_show(change.after)}"


def _show(value) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
