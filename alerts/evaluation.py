"""Evaluation: claim the due rules, measure each, and move its alert through firing -> ongoing ->
resolved, writing one :class:`AlertEvent` per firing and per resolution.

Two guards keep one firing per breach even when two workers evaluate the same rule at once (a
redelivered task, two beats): the rule row is locked for the evaluation (``SELECT ... FOR UPDATE``),
and the database allows one open firing per rule (a partial unique index). A crashed evaluation
needs no cleanup: its rule was only moved to the next minute, and the next tick claims it again.
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from alerts.metrics import Reading, RuleError, format_value, measure, unit_of
from alerts.models import AlertEvent, AlertEventKind, AlertRule, AlertState, RuleKind, RuleState
from analytics.queries import alerts as queries

logger = logging.getLogger(__name__)

# What a rule's snapshot keeps (the fields every kind uses, then each kind's own).
_SNAPSHOT_FIELDS = (
    "name",
    "kind",
    "event",
    "filters",
    "threshold",
    "window_minutes",
    "severity",
    "cooldown_minutes",
)
_RATE_FIELDS = ("denominator_event", "denominator_filters", "min_sample")
_KIND_FIELDS = {
    RuleKind.RATE_BELOW: _RATE_FIELDS,
    RuleKind.RATE_ABOVE: _RATE_FIELDS,
    RuleKind.ANOMALY: (
        "anomaly_weeks",
        "anomaly_mode",
        "anomaly_deviations",
        "anomaly_percent",
        "anomaly_direction",
    ),
    RuleKind.PROPERTY_ABOVE: ("property", "aggregate", "min_sample"),
    RuleKind.PROPERTY_BELOW: ("property", "aggregate", "min_sample"),
}

__all__ = ["claim_due_rules", "evaluate_rule", "format_value", "preview", "unit_of", "window_end"]


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def window_end(now: datetime) -> datetime:
    """Where the evaluated window ends: the last whole minute, less the ingestion delay (events
    accepted into the stream a moment ago may not be written yet)."""
    return _floor_minute(now) - timedelta(seconds=settings.ALERTS_EVALUATION_DELAY_SECONDS)


# A rule is evaluated every window / 60, between every minute and every MAX_INTERVAL_MINUTES: its
# window moves by at most a sixtieth of itself between two evaluations (a 24-hour p95 need not be
# recomputed from a day of raw events every minute), and a rule of an hour or less runs every minute.
MAX_INTERVAL_MINUTES = 15


def evaluation_interval_minutes(rule: AlertRule) -> int:
    """What the claim UPDATE (analytics/queries/alerts.py) computes in SQL for every due rule."""
    return min(MAX_INTERVAL_MINUTES, max(1, rule.window_minutes // 60))


def claim_due_rules(now: datetime) -> list[int]:
    """The ids of the enabled rules due at ``now``, each moved to its next evaluation in one UPDATE."""
    return queries.claim_due_rules(
        now=now,
        minute=_floor_minute(now),
        table=AlertRule._meta.db_table,
        max_interval_minutes=MAX_INTERVAL_MINUTES,
    )


def snapshot(rule: AlertRule) -> dict:
    fields = (*_SNAPSHOT_FIELDS, *_KIND_FIELDS.get(rule.kind, ()))
    values = {name: getattr(rule, name) for name in fields}
    values["id"] = rule.id
    values["environment"] = rule.environment.slug
    values["project"] = rule.project.slug
    return values


def silenced_reason(rule: AlertRule, now: datetime) -> str:
    """Why notifications wait (mute, quiet hours), or "" when they may go out now."""
    if rule.muted_until and rule.muted_until > now:
        return f"muted until {rule.muted_until:%Y-%m-%d %H:%M} UTC"
    start, end = rule.quiet_hours_start, rule.quiet_hours_end
    if start is None or end is None or start == end:
        return ""
    local = now.astimezone(ZoneInfo(rule.quiet_hours_timezone)).time()
    quiet = start <= local < end if start < end else (local >= start or local < end)
    if quiet:
        return f"quiet hours {start:%H:%M}–{end:%H:%M} {rule.quiet_hours_timezone}"
    return ""


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did (tests and the bench read it)."""

    state: str
    reading: Reading | None
    fired: AlertEvent | None = None
    resolved: AlertEvent | None = None


def _notify_on_commit(alert_event: AlertEvent, now: datetime) -> None:
    from alerts.delivery import notify_later

    alert_event.notified_at = now
    alert_event.silenced_reason = ""
    alert_event.notify_pending = False
    event_id = alert_event.id
    transaction.on_commit(lambda: notify_later(event_id))


def _fire(rule: AlertRule, reading: Reading, *, now: datetime, start: datetime, end: datetime) -> AlertEvent:
    alert_event = AlertEvent.objects.create(
        project_id=rule.project_id,
        rule=rule,
        kind=AlertEventKind.FIRED,
        state=AlertState.FIRING,
        severity=rule.severity,
        value=reading.value,
        threshold=rule.threshold,
        values=reading.values,
        rule_snapshot=snapshot(rule),
        window_start=start,
        window_end=end,
        created_at=now,
        last_seen_at=now,
    )
    rule.last_fired_at = now
    silenced = silenced_reason(rule, now)
    if silenced:
        alert_event.silenced_reason = silenced
    else:
        _notify_on_commit(alert_event, now)
    alert_event.save(update_fields=["notified_at", "silenced_reason"])
    return alert_event


def _open_firing(rule: AlertRule, *, lock: bool = False) -> AlertEvent | None:
    events = AlertEvent.objects.select_for_update() if lock else AlertEvent.objects
    return events.filter(rule=rule, kind=AlertEventKind.FIRED).exclude(state=AlertState.RESOLVED).first()


def _close(
    rule: AlertRule, open_event: AlertEvent, *, now, values: dict, value=None, window=None
) -> AlertEvent:
    """Resolve ``open_event`` and write the resolution row (window: the one evaluated, if any)."""
    open_event.state, open_event.resolved_at = AlertState.RESOLVED, now
    open_event.save(update_fields=["state", "resolved_at"])
    start, end = window or (open_event.window_start, open_event.window_end)
    return AlertEvent.objects.create(
        project_id=rule.project_id,
        rule=rule,
        kind=AlertEventKind.RESOLVED,
        fired_event=open_event,
        severity=rule.severity,
        value=value,
        threshold=rule.threshold,
        values=values,
        rule_snapshot=snapshot(rule),
        window_start=start,
        window_end=end,
        created_at=now,
        resolved_at=now,
    )


def _resolve(rule, open_event, reading: Reading, *, now, start, end) -> AlertEvent:
    resolution = _close(
        rule, open_event, now=now, values=reading.values, value=reading.value, window=(start, end)
    )
    # A firing nobody was told about (silenced throughout) resolves quietly too; the resolution of
    # one they were told about waits for the end of the mute or quiet hours if need be.
    if open_event.notified_at:
        silenced = silenced_reason(rule, now)
        if silenced:
            resolution.silenced_reason, resolution.notify_pending = silenced, True
        else:
            _notify_on_commit(resolution, now)
        resolution.save(update_fields=["notified_at", "silenced_reason", "notify_pending"])
    return resolution


def _send_held_resolutions(rule: AlertRule, now: datetime) -> None:
    """Resolutions held back by a mute or quiet hours that are over now."""
    if rule.last_fired_at is None or silenced_reason(rule, now):
        return
    for resolution in AlertEvent.objects.filter(rule=rule, notify_pending=True).order_by("created_at", "id"):
        _notify_on_commit(resolution, now)
        resolution.save(update_fields=["notified_at", "silenced_reason", "notify_pending"])


def close_open_alert(rule: AlertRule, *, now: datetime, reason: str) -> AlertEvent | None:
    """Resolve the rule's open firing without a message, saying why (the rule was disabled): an
    alert nobody evaluates any more must not stay open, nor block the rule's next firing."""
    open_event = _open_firing(rule, lock=True)
    if open_event is None:
        return None
    resolution = _close(rule, open_event, now=now, values={"reason": reason})
    resolution.silenced_reason = reason
    resolution.save(update_fields=["silenced_reason"])
    return resolution


def _keep_firing(rule, open_event, *, now) -> None:
    open_event.state = AlertState.ONGOING
    open_event.last_seen_at = now
    fields = ["state", "last_seen_at"]
    if open_event.notified_at is None and not silenced_reason(rule, now):
        # Silenced when it fired (mute, quiet hours) and still firing now: tell them now.
        _notify_on_commit(open_event, now)
        fields += ["notified_at", "silenced_reason"]
    open_event.save(update_fields=fields)


def _transition(rule: AlertRule, reading: Reading, *, now, start, end) -> Evaluation:
    open_event = _open_firing(rule)
    if reading.value is None:
        # No verdict (too small a sample, no history): an open alert stays open, nothing new fires.
        return Evaluation(RuleState.FIRING if open_event else RuleState.NO_DATA, reading)
    if not reading.breached:
        if open_event is None:
            return Evaluation(RuleState.OK, reading)
        return Evaluation(
            RuleState.OK, reading, resolved=_resolve(rule, open_event, reading, now=now, start=start, end=end)
        )
    if open_event is not None:
        _keep_firing(rule, open_event, now=now)
        return Evaluation(RuleState.FIRING, reading)
    cooldown = timedelta(minutes=rule.cooldown_minutes)
    if rule.last_fired_at and now < rule.last_fired_at + cooldown:
        return Evaluation(RuleState.COOLDOWN, reading)
    return Evaluation(RuleState.FIRING, reading, fired=_fire(rule, reading, now=now, start=start, end=end))


@contextmanager
def _time_limited():
    """A transaction whose statements stop after ALERTS_EVALUATION_TIMEOUT_MS."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [str(settings.ALERTS_EVALUATION_TIMEOUT_MS)]
        )
        yield


def _record_error(rule_id: int, now: datetime, error: Exception) -> Evaluation:
    if isinstance(error, RuleError | DatabaseError):
        logger.warning("alert rule %s could not be evaluated: %s", rule_id, error)
    else:
        logger.exception("alert rule %s: evaluation failed", rule_id)
    message = str(error)[:1000] or type(error).__name__
    AlertRule.objects.filter(id=rule_id).update(
        state=RuleState.ERROR, last_error=message, last_evaluated_at=now
    )
    return Evaluation(RuleState.ERROR, None)


def evaluate_rule(rule_id: int, *, now: datetime | None = None) -> Evaluation | None:
    """Evaluate one rule at ``now`` (a claimed rule, a test, the bench).

    1. Measure, without holding the rule's row: an edit never waits for a slow query.
    2. Lock the row and check the rule is still enabled and unedited (an edit makes it due again).
    3. Move its alert (fire, keep firing, resolve) and send what the end of a silence released.
    Any error is recorded on the rule (state ``error``, ``last_error``): it never breaks the tick.
    """
    now = now or timezone.now()
    end = window_end(now)
    rule = AlertRule.objects.select_related("project", "environment").filter(id=rule_id, enabled=True).first()
    if rule is None:
        return None
    start = end - timedelta(minutes=rule.window_minutes)
    try:
        with _time_limited():
            reading = measure(rule, [end], detail=True)[0]
        with transaction.atomic():
            locked = AlertRule.objects.select_for_update().filter(
                id=rule_id, enabled=True, updated_at=rule.updated_at
            )
            if not locked.exists():
                return None
            rule.refresh_from_db(fields=["state", "last_fired_at"])
            evaluation = _transition(rule, reading, now=now, start=start, end=end)
            _send_held_resolutions(rule, now)
            rule.state, rule.last_value, rule.last_evaluated_at, rule.last_error = (
                evaluation.state,
                reading.value,
                now,
                "",
            )
            rule.save(
                update_fields=["state", "last_value", "last_evaluated_at", "last_error", "last_fired_at"]
            )
    except Exception as error:  # a broken rule is shown on its page, the tick goes on
        return _record_error(rule_id, now, error)
    return evaluation


# -- preview: the rule over the last days, and where it would have fired -------------------------


@dataclass(frozen=True)
class PreviewPoint:
    time: datetime
    value: float | None
    breached: bool
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Preview:
    points: list[PreviewPoint]
    threshold: float | None
    unit: str
    firings: list[datetime]
    error: str = ""
    step_minutes: int = 60

    @property
    def lower(self) -> list[float | None] | None:
        return [p.lower for p in self.points] if any(p.lower is not None for p in self.points) else None

    @property
    def upper(self) -> list[float | None] | None:
        return [p.upper for p in self.points] if any(p.upper is not None for p in self.points) else None


MAX_PREVIEW_POINTS = 700


def preview_step_minutes(rule: AlertRule, days: int) -> int:
    """One point per window (at least 15 minutes apart, at most MAX_PREVIEW_POINTS points)."""
    step = max(rule.window_minutes, 15)
    return max(step, -(-days * 24 * 60 // MAX_PREVIEW_POINTS))


def _firings(rule: AlertRule, points: list[PreviewPoint], step: timedelta) -> list[datetime]:
    """Where a breach would have started an alert, cooldown applied."""
    firings: list[datetime] = []
    cooldown = timedelta(minutes=rule.cooldown_minutes)
    open_alert = False
    for point in points:
        if point.value is None:
            continue
        if not point.breached:
            open_alert = False
        elif not open_alert and (not firings or point.time >= firings[-1] + cooldown):
            firings.append(point.time)
            open_alert = True
    return firings


def preview(rule: AlertRule, *, now: datetime | None = None, days: int = 7) -> Preview:
    """The rule's value at each step of the last ``days`` days. ``rule`` may be unsaved."""
    now = now or timezone.now()
    step_minutes = preview_step_minutes(rule, days)
    step = timedelta(minutes=step_minutes)
    last = window_end(now)
    ends = [last - step * index for index in range(days * 24 * 60 // step_minutes, -1, -1)]
    threshold = None if rule.kind in (RuleKind.ANOMALY, RuleKind.ABSENCE) else rule.threshold
    try:
        with _time_limited():
            readings = measure(rule, ends)
    except (RuleError, DatabaseError) as error:
        return Preview([], threshold, unit_of(rule), [], error=str(error), step_minutes=step_minutes)
    points = [
        PreviewPoint(
            end, reading.value, reading.breached, reading.values.get("lower"), reading.values.get("upper")
        )
        for end, reading in zip(ends, readings, strict=True)
    ]
    return Preview(points, threshold, unit_of(rule), _firings(rule, points, step), step_minutes=step_minutes)
