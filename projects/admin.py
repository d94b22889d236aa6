"""The Django admin: staff see every tenant (Django admits only is_staff users at all)."""

from django.contrib import admin

from projects.models import ApiKey, AuditLogEntry, Environment, Invitation, Membership, Organization, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "timezone", "retention_days", "keep_ip", "created_at"]
    list_filter = ["keep_ip", "timezone"]
    search_fields = ["name", "slug", "organization__name"]
    inlines = [EnvironmentInline]


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "project"]
    search_fields = ["slug", "project__slug"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created and rotated in the app (the raw key is shown once there); here they are read
    and can be revoked by editing revoked_at."""

    list_display = [
        "prefix",
        "kind",
        "project",
        "environment",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["kind", "environment__slug"]
    search_fields = ["prefix", "project__slug", "name"]
    readonly_fields = [
        "prefix",
        "key_hash",
        "project",
        "environment",
        "kind",
        "created_by",
        "created_at",
        "last_used_at",
        "rotated_from",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role"]
    search_fields = ["email", "organization__name"]
    readonly_fields = ["token_hash"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor_label", "action", "target_label"]
    list_filter = ["action"]
    search_fields = ["actor_label", "target_label", "organization__name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the audit log is append-only

    def has_delete_permission(self, request, obj=None):
        return False
