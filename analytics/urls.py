"""The tracking plan's pages (the ingestion routes are in analytics/ingest/urls.py)."""

from django.urls import path

from analytics.views import plan, plan_quality, plan_versions

P = "projects/<slug:slug>/plan/"

urlpatterns = [
    path(P, plan.plan_list, name="plan-list"),
    path(P + "events/new/", plan.event_create, name="plan-event-create"),
    path(P + "events/<int:event_id>/", plan.event_page, name="plan-event"),
    path(P + "events/<int:event_id>/status/", plan.event_status, name="plan-event-status"),
    path(P + "events/<int:event_id>/delete/", plan.event_delete, name="plan-event-delete"),
    path(P + "groups/new/", plan.group_create, name="plan-group-create"),
    path(P + "groups/<int:group_id>/", plan.group_page, name="plan-group"),
    path(P + "properties/", plan.properties_fragment, name="plan-properties"),
    path(P + "properties/add/", plan.property_add, name="plan-property-add"),
    path(P + "properties/<int:prop_id>/edit/", plan.property_edit, name="plan-property-edit"),
    path(P + "properties/<int:prop_id>/delete/", plan.property_delete, name="plan-property-delete"),
    path(P + "properties/<int:prop_id>/move/", plan.property_move, name="plan-property-move"),
    path(P + "versions/", plan_versions.versions, name="plan-versions"),
    path(P + "versions/<int:number>/restore/", plan_versions.restore, name="plan-restore"),
    path(P + "diff/", plan_versions.diff, name="plan-diff"),
    path(P + "import/", plan_versions.import_plan, name="plan-import"),
    path(P + "export.<str:format_name>", plan_versions.export_plan_view, name="plan-export"),
    path(P + "codegen/<str:language>", plan_versions.codegen_view, name="plan-codegen"),
    path(P + "violations/", plan_quality.violations, name="plan-violations"),
    path(P + "violations/samples/", plan_quality.violation_samples, name="plan-violation-samples"),
    path(P + "unplanned/", plan_quality.unplanned, name="plan-unplanned"),
    path(P + "unplanned/event/", plan_quality.unplanned_add_event, name="plan-unplanned-add-event"),
    path(P + "unplanned/property/", plan_quality.unplanned_add_property, name="plan-unplanned-add-property"),
    path(P + "quarantine/", plan_quality.quarantine, name="plan-quarantine"),
    path(P + "quarantine/replay/", plan_quality.quarantine_replay, name="plan-quarantine-replay"),
]
