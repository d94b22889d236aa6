"""Tenancy: organization -> members (roles) -> projects -> environments."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


def validate_timezone(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{name!r} is not an IANA time zone (for example Europe/Paris or Asia/Shanghai)."
        )


def default_retention_days() -> int:
    return settings.RETENTION_DEFAULT_DAYS


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class NamingConvention(models.TextChoices):
    ANY = "any", "Any"
    SNAKE_CASE = "snake_case", "snake_case"
    CAMEL_CASE = "camelCase", "camelCase"
    TITLE_CASE = "title_case", "Title Case"


class PlanPolicy(models.TextChoices):
    ALLOW = "allow", "Allow: store, record violations"
    FLAG = "flag", "Flag: store, mark the event invalid"
    BLOCK = "block", "Block: do not store; keep in quarantine"


class Project(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    retention_days = models.PositiveIntegerField(
        default=default_retention_days,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Raw events older than this are deleted.",
    )
    keep_ip = models.BooleanField(default=False, help_text="Store the sender's IP address with each event.")
    naming_convention = models.CharField(
        max_length=20,
        choices=NamingConvention.choices,
        default=NamingConvention.ANY,
        help_text="Checked when an event or property is added to the tracking plan.",
    )
    require_object_action = models.BooleanField(
        default=False, help_text="Event names must read object then action, e.g. `order_completed`."
    )
    # Bumped by every change of the tracking plan; ingestion recompiles the plan when it moves.
    plan_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


DEFAULT_ENVIRONMENTS = ("production", "staging", "development")


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    plan_policy = models.CharField(
        max_length=10,
        choices=PlanPolicy.choices,
        default=PlanPolicy.ALLOW,
        help_text="What ingestion does with an event that breaks the tracking plan.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="unique_environment_slug")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"


class ApiKeyKind(models.TextChoices):
    WRITE = "write", "Write (send events; safe in browsers)"
    SECRET = "secret", "Secret (send events and read the query API)"


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A key of one project environment. Only a prefix (to find it) and a SHA-256 hash are stored.

    Keys are 190 bits of randomness, so a fast hash is enough (a slow one protects guessable
    passwords, and would cost every ingestion request); the comparison is constant-time.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=10, choices=ApiKeyKind.choices)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=20, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when the key is rotated: it keeps working until then (the grace period).
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "environment"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.kind}, {self.environment})"

    def status(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        if self.expires_at:
            return "rotating"
        return "active"


class Invitation(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization} as {self.role}"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class AuditLogEntry(models.Model):
    """Who changed what, when, with the state before and after. Written by the do_* actions."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_log")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=254, help_text="The actor's email when it acted (kept if the user is deleted)."
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_label}"
