"""Thin Celery tasks for alerts: ids in, one function call. Schedules live in config/schedule.py."""

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from alerts import evaluation

# The delivery tasks live beside the code that sends (alerts/delivery.py); importing them here is
# what registers them with the worker (Celery discovers `<app>.tasks` modules).
from alerts.delivery import deliver_alert_event, send_to_channel  # noqa: F401

logger = logging.getLogger(__name__)

# A claimed rule's evaluation is worth running only before the next tick claims it again.
EVALUATION_EXPIRES_SECONDS = 60
# Rules per evaluation task: enough that a worker spends its time evaluating, not fetching messages
# (one message per rule cost more than the rule), few enough that the worker processes share a tick.
RULES_PER_TASK = 20


@shared_task
def evaluate_due_rules(now_iso: str | None = None) -> int:
    """Beat, every minute: claim the due rules and queue their evaluation, a few rules per task.
    ``now_iso`` replays a tick at another time (bench/alerts.py ticks at the end of its data)."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    rule_ids = evaluation.claim_due_rules(now)
    for start in range(0, len(rule_ids), RULES_PER_TASK):
        batch = rule_ids[start : start + RULES_PER_TASK]
        evaluate_rules.apply_async((batch, now.isoformat()), expires=EVALUATION_EXPIRES_SECONDS)
    return len(rule_ids)


@shared_task
def evaluate_rules(rule_ids: list[int], now_iso: str) -> int:
    """Evaluate claimed rules, each in its own transaction; returns how many were evaluated.
    A rule that fails is logged and the others go on (it is claimed again at its next minute)."""
    now = datetime.fromisoformat(now_iso)
    evaluated = 0
    for rule_id in rule_ids:
        try:
            evaluated += evaluation.evaluate_rule(rule_id, now=now) is not None
        except Exception:  # one broken rule must not starve the rest of its batch
            logger.exception("alert rule %s: evaluation failed", rule_id)
    return evaluated
