from django.contrib import admin

from projects.models import Environment, Membership, Organization, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "timezone", "retention_days"]
    inlines = [EnvironmentInline]
