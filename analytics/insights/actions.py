"""Writes on saved insights and dashboards: atomic, keyword-only, audited.

A saved funnel is queued for precomputation on commit, so its page reads a row from the start.
"""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from analytics.insights.definitions import parse, to_json
from analytics.insights.models import Dashboard, DashboardTile, FunnelResult, Insight, InsightKind
from projects import audit
from projects.actions import ActionRefused

_INSIGHT_FIELDS = ["kind", "name", "description", "query"]


def _queue_precompute(insight: Insight) -> None:
    if insight.kind == InsightKind.FUNNEL:
        from analytics.tasks import precompute_funnel

        insight_id = insight.id
        transaction.on_commit(lambda: precompute_funnel.delay(insight_id))


def do_save_insight(
    *, project, kind: str, name: str, query: dict, description: str = "", acting_user
) -> Insight:
    """Save a new insight. ``query`` is validated (QueryError) and stored in its canonical form."""
    definition = parse(kind, query)
    name = name.strip()
    if not name:
        raise ActionRefused("Give the insight a name.")
    with transaction.atomic():
        insight = Insight.objects.create(
            project=project,
            kind=kind,
            name=name[:200],
            description=description,
            query=to_json(definition),
            created_by=acting_user,
        )
        audit.record(
            organization=project.organization,
            actor=acting_user,
            action="insight.create",
            target=insight,
            after=audit.snapshot(insight, _INSIGHT_FIELDS),
            project=project,
        )
        _queue_precompute(insight)
    return insight


def do_update_insight(
    *, insight: Insight, name: str, query: dict, description: str | None = None, acting_user
) -> Insight:
    definition = parse(insight.kind, query)
    if not name.strip():
        raise ActionRefused("Give the insight a name.")
    with transaction.atomic():
        before = audit.snapshot(insight, _INSIGHT_FIELDS)
        insight.name = name.strip()[:200]
        insight.query = to_json(definition)
        if description is not None:
            insight.description = description
        insight.updated_at = timezone.now()
        insight.save()
        audit.record(
            organization=insight.project.organization,
            actor=acting_user,
            action="insight.update",
            target=insight,
            before=before,
            after=audit.snapshot(insight, _INSIGHT_FIELDS),
            project=insight.project,
        )
        # The old result answers another question: gone now, so nothing shows it as this one's.
        FunnelResult.objects.filter(insight=insight).delete()
        _queue_precompute(insight)
    return insight


def do_delete_insight(*, insight: Insight, acting_user) -> None:
    with transaction.atomic():
        audit.record(
            organization=insight.project.organization,
            actor=acting_user,
            action="insight.delete",
            target=insight,
            before=audit.snapshot(insight, _INSIGHT_FIELDS),
            project=insight.project,
        )
        insight.delete()


def do_create_dashboard(
    *, project, name: str, description: str = "", refresh_seconds: int = 300, acting_user
) -> Dashboard:
    if not name.strip():
        raise ActionRefused("Give the dashboard a name.")
    with transaction.atomic():
        dashboard = Dashboard.objects.create(
            project=project,
            name=name.strip()[:200],
            description=description,
            refresh_seconds=refresh_seconds,
            created_by=acting_user,
        )
        audit.record(
            organization=project.organization,
            actor=acting_user,
            action="dashboard.create",
            target=dashboard,
            after=audit.snapshot(dashboard, ["name", "description", "refresh_seconds"]),
            project=project,
        )
    return dashboard


def do_delete_dashboard(*, dashboard: Dashboard, acting_user) -> None:
    with transaction.atomic():
        audit.record(
            organization=dashboard.project.organization,
            actor=acting_user,
            action="dashboard.delete",
            target=dashboard,
            before=audit.snapshot(dashboard, ["name", "description", "refresh_seconds"]),
            project=dashboard.project,
        )
        dashboard.delete()


def do_add_tile(*, dashboard: Dashboard, insight: Insight, width: int = 6, acting_user) -> DashboardTile:
    if insight.project_id != dashboard.project_id:
        raise ActionRefused("That insight belongs to another project.")
    if not 3 <= width <= 12:
        raise ActionRefused("A tile is 3 to 12 columns wide.")
    with transaction.atomic():
        tile, created = DashboardTile.objects.get_or_create(
            dashboard=dashboard,
            insight=insight,
            defaults={
                "width": width,
                "position": (dashboard.tiles.aggregate(last=Max("position"))["last"] or 0) + 1,
            },
        )
        if created:
            audit.record(
                organization=dashboard.project.organization,
                actor=acting_user,
                action="dashboard.add_tile",
                target=dashboard,
                after={"insight": insight.id, "width": width},
                project=dashboard.project,
            )
    return tile


def do_remove_tile(*, tile: DashboardTile, acting_user) -> None:
    dashboard = tile.dashboard
    with transaction.atomic():
        audit.record(
            organization=dashboard.project.organization,
            actor=acting_user,
            action="dashboard.remove_tile",
            target=dashboard,
            before={"insight": tile.insight_id, "width": tile.width},
            project=dashboard.project,
        )
        tile.delete()


def do_move_tile(*, tile: DashboardTile, offset: int, acting_user) -> None:
    """Move a tile up (-1) or down (+1) among its dashboard's tiles."""
    with transaction.atomic():
        tiles = list(DashboardTile.objects.select_for_update().filter(dashboard_id=tile.dashboard_id))
        index = next(i for i, t in enumerate(tiles) if t.id == tile.id)
        target = min(max(index + offset, 0), len(tiles) - 1)
        tiles.insert(target, tiles.pop(index))
        for position, item in enumerate(tiles, start=1):
            if item.position != position:
                item.position = position
                item.save(update_fields=["position"])
