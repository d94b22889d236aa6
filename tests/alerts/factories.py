"""Rows for alert tests: rules, fired and resolved events, channels. Small and stable on purpose."""

from datetime import timedelta

from django.utils import timezone

from alerts.models import AlertEvent, AlertEventKind, AlertRule, AlertState, Channel, RuleKind

_RULE_DEFAULTS = {
    "name": "Checkout volume low",
    "kind": RuleKind.VOLUME_BELOW,
    "event": "checkout",
    "threshold": 50.0,
    "window_minutes": 15,
    "severity": "critical",
}


def make_rule(project, **kw) -> AlertRule:
    channels = kw.pop("channels", [])
    fields = {**_RULE_DEFAULTS, **kw}
    fields.setdefault("environment", project.environments.get(slug="production"))
    rule = AlertRule.objects.create(project=project, **fields)
    rule.channels.set(channels)
    return rule


def snapshot_of(rule: AlertRule) -> dict:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "event": rule.event,
        "window_minutes": rule.window_minutes,
        "threshold": rule.threshold,
        "severity": rule.severity,
        "environment": rule.environment.slug,
        "denominator_event": rule.denominator_event,
        "property": rule.property,
        "aggregate": rule.aggregate,
    }


def make_fired_event(rule: AlertRule, **kw) -> AlertEvent:
    window_end = kw.pop("window_end", timezone.now().replace(second=0, microsecond=0))
    value = kw.pop("value", 12.0)
    fields = {
        "kind": AlertEventKind.FIRED,
        "state": AlertState.FIRING,
        "severity": rule.severity,
        "value": value,
        "threshold": rule.threshold,
        "values": {"value": value, "threshold": rule.threshold, "comparison": "below", "count": value},
        "rule_snapshot": snapshot_of(rule),
        "window_start": window_end - timedelta(minutes=rule.window_minutes),
        "window_end": window_end,
        **kw,
    }
    return AlertEvent.objects.create(project=rule.project, rule=rule, **fields)


def make_resolved_event(fired: AlertEvent, **kw) -> AlertEvent:
    resolved_at = kw.pop("resolved_at", fired.created_at + timedelta(minutes=42))
    fired.state = AlertState.RESOLVED
    fired.resolved_at = resolved_at
    fired.save(update_fields=["state", "resolved_at"])
    fields = {
        "kind": AlertEventKind.RESOLVED,
        "state": AlertState.RESOLVED,
        "fired_event": fired,
        "severity": fired.severity,
        "value": 60.0,
        "threshold": fired.threshold,
        "values": {"value": 60.0, "threshold": fired.threshold, "count": 60},
        "rule_snapshot": fired.rule_snapshot,
        "window_start": resolved_at - timedelta(minutes=15),
        "window_end": resolved_at,
        "created_at": resolved_at,
        "resolved_at": resolved_at,
        **kw,
    }
    return AlertEvent.objects.create(project=fired.project, rule=fired.rule, **fields)


def make_channel(project, kind: str, config: dict, **kw) -> Channel:
    return Channel.objects.create(
        project=project, name=kw.pop("name", f"{kind} channel"), kind=kind, config=config, **kw
    )
