from django.contrib import admin

from analytics.models import (
    EventDefinition,
    IdentityWarning,
    Person,
    PersonDistinctId,
    PlanVersion,
    PropertyDefinition,
    PropertyGroup,
    QuarantinedEvent,
    StorageState,
)
from analytics.plan.actions import owner_of, record_version
from analytics.plan.snapshot import PROPERTY_FIELDS
from projects.models import Project


@admin.register(StorageState)
class StorageStateAdmin(admin.ModelAdmin):
    list_display = ["backend", "installed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- identity ---------------------------------------------------------------------------------------


class PersonDistinctIdInline(admin.TabularInline):
    model = PersonDistinctId
    extra = 0
    fields = ["distinct_id"]
    readonly_fields = ["distinct_id"]
    can_delete = False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "is_identified", "created_at", "updated_at"]
    list_filter = ["is_identified"]
    search_fields = ["distinct_ids__distinct_id"]
    readonly_fields = ["id", "project", "created_at", "updated_at"]
    inlines = [PersonDistinctIdInline]


@admin.register(IdentityWarning)
class IdentityWarningAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "kind", "distinct_id", "other_distinct_id"]
    list_filter = ["kind"]
    readonly_fields = [f.name for f in IdentityWarning._meta.fields]


# --- tracking plan ----------------------------------------------------------------------------------


class PlanChangeAdmin(admin.ModelAdmin):
    """Saving or deleting here is a plan change: ingestion must see the new version."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _record(request, form.instance.project_id, f"Edited {form.instance} in the admin")

    def delete_model(self, request, obj):
        project_id = obj.project_id
        super().delete_model(request, obj)
        _record(request, project_id, f"Deleted {obj} in the admin")


class PropertyDefinitionInline(admin.TabularInline):
    model = PropertyDefinition
    extra = 1
    # The snapshot's property fields, the description last (it is the widest column).
    fields = ["position", *(name for name in PROPERTY_FIELDS if name != "description"), "description"]


class GroupPropertyInline(PropertyDefinitionInline):
    fk_name = "group"


class EventPropertyInline(PropertyDefinitionInline):
    fk_name = "event"


@admin.register(EventDefinition)
class EventDefinitionAdmin(PlanChangeAdmin):
    list_display = ["name", "project", "status", "owner", "first_seen_at", "last_seen_at"]
    list_filter = ["status"]
    search_fields = ["name", "description", "owner"]
    filter_horizontal = ["expected_environments", "property_groups"]
    inlines = [EventPropertyInline]


@admin.register(PropertyGroup)
class PropertyGroupAdmin(PlanChangeAdmin):
    list_display = ["name", "project"]
    search_fields = ["name"]
    inlines = [GroupPropertyInline]


@admin.register(PropertyDefinition)
class NestedPropertyAdmin(admin.ModelAdmin):
    """Nested properties (of object properties and array items) are edited from their parent."""

    list_display = ["name", "type", "event", "group", "parent", "required"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _record(request, owner_of(obj).project_id, f"Edited property {obj} in the admin")

    def delete_model(self, request, obj):
        project_id = owner_of(obj).project_id
        super().delete_model(request, obj)
        _record(request, project_id, f"Deleted property {obj} in the admin")


def _record(request, project_id: int, summary: str) -> None:
    """An admin edit is a plan change like any other: a new version, seen by ingestion."""
    record_version(Project.objects.get(id=project_id), request.user, summary)


@admin.register(PlanVersion)
class PlanVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "created_by", "created_at", "summary"]
    readonly_fields = [f.name for f in PlanVersion._meta.fields]


@admin.register(QuarantinedEvent)
class QuarantinedEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "project", "environment", "event", "message_id", "replayed_at"]
    list_filter = ["event"]
    readonly_fields = [f.name for f in QuarantinedEvent._meta.fields]
