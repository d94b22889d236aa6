"""The audit log: one row per change to members, keys, projects, the plan and alerts."""

from django.db import models

from projects.models import AuditLogEntry, Organization, Project


def snapshot(instance: models.Model, fields: list[str]) -> dict:
    """The given fields of an instance as JSON-safe values (for before/after)."""
    values = {}
    for name in fields:
        value = getattr(instance, name)
        if isinstance(value, models.Model):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        values[name] = value
    return values


def record(
    *,
    organization: Organization,
    actor,
    action: str,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    project: Project | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        organization=organization,
        project=project,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=(getattr(actor, "email", "") or getattr(actor, "username", "") or "system")
        if actor
        else "system",
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk or ""),
        target_label=str(target)[:200],
        before=before,
        after=after,
    )
