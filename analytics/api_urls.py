from django.urls import path

from analytics import api, query_api

urlpatterns = [
    path("key", api.key_info, name="api-key-info"),
    path("event-counts", api.event_counts, name="api-event-counts"),
    path("plan", api.plan_snapshot, name="api-plan"),
    path("plan/codegen/typescript", api.plan_codegen_typescript, name="api-plan-codegen-typescript"),
    path("plan/codegen/python", api.plan_codegen_python, name="api-plan-codegen-python"),
    # the query API: trends, funnels, retention and saved insights (secret key or session)
    path("query/trends", query_api.query_trends, name="api-query-trends"),
    path("query/funnels", query_api.query_funnels, name="api-query-funnels"),
    path("query/retention", query_api.query_retention, name="api-query-retention"),
    path("insights/<int:insight_id>", query_api.insight_result, name="api-insight"),
]
