"""The tracking plan's and verification's pages (the ingestion routes are in analytics/ingest/urls.py)."""

from django.urls import path

from analytics.views import (
    console,
    dashboards,
    debug,
    demo_shop,
    insights,
    live,
    plan,
    plan_quality,
    plan_versions,
    releases,
)

V = "projects/<slug:slug>/"
P = V + "plan/"

urlpatterns = [
    path("demo/shop/", demo_shop.shop, name="demo-shop"),
    path("demo/shop/<path:route>", demo_shop.shop, name="demo-shop-route"),
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
    # verification (DESIGN.md section 6): the live inspector, debug sessions, releases
    path(V + "live/", live.inspector, name="live-inspector"),
    path(V + "live/poll/", live.poll, name="live-poll"),
    path(V + "live/events/<str:entry_id>/<int:index>/", live.event_detail, name="live-event"),
    path(V + "debug/", debug.sessions, name="debug-sessions"),
    path(V + "debug/<int:session_id>/", debug.session_page, name="debug-session"),
    path(V + "debug/<int:session_id>/end/", debug.session_end, name="debug-session-end"),
    path(V + "debug/<int:session_id>/verdicts/<int:case_id>/", debug.verdict, name="debug-verdict"),
    path(P + "events/<int:event_id>/tests/", debug.test_case_add, name="plan-test-case-add"),
    path(
        P + "events/<int:event_id>/tests/<int:case_id>/delete/",
        debug.test_case_delete,
        name="plan-test-case-delete",
    ),
    path(V + "releases/", releases.release_list, name="releases"),
    path(V + "releases/<int:release_id>/", releases.release_page, name="release"),
    path(V + "releases/<int:release_id>/check/", releases.release_check, name="release-check"),
    path(V + "releases/<int:release_id>/go-live/", releases.release_go_live, name="release-go-live"),
    # SQL console
    path(V + "sql/", console.console_page, name="sql-console"),
    path(V + "sql/csv/", console.console_csv, name="sql-console-csv"),
    # analysis (DESIGN.md section 7): builders (their URL is their definition) and saved insights
    path(V + "analysis/", insights.home, name="analysis-home"),
    path(V + "analysis/trends/", insights.trends, name="analysis-trends"),
    path(V + "analysis/funnels/", insights.funnels, name="analysis-funnels"),
    path(V + "analysis/retention/", insights.retention, name="analysis-retention"),
    path(V + "analysis/insights/save/", insights.insight_save, name="analysis-insight-save"),
    path(V + "analysis/insights/<int:insight_id>/", insights.insight_page, name="analysis-insight"),
    path(
        V + "analysis/insights/<int:insight_id>/update/",
        insights.insight_update,
        name="analysis-insight-update",
    ),
    path(
        V + "analysis/insights/<int:insight_id>/delete/",
        insights.insight_delete,
        name="analysis-insight-delete",
    ),
    # dashboards and KPI cards
    path(V + "analysis/dashboards/", dashboards.dashboards, name="dashboards"),
    path(V + "analysis/dashboards/<int:dashboard_id>/", dashboards.dashboard_page, name="dashboard"),
    path(
        V + "analysis/dashboards/<int:dashboard_id>/delete/",
        dashboards.dashboard_delete,
        name="dashboard-delete",
    ),
    path(
        V + "analysis/dashboards/<int:dashboard_id>/tiles/",
        dashboards.dashboard_add_tile,
        name="dashboard-add-tile",
    ),
    path(
        V + "analysis/dashboards/<int:dashboard_id>/tiles/<int:tile_id>/",
        dashboards.dashboard_tile,
        name="dashboard-tile",
    ),
    path(
        V + "analysis/dashboards/<int:dashboard_id>/tiles/<int:tile_id>/remove/",
        dashboards.dashboard_tile_remove,
        name="dashboard-tile-remove",
    ),
    path(
        V + "analysis/dashboards/<int:dashboard_id>/tiles/<int:tile_id>/move/",
        dashboards.dashboard_tile_move,
        name="dashboard-tile-move",
    ),
    path(V + "analysis/kpis/new/", dashboards.kpi_create, name="kpi-create"),
]

from analytics.views import datajobs  # noqa: E402  (data management: GDPR deletion, exports)

urlpatterns += [
    path(V + "data/", datajobs.data_page, name="data"),
    path(V + "data/delete-person/", datajobs.delete_person, name="data-delete-person"),
    path(V + "data/export/", datajobs.export_events, name="data-export"),
    path(V + "data/jobs/<int:job_id>/", datajobs.job_page, name="data-job"),
    path(V + "data/jobs/<int:job_id>/download/", datajobs.job_download, name="data-job-download"),
]
