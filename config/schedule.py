"""Every periodic task Beacon runs, in one place. Each entry expires so a backlog never piles up."""

from celery.schedules import crontab

MINUTE = 60
HOUR = 60 * MINUTE

BEAT_SCHEDULE = {
    "refresh-rollups": {
        "task": "analytics.tasks.refresh_rollups",
        "schedule": MINUTE,
        "options": {"expires": MINUTE},
    },
    "maintain-storage": {
        "task": "analytics.tasks.maintain_storage",
        "schedule": HOUR,
        "options": {"expires": HOUR},
    },
    "prune-dedup": {
        "task": "analytics.tasks.prune_dedup",
        "schedule": HOUR,
        "options": {"expires": HOUR},
    },
    "expire-plan-records": {
        "task": "analytics.tasks.expire_plan_records",
        "schedule": crontab(hour=3, minute=41),
        "options": {"expires": 6 * HOUR},
    },
    "enforce-retention": {
        "task": "analytics.tasks.enforce_retention",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 6 * HOUR},
    },
    "check-young-releases": {
        "task": "analytics.tasks.check_young_releases",
        "schedule": MINUTE,
        "options": {"expires": MINUTE},
    },
    "precompute-funnels": {
        # Every 5 minutes; a funnel is recomputed only when its window saw new data or moved.
        "task": "analytics.tasks.precompute_funnels",
        "schedule": 5 * MINUTE,
        "options": {"expires": 5 * MINUTE},
    },
    "evaluate-alert-rules": {
        # Claims the due rules (one conditional UPDATE) and queues their evaluation, 20 rules a task.
        "task": "alerts.tasks.evaluate_due_rules",
        "schedule": MINUTE,
        "options": {"expires": MINUTE},
    },
    "delete-expired-exports": {
        "task": "analytics.tasks.delete_expired_exports",
        "schedule": crontab(minute=23),
        "options": {"expires": HOUR},
    },
}
