"""What every alert view shares: the project for reading or writing, and this project's rows."""

from django.shortcuts import get_object_or_404

from alerts.models import AlertEvent, AlertRule, Channel
from analytics.views.plan import EDITOR_ROLE, can_edit
from projects.access import access_project

__all__ = [
    "EDITOR_ROLE",
    "can_edit",
    "readable_project",
    "writable_project",
    "rule_of",
    "channel_of",
    "alert_event_of",
]


def readable_project(request, slug):
    return access_project(request.user, slug=slug)


def writable_project(request, slug):
    """The project for a member or above; a viewer gets 404 as an outsider does."""
    return access_project(request.user, slug=slug, min_role=EDITOR_ROLE)


def rule_of(project, rule_id: int) -> AlertRule:
    return get_object_or_404(
        AlertRule.objects.select_related("project__organization", "environment", "owner"),
        id=rule_id,
        project=project,
    )


def channel_of(project, channel_id: int) -> Channel:
    return get_object_or_404(
        Channel.objects.select_related("project__organization"), id=channel_id, project=project
    )


def alert_event_of(project, alert_event_id: int) -> AlertEvent:
    return get_object_or_404(
        AlertEvent.objects.select_related("rule__environment", "project__organization", "acknowledged_by"),
        id=alert_event_id,
        project=project,
    )


def base_context(request, project, subtab: str) -> dict:
    return {
        "project": project,
        "tab": "alerts",
        "subtab": subtab,
        "can_edit": can_edit(request.user, project),
    }
