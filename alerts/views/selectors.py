"""Reads behind the alert pages: small functions over this project's rows, ready to render."""

import json
from datetime import datetime

from django.db.models import OuterRef, Subquery

from alerts.evaluation import Preview, format_value
from alerts.forms import HistoryFilterForm
from alerts.models import AlertEvent, AlertRule, Channel, Delivery

RULE_HISTORY_LIMIT = 20


def rules_for_list(project) -> list[AlertRule]:
    """The project's rules, each with ``value_text`` (its last value as people read it)."""
    rules = list(AlertRule.objects.filter(project=project).select_related("environment", "owner"))
    for rule in rules:
        with_value_text(rule)
    return rules


def with_value_text(rule: AlertRule) -> AlertRule:
    rule.value_text = format_value(rule, rule.last_value) if rule.last_evaluated_at else "—"
    return rule


def rule_history(rule: AlertRule) -> list[AlertEvent]:
    events = list(rule.events.select_related("acknowledged_by")[:RULE_HISTORY_LIMIT])
    return [with_event_texts(event, rule) for event in events]


def with_event_texts(event: AlertEvent, rule: AlertRule | None = None) -> AlertEvent:
    rule = rule or event.rule
    event.value_text = format_value(rule, event.value)
    event.threshold_text = format_value(rule, event.threshold) if event.threshold is not None else "—"
    return event


def alert_history(project, filters: HistoryFilterForm):
    events = AlertEvent.objects.filter(project=project).select_related("rule", "acknowledged_by")
    return filters.filter(events)


def channels_for_list(project) -> list[Channel]:
    """The project's channels, each with ``last_status`` and ``last_error`` of its newest delivery."""
    newest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-created_at", "-id")
    return list(
        Channel.objects.filter(project=project).annotate(
            last_status=Subquery(newest.values("status")[:1]),
            last_delivery_at=Subquery(newest.values("created_at")[:1]),
            last_error=Subquery(newest.values("error")[:1]),
        )
    )


def deliveries_of(alert_event: AlertEvent) -> list[Delivery]:
    return list(alert_event.deliveries.select_related("channel").order_by("created_at", "id"))


def rules_of_event(project, event_name: str) -> list[AlertRule]:
    return list(AlertRule.objects.filter(project=project, event=event_name).select_related("environment"))


# --- the preview chart -------------------------------------------------------------------------------


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _fire_markers(result: Preview) -> list[float | None]:
    """The value at each point where the rule would have fired, None elsewhere: uPlot draws these
    as markers on the value line. A firing between points goes to the nearest point."""
    markers: list[float | None] = [None] * len(result.points)
    if not result.points:
        return markers
    for firing in result.firings:
        index = min(range(len(result.points)), key=lambda i: abs(result.points[i].time - firing))
        markers[index] = result.points[index].value
    return markers


def chart_data(result: Preview, *, label: str, timezone: str) -> dict:
    """What static/js/alerts.js draws: the value line, the threshold or the anomaly band, and fire
    markers, one entry per point (times in unix seconds)."""
    return {
        "times": [_seconds(point.time) for point in result.points],
        "values": [point.value for point in result.points],
        "threshold": result.threshold,
        "lower": result.lower,
        "upper": result.upper,
        "fired": _fire_markers(result),
        "unit": result.unit,
        "label": label,
        "timezone": timezone,
    }


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
