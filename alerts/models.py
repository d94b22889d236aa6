"""Alert rules, channels, alert events (firings and resolutions), comments and delivery attempts.

As in healthchecks.io: the rule says what to watch, evaluation writes an :class:`AlertEvent` when
the state changes, and delivery reads that row and writes one :class:`Delivery` row per attempt.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import validate_timezone


class RuleKind(models.TextChoices):
    VOLUME_BELOW = "volume_below", "Volume below"
    VOLUME_ABOVE = "volume_above", "Volume above"
    RATE_BELOW = "rate_below", "Rate below"
    RATE_ABOVE = "rate_above", "Rate above"
    ANOMALY = "anomaly", "Anomaly (vs the same hour of past weeks)"
    ABSENCE = "absence", "No events for a while"
    PROPERTY_ABOVE = "property_above", "Property above"
    PROPERTY_BELOW = "property_below", "Property below"
    VIOLATIONS_ABOVE = "violations_above", "Plan violations above"


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class PropertyAggregate(models.TextChoices):
    AVG = "avg", "Average"
    P95 = "p95", "95th percentile"


class AnomalyMode(models.TextChoices):
    STDDEV = "stddev", "Outside mean ± k standard deviations"
    PERCENT = "percent", "More than a percentage away from the mean"


class AnomalyDirection(models.TextChoices):
    BOTH = "both", "Below or above"
    BELOW = "below", "Below only"
    ABOVE = "above", "Above only"


class RuleState(models.TextChoices):
    PENDING = "pending", "Not evaluated yet"
    OK = "ok", "OK"
    FIRING = "firing", "Firing"
    COOLDOWN = "cooldown", "Breaching, in cooldown"
    NO_DATA = "no_data", "Not enough data"
    ERROR = "error", "Evaluation failed"


class AlertRule(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="alert_rules")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    # What is counted: an event name (blank only for violations_above over a whole environment) and
    # property filters in the insights' format ([{"property", "operator", "value", "source"}]).
    event = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(default=list, blank=True)
    # rate_*: numerator is `event` + `filters`, denominator is this event + its filters.
    denominator_event = models.CharField(max_length=200, blank=True)
    denominator_filters = models.JSONField(default=list, blank=True)
    # rate_* and property_*: below this many denominator (or measured) events, no verdict.
    min_sample = models.PositiveIntegerField(default=0)
    # property_*: which numeric property, and how it is aggregated.
    property = models.CharField(max_length=200, blank=True)
    aggregate = models.CharField(max_length=10, choices=PropertyAggregate.choices, blank=True)
    # The number compared against: events (volume, violations), percent (rate), the property's unit;
    # anomaly and absence do not use it.
    threshold = models.FloatField(null=True, blank=True)
    window_minutes = models.PositiveIntegerField(default=60)
    # anomaly: the same window in each of the last `anomaly_weeks` weeks is the baseline.
    anomaly_weeks = models.PositiveSmallIntegerField(default=4)
    anomaly_mode = models.CharField(max_length=10, choices=AnomalyMode.choices, default=AnomalyMode.STDDEV)
    anomaly_deviations = models.FloatField(default=3.0, help_text="k in mean ± k·stddev")
    anomaly_percent = models.FloatField(default=50.0)
    anomaly_direction = models.CharField(
        max_length=10, choices=AnomalyDirection.choices, default=AnomalyDirection.BOTH
    )

    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    cooldown_minutes = models.PositiveIntegerField(
        default=60, help_text="A rule does not fire again sooner than this after its last firing."
    )
    enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    quiet_hours_timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channels = models.ManyToManyField("alerts.Channel", blank=True, related_name="rules")

    # Evaluation bookkeeping: claimed by a conditional UPDATE on next_evaluation_at.
    state = models.CharField(max_length=10, choices=RuleState.choices, default=RuleState.PENDING)
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_evaluation_at = models.DateTimeField(default=timezone.now)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["next_evaluation_at"], condition=Q(enabled=True), name="alert_rule_due"),
        ]

    def __str__(self) -> str:
        return self.name


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"
    WECOM = "wecom", "WeCom group robot"
    DINGTALK = "dingtalk", "DingTalk group robot"


class Channel(models.Model):
    """Where notifications go: a kind plus its validated config (see alerts/channels/<kind>.py)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    config = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AlertEventKind(models.TextChoices):
    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"  # fired at the last evaluation
    ONGOING = "ongoing", "Ongoing"  # still breaching at a later evaluation
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.Model):
    """One firing or one resolution of a rule, with the values seen and the rule as it was."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="alert_events")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=AlertEventKind.choices)
    # fired rows: firing -> ongoing -> resolved; resolved rows point to the firing they close.
    state = models.CharField(max_length=10, choices=AlertState.choices, blank=True)
    fired_event = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="resolutions"
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    values = models.JSONField(default=dict, help_text="Everything the evaluation saw.")
    rule_snapshot = models.JSONField(default=dict)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set when the channels were told; a firing silenced by mute or quiet hours is told later.
    notified_at = models.DateTimeField(null=True, blank=True)
    silenced_reason = models.CharField(max_length=200, blank=True)
    # A resolution held back by mute or quiet hours: sent by the first evaluation after them.
    notify_pending = models.BooleanField(default=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # TRICKY: the database, not only the row lock, guarantees one open firing per rule: two
            # workers evaluating the same rule at once cannot both fire it.
            models.UniqueConstraint(
                fields=["rule"],
                condition=Q(kind="fired") & ~Q(state="resolved"),
                name="alert_event_one_open_firing_per_rule",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["rule", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.kind} at {self.created_at:%Y-%m-%d %H:%M}"


class AlertComment(models.Model):
    alert_event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment on {self.alert_event_id}"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (channel disabled)"


class Delivery(models.Model):
    """One attempt to send one alert event (or a test message) to one channel."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    alert_event = models.ForeignKey(
        AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    is_test = models.BooleanField(default=False)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.channel} attempt {self.attempt}: {self.status}"
