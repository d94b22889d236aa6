"""Thin Celery tasks: load what they need and call the store. Schedules live in config/schedule.py."""

from celery import shared_task
from django.utils import timezone

from analytics.plan.quarantine import drop_expired
from analytics.storage import get_store
from analytics.verification import releases


@shared_task
def refresh_rollups() -> int:
    """Plain PostgreSQL: recompute the rollup buckets touched since the last run."""
    return get_store().refresh_rollups_on_schedule()


@shared_task
def maintain_storage() -> dict:
    """Plain PostgreSQL: create the daily partitions ahead of time."""
    return get_store().maintain(timezone.now())


@shared_task
def prune_dedup() -> int:
    return get_store().prune_dedup(timezone.now())


@shared_task
def enforce_retention() -> dict:
    return get_store().enforce_retention(timezone.now())


@shared_task
def delete_project_events(project_id: int) -> int:
    """After a project is deleted: its raw events, message ids and rollups."""
    return get_store().delete_project(project_id)


@shared_task
def expire_plan_records() -> dict:
    """Quarantined events and violation records past their project's retention."""
    return drop_expired(timezone.now())


@shared_task
def check_young_releases() -> int:
    """Releases started in the last 24 hours: check them, mark what passes verified."""
    return releases.check_young_releases(timezone.now())


@shared_task
def precompute_funnels() -> dict:
    """Saved funnels whose window saw new data (or moved): computed again into their result row."""
    from analytics.insights.funnels import precompute_all

    return precompute_all(now=timezone.now())


@shared_task(expires=600)
def precompute_funnel(insight_id: int) -> bool:
    """One saved funnel, just saved or edited."""
    from analytics.insights.funnels import precompute
    from analytics.insights.models import Insight

    insight = Insight.objects.select_related("project").filter(id=insight_id).first()
    return insight is not None and precompute(insight, force=True)


@shared_task
def run_data_job(job_id: int) -> str:
    """A GDPR deletion or an export, requested from the data page. No expires: it must run."""
    from analytics.datajobs import run_job

    return run_job(job_id)


@shared_task(expires=3600)
def delete_expired_exports() -> int:
    """Hourly: export files past their expiry (BEACON_EXPORT_EXPIRY_DAYS), and their download links."""
    from analytics.datajobs import delete_expired_exports as delete_expired

    return delete_expired(timezone.now())
