"""Tracking plan models (DESIGN.md section 5). Imported by analytics.models."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    IMPLEMENTED = "implemented", "Implemented"
    VERIFIED = "verified", "Verified"
    LIVE = "live", "Live"
    DEPRECATED = "deprecated", "Deprecated"


class PropertyType(models.TextChoices):
    STRING = "string", "string"
    NUMBER = "number", "number"
    INTEGER = "integer", "integer"
    BOOLEAN = "boolean", "boolean"
    DATETIME = "datetime", "datetime"
    OBJECT = "object", "object"
    ARRAY = "array", "array"


def nests(type_: str, item_type: str) -> bool:
    """Only objects and arrays of objects have nested properties."""
    return type_ == PropertyType.OBJECT or (type_ == PropertyType.ARRAY and item_type == PropertyType.OBJECT)


class EventDefinition(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="event_definitions"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger = models.TextField(blank=True, help_text="When does it fire?")
    owner = models.CharField(max_length=200, blank=True, help_text="A member or a team.")
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=EventStatus.choices, default=EventStatus.DRAFT)
    expected_environments = models.ManyToManyField("projects.Environment", blank=True, related_name="+")
    property_groups = models.ManyToManyField("PropertyGroup", blank=True, related_name="event_definitions")
    # Properties the plan does not name are violations unless this is on.
    allow_unplanned_properties = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="event_definition_unique_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PropertyGroup(models.Model):
    """Properties shared by several events (e.g. a `product` group)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="property_groups")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="property_group_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PropertyDefinition(models.Model):
    """A property of an event, of a property group, or (``parent``) of an object property or of the
    objects in an array property."""

    event = models.ForeignKey(
        EventDefinition, null=True, blank=True, on_delete=models.CASCADE, related_name="properties"
    )
    group = models.ForeignKey(
        PropertyGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="properties"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=PropertyType.choices, default=PropertyType.STRING)
    # For arrays: the type of the items (with `children` describing them when they are objects).
    item_type = models.CharField(max_length=10, choices=PropertyType.choices, blank=True)
    required = models.BooleanField(default=False)
    enum = models.JSONField(null=True, blank=True, help_text="Allowed values, if limited.")
    pattern = models.CharField(
        max_length=500, blank=True, help_text="A regular expression the value must match."
    )
    min_length = models.PositiveIntegerField(null=True, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    pii = models.BooleanField(default=False, help_text="Holds personal data (declared: not a PII violation).")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(event__isnull=False, group__isnull=True, parent__isnull=True)
                    | models.Q(event__isnull=True, group__isnull=False, parent__isnull=True)
                    | models.Q(event__isnull=True, group__isnull=True, parent__isnull=False)
                ),
                name="property_definition_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def nests(self) -> bool:
        return nests(self.type, self.item_type)


class PlanVersion(models.Model):
    """One saved state of a project's whole plan: who changed what, when (diffs compare snapshots)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="plan_versions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=500, blank=True)
    comment = models.TextField(blank=True)
    snapshot = models.JSONField(help_text="The whole plan, as exported.")
    changes = models.JSONField(default=list, blank=True, help_text="What changed since the previous version.")
    # Names of the events this version changed (an event's history is the versions naming it).
    events = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="plan_version_unique_number")
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"v{self.number}"


class QuarantinedEvent(models.Model):
    """An event an environment with the `block` policy refused: kept, with its violations, until the
    plan is fixed and it is replayed (or the project's retention runs out)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="quarantined_events"
    )
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=400)
    event = models.CharField(max_length=200)
    time = models.DateTimeField()
    received_at = models.DateTimeField(db_index=True)
    record = models.JSONField(help_text="The event as it would have been stored.")
    violations = models.JSONField(default=list)
    app_version = models.CharField(max_length=100, blank=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "message_id"], name="quarantined_event_unique_message"
            ),
        ]
        indexes = [models.Index(fields=["project", "event", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.event} ({self.message_id})"


class ViolationCount(models.Model):
    """How often one kind of violation happened, per event, property, environment, app version and
    hour. The writer adds to these in the transaction that stores (or quarantines) the events."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    event = models.CharField(max_length=200)
    property = models.CharField(max_length=400, blank=True)
    kind = models.CharField(max_length=30)
    app_version = models.CharField(max_length=100, blank=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "environment", "hour", "event", "property", "kind", "app_version"],
                name="violation_count_unique_bucket",
            )
        ]
        indexes = [models.Index(fields=["project", "-hour"])]

    def __str__(self) -> str:
        return f"{self.event} {self.property} {self.kind}: {self.count}"


class ViolationSample(models.Model):
    """A few payloads of each (event, property, kind): what the developer actually sent."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=200)
    property = models.CharField(max_length=400, blank=True)
    kind = models.CharField(max_length=30)
    message = models.TextField()
    app_version = models.CharField(max_length=100, blank=True)
    properties = models.JSONField()
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["project", "event", "property", "kind"])]

    def __str__(self) -> str:
        return f"{self.event} {self.property} {self.kind}"
