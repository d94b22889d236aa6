"""Verification models (DESIGN.md section 6). Imported by analytics.models."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Release(models.Model):
    """A release a team declared: from ``started_at`` on, these events should flow in this environment
    (from this app version, if one is named) and match the plan."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="releases")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    app_version = models.CharField(max_length=100, blank=True, help_text="Blank: events of any version.")
    name = models.CharField(max_length=200, blank=True)
    # Event names. Declared as "every definition expected in the environment" unless listed.
    expected_events = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    # An expected event passes when it was seen and at most this share of it broke the plan.
    max_invalid_share = models.FloatField(default=0.0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["project", "-started_at"])]

    def __str__(self) -> str:
        return self.name or self.app_version or f"release {self.id}"


class RuleKind(models.TextChoices):
    """What a test case checks in a debug session's events of its event definition."""

    FIRES = "fires", "Fires a number of times"  # config: {"min": 1, "max": null}
    ONCE_PER = "once_per", "Fires once per …"  # config: {"field": "context.page.url"}
    CARRIES = "carries", "Carries properties"  # config: {"properties": ["product_id", "position"]}
    VALID = "valid", "Matches the plan"  # config: {}
    PRECEDED_BY = "preceded_by", "Follows another event"  # config: {"event": "...", "match": "product_id"}
    MANUAL = "manual", "Checked by a person"  # config: {} (e.g. "fires when the item is visible")


class EventTestCase(models.Model):
    """A reporting rule of an event definition ("page_view fires once per page load"), checked
    against the events of a debug session."""

    event = models.ForeignKey(
        "analytics.EventDefinition", on_delete=models.CASCADE, related_name="test_cases"
    )
    description = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    config = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description


def new_debug_code() -> str:
    return secrets.token_urlsafe(6)


class DebugSession(models.Model):
    """A developer's window on their own events: those of one device id, or those the browser SDK
    tagged with the session's code after the developer opened the debug link (``?beacon_debug=``)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="debug_sessions")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=32, unique=True, default=new_debug_code)
    device_id = models.CharField(max_length=400, blank=True)
    label = models.CharField(max_length=200, blank=True)
    app_url = models.URLField(max_length=500, blank=True, help_text="Where the debug link opens.")
    # The events under test; empty: the rules of whichever events the session sent.
    events = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["project", "-started_at"])]

    def __str__(self) -> str:
        return self.label or self.device_id or self.code

    @property
    def is_active(self) -> bool:
        return self.ends_at > timezone.now()


class TestVerdict(models.Model):
    """A person's pass/fail on a test case Beacon cannot check by itself, in one debug session."""

    __test__ = False  # not a pytest class

    session = models.ForeignKey(DebugSession, on_delete=models.CASCADE, related_name="verdicts")
    test_case = models.ForeignKey(EventTestCase, on_delete=models.CASCADE, related_name="+")
    passed = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "test_case"], name="test_verdict_unique_case")
        ]

    def __str__(self) -> str:
        return f"{self.test_case}: {'pass' if self.passed else 'fail'}"
