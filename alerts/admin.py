"""Alerts in the admin: read-mostly. Rules, channels and alert events change through the pages
(alerts/actions.py audits every write); here staff look, and may only switch a rule or a channel
off in an emergency."""

from django.contrib import admin

from alerts.models import AlertComment, AlertEvent, AlertRule, Channel, Delivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        editable = getattr(self, "editable_fields", ())
        return [field.name for field in self.model._meta.fields if field.name not in editable]


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "kind", "event", "severity", "state", "enabled", "last_evaluated_at"]
    list_filter = ["kind", "state", "severity", "enabled"]
    search_fields = ["name", "event", "project__slug"]
    editable_fields = ("enabled",)
    raw_id_fields = ["channels"]


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "kind", "enabled", "disabled_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "project__slug"]
    editable_fields = ("enabled",)
    # TRICKY: the config holds webhook URLs and secrets: not shown here.
    exclude = ["config"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "config"]


class AlertCommentInline(admin.TabularInline):
    model = AlertComment
    extra = 0
    can_delete = False
    readonly_fields = ["author", "body", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["rule", "project", "kind", "state", "severity", "value", "created_at", "acknowledged_at"]
    list_filter = ["kind", "state", "severity"]
    search_fields = ["rule__name", "project__slug"]
    inlines = [AlertCommentInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "channel",
        "project",
        "alert_event",
        "is_test",
        "attempt",
        "status",
        "response_status",
        "created_at",
    ]
    list_filter = ["status", "is_test"]
