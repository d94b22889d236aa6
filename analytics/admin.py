from django.contrib import admin

from analytics.models import StorageState


@admin.register(StorageState)
class StorageStateAdmin(admin.ModelAdmin):
    list_display = ["backend", "installed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
