"""The words of a notification, from an AlertEvent's `values` and `rule_snapshot`.

Evaluation writes those two JSON objects; any key may be missing (older rows, a kind that does not
compute it), so every reader here falls back to the rule's columns or leaves the fact out.
"""

import zoneinfo
from datetime import datetime

from django.urls import reverse

from alerts import conf
from alerts.channels.base import Message
from alerts.models import AlertEvent, AlertEventKind, Channel, RuleKind

AGGREGATES = {"avg": "average", "p95": "95th percentile"}


def message_for(alert_event: AlertEvent) -> Message:
    rule, project = alert_event.rule, alert_event.project
    snapshot = alert_event.rule_snapshot or {}
    name = snapshot.get("name") or rule.name
    resolved = alert_event.kind == AlertEventKind.RESOLVED
    severity = alert_event.severity or snapshot.get("severity") or rule.severity
    details = [("Rule", f"{name} ({_kind_label(_kind(alert_event))})"), ("Severity", severity.capitalize())]
    details.append(("Window", _window(alert_event.window_start, alert_event.window_end, project.timezone)))
    if resolved and _fired_for(alert_event):
        details.append(("Fired for", _fired_for(alert_event)))
    return Message(
        type="alert.resolved" if resolved else "alert.fired",
        title=f"{name} is {'resolved' if resolved else 'firing'}",
        summary=_resolved_summary(alert_event) if resolved else _fired_summary(alert_event),
        severity=severity,
        project=_project(project),
        environment=snapshot.get("environment") or rule.environment.slug,
        details=tuple(details),
        links=_links(alert_event),
        rule=_rule(alert_event),
        alert=_alert(alert_event, severity),
    )


def test_message(channel: Channel, *, acting_user=None) -> Message:
    project = channel.project
    details = [("Channel", f"{channel.name} ({channel.get_kind_display()})")]
    if acting_user is not None:
        details.append(("Sent by", acting_user.email or acting_user.get_username()))
    url = conf.public_url() + reverse("alert-channel-deliveries", args=[project.slug, channel.pk])
    return Message(
        type="test",
        title="Test message from Beacon",
        summary=f"If you can read this, Beacon's alerts for {project.name} will reach you here.",
        severity="",
        project=_project(project),
        environment="",
        details=tuple(details),
        links={"channel": url},
    )


# --- The numbers in words ----------------------------------------------------------------------


def _fired_summary(alert_event: AlertEvent) -> str:
    facts = _facts(alert_event)
    if _kind(alert_event) == RuleKind.ABSENCE:
        return f"{_absence(alert_event, facts)}."
    measure = _measure(alert_event, facts)
    return f"{measure[:1].upper()}{measure[1:]}, {_verdict(alert_event, facts)}."


def _resolved_summary(alert_event: AlertEvent) -> str:
    fired_for = _fired_for(alert_event)
    lead = f"Resolved after firing for {fired_for}" if fired_for else "Resolved"
    facts = _facts(alert_event)
    if _kind(alert_event) == RuleKind.ABSENCE:
        return f"{lead}: `{facts['event']}` events arrive again."
    if facts["value"] is None:
        return f"{lead}."
    return f"{lead}. Now {_measure(alert_event, facts)} ({_reference(alert_event, facts)})."


def _facts(alert_event: AlertEvent) -> dict:
    values, snapshot, rule = alert_event.values or {}, alert_event.rule_snapshot or {}, alert_event.rule
    window = snapshot.get("window_minutes") or rule.window_minutes
    return {
        "value": _first(values.get("value"), alert_event.value),
        "threshold": _first(
            values.get("threshold"), alert_event.threshold, snapshot.get("threshold"), rule.threshold
        ),
        "event": snapshot.get("event") or rule.event or "any",
        "unit": values.get("unit") or "",
        "window": f"the last {_minutes(window)}",
        "window_length": _minutes(window),
        "comparison": values.get("comparison") or "",
    }


def _measure(alert_event: AlertEvent, facts: dict) -> str:
    """'12 `checkout` events in the last 15 min': what was measured, without a verdict."""
    kind, values, snapshot = _kind(alert_event), alert_event.values or {}, alert_event.rule_snapshot or {}
    value, event, window = facts["value"], facts["event"], facts["window"]
    if kind in (RuleKind.RATE_BELOW, RuleKind.RATE_ABOVE):
        denominator = snapshot.get("denominator_event") or alert_event.rule.denominator_event or "all"
        counts = values.get("numerator"), values.get("denominator")
        of = f" ({_number(counts[0])} of {_number(counts[1])})" if None not in counts else ""
        return f"`{event}` per `{denominator}` was {_amount(value, 'percent')}{of} in {window}"
    if kind in (RuleKind.PROPERTY_ABOVE, RuleKind.PROPERTY_BELOW):
        aggregate = AGGREGATES.get(snapshot.get("aggregate") or alert_event.rule.aggregate, "value")
        prop = snapshot.get("property") or alert_event.rule.property
        return f"the {aggregate} of `{prop}` on `{event}` was {_amount(value, facts['unit'])} in {window}"
    count = _first(values.get("count"), value)
    if kind == RuleKind.VIOLATIONS_ABOVE:
        return f"{_number(count)} tracking-plan violations in {window}"
    noun = "event" if count == 1 else "events"
    return f"{_number(count)} `{event}` {noun} in {window}"


def _verdict(alert_event: AlertEvent, facts: dict) -> str:
    if _kind(alert_event) == RuleKind.ANOMALY:
        comparison = facts["comparison"] or "outside"
        return f"{comparison} the expected {_band(alert_event.values or {})}"
    return f"{_comparison(alert_event, facts)} the threshold of {_amount(facts['threshold'], _unit(alert_event, facts))}"


def _reference(alert_event: AlertEvent, facts: dict) -> str:
    if _kind(alert_event) == RuleKind.ANOMALY:
        return f"expected {_band(alert_event.values or {})}"
    return f"threshold {_amount(facts['threshold'], _unit(alert_event, facts))}"


def _band(values: dict) -> str:
    lower, upper, mean, stddev = (values.get(k) for k in ("lower", "upper", "mean", "stddev"))
    band = f"range {_number(lower)}–{_number(upper)}" if None not in (lower, upper) else "range"
    if mean is not None:
        spread = f" ± {_number(stddev)}" if stddev is not None else ""
        band += f" (mean {_number(mean)}{spread} in past weeks)"
    return band


def _absence(alert_event: AlertEvent, facts: dict) -> str:
    minutes = (alert_event.values or {}).get("minutes_since_last")
    if minutes is None:
        return f"No `{facts['event']}` event in {facts['window']}"
    return f"No `{facts['event']}` event for {_minutes(minutes)} (the rule allows {facts['window_length']})"


def _comparison(alert_event: AlertEvent, facts: dict) -> str:
    if facts["comparison"]:
        return facts["comparison"]
    return "below" if _kind(alert_event).endswith("_below") else "above"


def _unit(alert_event: AlertEvent, facts: dict) -> str:
    return "percent" if _kind(alert_event) in (RuleKind.RATE_BELOW, RuleKind.RATE_ABOVE) else facts["unit"]


# --- Formatting --------------------------------------------------------------------------------


def _number(value) -> str:
    if value is None:
        return "?"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _amount(value, unit: str) -> str:
    if value is None:
        return "?"
    if unit in ("percent", "%"):
        return f"{_number(round(float(value), 2))}%"
    if unit in ("", "events"):
        return _number(value)
    return f"{_number(value)} {unit}"


def _minutes(minutes) -> str:
    minutes = round(float(minutes))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 2880:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    return f"{round(minutes / 1440)} days"


def _window(start: datetime, end: datetime, timezone_name: str) -> str:
    try:
        zone = zoneinfo.ZoneInfo(timezone_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    start, end = start.astimezone(zone), end.astimezone(zone)
    end_format = "%H:%M %Z" if start.date() == end.date() else "%Y-%m-%d %H:%M %Z"
    return f"{start:%Y-%m-%d %H:%M}–{end.strftime(end_format)}"


def _fired_for(alert_event: AlertEvent) -> str | None:
    fired = alert_event.fired_event
    if fired is None:
        return None
    ended = alert_event.resolved_at or alert_event.created_at
    return _minutes(max(0.0, (ended - fired.created_at).total_seconds() / 60))


def _first(*candidates):
    return next((candidate for candidate in candidates if candidate is not None), None)


def _kind(alert_event: AlertEvent) -> str:
    return (alert_event.rule_snapshot or {}).get("kind") or alert_event.rule.kind


def _kind_label(kind: str) -> str:
    return RuleKind(kind).label if kind in RuleKind.values else kind


# --- The structured parts (the webhook body) ---------------------------------------------------


def _project(project) -> dict:
    return {"id": project.pk, "slug": project.slug, "name": project.name}


def _links(alert_event: AlertEvent) -> dict:
    slug, base = alert_event.project.slug, conf.public_url()
    return {
        "chart": base + reverse("alert-rule", args=[slug, alert_event.rule_id]),
        "alert": base + reverse("alert-event", args=[slug, alert_event.pk]),
    }


def _rule(alert_event: AlertEvent) -> dict:
    snapshot, rule = alert_event.rule_snapshot or {}, alert_event.rule
    return {
        "id": rule.pk,
        "name": snapshot.get("name") or rule.name,
        "kind": _kind(alert_event),
        "event": snapshot.get("event", rule.event),
        "severity": snapshot.get("severity") or rule.severity,
        "window_minutes": snapshot.get("window_minutes") or rule.window_minutes,
        "threshold": _first(snapshot.get("threshold"), rule.threshold),
    }


def _alert(alert_event: AlertEvent, severity: str) -> dict:
    resolved = alert_event.kind == AlertEventKind.RESOLVED
    fired = alert_event.fired_event if resolved else alert_event
    resolved_at = (alert_event.resolved_at or alert_event.created_at) if resolved else alert_event.resolved_at
    return {
        "id": alert_event.pk,
        "state": "resolved" if resolved else (alert_event.state or "firing"),
        "severity": severity,
        "value": _first((alert_event.values or {}).get("value"), alert_event.value),
        "threshold": _facts(alert_event)["threshold"],
        "window_start": alert_event.window_start.isoformat(),
        "window_end": alert_event.window_end.isoformat(),
        "fired_at": fired.created_at.isoformat() if fired else None,
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
    }
