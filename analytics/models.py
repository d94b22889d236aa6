from django.conf import settings
from django.db import models
from django.utils import timezone


class StorageBackend(models.TextChoices):
    TIMESCALEDB = "timescaledb", "TimescaleDB"
    POSTGRES = "postgres", "PostgreSQL (declarative partitioning)"


class StorageState(models.Model):
    """One row: which event-store backend the migration installed. Decided once, at migrate time."""

    backend = models.CharField(max_length=20, choices=StorageBackend.choices)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Unmanaged after its creation: `flush` (and every transactional test's teardown) truncates
        # managed tables only, and this row describes the schema, not data.
        managed = False
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="storage_state_single_row")]

    def __str__(self) -> str:
        return self.backend


class Person(models.Model):
    """Someone a project has seen: one or more distinct ids (devices, logins) and their properties.

    Rows are written by the ingest writer (``analytics.identity``), never per request.
    """

    id = models.UUIDField(primary_key=True)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="persons")
    properties = models.JSONField(default=dict, blank=True)
    # Set once a distinct id of this person was named as a known user (identify, alias).
    is_identified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        return str(self.id)


class PersonDistinctId(models.Model):
    """Which person a distinct id belongs to, now. Queries count persons through this table."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    distinct_id = models.CharField(max_length=400)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="distinct_ids")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "distinct_id"], name="person_distinct_id_unique"),
        ]

    def __str__(self) -> str:
        return self.distinct_id


class PersonMerge(models.Model):
    """A person merged into another (identity resolution deletes the source). Events keep the person
    they had at ingestion; queries that count people from ``events.person_id`` map it through this
    table (a join on a small uuid table, much cheaper than joining every event's distinct id)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    old_person_id = models.UUIDField()
    # Always the final person: a later merge of this person rewrites the rows that point to it.
    person_id = models.UUIDField()
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "old_person_id"], name="person_merge_unique"),
        ]
        indexes = [models.Index(fields=["project", "person_id"])]

    def __str__(self) -> str:
        return f"{self.old_person_id} -> {self.person_id}"


class IdentityWarning(models.Model):
    """Something identity resolution refused to do on its own, for a person to look at."""

    class Kind(models.TextChoices):
        BOTH_IDENTIFIED = "both_identified", "Two identified users were asked to merge"

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="identity_warnings"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    distinct_id = models.CharField(max_length=400)
    other_distinct_id = models.CharField(max_length=400)
    message = models.TextField()
    message_id = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.distinct_id} / {self.other_distinct_id}"


class DataJob(models.Model):
    """A long data-management job run by a Celery worker: deleting a person (GDPR) or exporting
    events. Its progress (rows done / total) lives on the row, for the job page to poll."""

    class Kind(models.TextChoices):
        DELETE_PERSON = "delete_person", "Delete a person"
        EXPORT = "export", "Export events"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="data_jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # What the job works on: the person to delete, or the export's range, environment and format.
    params = models.JSONField(default=dict)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # An export's file, relative to the export directory; removed once expires_at has passed.
    file_name = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


from analytics.insights.models import (  # noqa: E402
    Dashboard,
    DashboardTile,
    FunnelResult,
    Insight,
    InsightKind,
)
from analytics.plan.models import (  # noqa: E402  (the plan's models live in their own module)
    EventDefinition,
    PlanVersion,
    PropertyDefinition,
    PropertyGroup,
    QuarantinedEvent,
    ViolationCount,
    ViolationSample,
)
from analytics.verification.models import (  # noqa: E402
    DebugSession,
    EventTestCase,
    Release,
    TestVerdict,
)

__all__ = [
    "Dashboard",
    "DashboardTile",
    "FunnelResult",
    "Insight",
    "InsightKind",
    "DataJob",
    "DebugSession",
    "EventDefinition",
    "EventTestCase",
    "IdentityWarning",
    "Person",
    "PersonDistinctId",
    "PersonMerge",
    "PlanVersion",
    "PropertyDefinition",
    "PropertyGroup",
    "QuarantinedEvent",
    "Release",
    "StorageState",
    "TestVerdict",
    "ViolationCount",
    "ViolationSample",
]
