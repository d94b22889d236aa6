"""Alerts in the admin: read-mostly. Rules, channels and alert events change through the pages
(alerts/actions.py audits every write); here staff look, and may only switch a rule or a channel
on or off in an emergency, through the same audited actions."""

from django.contrib import admin

from alerts import actions
from alerts.models import AlertComment, AlertEvent, AlertRule, Channel, Delivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Many-to-many fields too: an editable ``channels`` would let staff attach another
        # project's channel to a rule, unaudited.
        editable = getattr(self, "editable_fields", ())
        fields = [*self.model._meta.fields, *self.model._meta.many_to_many]
        return [field.name for field in fields if field.name not in editable]


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "kind", "event", "severity", "state", "enabled", "last_evaluated_at"]
    list_filter = ["kind", "state", "severity", "enabled"]
    search_fields = ["name", "event", "project__slug"]
    editable_fields = ("enabled",)

    def save_model(self, request, obj, form, change):
        """Only ``enabled`` is editable: through the action (audited; disabling resolves the open
        firing), and from the row as it is now, not the admin's possibly stale instance."""
        if change and "enabled" in form.changed_data:
            rule = AlertRule.objects.select_related("project__organization").get(pk=obj.pk)
            actions.do_set_rule_enabled(rule=rule, enabled=obj.enabled, acting_user=request.user)

    def save_related(self, request, form, formsets, change):
        """Nothing related is editable here (``channels`` is read-only)."""


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

    def save_model(self, request, obj, form, change):
        """Only ``enabled`` is editable: through the audited action, from the row as it is now."""
        if change and "enabled" in form.changed_data:
            channel = Channel.objects.select_related("project__organization").get(pk=obj.pk)
            actions.do_update_channel(channel=channel, enabled=obj.enabled, acting_user=request.user)


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
