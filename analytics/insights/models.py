"""Saved insights, dashboards and precomputed funnel results (DESIGN.md section 7). Imported by
analytics.models."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class InsightKind(models.TextChoices):
    TREND = "trend", "Trend"
    FUNNEL = "funnel", "Funnel"
    RETENTION = "retention", "Retention"
    KPI = "kpi", "KPI card"


class Insight(models.Model):
    """A saved question: its kind and its definition (``analytics.insights.definitions`` JSON)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="insights")
    kind = models.CharField(max_length=20, choices=InsightKind.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    query = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "kind"])]

    def __str__(self) -> str:
        return self.name


class Dashboard(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="dashboards")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # How often the page refreshes its tiles; 0: never.
    refresh_seconds = models.PositiveIntegerField(default=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DashboardTile(models.Model):
    """An insight placed on a dashboard: its order and its width (in twelfths of the page)."""

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="tiles")
    insight = models.ForeignKey(Insight, on_delete=models.CASCADE, related_name="tiles")
    position = models.PositiveIntegerField(default=0)
    width = models.PositiveSmallIntegerField(default=6)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["dashboard", "insight"], name="dashboard_tile_unique")]

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.insight}"


class FunnelResult(models.Model):
    """The last precomputed result of a saved funnel: opening it reads this row.

    ``fingerprint`` says what data the result saw (the range and the steps' event counts in the
    rollups); the beat task recomputes when it changes.
    """

    insight = models.OneToOneField(Insight, on_delete=models.CASCADE, related_name="funnel_result")
    result = models.JSONField()
    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"result of {self.insight_id}"
