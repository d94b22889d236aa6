"""Writes on alert rules, channels and alert events: atomic, keyword-only, audited.

Validation of what people type stays in alerts/forms.py; these refuse (``ActionRefused``) only what
the product forbids whatever the form said: another project's environment or channel, a second
default anomaly rule, acknowledging twice. A rule change sets ``next_evaluation_at`` to now, so the
next evaluation tick looks at the rule as it is now, not at its old schedule.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.channels import clean_config, masked_config
from alerts.evaluation import close_open_alert
from alerts.models import (
    AlertComment,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AnomalyDirection,
    AnomalyMode,
    Channel,
    ChannelKind,
    RuleKind,
    Severity,
)
from analytics.plan.models import EventDefinition, EventStatus
from projects import audit
from projects.actions import ActionRefused
from projects.models import Environment

RULE_FIELDS = [
    "name", "kind", "environment", "event", "filters", "denominator_event", "denominator_filters",
    "min_sample", "property", "aggregate", "threshold", "window_minutes", "anomaly_weeks",
    "anomaly_mode", "anomaly_deviations", "anomaly_percent", "anomaly_direction", "severity",
    "cooldown_minutes", "enabled", "muted_until", "quiet_hours_start", "quiet_hours_end",
    "quiet_hours_timezone", "owner",
]  # fmt: skip
# What evaluation writes on a rule: never saved from a page's (possibly stale) instance.
RULE_RUNTIME_FIELDS = ["state", "last_value", "last_evaluated_at", "last_fired_at", "last_error"]
CHANNEL_FIELDS = ["name", "kind", "enabled", "disabled_reason"]
MAX_COMMENT_LENGTH = 5000


def _record(*, project, acting_user, action: str, target, before=None, after=None) -> None:
    audit.record(
        organization=project.organization,
        actor=acting_user,
        action=action,
        target=target,
        before=before,
        after=after,
        project=project,
    )


def _rule_snapshot(rule: AlertRule) -> dict:
    values = audit.snapshot(rule, RULE_FIELDS)
    if rule.pk:
        values["channels"] = sorted(rule.channels.values_list("id", flat=True))
    return values


def _channel_snapshot(channel: Channel) -> dict:
    """The audited fields and the config with its secrets masked (never the secrets)."""
    values = audit.snapshot(channel, CHANNEL_FIELDS)
    values["config"] = masked_config(channel.kind, channel.config)
    return values


def _check_belongs(project, *, environment: Environment, channels) -> None:
    if environment.project_id != project.id:
        raise ActionRefused("That environment belongs to another project.")
    if any(channel.project_id != project.id for channel in channels):
        raise ActionRefused("That channel belongs to another project.")


# --- rules -------------------------------------------------------------------------------------------


def do_create_alert_rule(*, project, fields: dict, channels=(), acting_user) -> AlertRule:
    """A new rule from ``fields`` (AlertRuleForm.rule_fields()), sending to ``channels``."""
    channels = list(channels)
    _check_belongs(project, environment=fields["environment"], channels=channels)
    with transaction.atomic():
        rule = AlertRule(project=project, created_by=acting_user, next_evaluation_at=timezone.now())
        for name, value in fields.items():
            setattr(rule, name, value)
        default_name = f"{rule.get_kind_display()}: {rule.event or 'all events'}"
        rule.name = (rule.name or "").strip()[:200] or default_name
        rule.save()
        rule.channels.set(channels)
        _record(
            project=project, acting_user=acting_user, action="alert_rule.create", target=rule,
            after=_rule_snapshot(rule),
        )  # fmt: skip
    return rule


def do_update_alert_rule(*, rule: AlertRule, fields: dict, channels=None, acting_user) -> AlertRule:
    """Change a rule's definition (and, when given, its channels)."""
    channels = list(channels) if channels is not None else None
    _check_belongs(
        rule.project, environment=fields.get("environment", rule.environment), channels=channels or []
    )
    with transaction.atomic():
        # TRICKY: a bound ModelForm already changed ``rule`` in memory: "before" is read from the row.
        locked = AlertRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_snapshot(locked)
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.name = rule.name.strip()[:200] or before["name"]
        rule.next_evaluation_at = timezone.now()
        # TRICKY: only the definition: evaluation may have fired (or failed) since the page loaded
        # ``rule``; saving its stale state would reset the firing and skip the cooldown.
        rule.save(update_fields=[*RULE_FIELDS, "next_evaluation_at", "updated_at"])
        for name in RULE_RUNTIME_FIELDS:
            setattr(rule, name, getattr(locked, name))
        if channels is not None:
            rule.channels.set(channels)
        _record(
            project=rule.project, acting_user=acting_user, action="alert_rule.update", target=rule,
            before=before, after=_rule_snapshot(rule),
        )  # fmt: skip
    return rule


def do_delete_alert_rule(*, rule: AlertRule, acting_user) -> None:
    with transaction.atomic():
        _record(
            project=rule.project, acting_user=acting_user, action="alert_rule.delete", target=rule,
            before=_rule_snapshot(rule),
        )  # fmt: skip
        rule.delete()


def _set_rule_fields(rule: AlertRule, *, action: str, acting_user, **values) -> AlertRule:
    """Change a few fields of a rule, audited, and due at the next tick."""
    with transaction.atomic():
        before = audit.snapshot(rule, list(values))
        for name, value in values.items():
            setattr(rule, name, value)
        rule.next_evaluation_at = timezone.now()
        rule.save(update_fields=[*values, "next_evaluation_at", "updated_at"])
        _record(
            project=rule.project, acting_user=acting_user, action=action, target=rule,
            before=before, after=audit.snapshot(rule, list(values)),
        )  # fmt: skip
    return rule


def do_set_rule_enabled(*, rule: AlertRule, enabled: bool, acting_user) -> AlertRule:
    """Enable or disable a rule. Disabling resolves its open firing (quietly, saying why):
    nothing evaluates a disabled rule, so the firing would otherwise stay open for ever."""
    with transaction.atomic():
        _set_rule_fields(
            rule, action="alert_rule.enable" if enabled else "alert_rule.disable",
            acting_user=acting_user, enabled=bool(enabled),
        )  # fmt: skip
        if not enabled:
            close_open_alert(rule, now=timezone.now(), reason="rule disabled")
    return rule


def do_mute_rule(*, rule: AlertRule, until: datetime | None, acting_user) -> AlertRule:
    """Silence a rule's notifications until ``until`` (None unmutes). It is still evaluated."""
    if until is not None and until <= timezone.now():
        raise ActionRefused("Mute until a moment in the future.")
    return _set_rule_fields(
        rule, action="alert_rule.mute" if until else "alert_rule.unmute", acting_user=acting_user,
        muted_until=until,
    )  # fmt: skip


# --- channels ----------------------------------------------------------------------------------------


def do_create_channel(*, project, name: str, kind: str, config: dict, acting_user) -> Channel:
    """A channel; ``config`` is already cleaned by the kind's ``clean_config``."""
    if not name.strip():
        raise ActionRefused("Give the channel a name.")
    if kind not in ChannelKind.values:
        raise ActionRefused("Unknown channel kind.")
    with transaction.atomic():
        channel = Channel.objects.create(
            project=project, name=name.strip()[:200], kind=kind, config=config, created_by=acting_user
        )
        _record(
            project=project, acting_user=acting_user, action="channel.create", target=channel,
            after=_channel_snapshot(channel),
        )  # fmt: skip
    return channel


def do_update_channel(
    *,
    channel: Channel,
    name: str | None = None,
    config: dict | None = None,
    enabled: bool | None = None,
    acting_user,
) -> Channel:
    """Rename, reconfigure, or enable/disable a channel. Enabling one that delivery disabled forgets
    why it was disabled: the owner says the cause is fixed."""
    if name is not None and not name.strip():
        raise ActionRefused("Give the channel a name.")
    with transaction.atomic():
        before = _channel_snapshot(channel)
        old_config = dict(channel.config or {})
        if name is not None:
            channel.name = name.strip()[:200]
        if config is not None:
            channel.config = config
        if enabled is not None and enabled != channel.enabled:
            channel.enabled = enabled
            channel.disabled_at = None if enabled else timezone.now()
            channel.disabled_reason = "" if enabled else "Disabled by a member."
        channel.save()
        after = _channel_snapshot(channel)
        # A rotated secret is masked on both sides: say which changed, never what they are.
        config = channel.config or {}
        rotated = sorted(
            name
            for name, shown in after["config"].items()
            if shown != config.get(name) and old_config.get(name) != config.get(name)
        )
        if rotated:
            after["secrets_changed"] = rotated
        _record(
            project=channel.project, acting_user=acting_user, action="channel.update", target=channel,
            before=before, after=after,
        )  # fmt: skip
    return channel


def do_delete_channel(*, channel: Channel, acting_user) -> None:
    with transaction.atomic():
        _record(
            project=channel.project, acting_user=acting_user, action="channel.delete", target=channel,
            before=_channel_snapshot(channel),
        )  # fmt: skip
        channel.delete()


# --- alert events ------------------------------------------------------------------------------------


def do_acknowledge_alert(*, alert_event: AlertEvent, acting_user) -> AlertEvent:
    if alert_event.kind != AlertEventKind.FIRED:
        raise ActionRefused("Only a firing can be acknowledged.")
    with transaction.atomic():
        # TRICKY: locked, so two members clicking at once do not both acknowledge it.
        locked = AlertEvent.objects.select_for_update().get(pk=alert_event.pk)
        if locked.acknowledged_at is not None:
            raise ActionRefused("This alert is already acknowledged.")
        locked.acknowledged_by = acting_user
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at"])
        _record(
            project=alert_event.project, acting_user=acting_user, action="alert.acknowledge",
            target=locked, after={"acknowledged_at": locked.acknowledged_at.isoformat()},
        )  # fmt: skip
    alert_event.acknowledged_by, alert_event.acknowledged_at = locked.acknowledged_by, locked.acknowledged_at
    return alert_event


def do_comment_alert(*, alert_event: AlertEvent, body: str, acting_user) -> AlertComment:
    body = body.strip()
    if not body:
        raise ActionRefused("Write something to comment.")
    if len(body) > MAX_COMMENT_LENGTH:
        raise ActionRefused(f"A comment is at most {MAX_COMMENT_LENGTH} characters.")
    with transaction.atomic():
        comment = AlertComment.objects.create(alert_event=alert_event, author=acting_user, body=body)
        _record(
            project=alert_event.project, acting_user=acting_user, action="alert.comment",
            target=alert_event, after={"comment": comment.id, "body": body[:200]},
        )  # fmt: skip
    return comment


# --- the one-click anomaly rule of a live event -----------------------------------------------------


def default_environment(project) -> Environment | None:
    environments = Environment.objects.filter(project=project).order_by("id")
    return environments.filter(slug="production").first() or environments.first()


def resolve_owner(project, owner_text: str) -> tuple[object | None, str]:
    """The organization member the plan's free-text owner names (by email or username, any case),
    and the email address to notify ("" when there is none: a team's name, say)."""
    text = owner_text.strip()
    if not text:
        return None, ""
    user = (
        get_user_model()
        .objects.filter(memberships__organization_id=project.organization_id)
        .filter(Q(email__iexact=text) | Q(username__iexact=text))
        .order_by("id")
        .first()
    )
    if user is not None:
        return user, user.email
    try:
        validate_email(text)
    except ValidationError:
        return None, ""
    return None, text


def _email_channel(project, address: str, acting_user) -> Channel:
    """This project's email channel to exactly this address, or a new one."""
    for channel in Channel.objects.filter(project=project, kind=ChannelKind.EMAIL).order_by("id"):
        addresses = [str(item).strip().lower() for item in channel.config.get("addresses", [])]
        if addresses == [address.lower()]:
            return channel
    config = clean_config(ChannelKind.EMAIL, {"addresses": address})
    return do_create_channel(
        project=project,
        name=f"Email {address}",
        kind=ChannelKind.EMAIL,
        config=config,
        acting_user=acting_user,
    )


def do_create_default_anomaly_rule(*, event_definition: EventDefinition, acting_user) -> AlertRule:
    """An anomaly rule on a live event, routed to the event's owner (see resolve_owner)."""
    project = event_definition.project
    if event_definition.status != EventStatus.LIVE:
        raise ActionRefused("Only a live event gets a default anomaly rule.")
    environment = default_environment(project)
    if environment is None:
        raise ActionRefused("The project has no environment to watch.")
    owner, address = resolve_owner(project, event_definition.owner)
    with transaction.atomic():
        # TRICKY: locked, so two quick clicks wait for each other and the second sees the first rule.
        EventDefinition.objects.select_for_update().filter(pk=event_definition.pk).first()
        exists = AlertRule.objects.filter(
            project=project, kind=RuleKind.ANOMALY, event=event_definition.name, environment=environment
        ).exists()
        if exists:
            raise ActionRefused(f"{event_definition.name} already has an anomaly rule in {environment.name}.")
        channels = [_email_channel(project, address, acting_user)] if address else []
        fields = {
            "name": f"{event_definition.name}: unusual volume",
            "kind": RuleKind.ANOMALY,
            "environment": environment,
            "event": event_definition.name,
            "window_minutes": 60,
            "anomaly_weeks": 4,
            "anomaly_mode": AnomalyMode.STDDEV,
            "anomaly_deviations": 3.0,
            "anomaly_direction": AnomalyDirection.BOTH,
            "severity": Severity.WARNING,
            "owner": owner,
        }
        return do_create_alert_rule(
            project=project, fields=fields, channels=channels, acting_user=acting_user
        )
